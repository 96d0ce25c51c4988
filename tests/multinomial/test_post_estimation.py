"""Post-estimation of the share models against closed forms (R numbers: test_r_reference)."""

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.inference.datagrid import UnknownVariableError
from beliefreg.inference.delta import DeltaResult
from beliefreg.models.share_effects import EffectMatrix, design_derivative

MN_FORMULA = ("s_pampers + s_huggies + s_luvs + s_none ~ np.log(price_pampers) + "
              "np.log(price_huggies) + np.log(price_luvs) + income")


@pytest.fixture(scope="module")
def mn(wide):
    return br.MultinomialFractionalLogit.from_formula(MN_FORMULA, wide, base="s_none").fit(
        cov_type="cluster", cov_kwds={"groups": "persona"})


@pytest.fixture(scope="module")
def cl(long):
    return br.ConditionalLogit.from_formula("belief ~ price + C(brand)", long, groups="obs",
                                            alternatives="brand").fit()


def test_design_derivative_is_accurate_through_transforms(wide):
    model = br.MultinomialFractionalLogit.from_formula(
        "s_pampers + s_none + s_huggies + s_luvs ~ np.log(price_pampers) + I(price_pampers**2)"
        " + price_pampers:income", wide)
    d, v = design_derivative(model.design, wide, "price_pampers")
    np.testing.assert_allclose(d[:, 1], 1 / v, rtol=1e-11)
    np.testing.assert_allclose(d[:, 2], 2 * v, rtol=1e-11)
    np.testing.assert_allclose(d[:, 3], wide.income, rtol=1e-11)
    assert np.all(d[:, 0] == 0)


