"""Statistics of PROTOCOL.md §6: confidence intervals, mixed-effects models, correlations, Welch tests.

Crossed random effects (seed and hypernym are not nested in each other) are fitted with statsmodels'
``MixedLM`` the documented way: one group holding every observation and one variance component per
random factor (``vc_formula``).  docs/statistics.md explains how this relates to lme4's ``(1|a) + (1|b)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps


@dataclass(frozen=True)
class MeanCI:
    """Mean with standard error and a t-based confidence interval over ``n`` observations."""

    mean: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    level: float = 0.95


def mean_ci(values: Any, level: float = 0.95) -> MeanCI:
    """Mean, standard error (sample SD / sqrt n) and ``mean ± t_{(1+level)/2, n-1} * se``.

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
    return MeanCI(mean, se, mean - half, mean + half, n, level)


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


def crossed_mixedlm(data: pd.DataFrame, formula: str, random: list[str], reml: bool = True) -> MixedResult:
    """Fit ``formula`` with independent random intercepts for each column in ``random`` (crossed).

    Equivalent to lme4's ``lmer(formula + (1|r1) + (1|r2) ...)``: a single all-ones group and one
    variance component ``0 + C(r)`` per factor.
    """
    import statsmodels.formula.api as smf

    df = data.copy()
    missing = [c for c in random if c not in df.columns]
    if missing:
        raise ValueError(f"random-effect columns missing: {missing}")
    for col in random:
        df[col] = df[col].astype(str)
    df["_group"] = 1
    vc = {col: f"0 + C({col})" for col in random}
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = smf.mixedlm(formula, df, groups="_group", vc_formula=vc, re_formula=None)
        fit = None
        for method in ("lbfgs", "powell", "nm"):
            try:
                fit = model.fit(reml=reml, method=method)
            except (np.linalg.LinAlgError, ValueError) as exc:  # pragma: no cover - optimiser trouble
                notes.append(f"{method} failed: {exc}")
                continue
            if fit.converged:
                break
    if fit is None:  # pragma: no cover
        raise RuntimeError("mixed model did not fit: " + "; ".join(notes))
    notes += sorted({str(w.message).splitlines()[0] for w in caught})
    fe_names = list(fit.fe_params.index)
    terms = [
        Term(
            name=n,
            estimate=float(fit.fe_params[n]),
            se=float(fit.bse_fe[n]),
            stat=float(fit.tvalues[n]),
            p=float(fit.pvalues[n]),
        )
        for n in fe_names
    ]
    vcomp = {name: float(v) for name, v in zip(model.exog_vc.names, np.atleast_1d(fit.vcomp), strict=True)}
    return MixedResult(
        formula=formula,
        random_effects=list(random),
        n_obs=int(fit.nobs),
        terms=terms,
        variance_components=vcomp,
        residual_variance=float(fit.scale),
        converged=bool(fit.converged),
        method="REML" if reml else "ML",
        notes=notes,
    )


def encoder_effect(df: pd.DataFrame) -> MixedResult:
    """PROTOCOL §6(a): ``f1 ~ encoder + backbone``, random intercepts for seed and category (crossed).

    ``df`` has one row per (run, category): columns f1, encoder, backbone, seed, category.  With one
    backbone the backbone term is dropped.
    """
    if df["encoder"].nunique() < 2:
        raise ValueError("encoder effect needs at least two encoders")
    formula = "f1 ~ C(encoder)" + (" + C(backbone)" if df["backbone"].nunique() > 1 else "")
    return crossed_mixedlm(df, formula, ["seed", "category"])


def coherence_model(df: pd.DataFrame) -> MixedResult:
    """PROTOCOL §6(b): per-hypernym ``f1 ~ probe_f1 + coherence``, random intercepts for backbone-seed and
    hypernym (crossed).  ``df``: f1, probe_f1, coherence, backbone, seed, category."""
    df = df.assign(backbone_seed=df["backbone"].astype(str) + "/" + df["seed"].astype(str))
    return crossed_mixedlm(df, "f1 ~ probe_f1 + coherence", ["backbone_seed", "category"])


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
