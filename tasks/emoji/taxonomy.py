"""The curated emoji taxonomy: ``data/taxonomy.tsv`` (leaves) and ``data/hypernyms.tsv`` (hypernym tree).

taxonomy.tsv: ``leaf  codepoint  name  hypernyms  wordnet`` - ``hypernyms`` lists the leaf's most specific
hypernyms (``;``-separated); their ancestors from hypernyms.tsv are added.  ``wordnet`` gives alternative
words (``|``-separated) for the WordNet check.  hypernyms.tsv: ``hypernym  parents  wordnet``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Leaf:
    leaf: str
    codepoint: str  # emoji-datasource "unified" form, e.g. "1F43B-200D-2744-FE0F"
    name: str
    direct: tuple[str, ...]
    wordnet: tuple[str, ...]

    @property
    def char(self) -> str:
        return "".join(chr(int(part, 16)) for part in self.codepoint.split("-"))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh, delimiter="\t")]


def _split(text: str, sep: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(sep) if part.strip())


@cache
def leaves(path: Path = DATA / "taxonomy.tsv") -> tuple[Leaf, ...]:
    return tuple(
        Leaf(
            r["leaf"],
            r["codepoint"].upper(),
            r["name"],
            _split(r["hypernyms"], ";"),
            _split(r["wordnet"], "|"),
        )
        for r in _rows(path)
    )


@cache
def hypernym_parents(path: Path = DATA / "hypernyms.tsv") -> dict[str, tuple[str, ...]]:
    """``hypernym -> declared parents`` (empty for a top-level hypernym)."""
    return {r["hypernym"]: _split(r["parents"], ";") for r in _rows(path)}


@cache
def hypernym_wordnet(path: Path = DATA / "hypernyms.tsv") -> dict[str, tuple[str, ...]]:
    return {r["hypernym"]: _split(r["wordnet"], "|") or (r["hypernym"],) for r in _rows(path)}


def closure(hypernyms: tuple[str, ...], parents: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The hypernyms and all their declared ancestors, sorted."""
    out: set[str] = set()
    todo = list(hypernyms)
    while todo:
        h = todo.pop()
        if h not in parents:
            raise ValueError(f"hypernym {h!r} is not declared in hypernyms.tsv")
        if h not in out:
            out.add(h)
            todo.extend(parents[h])
    return tuple(sorted(out))


def relations() -> dict[str, tuple[str, ...]]:
    """``leaf -> all its hypernyms`` (closed under the declared hierarchy)."""
    parents = hypernym_parents()
    return {leaf.leaf: closure(leaf.direct, parents) for leaf in leaves()}


def wordnet_pairs() -> list[tuple[str, list[str], str, list[str]]]:
    """Every (leaf, hypernym) pair with the words to look up in WordNet."""
    words = hypernym_wordnet()
    rel = relations()
    out = []
    for leaf in leaves():
        leaf_words = [leaf.name, *leaf.wordnet]
        for h in rel[leaf.leaf]:
            out.append((leaf.leaf, leaf_words, h, [h, *words.get(h, ())]))
    return out


def wordnet_exceptions(path: Path = DATA / "wordnet_exceptions.tsv") -> dict[tuple[str, str], str]:
    """Reviewed (leaf, hypernym) pairs that WordNet does not support, with the reason."""
    return {(r["leaf"], r["hypernym"]): r["reason"] for r in _rows(path)}
