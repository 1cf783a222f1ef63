"""Shipped named presets (systematic-ablation hypernym lists)."""
