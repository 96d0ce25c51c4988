"""Post-estimation quantities against R, with analytic Jacobians written out in R.

``tests/reference/margins.json`` (``margins.R``, 401(k) data): average partial effects of a
raw variable through a squared term, a discrete change, effects and elasticities at the means,
averaged elasticities and predictions; logit and probit; HC0 and cluster-by-age covariances
with the expected- and observed-Hessian breads.

``tests/reference/economics.json`` (``economics.R``, the simulated purchase study
``data/demand.csv``): demand curves, willingness to pay (linear, log and quadratic price) and
the profit-maximising price with implicit-function-theorem SEs, including a closed-form optimum.

R is not needed to run these tests.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import beliefreg as br

REF = Path(__file__).parents[1] / "reference"
MARGINS = json.loads((REF / "margins.json").read_text())
ECON = json.loads((REF / "economics.json").read_text())
MODELS = {"logit": br.FractionalLogit, "probit": br.FractionalProbit}
READ_KW = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
EST_RTOL = 1e-9   # estimates: our fit vs R's agree to ~1e-13
SE_RTOL = 1e-7    # standard errors (covariances agree to ~1e-11, the data derivative to ~1e-10)


def _fit(case, data, cov, hessian):
    model = MODELS[case["link"]].from_formula(case["formula"], data)
    if cov.startswith("HC0"):
        return model.fit(cov_type="HC0", hessian=hessian)
    return model.fit(cov_type="cluster", cov_kwds={"groups": case["cluster"]}, hessian=hessian)


@pytest.fixture(scope="module")
def k401():
    return pd.read_csv(REF / "data" / "k401.csv", **READ_KW)


@pytest.fixture(scope="module")
def demand():
    return pd.read_csv(REF / "data" / "demand.csv", **READ_KW)


COVS = ["HC0_expected", "HC0_observed", "cluster1_expected", "cluster1_observed"]


@pytest.mark.parametrize("case", MARGINS["cases"], ids=lambda c: c["link"])
@pytest.mark.parametrize("cov", COVS)
def test_margins_match_r(case, cov, k401):
    res = _fit(case, k401, cov, cov.split("_")[1])
    np.testing.assert_allclose(res.params.to_numpy(),
                               [case["params"][n] for n in case["names"]], rtol=1e-11)
    q = case["quantities"]
    ape = res.margins(["mrate", "ltotemp", "sole"])
    atmean = res.margins("mrate", at="mean")
    eyex = res.margins("mrate", kind="eyex")
    eyex_mean = res.elasticity("mrate", at="mean")
    got = {
        "ape_mrate": ape.loc["mrate"], "ape_ltotemp": ape.loc["ltotemp"],
        "ape_sole": ape.loc["sole: 1 - 0"], "atmean_mrate": atmean.loc["mrate"],
        "eyex_mrate": eyex.loc["mrate"], "eyex_mrate_atmean": eyex_mean.loc["mrate"],
    }
    for name, row in got.items():
        np.testing.assert_allclose(row["estimate"], q[name]["estimate"], rtol=EST_RTOL,
                                   err_msg=name)
        np.testing.assert_allclose(row["std_err"], q[name]["std_err"][cov], rtol=SE_RTOL,
                                   err_msg=f"{name} {cov}")
    new = pd.DataFrame(case["newdata"]["rows"], columns=case["newdata"]["columns"])
    pred = res.get_prediction(new).summary_frame()
    np.testing.assert_allclose(pred["mean"], q["pred"]["estimate"], rtol=EST_RTOL)
    np.testing.assert_allclose(pred["mean_se"], q["pred"]["std_err"][cov], rtol=SE_RTOL)


@pytest.mark.parametrize("case", MARGINS["cases"], ids=lambda c: c["link"])
def test_margins_jacobians_match_r(case, k401):
    """The analytic Jacobians themselves (not only the SEs) equal R's."""
    from beliefreg.inference.datagrid import evaluation_frame
    from beliefreg.inference.margins import index_margins

    res = _fit(case, k401, "HC0", "expected")
    vmap = res._variable_map()
    q = case["quantities"]
    v = res.cov_params().to_numpy()
    overall = index_margins(res.model.link, res.params, v, vmap,
                            evaluation_frame(vmap, "overall"), ["mrate", "ltotemp", "sole"])
    mean = index_margins(res.model.link, res.params, v, vmap, evaluation_frame(vmap, "mean"),
                         ["mrate"])
    eyex = index_margins(res.model.link, res.params, v, vmap, evaluation_frame(vmap, "overall"),
                         ["mrate"], kind="eyex")
    for got, name in [(overall.jacobian.loc["mrate"], "ape_mrate"),
                      (overall.jacobian.loc["ltotemp"], "ape_ltotemp"),
                      (overall.jacobian.loc["sole: 1 - 0"], "ape_sole"),
                      (mean.jacobian.loc["mrate"], "atmean_mrate"),
                      (eyex.jacobian.loc["mrate"], "eyex_mrate")]:
        np.testing.assert_allclose(got.to_numpy(), q[name]["jacobian"], rtol=1e-8,
                                   atol=1e-10 * np.max(np.abs(q[name]["jacobian"])),
                                   err_msg=name)
    # the at-means row: transforms rebuilt from the mean, a plain column at its own mean
    frame = evaluation_frame(vmap, "mean")
    np.testing.assert_allclose(frame.exog[0], case["at_means"]["design_row"], rtol=1e-14)


