"""Text-only hypernymy probes of the LM alone (PROTOCOL.md §6).

(a) yes/no: ``Is it true that {leaf_article} {leaf} is a type of {category}?`` for every true (leaf,
    hypernym) pair plus negatives drawn like the protocol's hypernym negatives; the prediction is Yes iff
    logit(Yes) > logit(No) at the next token; per-hypernym macro F1 via
    :func:`harness.training.evaluation.category_f1`.
(b) cloze: ``{Article} {leaf} is a kind of`` followed by `` {hypernym}`` for every candidate hypernym,
    ranked by the continuation's total log-probability: top-1 accuracy, mean reciprocal rank of the best
    ranked true hypernym, and per-hypernym F1 of "ranked in the top k" (k = the leaf's number of hypernyms).

(c) the paper's probe (:func:`paper_probe`): the phrasing the LM finds likeliest, asked in the chat template.

Each packs a leaf's prompts (the paper probe's scoring: a leaf's prompts in one phrasing) behind their longest
common token prefix, computed on the full tokenization, so results equal one-prompt-per-row scoring; batch
sizes count prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from harness.common.seeding import derive_rng
from harness.common.text import article
from harness.errors import UserError
from harness.plugin.contracts import Backbone, TaskData
from harness.training.evaluation import category_f1, macro_f1
from harness.training.packing import Item, hidden_states, pack
from harness.training.vision_lm import plan_batches

PROBE_TEMPLATE = "Is it true that {leaf_article} {leaf} is a type of {category}?"
CLOZE_TEMPLATE = "{Article} {leaf} is a kind of"


# ------------------------------------------------------------------------------------------- questions
def probe_questions(
    data: TaskData, seed: int, template: str = PROBE_TEMPLATE, negatives_per_positive: int | None = 1
) -> pd.DataFrame:
    """One row per probe question: leaf, category, depth, answer, pair, question, subset ("probe").

    Per leaf (``derive_rng(seed, "probe-negatives", leaf)``), for each of its hypernyms (sorted) a positive
    and ``negatives_per_positive`` negatives drawn uniformly from the hypernyms that do not apply (nor share
    a surface text with the leaf or a true hypernym), without replacement within the leaf until they run
    out, as the protocol draws hypernym negatives per image.  ``None``: every non-applying hypernym once.
    """
    rows = []
    pair = 0
    for leaf in data.leaves:
        applies = sorted(set(data.relations.get(leaf, ())))
        if not applies:
            continue
        true_names = {data.surface(leaf), *(data.surface(h) for h in applies)}
        candidates = [h for h in data.derived if h not in applies and data.surface(h) not in true_names]
        rng = derive_rng(seed, "probe-negatives", leaf)
        groups: list[tuple[str | None, list[str]]]
        if negatives_per_positive is None:
            groups = [(h, []) for h in applies] + [(None, candidates)]
        else:
            left: list[str] = []
            groups = []
            for h in applies:
                negs: list[str] = []
                while len(negs) < min(negatives_per_positive, len(candidates)):
                    if not left:
                        left = rng.sample(candidates, len(candidates))
                    c = left.pop()
                    if c not in negs:
                        negs.append(c)
                groups.append((h, negs))
        name = data.surface(leaf)
        for positive, negatives in groups:
            items = ([(positive, True)] if positive else []) + [(n, False) for n in negatives]
            for category, answer in items:
                text = template.format(leaf_article=article(name), leaf=name, category=data.surface(category))
                rows.append((leaf, category, data.depths[category], answer, pair, text, "probe"))
            pair += 1
    cols = ["leaf", "category", "depth", "answer", "pair", "question", "subset"]
    return pd.DataFrame(rows, columns=cols).astype({"answer": bool, "depth": "int64", "pair": "int64"})


# ------------------------------------------------------------------------------------------ machinery
def _common_prefix(seqs: Sequence[list[int]]) -> int:
    n = min(len(s) for s in seqs)
    for i in range(n):
        t = seqs[0][i]
        if any(s[i] != t for s in seqs):
            return i
    return n


@dataclass(frozen=True)
class _Group:
    """A leaf's prompts (full token lists, BOS included) and the shared prefix length."""

    seqs: list[list[int]]
    prefix: int
    positions: np.ndarray  # rows of the output frame


def _tokens(backbone: Backbone, texts: Sequence[str]) -> list[list[int]]:
    """BOS (if the backbone uses one) + the tokens of each text, each distinct text tokenized once."""
    bos = [backbone.bos_id] if backbone.bos_id is not None else []
    cache = {text: bos + backbone.tokenize(text) for text in dict.fromkeys(texts)}
    return [cache[text] for text in texts]


def _groups(
    backbone: Backbone,
    texts: Sequence[str],
    keys: Sequence[Any],
    seqs: Sequence[list[int]] | None = None,
):
    """Prompts grouped by ``keys`` behind their longest common token prefix; ``seqs`` gives the token lists
    directly instead of tokenizing ``texts``."""
    all_seqs = list(seqs) if seqs is not None else _tokens(backbone, texts)
    out = []
    key_array = np.asarray(keys, dtype=object)
    for key in dict.fromkeys(key_array):
        pos = np.flatnonzero(key_array == key)
        group = [all_seqs[p] for p in pos]
        limit = min(len(s) for s in group) - 1  # every segment keeps at least one token
        out.append(_Group(group, max(0, min(_common_prefix(group), limit)), pos))
    return out


