"""First-party shuffles (PROTOCOL.md §4): original, across_category, within_category, hypernym_swap."""

from harness.hookspecs import hookimpl
from plugins.shuffles.across_category import AcrossCategory
from plugins.shuffles.hypernym_swap import HypernymSwap
from plugins.shuffles.original import Original
from plugins.shuffles.within_category import WithinCategory


@hookimpl
def register_shuffles(register):
    register("original", Original)
    register("across_category", AcrossCategory)
    register("within_category", WithinCategory)
    register("hypernym_swap", HypernymSwap)
