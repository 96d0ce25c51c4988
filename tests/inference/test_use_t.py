"""``fit(use_t=True)``: t(G - 1) (clustered) or t(n - k) inference everywhere (issue 12, 1a).

Reference: statsmodels' GLM (Binomial family: the same fractional-logit QMLE) fitted with
``use_t=True``, whose cluster covariance is the same CR1 and whose inference uses G - 1
degrees of freedom (n - k without clusters); its t_test, F test and intervals. Delta-method
quantities (nlcom, margins, predictions, share-model effects) are checked against t(df) from
scipy with their own standard errors, and against the normal default.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

import beliefreg as br


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    n, g = 240, 12
    cl = np.repeat(np.arange(g), n // g)
    price = rng.uniform(0.2, 1.0, size=g)[cl]
    x = rng.normal(size=n)
    mu = 1 / (1 + np.exp(-(0.5 - 1.5 * np.log(price) + 0.3 * x
                           + rng.normal(scale=0.4, size=g)[cl])))
    y = rng.beta(6 * mu, 6 * (1 - mu))
    return pd.DataFrame({"y": y, "price": price, "x": x, "cl": cl})


def _statsmodels(data, **fit):
    x = np.column_stack([np.ones(len(data)), np.log(data.price), data.x])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.GLM(data.y.to_numpy(), x, family=sm.families.Binomial()).fit(use_t=True,
                                                                              **fit)


@pytest.mark.parametrize("cov", ["cluster", "HC0"])
def test_matches_statsmodels_use_t(data, cov):
    kw = {"cov_type": "cluster", "cov_kwds": {"groups": "cl"}} if cov == "cluster" else {
        "cov_type": "HC0"}
    res = br.FractionalLogit.from_formula("y ~ np.log(price) + x", data).fit(use_t=True, **kw)
    ref = _statsmodels(data, **({"cov_type": "cluster", "cov_kwds": {"groups": data.cl}}
                                if cov == "cluster" else {"cov_type": "HC0"}))
    df = 11 if cov == "cluster" else len(data) - 3
    assert res.df_inference == df and res.use_t
    np.testing.assert_allclose(res.bse, ref.bse, rtol=1e-7)
    np.testing.assert_allclose(res.pvalues, ref.pvalues, rtol=1e-6)
    np.testing.assert_allclose(res.conf_int(0.1), ref.conf_int(0.1), rtol=1e-7)
    t_ours, t_ref = res.t_test("x = 0.1"), ref.t_test((np.array([[0, 0, 1.0]]), 0.1))
    assert t_ours.distribution == "t" and t_ours.df_denom == df
    assert float(t_ours.pvalue) == pytest.approx(float(t_ref.pvalue), rel=1e-6)
    w_ours = res.wald_test("np.log(price) = -1.5, x = 0.3")
    w_ref = ref.wald_test((np.array([[0, 1.0, 0], [0, 0, 1.0]]), np.array([-1.5, 0.3])),
                          scalar=True)
    assert w_ours.distribution == "F" and (w_ours.df_num, w_ours.df_denom) == (2, df)
    assert float(w_ours.statistic) == pytest.approx(float(w_ref.statistic), rel=1e-6)
    assert float(w_ours.pvalue) == pytest.approx(float(w_ref.pvalue), rel=1e-6)


def test_default_stays_normal(data):
    res = br.FractionalLogit.from_formula("y ~ np.log(price) + x", data).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"})
    assert not res.use_t and res.inference.df is None
    z = res.params / res.bse
    np.testing.assert_allclose(res.pvalues, 2 * stats.norm.sf(np.abs(z)))
    assert "P>|z|" in res.params_frame().columns
    assert res.wald_test("x = 0").distribution == "chi2"


def test_delta_quantities_use_t(data):
    res = br.FractionalLogit.from_formula("y ~ np.log(price) + x", data).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"}, use_t=True)
    q = stats.t.isf(0.025, 11)
    frames = {
        "nlcom": res.nlcom("-x / `np.log(price)`").summary_frame(),
        "margins": res.margins("price", kind="eyex"),
        "elasticity": res.elasticity("price"),
        "demand": res.demand_curve("price", [0.5], method="delta"),
    }
    # the default demand band: the t(G-1) interval of logit(D), mapped back
    d = res.demand_curve("price", [0.5]).iloc[0]
    half = q * d["std_err"] / (d["estimate"] * (1 - d["estimate"]))
    logit_d = np.log(d["estimate"] / (1 - d["estimate"]))
    assert d["ci_upper"] == pytest.approx(1 / (1 + np.exp(-(logit_d + half))), rel=1e-12)
    assert d["ci_lower"] == pytest.approx(1 / (1 + np.exp(-(logit_d - half))), rel=1e-12)
    for what, frame in frames.items():
        row = frame.iloc[0]
        assert row["ci_upper"] - row["estimate"] == pytest.approx(q * row["std_err"]), what
        assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(row["t"]), 11)), what
    pred = res.get_prediction(data.head(3))
    band = pred.summary_frame(method="delta")
    np.testing.assert_allclose(band["mean_ci_upper"] - band["mean"], q * band["mean_se"])
    link = pred.conf_int()
    np.testing.assert_allclose(link[:, 1], 1 / (1 + np.exp(-(pred.linpred + q * pred.se_linpred))))
    assert np.all(link[:, 1] >= band["mean"].to_numpy())
    # the normal default: narrower bands
    normal = br.FractionalLogit.from_formula("y ~ np.log(price) + x", data).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"}).nlcom("x").summary_frame()
    assert normal.loc["x", "std_err"] == pytest.approx(res.bse["x"])
    assert (normal.loc["x", "ci_upper"] - normal.loc["x", "estimate"]) < q * res.bse["x"]


def test_summary_and_compare_report_t(data):
    res = br.FractionalLogit.from_formula("y ~ np.log(price) + x", data).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"}, use_t=True)
    text = str(res.summary())
    assert "P>|t|" in text and "t(11)" in text
    normal = br.FractionalLogit.from_formula("y ~ np.log(price) + x", data).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"})
    table = br.compare({"t": res, "z": normal})
    assert (table.pvalues["t"] > table.pvalues["z"]).all()
    assert "t(11)" in table.as_text()


def test_share_models_use_t():
    rng = np.random.default_rng(2)
    n, g = 200, 10
    cl = np.repeat(np.arange(g), n // g)
    x = rng.normal(size=g)[cl] + rng.normal(size=n)
    shares = rng.dirichlet([3, 2, 2], size=n)
    frame = pd.DataFrame(shares, columns=["a", "b", "c"]).assign(x=x, cl=cl)
    res = br.MultinomialFractionalLogit.from_formula("a + b + c ~ x", frame).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"}, use_t=True)
    assert res.df_inference == 9
    np.testing.assert_allclose(res.pvalues, 2 * stats.t.sf(np.abs(res.params / res.bse), 9))
    assert "P>|t|" in str(res.summary())
    q = stats.t.isf(0.025, 9)
    pred = res.get_prediction(average=True).summary_frame()
    np.testing.assert_allclose(pred["mean_ci_upper"] - pred["mean"], q * pred["mean_se"])
    el = res.elasticities("x")
    lo, hi = el.conf_int()
    np.testing.assert_allclose((hi - el.estimate).to_numpy(), q * el.std_err.to_numpy())
    m = res.margins("x").iloc[0]
    assert m["p_value"] == pytest.approx(2 * stats.t.sf(abs(m["t"]), 9))


def test_delta_tables_name_their_statistic_t_or_z():
    from beliefreg.datasets import load_401k

    data = load_401k()
    fit = br.FractionalLogit.from_formula("prate01 ~ mrate + age", data).fit
    with_t = fit(cov_type="cluster", cov_kwds={"groups": "age"}, use_t=True)
    normal = fit(cov_type="cluster", cov_kwds={"groups": "age"})
    for res, name in ((with_t, "t"), (normal, "z")):
        for frame in (res.margins("mrate"), res.elasticity("mrate"),
                      res.nlcom("mrate / age").summary_frame()):
            assert name in frame.columns and ({"t", "z"} - {name}).isdisjoint(frame.columns)