def _run(backbone: Backbone, groups: list[_Group], batch_size: int):
    """Yield (group, packed, final hidden states) per batch of whole groups, without gradients."""
    device = next(backbone.module.parameters()).device
    sizes = [len(g.seqs) for g in groups]
    for batch in plan_batches(sizes, range(len(groups)), batch_size):
        chosen = [groups[i] for i in batch]
        items = [Item(g.seqs[0][: g.prefix], [s[g.prefix :] for s in g.seqs]) for g in chosen]
        packed = pack(items).to(device)
        with torch.no_grad():
            yield chosen, packed, hidden_states(backbone, packed)


# ---------------------------------------------------------------------------------------------- yes/no
def probe_yes_no(backbone: Backbone, questions: pd.DataFrame, batch_size: int = 64) -> pd.DataFrame:
    """``questions`` (from :func:`probe_questions`) plus logit_yes, logit_no, margin, pred."""
    out = questions.reset_index(drop=True).copy()
    groups = _groups(backbone, list(out["question"]), list(out["leaf"]))
    yes, no = np.zeros(len(out)), np.zeros(len(out))
    for chosen, packed, h in _run(backbone, groups, batch_size):
        logits = backbone.logits(h[packed.seg_row, packed.last]).float()
        pos = np.concatenate([g.positions for g in chosen])
        yes[pos] = logits[:, backbone.yes_id].cpu().numpy()
        no[pos] = logits[:, backbone.no_id].cpu().numpy()
    out["logit_yes"], out["logit_no"], out["margin"] = yes, no, yes - no
    out["pred"] = out["margin"] > 0
    return out


# ----------------------------------------------------------------------------------------------- cloze
def cloze_scores(
    backbone: Backbone, data: TaskData, template: str = CLOZE_TEMPLATE, batch_size: int = 64
) -> pd.DataFrame:
    """Per (leaf, candidate hypernym): depth, answer (is it a true hypernym) and the total log-probability
    of the continuation `` {hypernym}`` after the prompt."""
    bos = 1 if backbone.bos_id is not None else 0
    rows, texts, starts = [], [], []
    for leaf in data.leaves:
        if not data.relations.get(leaf):
            continue
        name = data.surface(leaf)
        art = article(name)
        prompt = template.format(Article=art.capitalize(), article=art, leaf=name)
        prompt_ids = backbone.tokenize(prompt)
        for h in data.derived:
            text = f"{prompt} {data.surface(h)}"
            scored_from = _common_prefix([prompt_ids, backbone.tokenize(text)]) + bos
            rows.append((leaf, h, data.depths[h], h in data.relations[leaf]))
            texts.append(text)
            starts.append(max(1, scored_from))
    out = pd.DataFrame(rows, columns=["leaf", "category", "depth", "answer"])
    out["logprob"], _ = token_logprobs(
        backbone, _tokens(backbone, texts), list(out["leaf"]), starts, batch_size
    )
    return out


