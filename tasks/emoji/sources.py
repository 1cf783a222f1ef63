"""The pinned emoji artwork packages (npm registry), their checksums, licences and member names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One artist set: a registry archive and how to find a leaf's image inside it."""

    set: str
    package: str
    version: str
    url: str
    sha256: str
    size: int  # bytes, for messages
    licence: str
    attribution: str
    folder: str  # member folder inside the archive
    suffix: str  # ".png", ".webp" or ".svg"
    upper: bool = False  # member names use upper-case hex

    def candidates(self, codepoint: str) -> list[str]:
        """Member names that may hold ``codepoint`` (with and without the FE0F variation selector)."""
        names = [codepoint, "-".join(p for p in codepoint.split("-") if p.upper() != "FE0F")]
        out = []
        for name in names:
            name = name.upper() if self.upper else name.lower()
            member = f"{self.folder}/{name}{self.suffix}"
            if member not in out:
                out.append(member)
        return out


def _npm(name: str, version: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return f"https://registry.npmjs.org/{name}/-/{base}-{version}.tgz"


SOURCES: dict[str, Source] = {
    s.set: s
    for s in (
        Source(
            "google",
            "emoji-datasource-google",
            "16.0.0",
            _npm("emoji-datasource-google", "16.0.0"),
            "fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438",
            74_344_091,
            "Apache-2.0",
            "Noto Color Emoji images (c) Google Inc., Apache License 2.0, https://github.com/googlefonts/noto-emoji;"
            " packaged by emoji-datasource (MIT, (c) Cal Henderson)",
            "package/img/google/64",
            ".png",
        ),
        Source(
            "twitter",
            "emoji-datasource-twitter",
            "16.0.0",
            _npm("emoji-datasource-twitter", "16.0.0"),
            "f64a530c63bca463bd8317fdc4615ce63a53a0c65018e4ce2d848aaba7a28877",
            61_683_754,
            "CC-BY-4.0",
            "Twemoji graphics (c) Twitter, Inc and other contributors, licensed under CC BY 4.0, "
            "https://github.com/jdecked/twemoji; packaged by emoji-datasource (MIT, (c) Cal Henderson)",
            "package/img/twitter/64",
            ".png",
        ),
        Source(
            "fluent",
            "@lobehub/fluent-emoji-3d",
            "1.1.0",
            _npm("@lobehub/fluent-emoji-3d", "1.1.0"),
            "c1bb7eee7de090205a232518a9ab4adb3df458bfbe8a1f78232991194c8b2e58",
            15_792_027,
            "MIT",
            "Fluent Emoji (3D) (c) Microsoft Corporation, MIT License, https://github.com/microsoft/fluentui-emoji;"
            " packaged by @lobehub/fluent-emoji-3d (MIT, (c) LobeHub)",
            "package/assets",
            ".webp",
        ),
        Source(
            "openmoji",
            "openmoji",
            "17.0.0",
            _npm("openmoji", "17.0.0"),
            "55ee7d13485dec86e9f38c1f3a645a13382d33ff97c0cd845ee824b0aef45e68",
            4_339_458,
            "CC-BY-SA-4.0",
            "OpenMoji graphics by the OpenMoji project (https://openmoji.org), licensed under CC BY-SA 4.0; "
            "rasterised from SVG by taxobench (adapted material, shared under CC BY-SA 4.0)",
            "package/color/svg",
            ".svg",
            upper=True,
        ),
    )
}

LICENCE_URLS = {
    "Apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "MIT": "https://opensource.org/license/mit",
}
