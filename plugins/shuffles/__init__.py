"""First-party shuffles plugins."""
