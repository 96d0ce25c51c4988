"""The efficiency criterion (beliefreg.report.efficiency) against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from beliefreg.efficiency import SyntheticRespondent
from beliefreg.report import analyse
from beliefreg.report.efficiency import (condition_covariances, efficiency, logit_weights,
                                         normal_runs_needed)

Z = stats.norm.ppf(0.975)


def _panel(prices, runs, belief, buy) -> pd.DataFrame:
    prices = np.repeat(np.asarray(prices, float), runs)
    n = len(prices)
    return pd.DataFrame({"price": prices, "condition_id": pd.factorize(prices)[0],
                         "run": np.tile(np.arange(runs), n // runs),
                         "choice": np.where(np.asarray(buy) == 1, "yes", "no").astype(object),
                         "choice_valid": True, "belief_yes": belief,
                         "belief_no": 1 - np.asarray(belief, float), "covered_mass": 1.0,
                         "belief_flags": "", "error": None})


def _p_within(v1, h, b, r):
    s = math.sqrt(v1 / r)
    return stats.norm.cdf((h - b) / s) - stats.norm.cdf((-h - b) / s)


@pytest.mark.parametrize("v1,h", [(0.346 ** 2, 0.28), (1.0, 0.1), (0.03, 0.05), (5.0, 2.0)])
def test_unbiased_normal_runs_is_the_closed_form(v1, h):
    assert normal_runs_needed(v1, h) == max(1, math.ceil(v1 * (Z / h) ** 2 - 1e-9))


@pytest.mark.parametrize("v1,h,b", [(1.0, 0.3, 0.1), (0.2, 0.05, 0.04), (3.0, 1.0, -0.9)])
def test_biased_normal_runs_is_the_first_r_reaching_the_level(v1, h, b):
    r = normal_runs_needed(v1, h, bias=b)
    assert r is not None and r > normal_runs_needed(v1, h)  # bias costs runs
    assert _p_within(v1, h, b, r) >= 0.95 > _p_within(v1, h, b, r - 1)


def test_a_bias_as_large_as_the_band_needs_no_finite_runs():
    assert normal_runs_needed(0.01, 0.1, bias=0.1) is None
    assert normal_runs_needed(0.01, 0.1, bias=-0.3) is None
    assert normal_runs_needed(0.0, 0.1, bias=0.05) == 1  # no variance, inside the band
    assert normal_runs_needed(float("nan"), 0.1) is None


def test_coefficient_weights_give_the_synthetic_respondents_asymptotic_variance():
    """v1 = sum_c w_c^2 s_c^2 equals the closed-form sandwich of the respondent."""
    prices = np.array([20, 35, 50, 65, 80, 95], float)
    r = SyntheticRespondent(10.6, -2.8, precision=18)
    x = np.column_stack([np.ones(len(prices)), np.log(prices)])
    w = logit_weights(np.array([10.6, -2.8]), x, np.array([0.0, 1.0]))
    for measure, var in (("belief", r.belief_variance(prices)),
                         ("choice", r.choice_variance(prices))):
        assert np.sum(w ** 2 * var) == pytest.approx(r.asymptotic_cov(prices, measure)[1, 1],
                                                     rel=1e-10)


def test_bias_standard_error_matches_the_monte_carlo_spread():
    """The SE of belief - choice for the average demand, against 250 replications."""
    r = SyntheticRespondent(10.6, -2.8, precision=4)
    prices = [20, 40, 60, 80]
    diffs, ses = [], []
    for seed in range(250):
        p = r.panel(prices, runs=8, seed=seed)
        p["buy"] = (p["choice"] == "yes").astype(float)
        eff = efficiency(p, belief="belief_yes", choice="buy", n_boot=10,
                         resample_levels=False)
        avg = eff.get("average")[0]
        diffs.append(avg.measures["belief"].bias)
        ses.append(avg.measures["belief"].bias_se)
    assert np.mean(diffs) == pytest.approx(0.0, abs=3 * np.std(diffs) / 15)
    assert np.mean(ses) == pytest.approx(np.std(diffs, ddof=1), rel=0.12)


def test_levels_follow_independent_formulas_with_bonferroni_bias():
    rng = np.random.default_rng(1)
    prices, runs = [20, 40, 60], 12
    belief = np.clip(np.repeat([0.7, 0.5, 0.3], runs) + rng.normal(0, 0.1, 3 * runs), 0.01, .99)
    buy = (rng.uniform(size=3 * runs) < belief).astype(int)
    p = _panel(prices, runs, belief, buy)
    p["buy"] = buy
    eff = efficiency(p, belief="belief_yes", choice="buy", n_boot=50, seed=0)
    z_bias = stats.norm.ppf(1 - 0.05 / (2 * 4))  # 3 levels + the average
    for c, (_, g) in zip(eff.get("level"), p.groupby("condition_id"), strict=True):
        target = g["buy"].mean()
        se = g["buy"].std(ddof=1) / math.sqrt(len(g))
        assert c.target == pytest.approx(target) and c.target_se == pytest.approx(se)
        assert c.band == ("relative" if target > Z * se else "absolute")
        b_ = g["belief_yes"]
        # under "the choice is a draw from the belief": Var(c - b | b) = b (1 - b)
        bias, bias_se = (b_ - g["buy"]).mean(), math.sqrt((b_ * (1 - b_)).mean() / len(g))
        b = c.measures["belief"]
        assert b.bias == pytest.approx(bias) and b.bias_se == pytest.approx(bias_se)
        assert b.bias_significant == (abs(bias) > z_bias * bias_se)
        # the runs needed at the point bias, given only when its (Bonferroni) interval is in
        # the band
        v1, h = g["belief_yes"].var(ddof=1), c.half_width
        lo, hi = max(abs(bias) - z_bias * bias_se, 0.0), abs(bias) + z_bias * bias_se
        assert b.runs_normal_low == normal_runs_needed(v1, h, bias=lo)
        assert b.runs_normal_high == normal_runs_needed(v1, h, bias=hi)
        assert b.outcome == ("never" if lo >= h else "runs" if hi < h else "not determinable")
        assert b.runs_normal == (normal_runs_needed(v1, h, bias=bias) if hi < h else None)
        assert c.measures["choice"].runs_normal == normal_runs_needed(g["buy"].var(ddof=1),
                                                                      c.half_width)


def test_a_precise_belief_centred_elsewhere_is_called_that():
    rng = np.random.default_rng(0)
    prices, runs = [20, 40], 40
    belief = np.full(2 * runs, 0.9) + rng.normal(0, 0.01, 2 * runs)
    buy = (rng.uniform(size=2 * runs) < 0.5).astype(int)
    p = _panel(prices, runs, belief, buy)
    p["buy"] = buy
    eff = efficiency(p, belief="belief_yes", choice="buy", n_boot=50)
    avg = eff.get("average")[0]
    assert avg.measures["belief"].bias_significant
    assert avg.measures["belief"].runs_normal is None
    assert avg.status("belief") == "never: precise but centred elsewhere"
    assert avg.status("choice").endswith("runs")


def test_the_coefficient_criterion_does_not_apply_to_a_flat_demand():
    """Constant belief, coin-flip choices: the all-choice price coefficient is noise."""
    rng = np.random.default_rng(3)
    prices, runs = [20, 35, 50, 65, 80, 95], 10
    belief = np.full(len(prices) * runs, 0.6)
    buy = (rng.uniform(size=len(belief)) < 0.6).astype(int)
    a = analyse(_panel(prices, runs, belief, buy), n_boot=50)
    coef = [c for c in a.efficiency.criteria if c.kind == "coefficient"][0]
    t = abs(coef.target) / coef.target_se
    assert (coef.band == "none") == (t <= Z)
    if coef.band == "none":
        assert coef.status("belief") == "does not apply" and math.isnan(coef.half_width)
        assert coef.measures["belief"].runs_normal is None
    # levels and their average always have a criterion
    assert all(c.applies for c in a.efficiency.get("level") + a.efficiency.get("average"))


def test_condition_covariances_need_two_runs():
    p = _panel([20, 40], 1, [0.5, 0.6], [1, 0])
    p["buy"] = [1, 0]
    with pytest.raises(ValueError, match="at least 2"):
        condition_covariances(p, ("belief_yes", "buy"))


def test_unequal_runs_weights_give_the_pooled_logits_variance():
    """With unequal runs per price the pooled logit weights conditions by their runs: the
    variance of the panel's coefficient is sum_c p_c^2 s_c^2 / n_c with the run-weighted
    influence p_c (against 800 statsmodels fits); the equal-runs weights would overstate it."""
    import statsmodels.api as sm

    r = SyntheticRespondent(10.6, -2.8, precision=18)
    prices = np.array([20, 35, 50, 65, 80, 95], float)
    runs = np.array([12, 12, 12, 240, 240, 240])
    x = np.column_stack([np.ones(len(prices)), np.log(prices)])
    theta, grad = np.array([10.6, -2.8]), np.array([0.0, 1.0])
    s2 = r.choice_variance(prices)
    predicted = np.sum(logit_weights(theta, x, grad, runs) ** 2 * s2 / runs)
    equal_runs = np.sum(logit_weights(theta, x, grad) ** 2 * s2 / runs)
    balanced = logit_weights(theta, x, grad, np.full(len(prices), 7.0))
    np.testing.assert_allclose(balanced, logit_weights(theta, x, grad), rtol=1e-12)
    rng = np.random.default_rng(3)
    xr, m = np.repeat(x, runs, axis=0), np.repeat(r.demand(prices), runs)
    slopes = [sm.Logit((rng.random(len(m)) < m).astype(float), xr).fit(disp=0).params[1]
              for _ in range(800)]
    mc = np.var(slopes, ddof=1)  # its own relative SE is about sqrt(2 / 800) = 5%
    assert predicted == pytest.approx(mc, rel=0.15)
    assert abs(equal_runs / mc - 1) > 0.3


def _first_r_within(v1, h, b, level=0.95):
    """The smallest R with P(|N(b, v1/R)| <= h) >= level, by counting up (no bisection)."""
    r = 1
    while _p_within(v1, h, b, r) < level - 1e-12:
        r += 1
    return r


def test_a_bias_as_large_as_the_band_is_never_hidden_by_its_test():
    """The demo's price=20 row (new-user trial): target 0.400 from 10 choices, band ±0.04,
    mean belief 0.601. The bias +0.20 is 1.3 SE (not significant after Bonferroni), but it is
    5 times the band: the old rule set it to 0 and printed 'belief 3 runs' beside a
    resampling '> 10'. Its interval reaches across the band's edge: not determinable."""
    rng = np.random.default_rng(7)
    runs = 10
    belief = np.concatenate([0.601 + rng.normal(0, 0.03, runs) - 0.0,
                             0.5 + rng.normal(0, 0.03, runs)])
    belief[:runs] += 0.601 - belief[:runs].mean()
    buy = np.array([1] * 4 + [0] * 6 + [1] * 5 + [0] * 5)
    p = _panel([20, 40], runs, belief, buy)
    p["buy"] = buy
    eff = efficiency(p, belief="belief_yes", choice="buy", n_boot=200, seed=0)
    c = eff.get("level")[0]
    b = c.measures["belief"]
    assert (c.target, c.half_width) == (pytest.approx(0.4), pytest.approx(0.04))
    assert b.bias == pytest.approx(0.201) and not b.bias_significant
    g = p[p["condition_id"] == 0]
    se = math.sqrt((g["belief_yes"] * (1 - g["belief_yes"])).mean() / runs)  # 0.155
    assert b.bias_se == pytest.approx(se)
    z = stats.norm.ppf(1 - 0.05 / (2 * 3))  # Bonferroni over 2 levels and the average: 2.39
    assert eff.bias_z == pytest.approx(z)
    assert b.bias_interval == (pytest.approx(0.201 - z * se), pytest.approx(0.201 + z * se))
    assert b.outcome == "not determinable" and b.runs_normal is None
    # the least runs: at the end of the interval nearest 0 (here 0 itself), by counting
    v1 = g["belief_yes"].var(ddof=1)
    assert b.runs_normal_low == _first_r_within(v1, 0.04, 0.0) and b.runs_normal_high is None
    status = c.status("belief")
    assert status.startswith(f"not determinable: at least {b.runs_normal_low} run")
    assert "or never" in status
    # the resampling column agrees: the belief is not within the band with the runs simulated
    assert b.runs_resampling is None
    # the choice is the target: its runs needed are a number
    assert c.measures["choice"].outcome == "runs"
    assert c.status("choice") == f"{_first_r_within(g['buy'].var(ddof=1), 0.04, 0.0)} runs"


