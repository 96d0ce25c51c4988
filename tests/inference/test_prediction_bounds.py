"""Intervals of predicted probabilities stay in [0, 1] (new-user trial, defect 7).

* ``get_prediction(...).summary_frame()`` equals statsmodels GLM(Binomial)'s
  ``get_prediction(...).summary_frame()`` (its default ``conf_int(method='endpoint')``: the
  linear predictor's Wald interval mapped through the inverse link), and ``method='delta'``
  equals statsmodels' ``conf_int(method='delta')``.
* ``demand_curve`` (default ``method='endpoint'``): at one row it is the same interval; for an
  average it is the Wald interval of ``G^{-1}(D)`` mapped back, computed here independently.
* hypothesis: the default intervals lie in [0, 1] for any data, new rows and alpha.
* ``mover_difference``: the Wald interval of the difference for symmetric intervals; inside
  [-1, 1] for intervals inside [0, 1]; the report's price change uses it.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

import beliefreg as br
from beliefreg.datasets import load_401k
from beliefreg.inference.prediction import mean_conf_int, mover_difference

FORMULA = "prate01 ~ mrate + np.log(totemp) + age"
# ordinary rows, and one far outside the data (a predicted probability of about 1e-13, where the
# Wald interval on the probability scale goes below 0)
NEW = pd.DataFrame({"mrate": [0.5, 1.0, 3.0, -30.0], "totemp": [100, 5000, 40, 100],
                    "age": [5, 20, 40, 10]})
LINKS = {"logit": (br.FractionalLogit, sm.families.links.Logit()),
         "probit": (br.FractionalProbit, sm.families.links.Probit())}


@pytest.fixture(scope="module")
def data():
    return load_401k()


@pytest.mark.parametrize("link", ["logit", "probit"])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_summary_frame_equals_statsmodels_glm(data, link, cov_type):
    model, sm_link = LINKS[link]
    ours = model.from_formula(FORMULA, data).fit(cov_type=cov_type)
    ref = smf.glm(FORMULA, data, family=sm.families.Binomial(link=sm_link)).fit(
        cov_type=cov_type, method="newton", tol=1e-12, maxiter=100)  # observed Hessian
    np.testing.assert_allclose(ours.params, ref.params, rtol=1e-10)
    pred, ref_pred = ours.get_prediction(NEW), ref.get_prediction(NEW)
    for alpha in (0.05, 0.1):
        got, want = pred.summary_frame(alpha), ref_pred.summary_frame(alpha)
        assert list(got.columns) == list(want.columns)
        # relative 1e-8 (the far row's numbers are of order 1e-13 to 1e-9)
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-8, atol=0)
        np.testing.assert_allclose(pred.conf_int(alpha, method="delta"),
                                   ref_pred.conf_int(method="delta", alpha=alpha),
                                   rtol=1e-8, atol=1e-15)
    default = pred.summary_frame()
    assert default["mean_ci_lower"].iloc[3] > 0  # the defect: the Wald one is below 0
    assert pred.summary_frame(method="delta")["mean_ci_lower"].iloc[3] < 0


def test_binary_logit_equals_statsmodels_glm(data):
    d = data.assign(full=(data.prate01 == 1).astype(int))
    ours = br.Logit.from_formula("full ~ mrate + np.log(totemp) + age", d).fit(cov_type="HC0")
    ref = smf.glm("full ~ mrate + np.log(totemp) + age", d,
                  family=sm.families.Binomial()).fit(cov_type="HC0", method="newton",
                                                     tol=1e-12, maxiter=100)
    np.testing.assert_allclose(ours.get_prediction(NEW).summary_frame().to_numpy(),
                               ref.get_prediction(NEW).summary_frame().to_numpy(),
                               rtol=1e-8, atol=0)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_demand_curve_endpoint_band(data, link):
    model, _ = LINKS[link]
    res = model.from_formula(FORMULA, data).fit()
    grid = [0.0, 1.0, 4.0, 8.0]
    # at one row it is get_prediction's interval at that row
    one = pd.DataFrame({"mrate": [1.0], "totemp": [250.0], "age": [12.0]})
    at_mean = res.demand_curve("mrate", grid, at=one, alpha=0.1)
    rows = pd.DataFrame({"mrate": grid, "totemp": 250.0, "age": 12.0})
    pred = res.get_prediction(rows).summary_frame(alpha=0.1)
    np.testing.assert_allclose(at_mean["estimate"], pred["mean"], rtol=1e-10)
    np.testing.assert_allclose(at_mean[["ci_lower", "ci_upper"]].to_numpy(),
                               pred[["mean_ci_lower", "mean_ci_upper"]].to_numpy(), rtol=1e-7)
    # an average: the Wald interval of G^{-1}(D), se(D) / g(G^{-1}(D)), mapped back
    overall = res.demand_curve("mrate", grid)
    delta = res.demand_curve("mrate", grid, method="delta")
    pd.testing.assert_frame_equal(overall.drop(columns=["ci_lower", "ci_upper"]),
                                  delta.drop(columns=["ci_lower", "ci_upper"]))
    q = stats.norm.isf(0.025)
    dd, se = overall["estimate"].to_numpy(), overall["std_err"].to_numpy()
    if link == "logit":
        eta, g = special.logit(dd), dd * (1 - dd)
        cdf = special.expit
    else:
        eta = special.ndtri(dd)
        g, cdf = stats.norm.pdf(eta), special.ndtr
    np.testing.assert_allclose(overall["ci_lower"], cdf(eta - q * se / g), rtol=1e-12)
    np.testing.assert_allclose(overall["ci_upper"], cdf(eta + q * se / g), rtol=1e-12)
    np.testing.assert_allclose(delta["ci_upper"] - dd, q * se, rtol=1e-12)
    assert (overall["ci_upper"] <= 1).all() and (overall["ci_lower"] >= 0).all()
    assert delta["ci_upper"].iloc[-1] > 1  # the defect the default removes
    # demand that rounds to 1 in floating point: no finite index, the clipped Wald interval
    far = res.demand_curve("mrate", [40.0])
    assert far["estimate"].iloc[0] == 1.0
    assert far["ci_lower"].iloc[0] == pytest.approx(1.0) and far["ci_upper"].iloc[0] == 1.0
    with pytest.raises(ValueError, match="method must be"):
        res.demand_curve("mrate", grid, method="link")


def _fit(seed: int, n: int, slope: float, link: str):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"x": rng.normal(size=n), "c": rng.integers(0, 4, n)})
    eta = 0.5 + slope * d.x
    mu = special.expit(eta) if link == "logit" else special.ndtr(eta)
    d["y"] = np.clip(mu + rng.uniform(-0.2, 0.2, n), 0, 1)
    model = br.FractionalLogit if link == "logit" else br.FractionalProbit
    return model.from_formula("y ~ x", d).fit(cov_type="cluster", cov_kwds={"groups": "c"},
                                              use_t=True)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(20, 80),
       slope=st.floats(-4.0, 4.0), link=st.sampled_from(["logit", "probit"]),
       new_x=st.lists(st.floats(-40.0, 40.0), min_size=1, max_size=5),
       alpha=st.floats(1e-6, 0.5))
def test_default_intervals_lie_in_the_unit_interval(seed, n, slope, link, new_x, alpha):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few clusters, separation: not the point here
        res = _fit(seed, n, slope, link)
        frame = res.get_prediction(pd.DataFrame({"x": new_x})).summary_frame(alpha)
        curve = res.demand_curve("x", new_x, alpha=alpha)
    for lo, mid, hi, se in ((frame.mean_ci_lower, frame["mean"], frame.mean_ci_upper,
                             frame.mean_se),
                            (curve.ci_lower, curve.estimate, curve.ci_upper, curve.std_err)):
        ok = np.isfinite(lo) & np.isfinite(hi)
        # NaN only where the delta-method SE is NaN (the variance check, with its warning)
        assert (ok == np.isfinite(se)).all()
        assert ((lo[ok] >= 0) & (hi[ok] <= 1)).all()
        # (an average of probabilities can round to 1 + 2e-16)
        assert ((lo[ok] <= mid[ok] + 1e-15) & (mid[ok] <= hi[ok] + 1e-15)).all()


def test_mean_conf_int_degenerate_and_nan():
    from beliefreg.models.links import LogitLink

    ci = mean_conf_int(np.array([0.0, 1.0, 0.3, 0.3]), np.array([0.0, 0.0, np.nan, 0.0]),
                       LogitLink(), 1.96)
    np.testing.assert_array_equal(ci[[0, 1, 3]], [[0, 0], [1, 1], [0.3, 0.3]])
    assert np.isnan(ci[2]).all()


def test_mover_reduces_to_wald_for_symmetric_intervals():
    p1, p2, s1, s2, r, q = 0.6, 0.35, 0.04, 0.03, 0.55, 1.96
    low, high = mover_difference(p1, p2, (p1 - q * s1, p1 + q * s1), (p2 - q * s2, p2 + q * s2), r)
    se = np.sqrt(s1**2 + s2**2 - 2 * r * s1 * s2)
    assert low == pytest.approx(p1 - p2 - q * se, rel=1e-12)
    assert high == pytest.approx(p1 - p2 + q * se, rel=1e-12)


@settings(max_examples=300, deadline=None)
@given(p=st.lists(st.floats(0.0, 1.0), min_size=6, max_size=6), r=st.floats(-1.0, 1.0))
def test_mover_stays_in_minus_one_one(p, r):
    l1, p1, u1 = sorted(p[:3])
    l2, p2, u2 = sorted(p[3:])
    low, high = mover_difference(p1, p2, (l1, u1), (l2, u2), r)
    assert l1 - u2 - 1e-12 <= low <= p1 - p2 <= high <= u1 - l2 + 1e-12
    assert -1 <= low and high <= 1
