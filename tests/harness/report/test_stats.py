"""harness.report.stats on synthetic data with known effects: effects are found, absent ones not claimed."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from harness.report import stats


def test_mean_ci_arithmetic():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    ci = stats.mean_ci(x)
    sd = math.sqrt(sum((v - 3) ** 2 for v in x) / 4)
    se = sd / math.sqrt(5)
    t975_df4 = 2.7764451051977987  # Student t quantile, 4 df (tables: 2.776)
    assert (ci.mean, ci.se, ci.n) == pytest.approx((3.0, se, 5))
    assert (ci.ci_low, ci.ci_high) == pytest.approx((3 - t975_df4 * se, 3 + t975_df4 * se))
    wider = stats.mean_ci(x, level=0.99)
    assert wider.ci_low < ci.ci_low and wider.ci_high > ci.ci_high


def test_mean_ci_edge_cases():
    assert stats.mean_ci([np.nan, 2.0, 4.0]).mean == 3.0
    one = stats.mean_ci([7.0])
    assert one.mean == 7.0 and one.n == 1 and math.isnan(one.se) and math.isnan(one.ci_low)
    assert stats.mean_ci([]).n == 0


def test_mean_ci_is_clipped_to_the_measures_range():
    """Few, spread F1 values (a condition kept on one image) give a t interval past 0 and 100: clipped."""
    x = [0.0, 100.0, 100.0, 0.0]
    raw = stats.mean_ci(x)
    assert raw.ci_low < 0 and raw.ci_high > 100
    ci = stats.mean_ci(x, bounds=stats.F1_RANGE)
    assert (ci.mean, ci.se, ci.ci_low, ci.ci_high) == (raw.mean, raw.se, 0.0, 100.0)
    inside = stats.mean_ci([40.0, 50.0, 60.0], bounds=stats.F1_RANGE)
    assert (inside.ci_low, inside.ci_high) == (
        stats.mean_ci([40.0, 50.0, 60.0]).ci_low,
        stats.mean_ci([40.0, 50.0, 60.0]).ci_high,
    )


def test_mean_ci_coverage():
    """About 95 % of t intervals from normal samples (n = 8) contain the true mean (z would under-cover)."""
    rng = np.random.default_rng(7)
    hits = sum(
        ci.ci_low <= 10 <= ci.ci_high for ci in (stats.mean_ci(rng.normal(10, 3, 8)) for _ in range(2000))
    )
    assert 0.935 <= hits / 2000 <= 0.965


def _encoder_data(effect: float, seed: int, n_hyp: int = 40) -> pd.DataFrame:
    """F1 = 60 + effect*[enc b] + 8*[lm y] + seed RE + hypernym RE + noise; 2 x 2 x 3 seeds x n_hyp."""
    rng = np.random.default_rng(seed)
    hyp = rng.normal(0, 10, n_hyp)
    seed_re = rng.normal(0, 2, 3)
    rows = [
        {
            "encoder": e,
            "backbone": b,
            "seed": s,
            "category": f"h{h}",
            "f1": 60 + effect * (e == "b") + 8 * (b == "y") + seed_re[s] + hyp[h] + rng.normal(0, 5),
        }
        for e in "ab"
        for b in "xy"
        for s in range(3)
        for h in range(n_hyp)
    ]
    return pd.DataFrame(rows)


def test_encoder_effect_found():
    res = stats.encoder_effect(_encoder_data(effect=4.0, seed=1))
    enc = res.term("enc")  # +-1 codes, encoder "a" = +1: the coefficient is half the a - b difference
    assert enc.p < 0.001 and enc.estimate == pytest.approx(-2.0, abs=0.75)
    assert res.term("lm").estimate == pytest.approx(-4.0, abs=0.75)
    assert abs(res.term("enc_lm").estimate) < 0.75  # no interaction in the data
    assert res.notes[0] == "+1 = encoder a, backbone x"
    # crossed random effects: the hypernym variance (100) is recovered, the residual (25) too
    assert res.variance_components["category"] == pytest.approx(100, rel=0.5)
    assert res.residual_variance == pytest.approx(25, rel=0.2)
    assert {"seed:enc", "category:enc", "category:enc_lm"} <= set(res.variance_components)
    assert res.n_obs == 480 and res.converged


def test_encoder_effect_random_slope_is_recovered():
    """A hypernym-specific encoder effect (SD 3) shows as the category:enc slope variance (9 / 4 for +-1)."""
    df = _encoder_data(effect=0.0, seed=6, n_hyp=60)
    rng = np.random.default_rng(11)
    slope = dict(zip(sorted(df["category"].unique()), rng.normal(0, 3, 60), strict=True))
    df["f1"] += np.where(df["encoder"] == "b", 1.0, 0.0) * df["category"].map(slope)
    res = stats.encoder_effect(df)
    assert res.variance_components["category:enc"] == pytest.approx(9 / 4, rel=0.6)
    assert res.variance_components["category:enc"] > 10 * res.variance_components["category:enc_lm"]


def test_encoder_effect_absent_not_claimed():
    """Under no effect the p-values are calibrated: about 5 % below .05 (not a claim in most data sets)."""
    fits = [stats.encoder_effect(_encoder_data(effect=0.0, seed=s, n_hyp=15)) for s in range(25)]
    ps = np.array([f.term("enc").p for f in fits])
    assert (ps < 0.05).sum() <= 4  # 25 data sets: ~1.25 expected by chance
    assert 0.25 < np.median(ps) < 0.75


def test_crossed_random_effects_matter():
    """Ignoring the hypernym effect inflates the SE of a within-hypernym contrast; the mixed model not."""
    import statsmodels.formula.api as smf

    df = _encoder_data(effect=2.0, seed=3)
    mixed = stats.encoder_effect(df).term("enc")
    ols = smf.ols("f1 ~ C(encoder) + C(backbone)", df).fit()
    assert 2 * mixed.se < 0.8 * ols.bse["C(encoder)[T.b]"]  # +-1 coding halves the coefficient


def _coherence_data(coh_slope: float, probe_slope: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cats = [f"h{i}" for i in range(30)]
    coh = {c: rng.uniform(0.15, 0.4) for c in cats}
    hyp_re = {c: rng.normal(0, 4) for c in cats}
    rows = []
    for bb in ("small", "large"):
        probe = {c: rng.uniform(50, 95) for c in cats}
        for s in range(3):
            run_re = rng.normal(0, 2)
            for shuffle, factor in (("original", 1.0), ("across", 0.4)):
                for c in cats:
                    x = coh[c] * factor
                    f1 = 30 + coh_slope * x + probe_slope * probe[c] + hyp_re[c] + run_re + rng.normal(0, 4)
                    rows.append(
                        {
                            "backbone": bb,
                            "seed": s,
                            "category": c,
                            "shuffle": shuffle,
                            "coherence": x,
                            "probe_f1": probe[c],
                            "f1": f1,
                        }
                    )
    return pd.DataFrame(rows)


def _original(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["shuffle"] == "original"]  # the paper fits the coherence model on original labels only


def test_coherence_model_finds_coherence_not_probe():
    res = stats.coherence_model(_original(_coherence_data(coh_slope=120, probe_slope=0, seed=2)))
    coh, probe = res.term("coherence"), res.term("probe_f1")
    assert coh.p < 0.001 and coh.estimate == pytest.approx(120, rel=0.3)
    assert probe.p > 0.05
    expected = {"category", "category:probe_f1", "category:coherence", "seed", "backbone"}
    assert set(res.variance_components) == expected


def test_coherence_model_finds_probe_effect():
    res = stats.coherence_model(_original(_coherence_data(coh_slope=0, probe_slope=0.5, seed=4)))
    assert res.term("probe_f1").p < 0.001 and res.term("probe_f1").estimate == pytest.approx(0.5, abs=0.2)
    assert res.term("coherence").p > 0.01


def test_correlation():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 50)
    c = stats.correlation(x, 2 * x + rng.normal(0, 0.1, 50))
    assert c.pearson_r > 0.95 and c.pearson_p < 1e-10 and c.spearman_rho > 0.9 and c.n == 50
    none = stats.correlation(x, rng.normal(0, 1, 50))
    assert abs(none.pearson_r) < 0.3 and none.pearson_p > 0.05
    assert math.isnan(stats.correlation([1, 2, 3], [5, 5, 5]).pearson_r)
    assert stats.correlation([1, 2, np.nan, 4], [1, 2, 3, 5]).n == 3


def test_welch_t():
    rng = np.random.default_rng(5)
    a, b = rng.normal(10, 1, 30), rng.normal(15, 4, 12)
    res = stats.welch_t(a, b)
    va, vb = a.var(ddof=1) / 30, b.var(ddof=1) / 12
    assert res.t == pytest.approx((a.mean() - b.mean()) / math.sqrt(va + vb))
    assert res.df == pytest.approx((va + vb) ** 2 / (va**2 / 29 + vb**2 / 11))
    assert res.p < 0.05 and res.diff < 0
    same = stats.welch_t(rng.normal(0, 1, 40), rng.normal(0, 1, 40))
    assert same.p > 0.05
    with pytest.raises(ValueError):
        stats.welch_t([1.0], [1.0, 2.0])
