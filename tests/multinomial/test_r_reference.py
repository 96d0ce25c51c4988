"""Estimates, every covariance type and post-estimation quantities against R.

The numbers in ``tests/reference/multinomial.json`` were produced by
``tests/reference/multinomial.R`` (R 4.2.2, sandwich 3.0.2): the multinomial quasi-likelihood,
its scores and information, Newton's method and the sandwiches written out by hand, checked
there against ``sandwich::vcovCL`` on the same scores, ``nnet::multinom`` and
``survival::clogit``; post-estimation Jacobians by ``numDeriv`` (Richardson) with analytic
design derivatives. R is not needed to run these tests.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.exceptions import AbsorbedTermWarning

RTOL = 1e-8
COVS = ["nonrobust", "HC0", "HC1", "cluster1", "cluster2"]


def assert_cov_close(actual, expected, err_msg=""):
    """Variances to RTOL relative; covariances to RTOL on the correlation scale."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    np.testing.assert_allclose(np.diag(actual), np.diag(expected), rtol=RTOL, err_msg=err_msg)
    scale = np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    np.testing.assert_allclose(actual / scale, expected / scale, rtol=0, atol=RTOL,
                               err_msg=err_msg)


def fit_all(model):
    return {
        "nonrobust": model.fit(cov_type="nonrobust"),
        "HC0": model.fit(),
        "HC1": model.fit(cov_type="HC1"),
        "cluster1": model.fit(cov_type="cluster", cov_kwds={"groups": "persona"}),
        "cluster2": model.fit(cov_type="cluster", cov_kwds={"groups": ["persona", "condition"]}),
    }


def case_id(case):
    return case["case"]


def _mn_cases():
    import json
    from pathlib import Path
    ref = json.loads((Path(__file__).parents[1] / "reference" / "multinomial.json").read_text())
    return ref["multinomial"], ref["conditional"]


MN_CASES, CL_CASES = _mn_cases()


@pytest.fixture(scope="module")
def mn_fits(wide):
    out = {}
    for case in MN_CASES:
        model = br.MultinomialFractionalLogit.from_formula(case["formula"], wide,
                                                           base=case["base"],
                                                           weights=case["weights"])
        out[case["case"]] = fit_all(model)
    return out


@pytest.fixture(scope="module")
def cl_fits(long):
    out = {}
    for case in CL_CASES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AbsorbedTermWarning)
            model = br.ConditionalLogit.from_formula(case["formula"], long, groups="obs",
                                                     alternatives="brand",
                                                     weights=case["weights"])
        out[case["case"]] = fit_all(model)
    return out


@pytest.mark.parametrize("case", MN_CASES, ids=case_id)
def test_multinomial_every_covariance_matches_r(case, mn_fits):
    fits = mn_fits[case["case"]]
    names = case["names"]
    for key, res in fits.items():
        assert list(res.params.index) == names
        np.testing.assert_allclose(res.params, pd.Series(case["params"])[names], rtol=RTOL,
                                   err_msg=key)
        assert_cov_close(res.cov_params(), case["cov"][key], err_msg=key)
    assert fits["HC0"].quasi_llf == pytest.approx(case["quasi_llf"], rel=1e-12)
    assert fits["cluster2"].n_groups == (25, 16)
    assert fits["HC0"].nobs == case["n"] == 800


@pytest.mark.parametrize("case", CL_CASES, ids=case_id)
def test_conditional_every_covariance_matches_r(case, cl_fits):
    fits = cl_fits[case["case"]]
    names = case["names"]
    for key, res in fits.items():
        assert list(res.params.index) == names
        np.testing.assert_allclose(res.params, pd.Series(case["params"])[names], rtol=RTOL,
                                   err_msg=key)
        assert_cov_close(res.cov_params(), case["cov"][key], err_msg=key)
    assert fits["HC0"].quasi_llf == pytest.approx(case["quasi_llf"], rel=1e-12)
    # n in the small-sample factors is the number of choice situations, not long rows
    assert fits["HC0"].nobs == case["n"] == 800 and fits["HC0"].n_rows == 3200
    np.testing.assert_allclose(fits["HC1"].cov_params(),
                               800 / (800 - 7) * fits["HC0"].cov_params(), rtol=1e-14)