def test_multinomial_margins_sum_to_zero_over_alternatives(mn):
    m = mn.margins(["price_pampers", "price_luvs"])
    assert list(m.columns) == ["estimate", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
    idx = pd.MultiIndex.from_tuples(m.index)
    assert list(idx) == [(v, a) for v in ["price_pampers", "price_luvs"]
                         for a in mn.alternatives]
    sums = m["estimate"].groupby(idx.get_level_values(0)).sum()
    np.testing.assert_allclose(sums, 0.0, atol=1e-9)


def test_elasticity_matrix_carries_the_joint_covariance(mn):
    e = mn.elasticities(["price_pampers", "price_luvs"])
    assert isinstance(e, EffectMatrix)
    assert list(e.estimate.index) == mn.alternatives
    assert list(e.estimate.columns) == ["price_pampers", "price_luvs"]
    # sum_j p_j e_j = 0 holds observation by observation, not for mean elasticities; but the
    # own-minus-cross contrast has a valid SE from the joint covariance
    c = np.zeros(len(e.delta.estimate))
    c[0], c[2] = 1.0, -1.0  # (s_pampers, price_pampers) - (s_huggies, price_pampers)
    diff = e.delta.contrast(c)
    assert diff.estimate.iloc[0] == pytest.approx(
        e.estimate.loc["s_pampers", "price_pampers"] - e.estimate.loc["s_huggies", "price_pampers"])
    j = e.delta.jacobian.to_numpy()
    v = mn.cov_params().to_numpy()
    assert diff.std_err.iloc[0] == pytest.approx(np.sqrt(c @ j @ v @ j.T @ c), rel=1e-10)
    frame = e.summary_frame()
    assert frame.index.names == ["share of", "with respect to"]


def test_multinomial_elasticity_at_one_row_is_the_closed_form(mn, wide):
    row = wide.iloc[[10]]
    e = mn.elasticities(["price_pampers"], at=row).estimate["price_pampers"]
    b = mn.params_by_alternative().loc["np.log(price_pampers)"]
    p = mn.predict(row).iloc[0]
    # d log p_j / d log price = b_j - sum_l p_l b_l (b_none = 0)
    slope = pd.Series(0.0, index=mn.alternatives)
    slope[b.index] = b
    expected = slope - (p * slope).sum()
    np.testing.assert_allclose(e.to_numpy(), expected[mn.alternatives].to_numpy(), rtol=1e-9)


def test_get_prediction_matches_predict_and_averages(mn, wide):
    new = wide.iloc[:3]
    pred = mn.get_prediction(new)
    assert isinstance(pred.delta, DeltaResult)
    frame = pred.summary_frame()
    assert list(frame.columns) == ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper"]
    np.testing.assert_allclose(frame["mean"].to_numpy(), mn.predict(new).to_numpy().ravel(),
                               rtol=1e-12)
    avg = mn.get_prediction(average=True)
    np.testing.assert_allclose(avg.predicted_mean.to_numpy(),
                               mn.fittedvalues.mean().to_numpy(), rtol=1e-12)
    assert avg.predicted_mean.sum() == pytest.approx(1.0)
    # the shares' sum is 1 for every parameter value: its delta-method variance is 0
    assert avg.delta.contrast(np.ones(4)).std_err.iloc[0] < 1e-8


def test_multinomial_diversion_rows_sum_to_zero(mn):
    d = mn.diversion_ratios({"s_pampers": "price_pampers", "s_luvs": "price_luvs"})
    assert list(d.estimate.index) == ["s_pampers", "s_luvs"]
    np.testing.assert_allclose(d.estimate.sum(axis=1), 0.0, atol=1e-12)
    assert d.estimate.loc["s_pampers", "s_pampers"] == pytest.approx(-1.0)
    assert (d.estimate.loc["s_pampers"].drop("s_pampers") > 0).all()


def test_multinomial_wtp_is_a_coefficient_ratio(mn):
    w = mn.wtp("income", "np.log(price_luvs)")
    b, v = mn.params, mn.cov_params()
    a, p = "s_luvs:income", "s_luvs:np.log(price_luvs)"
    assert w.loc["s_luvs", "estimate"] == pytest.approx(-b[a] / b[p], rel=1e-12)
    grad = np.array([-1 / b[p], b[a] / b[p] ** 2])
    se = np.sqrt(grad @ v.loc[[a, p], [a, p]].to_numpy() @ grad)
    assert w.loc["s_luvs", "std_err"] == pytest.approx(se, rel=1e-10)


def test_conditional_elasticities_are_the_logit_closed_form(cl, long):
    e = cl.elasticities("price")
    b = cl.params["price"]
    p = cl.fitted_shares().to_numpy()
    price = (long.pivot(index="obs", columns="brand", values="price")[cl.alternatives]
             .to_numpy())
    n_a = len(cl.alternatives)
    expected = np.array([[np.mean(b * price[:, l] * ((m == l) - p[:, l]))
                          for l in range(n_a)] for m in range(n_a)])
    np.testing.assert_allclose(e.estimate.to_numpy(), expected, rtol=1e-9, atol=1e-13)
    # IIA: the cross-elasticities w.r.t. l's price are equal for every m != l in one situation
    one = long[long.obs == 1]
    e1 = cl.elasticities("price", at=one).estimate
    assert e1.loc["huggies", "pampers"] == pytest.approx(e1.loc["luvs", "pampers"], rel=1e-12)


def test_conditional_margins_are_the_dydx_matrix_in_long_form(cl):
    m = cl.margins("price")
    assert m.index.names == ["share of", "price of"]
    b = cl.params["price"]
    p = cl.fitted_shares().to_numpy()
    n_a = len(cl.alternatives)
    expected = [np.mean(b * p[:, i] * ((i == j) - p[:, j]))
                for i in range(n_a) for j in range(n_a)]
    np.testing.assert_allclose(m["estimate"], expected, rtol=1e-9, atol=1e-14)
    # raising one alternative's price moves shares that sum to one: columns sum to zero
    sums = m["estimate"].groupby(level="price of").sum()
    np.testing.assert_allclose(sums, 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="kind"):
        cl.margins("price", kind="dyex")


def test_conditional_diversion_of_one_situation_is_p_m_over_1_minus_p_l(cl, long):
    one = long[long.obs == 3]
    d = cl.diversion_ratios("price", at=one).estimate
    p = cl.predict(one).set_axis(one.brand).reindex(cl.alternatives)
    for l in cl.alternatives:
        for m in cl.alternatives:
            if m != l:
                assert d.loc[l, m] == pytest.approx(p[m] / (1 - p[l]), rel=1e-10)


def test_conditional_wtp_and_its_guard(cl, long):
    w = cl.wtp()
    assert list(w.index) == ["C(brand)[T.luvs]", "C(brand)[T.none]", "C(brand)[T.pampers]"]
    b = cl.params
    assert w.loc["C(brand)[T.pampers]", "estimate"] == pytest.approx(
        -b["C(brand)[T.pampers]"] / b["price"], rel=1e-12)
    logp = br.ConditionalLogit.from_formula("belief ~ np.log(price + 1) + C(brand)", long,
                                            groups="obs", alternatives="brand").fit()
    with pytest.raises(UnknownVariableError, match="enters linearly.*nlcom|price that enters linearly"):
        logp.wtp(price="price")


def test_conditional_prediction_for_a_reduced_choice_set(cl, long):
    one = long[(long.obs == 2)]
    without_luvs = one[one.brand != "luvs"]
    p_full = cl.predict(one)
    p_red = cl.predict(without_luvs)
    # IIA: removing an alternative rescales the others proportionally
    kept = p_full.drop(one.index[one.brand == "luvs"])
    np.testing.assert_allclose(p_red.to_numpy(), (kept / kept.sum()).to_numpy(), rtol=1e-12)
    pred = cl.get_prediction(one)
    np.testing.assert_allclose(pred.predicted_mean.to_numpy(),
                               p_full.set_axis(one.brand)[cl.alternatives].to_numpy(),
                               rtol=1e-12)


def test_nlcom_accepts_alternative_term_labels(mn):
    r = mn.nlcom("`s_pampers:np.log(price_pampers)` - `s_huggies:np.log(price_pampers)`")
    b = mn.params
    assert r.estimate.iloc[0] == pytest.approx(
        b["s_pampers:np.log(price_pampers)"] - b["s_huggies:np.log(price_pampers)"])
    t = mn.t_test("s_pampers:np.log(price_pampers) = s_huggies:np.log(price_pampers)")
    assert np.ravel(t.sd)[0] == pytest.approx(r.std_err.iloc[0], rel=1e-10)


def test_summary_names_alternatives_and_base(mn):
    text = mn.summary().as_text()
    assert "Base alternative:" in text and "s_none" in text
    assert "s_luvs: Intercept" in text
    assert "Quasi-log-likelihood" in text and "Pseudo" not in text


def test_a_categorical_outcome_s_alternatives_can_be_named_by_their_level():
    # 'C(choice) ~ x' names the alternatives 'C(choice)[none]' ...; base='none' and
    # diversion_ratios({'a': 'price'}) were refused ("not one of the alternatives")
    rng = np.random.default_rng(0)
    n = 300
    d = pd.DataFrame({"price": rng.uniform(1, 3, n)})
    d["choice"] = rng.choice(["a", "b", "none"], n)
    by_level = br.MultinomialFractionalLogit.from_formula("C(choice) ~ price", d, base="none")
    by_name = br.MultinomialFractionalLogit.from_formula("C(choice) ~ price", d,
                                                         base="C(choice)[none]")
    assert by_level.base == by_name.base == "C(choice)[none]"
    res, ref = by_level.fit(), by_name.fit()
    pd.testing.assert_series_equal(res.params, ref.params)
    level = res.diversion_ratios({"a": "price"})
    name = res.diversion_ratios({"C(choice)[a]": "price"})
    pd.testing.assert_frame_equal(level.estimate, name.estimate)
    with pytest.raises(ValueError, match="base 'zzz' is not one of the alternatives"):
        br.MultinomialFractionalLogit.from_formula("C(choice) ~ price", d, base="zzz")
    with pytest.raises(UnknownVariableError, match=r"alternatives \['zzz'\] are not among"):
        res.diversion_ratios({"zzz": "price"})


def test_conditional_wtp_and_diversion_take_the_price_as_the_other_share_models_do(cl):
    # wtp(attribute, price) positionally, as BinaryResults.wtp and MultinomialResults.wtp
    # (was "takes from 1 to 2 positional arguments"); a dict for diversion_ratios, the
    # multinomial model's form, is a clear TypeError (was pandas' "unhashable type: 'dict'")
    pd.testing.assert_frame_equal(cl.wtp("C(brand)[T.luvs]", "price"),
                                  cl.wtp("C(brand)[T.luvs]", price="price"))
    with pytest.raises(TypeError, match="price must be the name of the price variable"):
        cl.diversion_ratios({"pampers": "price"})
