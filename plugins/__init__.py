"""First-party taxobench plugins (encoders, backbones, shuffles, executors)."""
