"""The public API for plugin authors: everything a third-party (or first-party) plugin may import.

A plugin module implements hooks and registers factories::

    from harness.plugin.api import PluginOptions, declare, hookimpl

    class Options(PluginOptions):
        batch_size: int = 32

    @declare(Options)
    def make_encoder(arg=None, **options):
        opts = Options.parse("encoder 'my-encoder'", options)
        ...

    @hookimpl
    def register_encoders(register):
        register("my-encoder", "my_package.encoder:make_encoder")  # imported only when used

What each registered object must provide is in :mod:`harness.plugin.contracts` (checked when the harness
creates it).  Besides the contracts and the options base, plugins get the helpers the harness itself uses:
seeded random streams, atomic writes, file hashing, weight digests, the cache folder, device names, task
data and piece attention for backbones.  Nothing else in ``harness`` is a stable interface.
"""

from harness.common.devices import resolve_device
from harness.common.files import (
    cache_root,
    sha256_file,
    write_atomic,
    write_bytes,
    write_dir_atomic,
    write_json,
)
from harness.common.seeding import derive_rng, derive_seed
from harness.errors import UserError
from harness.plugin.contracts import Backbone, CellOutcome, Encoder, Executor, Shuffle, Task, TaskData
from harness.plugin.hookspecs import Register, hookimpl
from harness.plugin.options import PluginOptions, declare
from harness.plugin.registry import alias
from harness.protocol.ablation import leaves_of, resolve_hypernyms
from harness.protocol.profiles import Profile

_PIECES = "harness.training.piece_attention"
_LAZY = {"PieceBlocks": _PIECES, "piece_attention": _PIECES, "weights_digest": "harness.common.weights"}


def __getattr__(name: str):  # these need torch: imported only when a plugin asks for them
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


__all__ = [  # noqa: F822 - PieceBlocks, piece_attention and weights_digest come from __getattr__
    "Backbone",
    "CellOutcome",
    "Encoder",
    "Executor",
    "PieceBlocks",
    "PluginOptions",
    "Profile",
    "Register",
    "Shuffle",
    "Task",
    "TaskData",
    "UserError",
    "alias",
    "cache_root",
    "declare",
    "derive_rng",
    "derive_seed",
    "hookimpl",
    "leaves_of",
    "piece_attention",
    "resolve_device",
    "resolve_hypernyms",
    "sha256_file",
    "weights_digest",
    "write_atomic",
    "write_bytes",
    "write_dir_atomic",
    "write_json",
]
