"""compare_measures: the two models side by side, variance ratios, separation."""


import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.efficiency import SyntheticRespondent, compare_measures

PRICES = list(range(20, 100, 5))


def test_many_runs_same_truth_smaller_variance():
    r = SyntheticRespondent(10.6, -2.8, precision=18)
    panel = r.panel(PRICES, runs=300, seed=1)
    cmp = compare_measures(panel, "~ np.log(price)")
    row = cmp.table.loc["np.log(price)"]
    assert list(cmp.table.columns) == ["belief", "belief_se", "choice", "choice_se",
                                       "variance_ratio"]
    assert abs(row.belief + 2.8) < 4 * row.belief_se
    assert abs(row.choice + 2.8) < 4 * row.choice_se
    # closed form: the ratio of asymptotic variances is kappa + 1 = 19
    assert row.variance_ratio == pytest.approx(19, rel=0.3)
    assert cmp.measure_variance_ratio == pytest.approx(19, rel=0.15)
    assert cmp.cov_type == {"belief": "HC0", "choice": "nonrobust"}
    assert not any(cmp.separated.values())
    by = cmp.by_condition
    assert len(by) == 16 and (by.runs == 300).all()
    np.testing.assert_allclose(by.mean_belief, r.demand(np.array(PRICES)), atol=0.02)
    assert (by.var_choice > by.var_belief).all()
    # the same numbers as fitting the models directly
    direct = br.FractionalLogit.from_formula("belief_yes ~ np.log(price)", panel).fit()
    assert row.belief_se == pytest.approx(direct.bse["np.log(price)"], rel=1e-10)
    assert "pooled within conditions" in cmp.summary()


def test_cluster_covariance_by_condition():
    panel = SyntheticRespondent(10.6, -2.8, precision=18).panel(PRICES, runs=20, seed=2)
    cmp = compare_measures(panel, cov_type="cluster")
    assert cmp.cov_type == {"belief": "cluster by condition_id",
                            "choice": "cluster by condition_id"}
    assert cmp.results["choice"].n_groups == (16,)


def test_one_separated_run():
    # one run at 16 prices, buying below 60 cents and not above: perfectly separated
    panel = pd.DataFrame({"price": PRICES, "condition_id": range(16), "run": 0,
                          "belief_yes": np.linspace(0.9, 0.1, 16),
                          "choice": ["yes"] * 8 + ["no"] * 8})
    with pytest.warns(br.SeparationWarning):
        cmp = compare_measures(panel)
    assert cmp.separated == {"belief": False, "choice": True}
    assert cmp.measure_variance_ratio is None
    row = cmp.table.loc["np.log(price)"]
    assert np.isfinite(row.belief_se)
    # no finite standard error is passed off for the separated logit
    assert not np.isfinite(row.choice_se) or row.choice_se > 100 * row.belief_se
    text = cmp.summary()
    assert "choice: separation" in text and "one run per condition" in text


def test_formula_with_an_outcome_is_refused():
    panel = SyntheticRespondent(0, -1).panel([1, 2], runs=3, seed=0)
    with pytest.raises(ValueError, match="right-hand side only"):
        compare_measures(panel, "belief_yes ~ np.log(price)")


def test_formulas_resolve_np_and_the_callers_names_without_imports():
    panel = SyntheticRespondent(10.6, -2.8).panel([20, 40, 60], runs=5, seed=0)
    namespace = {"compare_measures": compare_measures, "panel": panel,
                 "LogitCoefficient": br.efficiency.LogitCoefficient,
                 "Measure": br.efficiency.Measure}
    exec("def root(x):\n    return x ** 0.5\n"
         "cmp = compare_measures(panel)\n"
         "est = LogitCoefficient('~ root(price)')(panel, Measure('belief', 'belief_yes'))",
         namespace)
    assert namespace["cmp"].table.shape == (2, 5)
    assert np.isfinite(namespace["est"])
