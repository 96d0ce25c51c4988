"""The synthetic respondent: its truth in closed form, and the paper's two claims on it.

Claim 1: mean belief and mean choice converge to the same truth, the demand m(p).
Claim 2: belief has the smaller variance: Var(b | p) = m(1-m)/(kappa+1) <= Var(choice | p) =
m(1-m); the same ratio holds for the asymptotic variances of the price coefficients.
"""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beliefreg.efficiency import SyntheticRespondent
from beliefreg.efficiency.batch_fit import fit_logit_many

PRICES = np.arange(20, 100, 5)


def test_closed_form_truth():
    r = SyntheticRespondent(10.6, -2.8, precision=18)
    p = np.array([20.0, 40.0, 95.0])
    m = 1 / (1 + np.exp(-(10.6 - 2.8 * np.log(p))))
    np.testing.assert_allclose(r.demand(p), m, rtol=1e-14)
    np.testing.assert_allclose(r.choice_variance(p), m * (1 - m), rtol=1e-14)
    np.testing.assert_allclose(r.belief_variance(p), m * (1 - m) / 19, rtol=1e-14)
    assert r.variance_ratio == 19.0
    assert r.lean_weight == pytest.approx(1 / math.sqrt(19))
    v_choice = r.asymptotic_cov(PRICES, "choice")
    np.testing.assert_allclose(r.asymptotic_cov(PRICES, "belief") * 19, v_choice, rtol=1e-12)


def test_panel_schema_and_reproducibility():
    r = SyntheticRespondent(1.0, -1.0, precision=4, alternatives=("buy", "pass"))
    panel = r.panel([1.0, 2.0], runs=3, seed=7)
    assert list(panel.columns) == ["price", "condition_id", "run", "choice", "belief_buy",
                                   "belief_pass", "latent", "backend", "model"]
    assert len(panel) == 6
    assert panel.groupby("condition_id").run.apply(list).tolist() == [[0, 1, 2], [0, 1, 2]]
    assert set(panel.choice) <= {"buy", "pass"}
    np.testing.assert_allclose(panel.belief_buy + panel.belief_pass, 1.0)
    assert (panel.backend == "synthetic").all()
    assert panel.model.iloc[0].startswith("SyntheticRespondent(")
    pd.testing.assert_frame_equal(panel, r.panel([1.0, 2.0], runs=3, seed=7))
    assert not panel.equals(r.panel([1.0, 2.0], runs=3, seed=8))


def test_infinite_precision_gives_the_same_belief_every_run():
    r = SyntheticRespondent(0.5, -1.0, precision=math.inf)
    panel = r.panel([1.0, 3.0], runs=50, seed=0)
    np.testing.assert_allclose(panel.belief_yes, r.demand(panel.price), rtol=1e-15)
    assert r.variance_ratio == math.inf


@settings(max_examples=20)
@given(intercept=st.floats(-1, 1), slope=st.floats(-1.5, 0),
       precision=st.sampled_from([0.5, 3.0, 18.0, 200.0]),
       latent=st.sampled_from(["beta", "two_point"]), seed=st.integers(0, 10**6))
def test_mean_belief_and_mean_choice_converge_to_the_demand(intercept, slope, precision,
                                                             latent, seed):
    r = SyntheticRespondent(intercept, slope, precision=precision, latent=latent)
    prices = np.array([0.5, 1.0, 4.0])
    n = 4000
    panel = r.panel(prices, runs=n, seed=seed)
    g = panel.assign(buy=(panel.choice == "yes").astype(float)).groupby("price")
    m = r.demand(prices)
    se_choice = np.sqrt(r.choice_variance(prices) / n)
    se_belief = np.sqrt(r.belief_variance(prices) / n)
    assert (np.abs(g.buy.mean().to_numpy() - m) <= 4.5 * se_choice + 1e-12).all()
    assert (np.abs(g.belief_yes.mean().to_numpy() - m) <= 4.5 * se_belief + 1e-12).all()
    # belief has the smaller run-to-run variance, by the factor kappa + 1
    ratio = g.buy.var().to_numpy() / g.belief_yes.var().to_numpy()
    assert (ratio > 1).all()
    np.testing.assert_allclose(ratio, precision + 1, rtol=0.25)


@pytest.mark.parametrize("latent", ["beta", "two_point"])
def test_price_coefficient_variances_match_the_closed_form(latent):
    # 2000 studies of 40 runs at 16 prices, both measures fitted by the vectorised logit
    r = SyntheticRespondent(10.6, -2.8, precision=18, latent=latent)
    rng = np.random.default_rng(1)
    n_studies, runs = 2000, 40
    grid = np.broadcast_to(PRICES.astype(float), (n_studies, runs, len(PRICES)))
    _, belief, choice = r.draw(grid, rng)
    for measure, values in (("belief", belief), ("choice", choice)):
        fit = fit_logit_many(values.mean(axis=1), np.column_stack(
            [np.ones(len(PRICES)), np.log(PRICES)]))
        assert not fit.separated.any()
        slope = fit.params[:, 1]
        expected = r.asymptotic_cov(PRICES, measure)[1, 1] / runs
        assert abs(slope.mean() - (-2.8)) < 4.5 * math.sqrt(expected / n_studies) + 0.01
        # the sample variance of 2000 draws has a relative standard error of about 3%
        assert slope.var() == pytest.approx(expected, rel=0.12)


@pytest.mark.parametrize("kwargs, message", [
    ({"precision": 0}, "precision must be positive"),
    ({"precision": -1}, "precision must be positive"),
    ({"latent": "normal"}, "latent must be"),
    ({"alternatives": ("yes", "yes")}, "two distinct"),
])
def test_bad_respondent(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SyntheticRespondent(0.0, -1.0, **kwargs)


def test_bad_panel_arguments():
    r = SyntheticRespondent(0.0, -1.0)
    with pytest.raises(ValueError, match="runs must be a positive integer"):
        r.panel([1.0], runs=0)
    with pytest.raises(ValueError, match="runs must be a positive integer"):
        r.panel([1.0], runs=2.5)
    with pytest.raises(ValueError, match="positive and finite"):
        r.panel([1.0, -2.0], runs=2)
    with pytest.raises(ValueError, match="non-empty"):
        r.panel([], runs=2)
    with pytest.raises(ValueError, match="intercept must be finite"):
        SyntheticRespondent(math.nan, -1.0)
