"""Curation aid for the emoji taxonomy: consistency checks, a summary, asset coverage and a contact sheet.

    python -m tasks.emoji.curate                 # checks + hypernym sizes and depths
    python -m tasks.emoji.curate --assets DIR    # also: which leaves lack artwork in a fetched asset folder
    python -m tasks.emoji.curate --sheet bird --out sheet.png   # picture of a hypernym's leaves

The WordNet check is ``python -m tasks.emoji.wordnet``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from PIL import Image, ImageDraw

from tasks.emoji import assets, taxonomy
from tasks.taxonomy import derive_depths, parents


def problems() -> list[str]:
    """Consistency problems of the shipped taxonomy files (empty when all is well)."""
    out = []
    rows = taxonomy.leaves()
    declared = taxonomy.hypernym_parents()
    ids = Counter(r.leaf for r in rows)
    out += [f"duplicate leaf id {leaf!r}" for leaf, n in ids.items() if n > 1]
    codes = Counter(r.codepoint for r in rows)
    out += [f"codepoint {c} used by {n} leaves" for c, n in codes.items() if n > 1]
    names = {r.name.lower() for r in rows}
    out += [f"hypernym {h!r} is also a leaf name" for h in declared if h.lower() in names]
    for r in rows:
        out += [f"leaf {r.leaf!r}: undeclared hypernym {h!r}" for h in r.direct if h not in declared]
    if any(p.startswith("leaf ") for p in out):
        return out
    relations = taxonomy.relations()
    derived = parents(relations)
    for h, ups in declared.items():
        want = set(taxonomy.closure(ups, declared)) if ups else set()
        got = set(derived.get(h, ()))
        if h not in derived:
            out.append(f"hypernym {h!r} has no leaf")
        elif want != got:
            out.append(f"hypernym {h!r}: declared ancestors {sorted(want)} but leaf sets give {sorted(got)}")
    return out


def summary() -> str:
    relations = taxonomy.relations()
    depths = derive_depths(relations)
    sizes = Counter(h for hs in relations.values() for h in hs)
    counts = dict(sorted(Counter(depths.values()).items()))
    lines = [f"{len(relations)} leaves, {len(depths)} hypernyms, hypernyms per depth {counts}"]
    for h in sorted(depths, key=lambda h: (depths[h], -sizes[h])):
        lines.append(f"  depth {depths[h]}  {sizes[h]:4d}  {h}")
    return "\n".join(lines)


def coverage(root: Path) -> str:
    manifest = assets.read_manifest(root)
    if manifest is None:
        return f"no manifest under {root}"
    lines = []
    for name, entry in sorted(manifest["sets"].items()):
        missing = [leaf.leaf for leaf in taxonomy.leaves() if leaf.leaf not in entry["files"]]
        lines.append(f"{name}: {len(entry['files'])} images, missing {missing or 'none'}")
    lines += [f"{name}: skipped ({why})" for name, why in manifest.get("skipped", {}).items()]
    return "\n".join(lines)


def contact_sheet(hypernym: str, root: Path, cell: int = 96) -> Image.Image:
    """Every leaf of ``hypernym`` (rows) in every fetched set (columns), labelled."""
    manifest = assets.read_manifest(root) or {"sets": {}}
    sets = sorted(manifest["sets"])
    rows = [r for r in taxonomy.leaves() if hypernym in taxonomy.relations()[r.leaf]]
    label = 150
    sheet = Image.new("RGB", (label + cell * max(1, len(sets)), cell * max(1, len(rows))), "white")
    draw = ImageDraw.Draw(sheet)
    for i, r in enumerate(rows):
        draw.text((4, i * cell + cell // 2), r.name, fill="black")
        for j, s in enumerate(sets):
            path = root / s / f"{r.leaf}.png"
            if path.is_file():
                with Image.open(path) as im:
                    tile = im.convert("RGBA").resize((cell, cell))
                sheet.paste(tile, (label + j * cell, i * cell), tile)
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=Path, default=None, help="fetched asset folder")
    parser.add_argument("--sheet", help="hypernym whose leaves to draw")
    parser.add_argument("--out", type=Path, default=Path("sheet.png"))
    args = parser.parse_args(argv)
    found = problems()
    print("\n".join(found) if found else "taxonomy files consistent")
    print(summary())
    root = args.assets or assets.default_root()
    if args.assets or args.sheet:
        print(coverage(root))
    if args.sheet:
        contact_sheet(args.sheet, root).save(args.out)
        print(f"wrote {args.out}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
