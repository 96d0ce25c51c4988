"""Estimates and covariances against statsmodels where statsmodels is right.

statsmodels' GLM(Binomial) gives the Papke-Wooldridge QMLE with correct HC0 and one-way cluster
covariances (its HC1 is silently HC0, issue #7798, so it is not used here); for the probit it
builds the sandwich with the observed Hessian, our default.
"""

import numpy as np
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

import beliefreg as br
from beliefreg.datasets import load_401k

FORMULA = "prate01 ~ mrate + np.log(totemp) + age + I(age**2) + sole"
RTOL = 1e-6


@pytest.fixture(scope="module")
def k401():
    return load_401k()


def _glm(data, link, **fit_kwds):
    family = sm.families.Binomial(link())
    return smf.glm(FORMULA, data, family=family).fit(tol=1e-14, maxiter=200, **fit_kwds)


CASES = [(br.FractionalLogit, sm.families.links.Logit), (br.FractionalProbit, sm.families.links.Probit)]


@pytest.mark.parametrize("model, link", CASES)
def test_params_and_hc0_match_glm(k401, model, link):
    ref = _glm(k401, link, cov_type="HC0")
    res = model.from_formula(FORMULA, k401).fit(cov_type="HC0")
    assert list(res.params.index) == list(ref.params.index)
    np.testing.assert_allclose(res.params, ref.params, rtol=RTOL)
    np.testing.assert_allclose(res.cov_params(), ref.cov_params(), rtol=RTOL, atol=0)


@pytest.mark.parametrize("model, link", CASES)
def test_one_way_cluster_matches_glm(k401, model, link):
    ref = _glm(k401, link, cov_type="cluster", cov_kwds={"groups": k401["age"]})
    res = model.from_formula(FORMULA, k401).fit(cov_type="cluster", cov_kwds={"groups": "age"})
    np.testing.assert_allclose(res.cov_params(), ref.cov_params(), rtol=RTOL)
    assert res.n_groups == (k401["age"].nunique(),)


def test_logit_nonrobust_matches_statsmodels_logit(k401):
    data = k401.assign(full=(k401.prate >= 100).astype(float))
    ref = smf.logit("full ~ mrate + np.log(totemp) + age + sole", data).fit(disp=0, tol=1e-14,
                                                                            maxiter=100)
    res = br.Logit.from_formula("full ~ mrate + np.log(totemp) + age + sole", data).fit()
    assert res.cov_type == "nonrobust"
    np.testing.assert_allclose(res.params, ref.params, rtol=RTOL)
    np.testing.assert_allclose(res.bse, ref.bse, rtol=RTOL)
    np.testing.assert_allclose(res.llf, ref.llf, rtol=1e-10)


def test_weighted_hc0_matches_glm_var_weights(k401):
    # statsmodels' var_weights scale the quasi-likelihood like our prior weights; its HC0
    # sandwich then uses the weighted scores, as ours does.
    w = (k401["totelg"] / k401["totelg"].mean()).to_numpy()
    ref = smf.glm(FORMULA, k401, family=sm.families.Binomial(), var_weights=w).fit(
        tol=1e-14, maxiter=200, cov_type="HC0")
    res = br.FractionalLogit.from_formula(FORMULA, k401, weights=w).fit()
    np.testing.assert_allclose(res.params, ref.params, rtol=RTOL)
    np.testing.assert_allclose(res.cov_params(), ref.cov_params(), rtol=RTOL)


def test_array_form_equals_formula_form(k401):
    res_f = br.FractionalProbit.from_formula("prate01 ~ mrate + ltotemp", k401).fit()
    x = sm.add_constant(k401[["mrate", "ltotemp"]])
    res_a = br.FractionalProbit(k401["prate01"], x).fit()
    np.testing.assert_allclose(res_a.params.to_numpy(), res_f.params.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(res_a.cov_params().to_numpy(), res_f.cov_params().to_numpy(),
                               rtol=1e-12)
    assert list(res_a.params.index) == ["const", "mrate", "ltotemp"]
