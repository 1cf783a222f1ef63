"""Offline emoji hypernymy task plugin (entry point ``emoji = "tasks.emoji"``)."""

from harness.plugin.api import hookimpl
from tasks.emoji.task import EmojiTask, factory

__all__ = ["EmojiTask", "factory", "register_tasks"]


@hookimpl
def register_tasks(register):
    register("emoji", factory)
