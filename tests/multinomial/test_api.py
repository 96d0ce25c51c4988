"""The public surface of the share models: exports, names, predictions, weights, summaries."""

import numpy as np
import pandas as pd
import pytest

import beliefreg as br

MN = ("s_pampers + s_huggies + s_luvs + s_none ~ np.log(price_pampers) + "
      "np.log(price_huggies) + income")


def test_exports():
    for name in ["MultinomialFractionalLogit", "MultinomialResults", "ConditionalLogit",
                 "ConditionalResults", "share_inversion", "linear_probability",
                 "AbsorbedTermWarning"]:
        assert name in br.__all__ and hasattr(br, name)


def test_multinomial_names_and_shapes(wide):
    res = br.MultinomialFractionalLogit.from_formula(MN, wide, base="s_none").fit()
    assert res.alternatives == ["s_pampers", "s_huggies", "s_luvs", "s_none"]
    assert res.base == "s_none" and res.model.nonbase_alternatives == res.alternatives[:3]
    table = res.params_by_alternative()
    assert list(table.columns) == res.alternatives[:3]
    assert list(table.index) == ["Intercept", "np.log(price_pampers)", "np.log(price_huggies)",
                                 "income"]
    assert table.loc["income", "s_luvs"] == res.params["s_luvs:income"]
    assert res.bse_by_alternative().loc["income", "s_luvs"] == res.bse["s_luvs:income"]
    assert res.nobs == 800 and res.df_resid == 800 - 12 and res.df_model == 9
    assert res.fittedvalues.shape == (800, 4)
    np.testing.assert_allclose(res.fittedvalues.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(res.resid.to_numpy(),
                               wide[res.alternatives].to_numpy() - res.fittedvalues.to_numpy(),
                               atol=1e-15)
    assert res.rsquared.index.tolist() == res.alternatives
    lin = res.predict(wide.iloc[:2], which="linear")
    assert (lin["s_none"] == 0).all()
    with pytest.raises(ValueError, match="which"):
        res.predict(wide.iloc[:2], which="odds")


def test_multinomial_score_is_zero_and_information_matches_numerical_hessian(wide):
    model = br.MultinomialFractionalLogit.from_formula(MN, wide, base="s_none", weights="w")
    res = model.fit()
    b = res.params.to_numpy()
    assert np.max(np.abs(model.score(b))) < 1e-8
    assert model.score_obs(b).shape == (800, 12)
    np.testing.assert_allclose(model.score_obs(b).sum(axis=0), model.score(b), atol=1e-8)
    h = 1e-5
    num = np.column_stack([(model.score(b + h * e) - model.score(b - h * e)) / (2 * h)
                           for e in np.eye(len(b))])
    np.testing.assert_allclose(model.hessian(b), num, rtol=1e-6, atol=1e-6)
    assert model.loglike(b) == pytest.approx(res.quasi_llf, rel=1e-14)


def test_scaling_weights_changes_neither_estimates_nor_robust_ses(wide):
    a = br.MultinomialFractionalLogit.from_formula(MN, wide, weights="w").fit(
        cov_type="cluster", cov_kwds={"groups": "persona"})
    b = br.MultinomialFractionalLogit.from_formula(MN, wide.assign(w=3 * wide.w),
                                                   weights="w").fit(
        cov_type="cluster", cov_kwds={"groups": "persona"})
    np.testing.assert_allclose(a.params, b.params, rtol=1e-10)
    np.testing.assert_allclose(a.bse, b.bse, rtol=1e-9)


def test_integer_weights_equal_duplicated_rows(wide):
    d = wide.iloc[:200].assign(k=np.arange(200) % 3 + 1)
    a = br.MultinomialFractionalLogit.from_formula(MN, d, weights="k").fit(cov_type="nonrobust")
    dup = d.loc[d.index.repeat(d.k)]
    b = br.MultinomialFractionalLogit.from_formula(MN, dup).fit(cov_type="nonrobust")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-9)
    np.testing.assert_allclose(a.bse, b.bse, rtol=1e-8)


def test_choice_lhs_as_a_categorical(wide):
    res = br.MultinomialFractionalLogit.from_formula("C(choice) ~ income", wide,
                                                     base="C(choice)[none]").fit()
    assert res.model.is_choice and res.base == "C(choice)[none]"
    assert res.params.index[0] == "C(choice)[huggies]:Intercept"


def test_conditional_names_and_summary(long):
    res = br.ConditionalLogit.from_formula("belief ~ price + C(brand)", long, groups="obs",
                                           alternatives="brand").fit(
        cov_type="cluster", cov_kwds={"groups": ["persona", "condition"]})
    assert res.nobs == 800 and res.n_rows == 3200 and res.n_groups == (25, 16)
    assert res.alternatives == ["huggies", "luvs", "none", "pampers"]
    shares = res.fitted_shares()
    assert shares.shape == (800, 4)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(res.fittedvalues.groupby(long.obs).sum(), 1.0, rtol=1e-14)
    text = res.summary().as_text()
    assert "Choice situations (n):" in text and "cluster by persona and condition" in text
    assert res.model.score_obs(res.params.to_numpy()).shape == (800, 4)


def test_conditional_array_interface(long):
    x = pd.get_dummies(long.brand, drop_first=True, dtype=float).assign(price=long.price)
    a = br.ConditionalLogit(long.belief, x, groups=long.obs, alternatives=long.brand).fit()
    b = br.ConditionalLogit.from_formula("belief ~ C(brand) + price", long, groups="obs",
                                         alternatives="brand").fit()
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.bse.to_numpy(), b.bse.to_numpy(), rtol=1e-10)
    assert list(a.params.index) == ["luvs", "none", "pampers", "price"]
    with pytest.raises(ValueError, match="groups="):
        a.predict(x.iloc[:4].to_numpy())
    p = a.predict(x.iloc[:4].to_numpy(), groups=long.obs.iloc[:4])
    np.testing.assert_allclose(p, a.fittedvalues.iloc[:4], rtol=1e-12)
