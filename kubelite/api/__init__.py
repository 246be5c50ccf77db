"""Objects as wire-shaped dicts and pure helpers over them.

Must not do I/O, and must not import any other kubelite layer.
"""
