"""First-party encoders plugins."""
