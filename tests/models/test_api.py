"""The statsmodels-compatible surface: formulas, predictions, tests, summaries."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.iolib.summary2 import summary_col

import beliefreg as br
from beliefreg.datasets import load_401k


@pytest.fixture(scope="module")
def k401():
    return load_401k()


@pytest.fixture(scope="module")
def res(k401):
    return br.FractionalLogit.from_formula(
        "prate01 ~ mrate + np.log(totemp) + age + I(age**2) + C(sole)", k401).fit()


def test_labels_are_formula_term_names(res):
    assert list(res.params.index) == ["Intercept", "C(sole)[T.1]", "mrate", "np.log(totemp)",
                                      "age", "I(age ** 2)"]
    assert list(res.bse.index) == list(res.params.index)
    assert list(res.cov_params().columns) == list(res.params.index)


def test_model_keeps_formula_design_and_data(res, k401):
    m = res.model
    assert m.formula.startswith("prate01 ~")
    assert m.design_info.column_names == list(res.params.index)
    assert m.data is k401
    assert res.nobs == 1534 and res.df_resid == 1534 - 6 and res.df_model == 5


def test_predict_rebuilds_the_design_for_new_data(res, k401):
    new = pd.DataFrame({"mrate": [0.5, 1.0], "totemp": [100.0, 5000.0], "age": [5, 20],
                        "sole": [0, 1]}, index=["a", "b"])
    pred = res.predict(new)
    b = res.params
    eta = (b["Intercept"] + b["C(sole)[T.1]"] * new.sole + b["mrate"] * new.mrate
           + b["np.log(totemp)"] * np.log(new.totemp) + b["age"] * new.age
           + b["I(age ** 2)"] * new.age ** 2)
    np.testing.assert_allclose(pred, 1 / (1 + np.exp(-eta)), rtol=1e-12)
    assert list(pred.index) == ["a", "b"]
    np.testing.assert_allclose(res.predict(new, which="linear"), eta, rtol=1e-12)
    np.testing.assert_allclose(res.predict(), res.fittedvalues, rtol=1e-14)


def test_fitted_resid_and_rsquared(res):
    y = res.model.endog
    np.testing.assert_allclose(res.resid, y - res.fittedvalues, rtol=1e-14)
    assert res.rsquared == pytest.approx(np.corrcoef(y, res.fittedvalues)[0, 1] ** 2, rel=1e-12)


def test_conf_int_and_pvalues_are_normal_based(res):
    ci = res.conf_int(0.1)
    np.testing.assert_allclose(ci[1] - res.params, 1.6448536269514722 * res.bse, rtol=1e-12)
    z = res.params / res.bse
    from scipy import stats
    np.testing.assert_allclose(res.pvalues, 2 * stats.norm.sf(np.abs(z)), rtol=1e-12)


def test_t_test_with_string_hypothesis(res):
    t = res.t_test("mrate = 0.5")
    expected_z = (res.params["mrate"] - 0.5) / res.bse["mrate"]
    assert np.ravel(t.statistic)[0] == pytest.approx(expected_z, rel=1e-12)
    t2 = res.t_test("np.log(totemp) = -0.2, age - 100 * I(age ** 2) = 0")
    v = res.cov_params().to_numpy()
    r = np.zeros((2, 6))
    r[0, 3] = 1
    r[1, 4], r[1, 5] = 1, -100
    np.testing.assert_allclose(np.asarray(t2.sd).ravel(), np.sqrt(np.diag(r @ v @ r.T)), rtol=1e-12)


def test_wald_test_joint(res):
    w = res.wald_test("mrate = 0, age = 0")
    idx = [2, 4]
    b = res.params.to_numpy()[idx]
    v = res.cov_params().to_numpy()[np.ix_(idx, idx)]
    assert float(w.statistic) == pytest.approx(b @ np.linalg.solve(v, b), rel=1e-10)
    assert w.df_denom == 2


def test_summary_text_html_latex(res):
    s = res.summary()
    text = s.as_text()
    assert "Fractional logit (Bernoulli QMLE)" in text
    assert "Quasi-log-likelihood" in text and "robust (HC0)" in text
    assert "Pseudo" not in text and "LLR" not in text
    assert "<table" in s.as_html()
    assert "\\begin{table}" in s.as_latex()
    clustered = res.model.fit(cov_type="cluster", cov_kwds={"groups": ["age", "sole"]})
    text = clustered.summary().as_text()
    assert "cluster by age and sole" in text and "No. clusters:" in text


def test_summary_col_accepts_results(res):
    other = br.FractionalProbit.from_formula("prate01 ~ mrate + np.log(totemp)", res.model.data).fit()
    table = summary_col([res, other], stars=True).as_text()
    assert "mrate" in table and "np.log(totemp)" in table
    # issue 12 item 9: "R-squared Adj. nan" -- the row now has the adjusted squared correlation
    assert "nan" not in table
    r2, n, k = res.rsquared, res.nobs, len(res.params)
    assert res.rsquared_adj == pytest.approx(1 - (1 - r2) * (n - 1) / (n - k))
    assert f"{res.rsquared_adj:.4f}" in table


def test_llf_only_for_binary_outcomes(res, k401):
    with pytest.raises(AttributeError, match="quasi_llf"):
        res.llf
    data = k401.assign(full=(k401.prate >= 100).astype(float))
    logit = br.Logit.from_formula("full ~ mrate", data).fit()
    assert logit.llf == logit.quasi_llf
    assert "Log-likelihood" in logit.summary().as_text()


def test_interactions_and_categoricals(k401):
    res = br.FractionalLogit.from_formula("prate01 ~ mrate * C(sole) + ltotemp", k401).fit()
    assert "mrate:C(sole)[T.1]" in res.params.index


def test_two_way_cluster_differs_from_one_way_and_is_symmetric(k401):
    model = br.FractionalLogit.from_formula("prate01 ~ mrate + ltotemp", k401)
    k401 = k401.assign(sizecat=pd.qcut(k401.totemp, 10, labels=False))
    two = model.fit(cov_type="cluster", cov_kwds={"groups": [k401["age"], k401["sizecat"]]})
    one = model.fit(cov_type="cluster", cov_kwds={"groups": "age"})
    assert two.n_groups == (k401.age.nunique(), 10)
    v = two.cov_params().to_numpy()
    np.testing.assert_allclose(v, v.T, rtol=0, atol=0)
    assert not np.allclose(v, one.cov_params().to_numpy())


def test_hessian_choice_matters_for_probit_not_logit(k401):
    f = "prate01 ~ mrate + ltotemp + age + sole"
    p = br.FractionalProbit.from_formula(f, k401)
    obs, exp = p.fit(hessian="observed"), p.fit(hessian="expected")
    np.testing.assert_allclose(obs.params, exp.params, rtol=1e-12)
    assert abs(obs.bse["mrate"] / exp.bse["mrate"] - 1) > 0.01
    lg = br.FractionalLogit.from_formula(f, k401)
    np.testing.assert_allclose(lg.fit(hessian="observed").cov_params(),
                               lg.fit(hessian="expected").cov_params(), rtol=1e-12)


def test_hc1_is_hc0_times_n_over_n_minus_k(res):
    hc1 = res.model.fit(cov_type="HC1")
    n, k = res.nobs, len(res.params)
    np.testing.assert_allclose(hc1.cov_params(), res.cov_params() * n / (n - k), rtol=1e-13)
    assert hc1.cov_type == "HC1"


def test_exact_zeros_and_ones_are_valid_fractional_outcomes(k401):
    data = k401.assign(y=np.clip(k401.prate01, 0, 1))
    data.loc[data.index[:20], "y"] = 0.0
    res = br.FractionalLogit.from_formula("y ~ mrate", data).fit()
    assert res.converged and np.all(np.isfinite(res.bse))


def test_formula_sees_numpy_without_the_caller_importing_it(k401):
    namespace = {"br": br, "data": k401}
    exec("res = br.FractionalLogit.from_formula('prate01 ~ np.log(totemp)', data).fit()",
         namespace)
    assert "np.log(totemp)" in namespace["res"].params.index
