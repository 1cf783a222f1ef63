"""The paper's text-only hypernymy probe (PROTOCOL.md §9): its question set.  Pure data, no torch.

Items are the task's (leaf, hypernym) pairs.  Each item asks one "Yes" question (its hypernym) and the
leaf's "No" questions (hypernyms that do not apply to the leaf, nor share a surface text with it); every
item of a leaf carries the same negatives.  A task that ships the paper's negatives
(``probe_negatives()``: leaf -> (how many, {position: known hypernym})) fixes their number per leaf and the
known identities; the others are drawn uniformly (``derive_rng(seed, "paper-probe", leaf)``).  Other tasks
get the union, over the leaf's items, of ``NEGATIVES_PER_ITEM`` uniform draws per item.

Each question comes in the 4 phrasings of ``PHRASINGS``, filled with per-label surface forms
(``probe_forms()``: ``{"leaf": {label: 4 forms}, "hypernym": {label: 4 forms}}``, e.g. plural / noun
phrase with article / singular; a label may be both a leaf and a hypernym, as "bird" is); the probe keeps
the phrasing its scorer LM finds most likely.  Questions are grouped by the item's hypernym (the column
``category``): per-hypernym F1 over an item's Yes and No questions, as the paper's coherence model uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from harness.common.seeding import derive_rng
from harness.plugin.contracts import TaskData

PHRASINGS = (
    "Is it true that {leaf} are {category}?",  # leaf plural, category plural
    "Is it true that {leaf} is {category}?",  # noun phrases with their articles
    "Is it true that {leaf} are a type of {category}?",  # leaf plural, category singular
    "Is it true that {leaf} is a type of {category}?",  # leaf noun phrase, category singular
)
NEGATIVES_PER_ITEM = 4
Forms = Mapping[str, Mapping[str, tuple[str, ...]]]  # "leaf" | "hypernym" -> label -> 4 forms
Negatives = Mapping[str, tuple[int, Mapping[int, str]]]
COLUMNS = ["question", "item", "leaf", "category", "asked", "answer", "depth", "phrasing", "text"]


def _candidates(data: TaskData, leaf: str) -> list[str]:
    applies = set(data.relations.get(leaf, ()))
    true_names = {data.surface(leaf), *(data.surface(h) for h in applies)}
    return [h for h in data.derived if h not in applies and data.surface(h) not in true_names]


def leaf_negatives(data: TaskData, leaf: str, seed: int, shipped: Negatives | None = None) -> list[str]:
    """The "No" hypernyms every item of ``leaf`` asks (see the module docstring), in asking order."""
    candidates = _candidates(data, leaf)
    rng = derive_rng(seed, "paper-probe", leaf)
    if shipped is not None and leaf in shipped:
        n, known = shipped[leaf]
        fixed = {pos: h for pos, h in known.items() if h in candidates}
        pool = [h for h in candidates if h not in fixed.values()]
        drawn = iter(rng.sample(pool, min(len(pool), n - len(fixed))))
        out = [fixed.get(pos) or next(drawn, None) for pos in range(1, n + 1)]
        return [h for h in out if h is not None]
    chosen: set[str] = set()
    for _ in data.relations.get(leaf, ()):
        chosen.update(rng.sample(candidates, min(NEGATIVES_PER_ITEM, len(candidates))))
    return sorted(chosen)


def default_forms(data: TaskData) -> dict[str, dict[str, tuple[str, ...]]]:
    """Surface forms from the labels' names: plural and singular (``inflect``), with a/an articles."""
    import inflect

    engine = inflect.engine()

    def forms(label: str) -> tuple[str, str, str]:
        name = data.surface(label)
        return engine.plural_noun(name) or name, engine.a(name), name

    leaves: dict[str, tuple[str, ...]] = {
        leaf: (p, np, p, np) for leaf in data.leaves for p, np, _ in [forms(leaf)]
    }
    hypernyms: dict[str, tuple[str, ...]] = {
        h: (p, np, sg, sg) for h in data.derived for p, np, sg in [forms(h)]
    }
    return {"leaf": leaves, "hypernym": hypernyms}


def paper_probe_questions(
    data: TaskData,
    seed: int,
    forms: Forms | None = None,
    shipped: Negatives | None = None,
) -> pd.DataFrame:
    """One row per (question, phrasing): question id, item, leaf, category (the item's hypernym), asked,
    answer, depth (of ``category``), phrasing (1-4), text.  Items in leaf order, then hypernym order."""
    forms = forms or default_forms(data)
    rows: list[tuple[Any, ...]] = []
    question = item = 0
    for leaf in data.leaves:
        hypernyms = sorted(set(data.relations.get(leaf, ())))
        if not hypernyms:
            continue
        negatives = leaf_negatives(data, leaf, seed, shipped)
        for h in hypernyms:
            item += 1
            for asked, answer in [(h, True), *((n, False) for n in negatives)]:
                question += 1
                for j, template in enumerate(PHRASINGS):
                    text = template.format(leaf=forms["leaf"][leaf][j], category=forms["hypernym"][asked][j])
                    rows.append((question, item, leaf, h, asked, answer, data.depths[h], j + 1, text))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({"answer": bool, "depth": "int64", "phrasing": "int64", "question": "int64"})


def counts(frame: pd.DataFrame) -> dict[str, int]:
    """questions, yes, no and phrasings (rows) of a :func:`paper_probe_questions` frame."""
    per_question = frame.drop_duplicates("question")
    yes = int(per_question["answer"].sum())
    return {
        "questions": len(per_question),
        "yes": yes,
        "no": len(per_question) - yes,
        "phrasings": len(frame),
    }
