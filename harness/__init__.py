"""taxobench core: plugin contract, configs, protocol data layer, training and evaluation plumbing.

The core knows no concrete model, encoder, task or shuffle; those are plugins found through pluggy.
"""

__version__ = "0.1.0"
