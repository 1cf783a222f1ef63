"""harness.common.files: atomic writes keep the old file on failure, sha256 matches hashlib and notices
changes, the cache folder follows TAXOBENCH_CACHE."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from harness.common.files import (
    cache_root,
    sha256_file,
    write_atomic,
    write_dir_atomic,
    write_json,
    write_text,
)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "result.txt"
    write_text(target, "old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match=f"cannot write {target}"):
        write_atomic(target, broken)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]


def test_written_files_are_readable_by_others_and_json_is_sorted(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "record.json"
    write_json(target, {"b": 1, "a": [1, 2]})
    assert target.read_text().index('"a"') < target.read_text().index('"b"')
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_sha256_matches_hashlib_and_sees_a_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"abc" * 1000)
    assert sha256_file(path) == hashlib.sha256(b"abc" * 1000).hexdigest()
    time.sleep(0.01)
    path.write_bytes(b"xyz" * 1001)  # another size: the remembered digest must not be reused
    assert sha256_file(path) == hashlib.sha256(b"xyz" * 1001).hexdigest()
    path.write_bytes(b"qqq" * 1001)  # same size, maybe the same mtime: remember=False reads the bytes
    assert sha256_file(path, remember=False) == hashlib.sha256(b"qqq" * 1001).hexdigest()


def test_a_folder_built_elsewhere_first_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "assets"
    assert write_dir_atomic(target, lambda d: (d / "a.txt").write_text("first"))
    assert not write_dir_atomic(target, lambda d: (d / "a.txt").write_text("second"))
    assert (target / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["assets"]


def test_cache_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TAXOBENCH_CACHE", "~/somewhere")
    assert cache_root() == Path("~/somewhere").expanduser()
    monkeypatch.delenv("TAXOBENCH_CACHE")
    assert cache_root().name == "taxobench"