def test_choice_data_give_the_ml_logit_whose_llf_is_defined(mn_fits, cl_fits):
    assert mn_fits["choices"]["HC0"].llf == mn_fits["choices"]["HC0"].quasi_llf
    assert cl_fits["choices"]["HC0"].llf == cl_fits["choices"]["HC0"].quasi_llf
    with pytest.raises(AttributeError, match="quasi_llf"):
        mn_fits["shares"]["HC0"].llf


# ---------------------------------------------------------------------------------- post
POST_RTOL = 1e-7  # numDeriv's Richardson Jacobian and our numerical design derivatives


@pytest.mark.parametrize("cov", ["HC0", "cluster1"])
def test_multinomial_post_estimation_matches_r(cov, mn_fits):
    case = next(c for c in MN_CASES if c["case"] == "shares")
    post = case["post"]
    res = mn_fits["shares"][cov]
    variables = post["variables"]
    # the generic margins (inherited, numerical in the data and in the parameters) are in
    # (variable, alternative) order; R's layout is (alternative, variable)
    def generic_margins(kind):
        frame = res.margins(variables, kind=kind)
        frame.index = pd.MultiIndex.from_tuples(frame.index).swaplevel()
        return frame.loc[pd.MultiIndex.from_product([res.alternatives, variables])]

    generic = {kind: generic_margins(kind) for kind in ("dydx", "eyex")}
    checks = {
        "mean_shares": res.get_prediction(average=True).delta.summary_frame(),
        "elasticity_mean": res.elasticities(variables).summary_frame(),
        "elasticity_aggregate": res.elasticities(variables, aggregate=True).summary_frame(),
        "dydx": generic["dydx"],
        "diversion": res.diversion_ratios(post["diversion_prices"]).summary_frame(),
    }
    runs = [(key, ours, POST_RTOL) for key, ours in checks.items() if key != "dydx"]
    # the generic path differences numerically in both the data and the parameters (central
    # differences with steps eps^(1/3)): its SEs agree with R to about 5e-6
    runs += [("dydx", generic["dydx"], 2e-5), ("elasticity_mean", generic["eyex"], 2e-5)]
    for key, ours, se_rtol in runs:
        ref = post[key]
        np.testing.assert_allclose(ours["estimate"], ref["estimate"], rtol=1e-9, atol=1e-12,
                                   err_msg=key)
        ref_se = np.asarray(ref["std_err"][cov])
        mask = ref_se > 1e-12  # the diagonal of the diversion matrix is -1 exactly
        np.testing.assert_allclose(ours["std_err"].to_numpy()[mask], ref_se[mask],
                                   rtol=se_rtol, err_msg=key)
        assert np.all(ours["std_err"].to_numpy()[~mask] < 1e-10)


@pytest.mark.parametrize("cov", ["HC0", "cluster1"])
def test_conditional_post_estimation_matches_r(cov, cl_fits):
    case = next(c for c in CL_CASES if c["case"] == "beliefs")
    post = case["post"]
    res = cl_fits["beliefs"][cov]
    assert res.alternatives == post["alternatives"]
    checks = {
        "mean_shares": res.get_prediction(average=True).delta.summary_frame(),
        "elasticity_mean": res.elasticities("price").summary_frame(),
        "elasticity_aggregate": res.elasticities("price", aggregate=True).summary_frame(),
        "dydx": res.margins("price"),
        "diversion": res.diversion_ratios("price").summary_frame(),
        "wtp": res.wtp(post["wtp"]["attributes"], price="price"),
    }
    checks_eyex = res.margins("price", kind="eyex")
    for key, ours in list(checks.items()) + [("elasticity_mean", checks_eyex)]:
        ref = post[key]
        np.testing.assert_allclose(ours["estimate"], ref["estimate"], rtol=1e-9, atol=1e-12,
                                   err_msg=key)
        ref_se = np.asarray(ref["std_err"][cov])
        mask = ref_se > 1e-12
        np.testing.assert_allclose(ours["std_err"].to_numpy()[mask], ref_se[mask],
                                   rtol=POST_RTOL, err_msg=key)
