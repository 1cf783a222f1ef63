"""Fetching emoji artwork, without the network: a fake registry archive placed where fetch looks first."""

import dataclasses
import hashlib
import io
import json
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from harness.errors import UserError
from tasks.emoji import assets, factory
from tasks.emoji.sources import SOURCES
from tasks.emoji.taxonomy import leaves as all_leaves

LEAVES = [leaf for leaf in all_leaves() if leaf.leaf in {"eagle", "chipmunk", "apple"}]


def _png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _archive(path: Path, members: dict[str, bytes]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def _fake_google(root: Path) -> dict:
    google = SOURCES["google"]
    downloads = root / ".downloads"
    downloads.mkdir(parents=True)
    archive = downloads / google.url.rsplit("/", 1)[-1]
    folder = google.folder
    members = {
        f"{folder}/1f985.png": _png((200, 120, 40, 255)),  # eagle
        f"{folder}/1f43f.png": _png((120, 80, 40, 255)),  # chipmunk 1F43F-FE0F, stored without FE0F
        f"{folder}/1f34e.png": _png((220, 30, 30, 255)),  # apple
        f"{folder}/1f436.png": _png((0, 0, 0, 255)),  # not a leaf of ours: not extracted
    }
    sha = _archive(archive, members)
    return {"google": dataclasses.replace(google, sha256=sha)}


def test_fetch_extracts_writes_manifest_and_notice_then_is_idempotent(tmp_path, offline, monkeypatch):
    sources = _fake_google(tmp_path)
    root = assets.fetch(tmp_path, LEAVES, sets=["google"], sources=sources, log=lambda m: None)
    assert sorted(p.name for p in (root / "google").iterdir()) == ["apple.png", "chipmunk.png", "eagle.png"]
    manifest = json.loads((root / "manifest.json").read_text())
    entry = manifest["sets"]["google"]
    assert entry["licence"] == "Apache-2.0" and entry["sha256"] == sources["google"].sha256
    blob = (root / "google" / "eagle.png").read_bytes()
    assert entry["files"]["eagle"] == hashlib.sha256(blob).hexdigest()
    assert "Apache" in (root / "NOTICE.md").read_text()
    assert not (root / ".downloads").exists()  # archives are removed after extraction
    with Image.open(root / "google" / "apple.png") as im:
        assert im.mode == "RGBA" and im.getpixel((1, 1)) == (220, 30, 30, 255)

    def no_extract(*args, **kwargs):
        raise AssertionError("a complete set must not be fetched again")

    monkeypatch.setattr(assets, "_extract", no_extract)
    assets.fetch(tmp_path, LEAVES, sets=["google"], sources=sources, log=lambda m: None)


def test_fetch_offline_says_what_to_do(tmp_path, offline):
    with pytest.raises(UserError, match=r"npm registry.*place it at .*emoji-datasource-google-16\.0\.0\.tgz"):
        assets.fetch(tmp_path, LEAVES, sets=["google"], log=lambda m: None)
    assert assets.read_manifest(tmp_path) is None


def test_fetch_rejects_a_wrong_checksum(tmp_path, monkeypatch):
    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Response(b"tampered"))
    with pytest.raises(UserError, match="checksum mismatch"):
        assets.fetch(tmp_path, LEAVES, sets=["google"], log=lambda m: None)


def test_svg_set_is_skipped_without_a_rasteriser(tmp_path, offline, monkeypatch):
    monkeypatch.setattr(assets, "rasteriser", lambda: None)
    with pytest.warns(UserWarning, match="openmoji.*skipped"):
        assets.fetch(tmp_path, LEAVES, sets=["openmoji"], log=lambda m: None)
    manifest = assets.read_manifest(tmp_path)
    assert "openmoji" in manifest["skipped"] and manifest["sets"] == {}
    assert "not fetched" in (tmp_path / "NOTICE.md").read_text()


@pytest.mark.skipif(assets.rasteriser() is None, reason="no SVG rasteriser (cairosvg / rsvg-convert)")
def test_svg_rasterises_to_the_requested_size():
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 72 72">'
        b'<circle cx="36" cy="36" r="30" fill="#f00"/></svg>'
    )
    with Image.open(io.BytesIO(assets.rasterise(svg, 64))) as im:
        assert im.size == (64, 64)
        assert im.convert("RGBA").getpixel((32, 32))[:3] == (255, 0, 0)
        assert im.convert("RGBA").getpixel((0, 0))[3] == 0


def test_task_fetch_assets_uses_dest_and_sets(tmp_path, monkeypatch):
    seen = {}

    def fake_fetch(root, leaves, sets):
        seen.update(root=root, n=len(list(leaves)), sets=tuple(sets))
        return root

    monkeypatch.setattr(assets, "fetch", fake_fetch)
    task = factory(root=str(tmp_path / "a"), sets=["twitter"])
    assert task.fetch_assets(tmp_path / "b") == tmp_path / "b"
    assert seen == {"root": tmp_path / "b", "n": len(all_leaves()), "sets": ("twitter",)}


def test_default_root_follows_taxobench_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TAXOBENCH_CACHE", str(tmp_path))
    assert assets.default_root() == tmp_path / "assets" / "emoji"
    assert factory().root == tmp_path / "assets" / "emoji"
