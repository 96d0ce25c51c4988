"""Bad input to the multinomial and conditional logits: clear errors naming rows or groups."""

import warnings

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.exceptions import (AbsorbedTermWarning, DataError, MissingColumnError,
                                  MissingValueWarning,
                                  RankDeficientError)

SHARES = ["s_pampers", "s_huggies", "s_luvs", "s_none"]
RHS = "np.log(price_pampers) + income"


@pytest.fixture()
def wide_named(wide):
    return wide.set_index(pd.Index([f"o{i}" for i in range(len(wide))]))


def fit_mn(data, **kw):
    return br.MultinomialFractionalLogit.from_formula(RHS, data, shares=SHARES, **kw)


def test_rows_not_summing_to_one_are_named(wide_named):
    d = wide_named.copy()
    d.loc["o4", "s_none"] += 0.02
    d.loc["o9", "s_pampers"] -= 0.3
    with pytest.raises(DataError, match=r"sum to 1.*2 rows \(first: 'o4', 'o9'\).*sums "
                                        r"\[1\.02"):
        fit_mn(d)


def test_rounding_within_tolerance_is_accepted_and_renormalised(wide_named):
    d = wide_named.copy()
    d["s_none"] += 1e-9
    res = fit_mn(d).fit()
    np.testing.assert_allclose(res.model.endog.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    with pytest.raises(DataError, match="share_tol=1e-12"):
        fit_mn(d, share_tol=1e-12)


def test_negative_shares_are_named(wide_named):
    d = wide_named.copy()
    d.loc["o7", ["s_luvs", "s_none"]] = [-0.05, d.loc["o7", "s_none"] + d.loc["o7", "s_luvs"]
                                         + 0.05]
    with pytest.raises(DataError, match=r"non-negative; \['s_luvs'\] are negative in 1 row "
                                        r"\(first: 'o7'\)"):
        fit_mn(d)


def test_single_alternative_is_an_error(wide):
    with pytest.raises(DataError, match="single alternative"):
        br.MultinomialFractionalLogit.from_formula("s_none ~ income", wide)


def test_alternative_never_chosen_is_not_identified(wide):
    d = wide.assign(s_other=0.0)
    with pytest.raises(DataError, match=r"\['s_other'\] have zero share in every row"):
        br.MultinomialFractionalLogit.from_formula(RHS, d, shares=SHARES + ["s_other"])


def test_unknown_base_and_share_columns(wide):
    with pytest.raises(ValueError, match="base 's_nothing' is not one of"):
        fit_mn(wide, base="s_nothing")
    with pytest.raises(MissingColumnError, match=r"\['s_gone'\]"):  # a KeyError too
        br.MultinomialFractionalLogit.from_formula(RHS, wide, shares=["s_gone", "s_none"])
    with pytest.raises(ValueError, match="not both"):
        br.MultinomialFractionalLogit.from_formula(f"s_none + s_luvs ~ {RHS}", wide,
                                                   shares=SHARES)


def test_missing_values_dropped_with_warning_and_clusters_align(wide):
    d = wide.copy()
    d.loc[[3, 5], "s_huggies"] = np.nan
    with pytest.warns(MissingValueWarning, match="2 of 800 rows dropped"):
        model = fit_mn(d)
    res = model.fit(cov_type="cluster", cov_kwds={"groups": "persona"})
    assert res.nobs == 798 and res.n_groups == (25,)


def test_array_interface_rejects_nan_and_bad_shapes(wide):
    y = wide[SHARES].to_numpy().copy()
    x = np.column_stack([np.ones(800), wide.income])
    y[2, 1] = np.nan
    with pytest.raises(DataError, match="missing shares"):
        br.MultinomialFractionalLogit(y, x)
    with pytest.raises(DataError, match=r"share matrix \(n, J\)"):
        br.MultinomialFractionalLogit(wide["s_none"].to_numpy(), x)


def test_collinear_regressors_are_named(wide):
    d = wide.assign(income2=2 * wide.income)
    with pytest.raises(RankDeficientError, match=r"\['income', 'income2'\]"):
        br.MultinomialFractionalLogit.from_formula("income + income2", d, shares=SHARES)


def test_bad_cov_type_and_kwds(wide):
    model = fit_mn(wide)
    with pytest.raises(ValueError, match="HC3.*not implemented"):
        model.fit(cov_type="HC3")
    with pytest.raises(ValueError, match="needs cov_kwds"):
        model.fit(cov_type="cluster")
    with pytest.raises(ValueError, match="unknown cov_kwds"):
        model.fit(cov_kwds={"group": "persona"})


# ---------------------------------------------------------------------------------- conditional
def fit_cl(data, formula="belief ~ price + C(brand)", **kw):
    return br.ConditionalLogit.from_formula(formula, data, groups="obs", alternatives="brand",
                                            **kw)


def test_group_missing_an_alternative_is_named(long):
    # situations may offer subsets of the alternatives (issue 12), but a situation whose
    # shares no longer sum to 1 after a row was removed is named
    d = long.drop(index=long.index[(long.obs == 17) & (long.brand == "luvs")])
    with pytest.raises(DataError, match=r"must sum to 1 over the alternatives of each choice "
                                        r"situation .* \(first groups: \[17\]\)"):
        fit_cl(d)


def test_missing_values_leaving_a_group_incomplete(long):
    d = long.copy()
    d.loc[(d.obs == 5) & (d.brand == "none"), "belief"] = np.nan
    with pytest.warns(MissingValueWarning, match=r"lost rows to missing values but kept "
                                                 r"others \(first groups: \[5\]\)"), \
            pytest.raises(DataError, match=r"first groups: \[5\]"):
        fit_cl(d)


def test_duplicate_alternative_in_a_group(long):
    d = pd.concat([long, long[(long.obs == 8) & (long.brand == "pampers")]])
    with pytest.raises(DataError, match=r"alternative twice \(first: group 8, alternative "
                                        r"\['pampers'\]"):
        fit_cl(d)


def test_single_alternative_in_long_data(long):
    d = long[long.brand == "none"]
    with pytest.raises(DataError, match="only one alternative"):
        fit_cl(d, formula="belief ~ price")


def test_group_shares_not_summing_to_one_name_the_groups(long):
    d = long.copy()
    d.loc[(d.obs == 12) & (d.brand == "pampers"), "belief"] += 0.1
    with pytest.raises(DataError, match=r"sum to 1 over the alternatives of each choice "
                                        r"situation.*\(first groups: \[12\]\)"):
        fit_cl(d)


def test_outcome_outside_unit_interval(long):
    d = long.copy()
    d.loc[2, "belief"] = -0.2
    with pytest.raises(DataError, match=r"\[0, 1\].*1 row \(first: 2\)"):
        fit_cl(d)


def test_cluster_variable_must_contain_whole_situations(long):
    model = fit_cl(long)
    with pytest.raises(DataError, match="varies within choice situations"):
        model.fit(cov_type="cluster", cov_kwds={"groups": "brand"})


def test_weights_must_be_constant_within_situations(long):
    d = long.assign(wbad=np.arange(len(long), dtype=float) + 1)
    with pytest.raises(DataError, match="constant within a choice situation"):
        fit_cl(d, weights="wbad")


def test_situation_constant_terms_are_dropped_with_a_warning(long):
    with pytest.warns(AbsorbedTermWarning, match=r"\['income'\]"):
        model = fit_cl(long, formula="belief ~ price + C(brand) * income")
    assert "income" not in model.param_names and "Intercept" not in model.param_names
    assert model.absorbed_terms == ["Intercept", "income"]
    with pytest.raises(DataError, match="no term varies"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AbsorbedTermWarning)
            fit_cl(long, formula="belief ~ income")


def test_full_set_of_alternative_dummies_is_named_with_a_hint(long):
    with pytest.raises(RankDeficientError, match=r"collinear terms: \[.*\]\..*C\(brand\) \* x"):
        fit_cl(long, formula="belief ~ price + C(brand) - 1")


def test_separation_warns_and_gives_huge_finite_nonrobust_ses():
    from beliefreg.exceptions import SeparationWarning
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    d = pd.DataFrame({"x": x, "choice": np.where(x < 0, "c", np.where(
        rng.uniform(size=300) < 0.5, "a", "b"))})
    with pytest.warns(SeparationWarning, match="separation"):
        res = br.MultinomialFractionalLogit.from_formula("C(choice) ~ x", d).fit(
            cov_type="nonrobust")
    assert np.all(np.isfinite(res.bse))
    assert res.bse["C(choice)[c]:x"] > 1e6
    # the identified equation is unaffected
    assert res.bse["C(choice)[b]:x"] < 1


def test_a_separated_share_model_has_no_robust_standard_errors():
    # an alternative never chosen: its constant runs to -47 and the HC0 sandwich gave it an
    # SE of 0.085 (z = -550) while the warning said "standard errors are very large"; the
    # binary models report NaN with the reason, and so do the share models now
    rng = np.random.default_rng(1)
    G = 200
    long = pd.DataFrame({"obs": np.repeat(np.arange(G), 3), "brand": np.tile(["a", "b", "c"], G),
                         "price": rng.uniform(1, 2, 3 * G)})
    pick = rng.choice([0, 2], G)                       # "b" is never chosen
    long["chosen"] = (np.tile(np.arange(3), G) == np.repeat(pick, 3)).astype(int)
    model = br.ConditionalLogit.from_formula("chosen ~ price + C(brand)", long, groups="obs",
                                             alternatives="brand")
    with pytest.warns(br.SeparationWarning):
        plain = model.fit(cov_type="nonrobust")
    assert plain.bse["C(brand)[T.b]"] > 1e3               # model-based: honestly huge
    wide = pd.DataFrame({"x": rng.normal(size=G), "choice": np.where(pick == 0, "a", "c")})
    wide.loc[wide.x > 1.2, "choice"] = "b"                 # "b" exactly when x > 1.2
    mnl = br.MultinomialFractionalLogit.from_formula("C(choice) ~ x", wide)
    for fit in (lambda: model.fit(), lambda: model.fit(cov_type="HC1"), lambda: mnl.fit()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = fit()
        assert res.bse.isna().all()
        messages = [str(w.message) for w in caught
                    if issubclass(w.category, br.CovarianceWarning)]
        assert any("the fit is separated" in m for m in messages), messages
