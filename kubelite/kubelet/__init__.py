"""The node agent: registers the Node and keeps its status and Lease fresh, and runs the pods
bound to it through a `kubelite.runtime` Runtime (hollow today; OCI later), writing pods/status.

Must not reach containers except through the Runtime protocol, nor the API except through
kubelite.client.
"""
