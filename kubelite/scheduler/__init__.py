"""The scheduler: the pure framework, plugins, one scheduling cycle and preemption's candidate search."""
