"""A minimal reader of the WordNet noun database (Debian ``wordnet-base``) for checking taxonomies.

``python -m tasks.emoji.wordnet`` checks the emoji taxonomy: every (leaf, hypernym) pair should be a WordNet
hypernym path for some noun sense of the leaf word; mismatches are printed (they are reviewed, not fatal).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFAULT_DIRS = (Path("/usr/share/wordnet"), Path("/usr/local/share/wordnet"))


def find_wordnet() -> Path | None:
    """The folder holding ``index.noun`` and ``data.noun`` ($WORDNET_DIR, then Debian's), or None."""
    env = os.environ.get("WORDNET_DIR")
    for folder in ([Path(env)] if env else []) + list(DEFAULT_DIRS):
        if (folder / "index.noun").is_file() and (folder / "data.noun").is_file():
            return folder
    return None


class WordNet:
    """Noun senses, lemmas and (instance) hypernym pointers."""

    def __init__(self, folder: Path) -> None:
        self.index: dict[str, list[int]] = {}
        for line in _lines(folder / "index.noun"):
            parts = line.split()
            n_senses, n_ptrs = int(parts[2]), int(parts[3])
            self.index[parts[0]] = [int(x) for x in parts[6 + n_ptrs : 6 + n_ptrs + n_senses]]
        self.exceptions: dict[str, str] = {}
        exc = folder / "noun.exc"
        if exc.is_file():
            for line in _lines(exc):
                inflected, base, *_ = line.split()
                self.exceptions[inflected] = base
        self.lemmas: dict[int, tuple[str, ...]] = {}
        self.hypernyms: dict[int, tuple[int, ...]] = {}
        for line in _lines(folder / "data.noun"):
            parts = line.split(" | ", 1)[0].split()
            offset, n_words = int(parts[0]), int(parts[3], 16)
            words = parts[4 : 4 + 2 * n_words : 2]
            self.lemmas[offset] = tuple(_norm(w) for w in words)
            at = 4 + 2 * n_words
            n_ptrs = int(parts[at])
            ptrs = parts[at + 1 : at + 1 + 4 * n_ptrs]
            self.hypernyms[offset] = tuple(
                int(ptrs[i + 1]) for i in range(0, len(ptrs), 4) if ptrs[i] in ("@", "@i")
            )

    def senses(self, word: str) -> list[int]:
        """Noun synset offsets of ``word`` (spaces or underscores; plural forms reduced)."""
        key = _norm(word).replace(" ", "_")
        for candidate in (key, self.exceptions.get(key, ""), *_singulars(key)):
            if candidate and candidate in self.index:
                return self.index[candidate]
        return []

    def ancestors(self, offset: int) -> set[int]:
        seen: set[int] = set()
        todo = list(self.hypernyms.get(offset, ()))
        while todo:
            o = todo.pop()
            if o not in seen:
                seen.add(o)
                todo.extend(self.hypernyms.get(o, ()))
        return seen

    def is_a(self, word: str, hypernym: str) -> bool:
        """Some noun sense of ``word`` has an ancestor synset with lemma ``hypernym`` (or is itself such a
        synset of another word, e.g. handbag = bag sense 4)."""
        target = _norm(hypernym)
        if target == _norm(word):
            return False
        return any(
            target in self.lemmas.get(a, ())
            for sense in self.senses(word)
            for a in self.ancestors(sense) | {sense}
        )


@dataclass(frozen=True)
class Mismatch:
    leaf: str
    hypernym: str
    reason: str


def check(pairs: list[tuple[str, list[str], str, list[str]]], wn: WordNet) -> list[Mismatch]:
    """Pairs as (leaf id, leaf words, hypernym, hypernym words): a pair passes when any leaf word is-a any
    hypernym word."""
    out = []
    for leaf, leaf_words, hypernym, hyper_words in pairs:
        if not any(wn.senses(w) for w in leaf_words):
            out.append(Mismatch(leaf, hypernym, f"leaf word(s) {leaf_words} not in WordNet"))
        elif not any(wn.senses(w) for w in hyper_words):
            out.append(Mismatch(leaf, hypernym, f"hypernym word(s) {hyper_words} not in WordNet"))
        elif not any(wn.is_a(w, h) for w in leaf_words for h in hyper_words):
            out.append(Mismatch(leaf, hypernym, "no WordNet hypernym path"))
    return out


def _norm(word: str) -> str:
    return word.lower().replace("_", " ").strip()


def _singulars(word: str) -> list[str]:
    out = []
    if word.endswith("ies"):
        out.append(word[:-3] + "y")
    if word.endswith("es"):
        out.append(word[:-2])
    if word.endswith("s"):
        out.append(word[:-1])
    return out


def _lines(path: Path):
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.startswith("  "):  # licence header lines start with two spaces
                yield line.rstrip("\n")


@cache
def load() -> WordNet | None:
    folder = find_wordnet()
    return WordNet(folder) if folder else None


def main() -> int:
    from tasks.emoji.taxonomy import wordnet_exceptions, wordnet_pairs

    wn = load()
    if wn is None:
        print("WordNet not found (install Debian's wordnet-base or set WORDNET_DIR)", file=sys.stderr)
        return 2
    pairs = wordnet_pairs()
    bad = check(pairs, wn)
    reviewed = wordnet_exceptions()
    new = [m for m in bad if (m.leaf, m.hypernym) not in reviewed]
    stale = sorted(set(reviewed) - {(m.leaf, m.hypernym) for m in bad})
    for m in bad:
        mark = "reviewed" if (m.leaf, m.hypernym) in reviewed else "NEW"
        print(f"{mark}\t{m.leaf}\t{m.hypernym}\t{m.reason}")
    for leaf, hypernym in stale:
        print(f"STALE\t{leaf}\t{hypernym}\tlisted in wordnet_exceptions.tsv but now passes or is gone")
    print(
        f"{len(pairs) - len(bad)} of {len(pairs)} (leaf, hypernym) pairs follow a WordNet hypernym path; "
        f"{len(bad) - len(new)} reviewed exceptions, {len(new)} new, {len(stale)} stale"
    )
    return 1 if new or stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
