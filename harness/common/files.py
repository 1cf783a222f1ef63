"""Files: atomic writes (a temporary sibling, then one rename), sha256 of a file, the user cache folder.

Every module that writes or hashes a file uses these (one implementation each).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

BLOCK = 1 << 22


def write_atomic(path: Path, writer: Callable[[Path], object]) -> None:
    """Call ``writer(tmp_path)`` and move the result to ``path`` in one rename; a failed write (disk
    full, read-only) names the file."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; results are meant to be shared
        writer(Path(tmp))
        os.replace(tmp, path)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text))


def write_bytes(path: Path, data: bytes) -> None:
    write_atomic(path, lambda tmp: tmp.write_bytes(data))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def write_dir_atomic(target: Path, build: Callable[[Path], None]) -> bool:
    """Build a folder in a temporary sibling and rename it to ``target``; if another process got there
    first, its copy is kept.  Returns whether this call's copy was installed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
        return True
    except OSError:
        if not target.exists():
            raise
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sha256_file(path: Path | str, remember: bool = True) -> str:
    """sha256 of a file's bytes; ``remember``: reuse the digest while the path's size and modification time
    stay the same (integrity checks pass False and read the bytes every time)."""
    if not remember:
        return _sha256_file.__wrapped__(str(path), 0, 0)
    stat = os.stat(path)
    return _sha256_file(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=16384)
def _sha256_file(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def cache_root() -> Path:
    """``$TAXOBENCH_CACHE`` if set, else the platform's user cache folder ``taxobench`` (features,
    converted models, task assets live below it)."""
    env = os.environ.get("TAXOBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("taxobench"))
