"""User-facing errors: the CLI prints their message and exits 2, without a traceback."""


class UserError(Exception):
    """A mistake in the user's input (config, paths, plugin names)."""


class UnknownPluginError(UserError):
    """A config names a plugin that no installed package registers."""
