"""runs_needed: vectorised and plain paths agree; undefined estimates; options; the result."""

import warnings

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.efficiency import (
    Measure,
    MeasureMean,
    SyntheticRespondent,
    price_coefficient,
    runs_needed,
)

PRICES = list(range(20, 100, 5))


@pytest.fixture(scope="module")
def respondent():
    return SyntheticRespondent(10.6, -2.8, precision=18)


@pytest.fixture(scope="module")
def panel(respondent):
    return respondent.panel(PRICES, runs=12, seed=4)


@pytest.mark.parametrize("estimator", [price_coefficient(), MeasureMean(),
                                       MeasureMean(condition=3)])
def test_vectorised_and_plain_calls_give_the_same_curves(panel, estimator):
    kw = dict(n_boot=12, seed=9, max_runs=4, stop_early=False)
    fast = runs_needed(panel, estimator, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", br.SeparationWarning)
        slow = runs_needed(panel, estimator, vectorize=False, **kw)
    assert fast.vectorized and not slow.vectorized
    assert fast.target == pytest.approx(slow.target, rel=1e-12)
    for m in ("belief", "choice"):
        np.testing.assert_array_equal(fast.undefined[m], slow.undefined[m])
        ok = ~fast.undefined[m]
        np.testing.assert_allclose(fast.estimates[m][ok], slow.estimates[m][ok], rtol=1e-8,
                                   atol=1e-10)
    pd.testing.assert_frame_equal(fast.curves, slow.curves)


def test_default_target_is_the_logit_of_all_choices(panel):
    res = runs_needed(panel, price_coefficient(), n_boot=50, max_runs=4)
    logit = br.Logit.from_formula("I((choice == 'yes') * 1.0) ~ np.log(price)", panel).fit()
    assert res.target == pytest.approx(logit.params["np.log(price)"], rel=1e-9)
    assert "all 192 runs' choices" in res.target_source


def test_separated_resamples_count_as_misses(panel):
    res = runs_needed(panel, price_coefficient(), target=-2.8, n_boot=400, max_runs=3,
                      stop_early=False)
    cur = res.curves.set_index(["measure", "runs"])
    undefined = cur.loc[("choice", 1), "n_undefined"]
    assert undefined > 0  # one run of 16 answers is often separated
    assert cur.loc[("belief", 1), "n_undefined"] == 0
    within = ~res.undefined["choice"][:, 0] & (
        np.abs(res.estimates["choice"][:, 0] + 2.8) <= 0.28)
    assert cur.loc[("choice", 1), "p_within"] == within.mean()
    assert cur.loc[("choice", 1), "p_within"] <= 1 - undefined / 400


def test_plain_callables_separation_and_nonfinite_values_are_undefined(panel):
    calls = []

    def flaky(data, measure):
        calls.append(len(data))
        if len(calls) % 3 == 0:
            warnings.warn("separated", br.SeparationWarning)
        if len(calls) % 3 == 1:
            return float("nan")
        return float(data[measure.column].mean())

    res = runs_needed(panel, flaky, target=0.5, relative=False, tolerance=1.0, n_boot=6,
                      max_runs=2, stop_early=False)
    # 1 call for the target is not made (target given); 2 measures x 6 x 2 calls
    assert len(calls) == 24
    assert sum(u.sum() for u in res.undefined.values()) == 16
    assert res.curves.p_within.max() < 1.0
    # a resample of R runs per condition has 16 R rows
    assert set(calls) == {16, 32}


def test_estimator_must_return_a_number(panel):
    with pytest.raises(TypeError, match="must return a number"):
        runs_needed(panel, lambda d, m: "high", target=1.0, n_boot=2, max_runs=2)
    with pytest.raises(TypeError, match="must be callable"):
        runs_needed(panel, "price", target=1.0)


def test_a_regressor_varying_within_conditions_falls_back_to_calls(respondent):
    panel = respondent.panel(PRICES[:4], runs=6, seed=1)
    panel["noise"] = np.random.default_rng(0).normal(size=len(panel))
    est = br.efficiency.LogitCoefficient("~ np.log(price) + noise", term="np.log(price)")
    res = runs_needed(panel, est, target=-2.8, n_boot=3, max_runs=3, measures=["belief"])
    assert not res.vectorized
    assert list(res.runs) == ["belief"]


def test_stop_early_and_full_curves(respondent):
    panel = respondent.panel(PRICES, runs=60, seed=2)
    kw = dict(n_boot=200, seed=1)
    early = runs_needed(panel, price_coefficient(), target=-2.8, tolerance=0.3, **kw)
    full = runs_needed(panel, price_coefficient(), target=-2.8, tolerance=0.3,
                       stop_early=False, **kw)
    assert early.runs == full.runs
    assert max(early.runs.values()) <= early.runs_tried.max() < full.runs_tried.max() == 60
    # blocks of R: 1-16, 17-32, 33-60
    assert early.runs_tried.max() in (16, 32)


def test_choice_as_a_0_1_or_boolean_column_and_other_column_names(respondent, panel):
    base = runs_needed(panel, price_coefficient(), target=-2.8, n_boot=30, max_runs=3)
    renamed = panel.rename(columns={"condition_id": "cell", "run": "draw_no",
                                    "belief_yes": "p_buy", "price": "cents"})
    renamed["bought"] = panel.choice == "yes"
    res = runs_needed(renamed, price_coefficient("cents"), target=-2.8, n_boot=30, max_runs=3,
                      condition="cell", run="draw_no", belief="p_buy", choice="bought")
    pd.testing.assert_frame_equal(base.curves, res.curves)
    renamed["bought"] = renamed["bought"].astype(int)
    res = runs_needed(renamed, price_coefficient("cents"), target=-2.8, n_boot=30, max_runs=3,
                      condition="cell", run="draw_no", belief="p_buy", choice="bought")
    pd.testing.assert_frame_equal(base.curves, res.curves)


def test_missing_measures_are_dropped_with_a_warning(panel):
    broken = panel.copy()
    broken.loc[[0, 5], "belief_yes"] = np.nan
    broken.loc[7, "choice"] = None
    with pytest.warns(br.MissingValueWarning, match="3 of 192 rows dropped"):
        res = runs_needed(broken, MeasureMean(), target=0.5, n_boot=10)
    # all three rows are at condition 0
    assert res.runs_available.loc[0] == 9 and res.runs_tried.max() == 9


def test_unbalanced_panel_uses_the_fewest_runs(panel):
    unbalanced = panel[~((panel.condition_id == 2) & (panel.run >= 5))]
    res = runs_needed(unbalanced, MeasureMean(), target=0.5, n_boot=10, stop_early=False)
    assert res.runs_tried.max() == 5
    assert res.runs_available.loc[2] == 5 and res.runs_available.loc[0] == 12


def test_replace_draws_with_replacement(panel):
    res = runs_needed(panel, MeasureMean(condition=0), target=0.9, n_boot=50, max_runs=12,
                      replace=True, stop_early=False)
    assert res.replace and res.runs_tried.max() == 12


def test_result_summary_and_tables(respondent):
    panel = respondent.panel(PRICES, runs=200, seed=3)
    res = runs_needed(panel, price_coefficient(), n_boot=300, seed=5)
    text = res.summary()
    assert "within ±10% of the target with probability >= 0.95" in text
    assert "LogitCoefficient('~ np.log(price)'" in text
    assert f"choice needs {res.ratio:.1f}x the runs of belief" in text
    assert str(res) == text
    assert res.runs["belief"] < res.runs["choice"]
    for m in ("belief", "choice"):
        low, high = res.runs_range[m]
        assert low <= res.runs[m] <= high  # stop_early waits until both are clearly above
    assert "MC range" in text
    table = res.curve_table()
    assert list(table.columns) == ["belief", "choice"]
    assert set(res.curves.columns) == {"measure", "runs", "p_within", "mc_se", "n_undefined"}
    assert res.estimates["belief"].shape == (300, len(res.runs_tried))
    # a choice estimate that needs a quarter of the runs available is flagged as optimistic
    assert "optimistic" in text


def test_not_reached_is_reported_not_faked(panel):
    res = runs_needed(panel, price_coefficient(), target=-2.8, tolerance=0.001, n_boot=20)
    assert res.runs == {"belief": None, "choice": None}
    assert res.ratio is None
    assert "not reached" in res.summary()


def test_measure_object():
    m = Measure("choice", "choice_is_yes")
    assert m.binary and not Measure("belief", "belief_yes").binary


def test_a_coefficient_s_covariance_warnings_are_not_repeated_per_resample(respondent):
    # a regressor that varies within conditions (one call per resample): every one-run
    # resample's singular HC0 covariance printed a CovarianceWarning, dozens of lines about
    # standard errors that runs_needed never uses
    panel = respondent.panel(PRICES[:8], runs=6, seed=1)
    panel["persona"] = np.tile(["a", "b", "c"], len(panel) // 3)
    est = br.efficiency.LogitCoefficient("~ np.log(price) + C(persona)", term="np.log(price)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = runs_needed(panel, est, target=-2.8, n_boot=20, max_runs=3, measures=["belief"])
    assert not res.vectorized
    assert not [w for w in caught if issubclass(w.category, br.CovarianceWarning)]
    # the estimate is the model's coefficient, warnings or not
    m = Measure("belief", "belief_yes")
    ref = br.FractionalLogit.from_formula("belief_yes ~ np.log(price) + C(persona)", panel).fit()
    assert est(panel, m) == pytest.approx(ref.params["np.log(price)"], rel=1e-12)