def token_logprobs(
    backbone: Backbone,
    seqs: Sequence[list[int]],
    keys: Sequence[Any],
    start: Sequence[int],
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Per token list: the summed log-probability of its tokens ``start[i]:`` (each given the tokens before
    it, ``start[i] >= 1``) and how many tokens that is.  Lists sharing a key are packed behind their common
    prefix; every position's next-token distribution is computed once, however many lists read it."""
    groups = _groups(backbone, [], keys, seqs=seqs)
    total, count = np.zeros(len(seqs)), np.zeros(len(seqs), dtype=int)
    for chosen, packed, h in _run(backbone, groups, batch_size):
        reads: dict[tuple[int, int], int] = {}  # (row, position) -> index of its distribution
        read, target, owner = [], [], []
        q = 0
        for g in chosen:
            row, first = int(packed.seg_row[q]), int(packed.seg_start[q]) - g.prefix  # the prefix's start
            for s, p in zip(g.seqs, g.positions, strict=True):
                seg_row, seg_start = int(packed.seg_row[q]), int(packed.seg_start[q])
                for k in range(start[p], len(s)):  # token k is predicted at the position of token k - 1
                    at = (row, first + k - 1) if k <= g.prefix else (seg_row, seg_start + k - g.prefix - 1)
                    read.append(reads.setdefault(at, len(reads)))
                    target.append(s[k])
                    owner.append(p)
                q += 1
        if not reads:
            continue
        rows, positions = (torch.tensor(c) for c in zip(*reads, strict=True))
        logp = torch.log_softmax(backbone.logits(h[rows, positions]).float(), -1)
        lp = logp[torch.tensor(read, device=logp.device), torch.tensor(target, device=logp.device)]
        np.add.at(total, np.asarray(owner), lp.cpu().numpy())
        np.add.at(count, np.asarray(owner), 1)
    return total, count


def cloze_metrics(scores: pd.DataFrame) -> tuple[dict[str, float], pd.DataFrame]:
    """(top1 accuracy, MRR of the best ranked true hypernym, n_leaves) and per-hypernym top-k F1 rows."""
    df = scores.copy()
    df["rank"] = df.groupby("leaf")["logprob"].rank(ascending=False, method="first")
    k = df.groupby("leaf")["answer"].transform("sum")
    best = df[df["answer"]].groupby("leaf")["rank"].min()
    metrics = {
        "top1_accuracy": float((best == 1).mean()),
        "mrr": float((1.0 / best).mean()),
        "n_leaves": int(best.size),
    }
    df["pred"] = df["rank"] <= k
    df["subset"] = "cloze"
    return metrics, category_f1(df)


# ----------------------------------------------------------------------------------------- paper probe
ANSWER_WORDS = (("Yes", "yes"), ("No", "no"))


def answer_variants(backbone: Backbone, words: Sequence[str]) -> list[int]:
    """Token ids of ``words`` with or without a leading space, where that is a single token (the paper's
    scorer counts every token whose text, stripped, is the word)."""
    ids: list[int] = []
    for word in words:
        for text in (word, f" {word}"):
            tokens = backbone.tokenize(text)
            if len(tokens) == 1 and tokens[0] not in ids:
                ids.append(tokens[0])
    if not ids:
        raise UserError(f"backbone {backbone.name!r} has no single token for {words[0]!r}")
    return ids


def sequence_scores(backbone: Backbone, texts: Sequence[str], keys: Sequence[Any], batch_size: int = 64):
    """Mean log-probability per token of each text (every token after the first of BOS + text)."""
    seqs = _tokens(backbone, texts)
    total, count = token_logprobs(backbone, seqs, keys, [1] * len(seqs), batch_size)
    return total / np.maximum(count, 1)


def chat_tokens(backbone: Backbone, texts: Sequence[str]) -> list[list[int]]:
    """Each text as a one-turn user message in the backbone's chat template (its optional
    ``chat_prompt``), ending where the assistant answers; plain BOS + text without a template."""
    chat = getattr(backbone, "chat_prompt", None)
    prompts = [chat(text) if chat is not None else None for text in texts]
    templated = [p for p in prompts if p is not None]
    if len(templated) < len(prompts):
        return _tokens(backbone, texts)
    return [backbone.tokenize(p) for p in templated]


def scoring_keys(rows: pd.DataFrame) -> list[int]:
    """The paper probe's scoring groups: a leaf's questions in one phrasing (they share the phrasing's
    opening up to the hypernym, so they are packed behind it)."""
    return list(rows.groupby(["leaf", "phrasing"], sort=False).ngroup())


def paper_probe(
    backbone: Backbone, questions: pd.DataFrame, scorer: Backbone | None = None, batch_size: int = 64
) -> pd.DataFrame:
    """The paper's probe over :func:`harness.protocol.probe_questions.paper_probe_questions` rows: per
    question, the
    phrasing ``scorer`` (default: ``backbone``) finds most likely (mean token log-probability, ties to the
    lower phrasing), asked in the chat template; Yes iff the best Yes/yes token outscores the best No/no
    token.  One row per question: its columns plus score, logit_yes, logit_no, margin, pred, subset."""
    rows = questions.reset_index(drop=True)
    rows = rows.assign(score=sequence_scores(scorer or backbone, list(rows["text"]), scoring_keys(rows)))
    best = rows.sort_values(["question", "score", "phrasing"], ascending=[True, False, True])
    out = best.drop_duplicates("question").sort_values("question").reset_index(drop=True)
    yes_ids, no_ids = (answer_variants(backbone, words) for words in ANSWER_WORDS)
    seqs = chat_tokens(backbone, list(out["text"]))
    groups = _groups(backbone, [], list(out["leaf"]), seqs=seqs)
    yes, no = np.zeros(len(out)), np.zeros(len(out))
    for chosen, packed, h in _run(backbone, groups, batch_size):
        logits = backbone.logits(h[packed.seg_row, packed.last]).float()
        pos = np.concatenate([g.positions for g in chosen])
        yes[pos] = logits[:, yes_ids].max(dim=1).values.cpu().numpy()
        no[pos] = logits[:, no_ids].max(dim=1).values.cpu().numpy()
    out["logit_yes"], out["logit_no"], out["margin"] = yes, no, yes - no
    out["pred"] = out["margin"] > 0
    out["subset"] = "probe"
    return out


def pooled_f1(scored: pd.DataFrame) -> tuple[float, float]:
    """(macro F1 over every question pooled, that of always answering the majority answer), in 0-1."""
    n, n_yes = np.array([len(scored)]), np.array([int(scored["answer"].sum())])
    pred_yes = np.array([int(scored["pred"].sum())])
    tp = np.array([int((scored["pred"] & scored["answer"]).sum())])
    majority_yes = n_yes[0] > n[0] - n_yes[0]
    majority = macro_f1(n, n_yes, n if majority_yes else np.zeros(1, int), n_yes if majority_yes else 0 * n)
    return float(macro_f1(n, n_yes, pred_yes, tp)[0]), float(majority[0])