def test_the_point_bias_is_used_when_its_interval_is_inside_the_band():
    """A bias of 1.7 SE (not significant after a Bonferroni correction) is not set to 0: the
    runs needed are those at the point bias, with the range over its interval."""
    from beliefreg.report.efficiency import MeasureError

    e = MeasureError(0.52, 0.02, 0.012, False, 0.25)
    e.set_runs(0.1, level=0.95, z=Z)
    assert e.outcome == "runs"
    assert e.runs_normal == _first_r_within(0.25, 0.1, 0.02) == 113
    assert e.runs_normal != _first_r_within(0.25, 0.1, 0.0)  # 97: the zeroed bias
    assert e.runs_normal_low == _first_r_within(0.25, 0.1, 0.0)
    assert e.runs_normal_high == _first_r_within(0.25, 0.1, 0.02 + Z * 0.012)


def test_the_synthetic_demos_coefficient_bias_is_not_determinable():
    """`beliefreg demo --backend synthetic`: belief coefficient -2.817 against a target of
    -1.979 (bias -0.84, SE 0.35, z = 2.4), band ±0.198; the old rule called the bias not
    detectable, zeroed it and printed 'belief 12 runs'."""
    from beliefreg.report.efficiency import MeasureError

    for z in (Z, stats.norm.ppf(1 - 0.05 / (2 * 19))):  # 95%, and Bonferroni over 19 (3.04)
        e = MeasureError(-2.817, -0.838, 0.35, False, 0.46)
        e.set_runs(0.198, level=0.95, z=z)
        assert e.outcome == "not determinable" and e.runs_normal is None
        assert e.runs_normal_low == _first_r_within(0.46, 0.198, max(0.838 - z * 0.35, 0))
        assert e.runs_normal_high is None
    # the bias's interval beyond the band: never
    e = MeasureError(-2.817, -0.838, 0.2, True, 0.46)
    e.set_runs(0.198, level=0.95, z=Z)
    assert e.outcome == "never" and e.runs_normal is None and e.runs_normal_low is None
