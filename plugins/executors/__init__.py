"""First-party executors plugins."""
