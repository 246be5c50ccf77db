"""The `kubelite` command line. Wires layers together; holds no API logic of its own."""