def test_plain_logit_ape_matches_r_and_statsmodels(k401):
    ref = MARGINS["plain_logit_HC0"]
    sm_ref = json.loads((REF / "margins_statsmodels.json").read_text())["models"]
    res = br.FractionalLogit.from_formula(ref["formula"], k401).fit(cov_type="HC0")
    got = res.margins(binary="derivative")
    for v, r in ref["ape_dydx_overall"].items():
        np.testing.assert_allclose(got.loc[v, "estimate"], r["estimate"], rtol=EST_RTOL)
        np.testing.assert_allclose(got.loc[v, "std_err"], r["std_err"], rtol=SE_RTOL)
        for model in sm_ref.values():
            np.testing.assert_allclose(got.loc[v, "std_err"],
                                       model["ape_dydx_overall"][v]["std_err"], rtol=SE_RTOL)


# ------------------------------------------------------------------------------ economics
def _econ_fit(case, data, cov):
    model = MODELS[case["link"]].from_formula(case["formula"], data)
    if cov == "HC0_expected":
        return model.fit(cov_type="HC0", hessian="expected")
    return model.fit(cov_type="cluster", cov_kwds={"groups": case["cluster"]},
                     hessian="expected")


def _check(frame, q, cov, what):
    est = np.atleast_1d(q["estimate"])
    se = np.atleast_1d(q["std_err"][cov])
    np.testing.assert_allclose(frame["estimate"].to_numpy(), est, rtol=EST_RTOL, err_msg=what)
    np.testing.assert_allclose(frame["std_err"].to_numpy(), se, rtol=SE_RTOL, err_msg=what)


@pytest.mark.parametrize("case", ECON["cases"], ids=lambda c: f"{c['link']}-{c['price_terms']}")
@pytest.mark.parametrize("cov", ["HC0_expected", "cluster1_expected"])
def test_economics_match_r(case, cov, demand):
    res = _econ_fit(case, demand, cov)
    # with I(price**2) (a column of size 2500) the fit stops at a relative 1e-10 from R's
    np.testing.assert_allclose(res.params.to_numpy(),
                               [case["params"][n] for n in case["names"]], rtol=3e-10)
    q = case["quantities"]
    _check(res.demand_curve("price", [20, 30, 45]), q["demand_overall"], cov, "demand")
    for cost in (0, 10):
        name = f"optimal_price_overall_cost{cost}"
        _check(res.optimal_price("price", cost=cost), q[name], cov, name)
    w = q["wtp"]
    _check(res.wtp("organic", "price", at_price=w["at_price"]), w, cov, "wtp")
    if "optimal_price_profile_closed_form" in q:
        profile = pd.DataFrame({"price": [30.0], "organic": [1], "persona": ["parent"]})
        got = res.optimal_price("price", at=profile).loc[["price"]]
        _check(got, q["optimal_price_profile_closed_form"], cov, "closed form")
