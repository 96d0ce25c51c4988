"""The multinomial models agree with the models they generalise, exactly.

* two alternatives: the multinomial fractional logit is the binary FractionalLogit (estimates
  and every covariance type, with and without weights);
* its parameters are statsmodels' MNLogit on the same share matrix;
* the conditional logit with alternative-specific constants (and constants x an
  observation-level variable) is the multinomial model;
* changing the base alternative re-parametrises without changing fitted shares or elasticities.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.discrete.conditional_models import ConditionalLogit as SMConditionalLogit

import beliefreg as br
from beliefreg.datasets import load_401k
from beliefreg.exceptions import AbsorbedTermWarning

COV_SPECS = [("nonrobust", None, False), ("HC0", None, False), ("HC1", None, False),
             ("cluster", "age", False), ("cluster", ["age", "sizecat"], False),
             ("cluster", ["age", "sizecat"], True)]


@pytest.fixture(scope="module")
def k401():
    d = load_401k()
    d["not_part"] = 1.0 - d["prate01"]
    d["sizecat"] = pd.qcut(d["totemp"], 10, labels=False)
    d["w"] = d["totelg"] / d["totelg"].mean()
    return d


@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("cov_type,groups,fix", COV_SPECS)
def test_two_alternatives_equal_binary_fractional_logit(k401, cov_type, groups, weights, fix):
    rhs = "mrate + np.log(totemp) + age + I(age**2) + sole"
    kw = {} if groups is None else {"cov_kwds": {"groups": groups}}
    if fix:
        kw["cov_kwds"]["fix"] = True
    # weighted two-way clustering on these data is not positive semi-definite: both models
    # must say so the same way (CovarianceWarning), or both clip with fix=True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        binary = br.FractionalLogit.from_formula(f"prate01 ~ {rhs}", k401,
                                                 weights=weights).fit(cov_type=cov_type, **kw)
        n_binary = len(caught)
        multi = br.MultinomialFractionalLogit.from_formula(
            f"not_part + prate01 ~ {rhs}", k401, base="not_part", weights=weights).fit(
            cov_type=cov_type, **kw)
    assert len(caught) == 2 * n_binary
    assert all(issubclass(w.category, br.CovarianceWarning) for w in caught)
    assert list(multi.params.index) == [f"prate01:{t}" for t in binary.params.index]
    np.testing.assert_allclose(multi.params.to_numpy(), binary.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(multi.cov_params().to_numpy(), binary.cov_params().to_numpy(),
                               rtol=1e-8, atol=1e-14)
    assert multi.quasi_llf == pytest.approx(binary.quasi_llf, rel=1e-12)
    np.testing.assert_allclose(multi.fittedvalues["prate01"], binary.fittedvalues, rtol=1e-10)


def test_parameters_equal_statsmodels_mnlogit_on_shares(wide):
    shares = ["s_none", "s_pampers", "s_huggies", "s_luvs"]
    res = br.MultinomialFractionalLogit.from_formula(
        "np.log(price_pampers) + np.log(price_huggies) + np.log(price_luvs) + income", wide,
        shares=shares).fit()
    assert res.base == "s_none"
    exog = sm.add_constant(np.log(wide[["price_pampers", "price_huggies", "price_luvs"]])
                           .assign(income=wide["income"]))
    smr = sm.MNLogit(wide[shares].to_numpy(), exog).fit(method="newton", tol=1e-14,
                                                         maxiter=100, disp=0)
    # statsmodels: (k, J-1) columns = non-base alternatives; ours: alternative-major
    np.testing.assert_allclose(res.params.to_numpy(), np.asarray(smr.params).T.ravel(),
                               rtol=1e-9)
    # and its HC0 on the share matrix is our default sandwich
    smr_hc0 = sm.MNLogit(wide[shares].to_numpy(), exog).fit(method="newton", tol=1e-14,
                                                             maxiter=100, disp=0, cov_type="HC0")
    np.testing.assert_allclose(res.cov_params().to_numpy(), np.asarray(smr_hc0.cov_params()),
                               rtol=1e-7, atol=1e-12)


def test_rhs_formula_with_shares_equals_multivariate_lhs(wide):
    rhs = "np.log(price_pampers) + np.log(price_huggies) + income"
    a = br.MultinomialFractionalLogit.from_formula(
        rhs, wide, shares=["s_pampers", "s_huggies", "s_luvs", "s_none"], base="s_none").fit()
    b = br.MultinomialFractionalLogit.from_formula(
        f"s_pampers + s_huggies + s_luvs + s_none ~ {rhs}", wide, base=-1).fit()
    pd.testing.assert_series_equal(a.params, b.params)
    assert a.model.formula == rhs


def test_array_interface_equals_formula(wide):
    shares = wide[["s_pampers", "s_huggies", "s_luvs", "s_none"]]
    x = np.column_stack([np.ones(len(wide)), np.log(wide.price_pampers), wide.income])
    a = br.MultinomialFractionalLogit(shares, x, base="s_none").fit(cov_type="HC1")
    b = br.MultinomialFractionalLogit.from_formula(
        "s_pampers + s_huggies + s_luvs + s_none ~ np.log(price_pampers) + income", wide,
        base="s_none").fit(cov_type="HC1")
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.bse.to_numpy(), b.bse.to_numpy(), rtol=1e-10)
    assert a.params.index[1] == "s_pampers:x2"


def test_base_change_reparametrises_only(wide):
    f = "s_pampers + s_huggies + s_luvs + s_none ~ np.log(price_pampers) + income"
    r_none = br.MultinomialFractionalLogit.from_formula(f, wide, base="s_none").fit()
    r_pamp = br.MultinomialFractionalLogit.from_formula(f, wide, base="s_pampers").fit()
    pd.testing.assert_frame_equal(r_none.fittedvalues, r_pamp.fittedvalues, rtol=1e-10)
    assert r_none.quasi_llf == pytest.approx(r_pamp.quasi_llf, rel=1e-13)
    # beta_huggies (base none) = beta_huggies - beta_none (base pampers) ...
    b1 = r_none.params_by_alternative()
    b2 = r_pamp.params_by_alternative()
    np.testing.assert_allclose(b1["s_huggies"], b2["s_huggies"] - b2["s_none"], rtol=1e-9)
    e1 = r_none.elasticities(["price_pampers"])
    e2 = r_pamp.elasticities(["price_pampers"])
    np.testing.assert_allclose(e1.estimate, e2.estimate, rtol=1e-9)
    np.testing.assert_allclose(e1.std_err, e2.std_err, rtol=1e-7)


def _wide_from_long(long):
    return long.pivot(index="obs", columns="brand", values="belief").join(
        long.groupby("obs")[["income", "persona"]].first())


@pytest.mark.parametrize("cov_type,groups", [("HC0", None), ("HC1", None),
                                             ("cluster", "persona"), ("nonrobust", None)])
def test_conditional_with_constants_equals_multinomial(long, cov_type, groups):
    kw = {} if groups is None else {"cov_kwds": {"groups": groups}}
    wide = _wide_from_long(long)
    for cl_rhs, mn_rhs in [("C(brand)", "1"), ("C(brand) * income", "income")]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AbsorbedTermWarning)
            cl = br.ConditionalLogit.from_formula(f"belief ~ {cl_rhs}", long, groups="obs",
                                                  alternatives="brand").fit(cov_type=cov_type,
                                                                            **kw)
        mn = br.MultinomialFractionalLogit.from_formula(
            f"huggies + luvs + none + pampers ~ {mn_rhs}", wide, base="huggies").fit(
            cov_type=cov_type, **kw)
        # C(brand)[T.luvs] <-> luvs:Intercept, C(brand)[T.luvs]:income <-> luvs:income
        mapping = {}
        for alt in ["luvs", "none", "pampers"]:
            mapping[f"C(brand)[T.{alt}]"] = f"{alt}:Intercept"
            mapping[f"C(brand)[T.{alt}]:income"] = f"{alt}:income"
        order = [mapping[n] for n in cl.params.index]
        np.testing.assert_allclose(cl.params.to_numpy(), mn.params[order].to_numpy(), rtol=1e-9)
        np.testing.assert_allclose(cl.cov_params().to_numpy(),
                                   mn.cov_params().loc[order, order].to_numpy(), rtol=1e-7,
                                   atol=1e-14)
        assert cl.quasi_llf == pytest.approx(mn.quasi_llf, rel=1e-12)
        np.testing.assert_allclose(cl.fitted_shares().to_numpy(),
                                   mn.fittedvalues[cl.alternatives].to_numpy(), rtol=1e-9)


def test_conditional_logit_on_choices_equals_statsmodels(long):
    long = long.assign(b_h=(long.brand == "huggies") * 1.0, b_l=(long.brand == "luvs") * 1.0,
                       b_p=(long.brand == "pampers") * 1.0)
    ours = br.ConditionalLogit.from_formula("chosen ~ price + b_h + b_l + b_p", long,
                                            groups="obs", alternatives="brand").fit(
        cov_type="nonrobust")
    smr = SMConditionalLogit(long["chosen"], long[["price", "b_h", "b_l", "b_p"]],
                             groups=long["obs"]).fit(method="newton", disp=0, maxiter=100)
    np.testing.assert_allclose(ours.params.to_numpy(), np.asarray(smr.params), rtol=1e-7)
    np.testing.assert_allclose(ours.bse.to_numpy(), np.asarray(smr.bse), rtol=1e-6)


def test_row_order_of_long_data_does_not_matter(long):
    f = "belief ~ price + C(brand)"
    a = br.ConditionalLogit.from_formula(f, long, groups="obs", alternatives="brand").fit(
        cov_type="cluster", cov_kwds={"groups": "persona"})
    shuffled = long.sample(frac=1.0, random_state=3)
    b = br.ConditionalLogit.from_formula(f, shuffled, groups="obs", alternatives="brand").fit(
        cov_type="cluster", cov_kwds={"groups": "persona"})
    pd.testing.assert_series_equal(a.params, b.params, rtol=1e-10)
    pd.testing.assert_frame_equal(a.cov_params(), b.cov_params(), rtol=1e-8)
    pd.testing.assert_series_equal(a.fittedvalues.loc[shuffled.index], b.fittedvalues,
                                   rtol=1e-10)
