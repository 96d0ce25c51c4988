"""Estimates and every covariance type against R (glm quasibinomial + sandwich).

The numbers in ``tests/reference/fractional_glm.json`` were produced by
``tests/reference/fractional_glm.R`` (R 4.2.2, sandwich 3.0.2; see that folder's README):
12 cases = 3 public data sets (Papke's 401(k), Mroz, MEAP 2001) x {logit, probit} x
{unweighted, weighted}; breads from the expected information (sandwich's default) and from the
observed Hessian (statsmodels' and Stata's). R is not needed to run this test.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import beliefreg as br

REF = Path(__file__).parents[1] / "reference"
CASES = json.loads((REF / "fractional_glm.json").read_text())["cases"]
MODELS = {"logit": br.FractionalLogit, "probit": br.FractionalProbit}
RTOL = 1e-8


def _case_id(case):
    return f"{case['dataset']}-{case['link']}-{'w' if case['weights'] else 'unweighted'}"


def _assert_cov_close(actual, expected, err_msg=""):
    """Variances to ``RTOL`` relative; covariances to ``RTOL`` on the correlation scale
    (an off-diagonal element near 0 is a difference of large terms: its relative error is not
    meaningful, its error relative to sqrt(V_ii V_jj) is)."""
    np.testing.assert_allclose(np.diag(actual), np.diag(expected), rtol=RTOL, err_msg=err_msg)
    # two-way cluster covariances can have negative variances (not PSD): scale by |V_ii|
    scale = np.sqrt(np.abs(np.outer(np.diag(expected), np.diag(expected))))
    np.testing.assert_allclose(actual / scale, expected / scale, rtol=0, atol=RTOL,
                               err_msg=err_msg)


@pytest.fixture(scope="module")
def datasets():
    # pandas >= 3 reads floats round-trip exactly by default; pandas 2 needs asking
    kw = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    return {name: pd.read_csv(REF / "data" / f"{name}.csv", **kw)
            for name in ("k401", "mroz", "meap01")}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
@pytest.mark.parametrize("hessian", ["expected", "observed"])
def test_every_covariance_matches_r(case, hessian, datasets):
    data = datasets[case["dataset"]]
    model = MODELS[case["link"]].from_formula(case["formula"], data, weights=case["weights"])
    g1, g2 = case["clusters"]
    with warnings.catch_warnings():
        # k401 weighted: R's two-way covariance has negative variances; we warn, as tested below
        warnings.simplefilter("ignore", br.CovarianceWarning)
        cluster2 = model.fit(cov_type="cluster", cov_kwds={"groups": [g1, g2]}, hessian=hessian)
    fits = {
        "nonrobust": model.fit(cov_type="nonrobust", hessian=hessian),
        "HC0": model.fit(cov_type="HC0", hessian=hessian),
        "HC1": model.fit(cov_type="HC1", hessian=hessian),
        "cluster1": model.fit(cov_type="cluster", cov_kwds={"groups": g1}, hessian=hessian),
        "cluster2": cluster2,
    }
    names = case["names"]
    params = pd.Series(case["params"])[names]
    for key, res in fits.items():
        assert list(res.params.index) == names
        np.testing.assert_allclose(res.params, params, rtol=RTOL, err_msg=key)
        _assert_cov_close(res.cov_params().to_numpy(), np.array(case["cov"][f"{key}_{hessian}"]),
                          err_msg=key)
    assert fits["cluster2"].n_groups == (case["meta"]["n_clusters"][g1],
                                         case["meta"]["n_clusters"][g2])


@pytest.mark.parametrize("case", [c for c in CASES if "logit_mle_nonrobust" in c["cov"]],
                         ids=_case_id)
def test_ml_logit_on_binary_choices_matches_r_glm_binomial(case, datasets):
    data = datasets[case["dataset"]]
    res = br.Logit.from_formula(case["formula"], data, weights=case["weights"]).fit()
    np.testing.assert_allclose(res.params, pd.Series(case["params"])[case["names"]], rtol=RTOL)
    _assert_cov_close(res.cov_params().to_numpy(), np.array(case["cov"]["logit_mle_nonrobust"]))


def test_probit_breads_differ_by_about_ten_percent_on_401k():
    case = next(c for c in CASES if c["dataset"] == "k401" and c["link"] == "probit"
                and not c["weights"])
    i = case["names"].index("mrate")
    se_obs = np.sqrt(np.array(case["cov"]["HC0_observed"])[i, i])
    se_exp = np.sqrt(np.array(case["cov"]["HC0_expected"])[i, i])
    assert 0.05 < abs(se_obs / se_exp - 1) < 0.2


def test_non_psd_two_way_covariance_warns_names_terms_and_can_be_fixed(datasets):
    case = next(c for c in CASES if c["dataset"] == "k401" and c["link"] == "logit"
                and c["weights"])
    model = br.FractionalLogit.from_formula(case["formula"], datasets["k401"], weights="w")
    with pytest.warns(br.CovarianceWarning, match=r"\['Intercept', 'ltotemp'\] are negative"):
        raw = model.fit(cov_type="cluster", cov_kwds={"groups": ["age", "sizecat"]},
                        hessian="expected")
    assert np.isnan(raw.bse["Intercept"]) and np.isfinite(raw.bse["mrate"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed = model.fit(cov_type="cluster", cov_kwds={"groups": ["age", "sizecat"], "fix": True},
                          hessian="expected")
    v = fixed.cov_params().to_numpy()
    assert np.linalg.eigvalsh(v).min() > -1e-12 * np.abs(v).max()
    # the clipped matrix is the PSD part of R's matrix: V_fix = Q max(L, 0) Q'
    lam, q = np.linalg.eigh(np.array(case["cov"]["cluster2_expected"]))
    np.testing.assert_allclose(v, (q * np.clip(lam, 0, None)) @ q.T, rtol=1e-7,
                               atol=1e-10 * np.abs(v).max())
    with pytest.raises(ValueError, match="two-way clustering only"):
        model.fit(cov_type="cluster", cov_kwds={"groups": "age", "fix": True})
