"""get_prediction and demand_curve: delta-method SEs; intervals on the index scale mapped through
the link (statsmodels' method='endpoint', the default) or Wald on the probability scale
(method='delta')."""

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.inference.delta import numerical_jacobian


def test_prediction_standard_errors_and_bands(fitted, study):
    new = study.iloc[[0, 50, 300]]
    pred = fitted.get_prediction(new)
    x = fitted.model.design.design_info and fitted._variable_map().build(new)
    b, v = fitted.params.to_numpy(), fitted.cov_params().to_numpy()
    eta = x @ b
    link = fitted.model.link
    np.testing.assert_allclose(pred.predicted_mean, link.cdf(eta), rtol=1e-14)
    se = link.pdf(eta) * np.sqrt(np.einsum("ij,jk,ik->i", x, v, x))
    np.testing.assert_allclose(pred.se_mean, se, rtol=1e-12)
    num, _ = numerical_jacobian(lambda p: link.cdf(x @ p), b, method="central")
    np.testing.assert_allclose(pred.delta.jacobian.to_numpy(), num, rtol=1e-7)
    frame = pred.summary_frame(alpha=0.1, method="delta")
    assert list(frame.columns) == ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper"]
    assert list(frame.index) == list(new.index)
    np.testing.assert_allclose(frame["mean_ci_upper"] - frame["mean"],
                               1.6448536269514722 * frame["mean_se"], rtol=1e-12)
    link_band = pred.summary_frame(alpha=0.1)  # the default: 'endpoint'
    se_eta = np.sqrt(np.einsum("ij,jk,ik->i", x, v, x))
    np.testing.assert_allclose(link_band["mean_ci_lower"],
                               link.cdf(eta - 1.6448536269514722 * se_eta), rtol=1e-12)
    np.testing.assert_allclose(link_band["mean_ci_upper"],
                               link.cdf(eta + 1.6448536269514722 * se_eta), rtol=1e-12)
    assert np.all((link_band["mean_ci_lower"] > 0) & (link_band["mean_ci_upper"] < 1))
    # the former option name still works and means the same
    np.testing.assert_array_equal(pred.conf_int(0.1, scale="link"), pred.conf_int(0.1))
    np.testing.assert_array_equal(pred.conf_int(0.1, scale="probability"),
                                  pred.conf_int(0.1, method="delta"))
    with pytest.raises(ValueError, match="scale must be"):
        pred.conf_int(scale="logit")
    with pytest.raises(ValueError, match="method must be 'endpoint'"):
        pred.summary_frame(method="wald")
    with pytest.raises(ValueError, match="disagree"):
        pred.conf_int(method="endpoint", scale="probability")


def test_link_band_stays_in_unit_interval_near_the_boundary():
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"x": rng.normal(size=200)})
    d["y"] = 1 / (1 + np.exp(-(4 + 3 * d.x))) * rng.uniform(0.95, 1.0, 200)
    res = br.FractionalLogit.from_formula("y ~ x", d).fit()
    far = pd.DataFrame({"x": [3.0]})
    wald = res.get_prediction(far).summary_frame(alpha=1e-6, method="delta")
    link = res.get_prediction(far).summary_frame(alpha=1e-6)
    assert wald["mean_ci_upper"].iloc[0] > 1 >= link["mean_ci_upper"].iloc[0]


def test_default_is_the_estimation_sample_and_array_models(study):
    res = br.FractionalLogit.from_formula("belief ~ price + organic", study).fit()
    pred = res.get_prediction()
    np.testing.assert_allclose(pred.predicted_mean, res.fittedvalues, rtol=1e-13)
    x = np.column_stack([np.ones(len(study)), study.price, study.organic])
    arr = br.FractionalLogit(study.belief.to_numpy(), x).fit()
    got = arr.get_prediction(x[:2]).summary_frame()
    np.testing.assert_allclose(got["mean"], res.fittedvalues.iloc[:2], rtol=1e-9)
    with pytest.raises(br.DataError, match="has 2 columns, the model has 3"):
        arr.get_prediction(x[:2, :2])


def test_predict_returns_what_statsmodels_returns_for_the_same_inputs():
    # before: a dict of columns gave an ndarray where a DataFrame gave a Series; statsmodels'
    # results.predict gives a Series (RangeIndex) for both with a formula model
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(5)
    n = 300
    d = pd.DataFrame({"price": rng.choice([1.0, 2.0, 3.0, 4.0], n), "x": rng.normal(size=n)})
    d["buy"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1 - 0.5 * d.price + d.x)))).astype(int)
    new = {"price": np.array([1.5, 2.0, 3.5]), "x": np.array([0.0, -1.0, 1.0])}
    res = br.Logit.from_formula("buy ~ np.log(price) + x", d).fit()
    ref = smf.logit("buy ~ np.log(price) + x", d).fit(disp=0)
    for data in (new, pd.DataFrame(new, index=["a", "b", "c"])):
        got, want = res.predict(data), ref.predict(data)
        assert type(got) is type(want) is pd.Series
        pd.testing.assert_index_equal(got.index, want.index, exact="equiv")
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-6)
    # an array model: an ndarray for an ndarray, a Series for a DataFrame (statsmodels too)
    x = sm.add_constant(d[["price", "x"]])
    res_a = br.Logit(d["buy"], x).fit()
    ref_a = sm.Logit(d["buy"], x).fit(disp=0)
    for data in (x.to_numpy()[:3], x.iloc[:3]):
        got, want = res_a.predict(data), ref_a.predict(data)
        assert type(got) is type(want)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
    # the multinomial model: a DataFrame of shares for a dict as for a DataFrame
    shares = pd.DataFrame(rng.dirichlet([2, 2, 2], n), columns=["a", "b", "c"])
    mres = br.MultinomialFractionalLogit.from_formula("a + b + c ~ x", shares.assign(x=d.x)).fit()
    got = mres.predict({"x": [0.0, 1.0]})
    assert isinstance(got, pd.DataFrame) and list(got.index) == [0, 1]
    pd.testing.assert_frame_equal(got, mres.predict(pd.DataFrame({"x": [0.0, 1.0]})))
