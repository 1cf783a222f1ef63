"""Statistics of PROTOCOL.md §6 and §9: confidence intervals, mixed-effects models, correlations, Welch tests.

The two mixed models are the paper's (its ``analyze-f1-results.R``, lme4): crossed random effects with
random slopes.  statsmodels' ``MixedLM`` fits crossed random effects the documented way: one group holding
every observation and one variance component per random term (``vc_formula``), so every random intercept
and slope is its own independent variance component: lme4's ``(1 + x || g)``.  The paper's encoder model
has correlated slopes (``(1 + x | g)``), which no statsmodels model can cross; we fit it with uncorrelated
slopes and report the difference (docs/statistics.md).  Wald z stands where lme4 prints t.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

F1_RANGE = (0.0, 100.0)  # macro F1 in %: a confidence interval is clipped to it


@dataclass(frozen=True)
class MeanCI:
    """Mean with standard error and a t-based confidence interval over ``n`` observations."""

    mean: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    level: float = 0.95


def mean_ci(values: Any, level: float = 0.95, bounds: tuple[float, float] | None = None) -> MeanCI:
    """Mean, standard error (sample SD / sqrt n) and ``mean ± t_{(1+level)/2, n-1} * se``, the interval
    clipped to ``bounds`` (the measure's range, e.g. ``(0, 100)`` for F1 in %) when given.

    NaNs are dropped.  With one value the SE and CI are NaN (no spread to estimate); with none, all NaN.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return MeanCI(math.nan, math.nan, math.nan, math.nan, 0, level)
    mean = float(x.mean())
    if n == 1:
        return MeanCI(mean, math.nan, math.nan, math.nan, 1, level)
    se = float(x.std(ddof=1) / math.sqrt(n))
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * se
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return MeanCI(mean, se, low, high, n, level)


@dataclass
class Term:
    """One fixed-effect coefficient of a fitted model."""

    name: str
    estimate: float
    se: float
    stat: float  # Wald z (statsmodels MixedLM) — see docs/statistics.md
    p: float


@dataclass
class MixedResult:
    """A fitted mixed model, reduced to plain data (JSON-serialisable via ``to_dict``)."""

    formula: str
    random_effects: list[str]
    n_obs: int
    terms: list[Term]
    variance_components: dict[str, float]
    residual_variance: float
    converged: bool
    method: str = "REML"
    notes: list[str] = field(default_factory=list)

    def term(self, prefix: str) -> Term:
        """The first term whose name starts with ``prefix`` (e.g. ``"C(encoder)"``)."""
        for t in self.terms:
            if t.name.startswith(prefix):
                return t
        raise KeyError(f"no term starting with {prefix!r} in {[t.name for t in self.terms]}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def crossed_mixedlm(
    data: pd.DataFrame,
    formula: str,
    random: list[str] | dict[str, list[str]],
    reml: bool = True,
) -> MixedResult:
    """Fit ``formula`` with crossed random effects: for each factor in ``random`` an intercept and, when
    ``random`` maps factors to columns, an independent random slope of each column.

    Equivalent to lme4's ``lmer(formula + (1 + x || f1) + (1 || f2) ...)``: a single all-ones group, one
    variance component ``0 + C(f)`` per factor and ``0 + C(f):x`` per slope.
    """
    import statsmodels.formula.api as smf

    slopes = random if isinstance(random, dict) else {col: [] for col in random}
    df = data.copy()
    missing = [c for f, xs in slopes.items() for c in (f, *xs) if c not in df.columns]
    if missing:
        raise ValueError(f"random-effect columns missing: {missing}")
    for col in slopes:
        df[col] = df[col].astype(str)
    df["_group"] = 1
    vc = {col: f"0 + C({col})" for col in slopes}
    vc |= {f"{col}:{x}": f"0 + C({col}):{x}" for col, xs in slopes.items() for x in xs}
    notes: list[str] = []
    model = smf.mixedlm(formula, df, groups="_group", vc_formula=vc, re_formula=None)
    fit, caught = _best_fit(model, reml, notes)
    notes += caught
    fe_names = list(fit.fe_params.index)
    with warnings.catch_warnings():  # the variance parameters' standard errors may be NaN; not reported
        warnings.simplefilter("ignore", RuntimeWarning)
        se, stat, p = fit.bse_fe, fit.tvalues, fit.pvalues
    terms = [Term(n, float(fit.fe_params[n]), float(se[n]), float(stat[n]), float(p[n])) for n in fe_names]
    vcomp = {name: float(v) for name, v in zip(model.exog_vc.names, np.atleast_1d(fit.vcomp), strict=True)}
    return MixedResult(
        formula=formula,
        random_effects=list(vc),
        n_obs=int(fit.nobs),
        terms=terms,
        variance_components=vcomp,
        residual_variance=float(fit.scale),
        converged=bool(fit.converged),
        method="REML" if reml else "ML",
        notes=notes,
    )


# The paper's published statistics (PROTOCOL.md §6, §9), shown beside ours in the report.
PAPER = {"encoder": {"term": "enc", "t": 0.91, "p": 0.45}, "coherence": {"t": 3.34, "probe_t": 0.05}}


def plus_minus(values: pd.Series) -> tuple[pd.Series, str]:
    """Two levels coded +1 (the first in sorted order) / -1, and the name of the +1 level."""
    levels = sorted(values.astype(str).unique())
    if len(levels) != 2:
        raise ValueError(f"+-1 coding needs exactly two levels, got {levels}")
    return np.where(values.astype(str) == levels[0], 1.0, -1.0), levels[0]


OPTIMISERS = ("lbfgs", "powell", "bfgs", "cg", "nm")
BOUNDARY = "on the boundary of the parameter space"  # a variance component estimated at 0: benign


def _best_fit(model: Any, reml: bool, notes: list[str]) -> tuple[Any, list[str]]:
    """The first clean fit (converged, finite standard errors, no warning but that a variance component is
    at its boundary, 0), else the converged fit with finite standard errors and the highest likelihood over
    ``OPTIMISERS``; its warnings."""
    fits = []
    for method in OPTIMISERS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = model.fit(reml=reml, method=method)
            except (np.linalg.LinAlgError, ValueError) as exc:  # optimiser trouble: try the next
                notes.append(f"{method} failed: {exc}")
                continue
            finite = bool(np.all(np.isfinite(np.asarray(fit.bse_fe))))
        messages = sorted({str(w.message).splitlines()[0] for w in caught})
        if fit.converged and finite and all(BOUNDARY in m for m in messages):
            return fit, [f"optimiser {method}", *messages]
        fits.append((fit.converged and finite, fit.llf, method, fit, messages))
    if not fits:
        raise RuntimeError("mixed model did not fit: " + "; ".join(notes))
    _, _, method, fit, messages = max(fits, key=lambda f: (f[0], f[1]))
    return fit, [f"optimiser {method} (highest likelihood of {len(fits)})", *messages]


def encoder_effect(df: pd.DataFrame) -> MixedResult:
    """The paper's encoder model (§9): ``f1 ~ enc * lm + (1 + enc * lm || seed) + (1 + enc * lm ||
    category)`` with +-1 codes (the first encoder and backbone in sorted order are +1); with one backbone,
    ``f1 ~ enc + (1 + enc || seed) + (1 + enc || category)``.

    ``df`` has one row per (run, category): columns f1, encoder, backbone, seed, category; exactly two
    encoders and one or two backbones.
    """
    d = df.copy()
    d["enc"], plus_enc = plus_minus(d["encoder"])
    terms = ["enc"]
    if d["backbone"].nunique() == 2:
        d["lm"], plus_lm = plus_minus(d["backbone"])
        d["enc_lm"] = d["enc"] * d["lm"]
        terms += ["lm", "enc_lm"]
    elif d["backbone"].nunique() > 2:
        raise ValueError("the encoder model compares two encoders over one or two backbones")
    res = crossed_mixedlm(d, "f1 ~ " + " + ".join(terms), {"seed": terms, "category": terms})
    res.notes.insert(0, f"+1 = encoder {plus_enc}" + (f", backbone {plus_lm}" if "lm" in terms else ""))
    return res


def coherence_model(df: pd.DataFrame) -> MixedResult:
    """The paper's coherence model (§9), on Original runs at 100 % ablation: per-hypernym ``f1 ~ probe_f1
    + coherence + (probe_f1 + coherence || category) + (1 | seed) + (1 | backbone)``.

    ``df``: f1, probe_f1, coherence, backbone, seed, category (one row per run and hypernym).
    """
    random = {"category": ["probe_f1", "coherence"], "seed": [], "backbone": []}
    if df["backbone"].nunique() < 2:
        random.pop("backbone")
    return crossed_mixedlm(df, "f1 ~ probe_f1 + coherence", random)


@dataclass
class Correlation:
    n: int
    pearson_r: float
    pearson_p: float
    spearman_rho: float
    spearman_p: float


def correlation(x: Any, y: Any) -> Correlation:
    """Pearson and Spearman correlation of paired values (pairs with a NaN are dropped)."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return Correlation(int(a.size), math.nan, math.nan, math.nan, math.nan)
    pr = sps.pearsonr(a, b)
    sr = sps.spearmanr(a, b)
    return Correlation(
        int(a.size), float(pr.statistic), float(pr.pvalue), float(sr.statistic), float(sr.pvalue)
    )


@dataclass
class WelchResult:
    mean_a: float
    mean_b: float
    diff: float
    t: float
    df: float
    p: float
    n_a: int
    n_b: int


def welch_t(a: Any, b: Any) -> WelchResult:
    """Welch's unequal-variance t-test of mean(a) vs mean(b), with Welch–Satterthwaite df."""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size < 2 or y.size < 2:
        raise ValueError("Welch t-test needs at least two values per group")
    res = sps.ttest_ind(x, y, equal_var=False)
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    dof = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1)) if vx + vy > 0 else math.nan
    return WelchResult(
        float(x.mean()),
        float(y.mean()),
        float(x.mean() - y.mean()),
        float(res.statistic),
        float(dof),
        float(res.pvalue),
        int(x.size),
        int(y.size),
    )
