"""The in-tree scheduling plugins, one module each; `default_plugins()` lives in kubelite.scheduler.algorithm."""
