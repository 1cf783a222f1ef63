"""First-party backbones plugins."""
