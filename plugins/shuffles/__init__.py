"""First-party shuffles (PROTOCOL.md §4): original, across_category, within_category, hypernym_swap."""

from harness.plugin.api import hookimpl


@hookimpl
def register_shuffles(register):
    register("original", "plugins.shuffles.original:Original")
    register("across_category", "plugins.shuffles.across_category:AcrossCategory")
    register("within_category", "plugins.shuffles.within_category:WithinCategory")
    register("hypernym_swap", "plugins.shuffles.hypernym_swap:HypernymSwap")
