"""Bad input gets a clear error or warning naming the fault, never a silent wrong number."""

import warnings

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.exceptions import (ConvergenceWarning, DataError, MissingValueWarning,
                                  RankDeficientError, SeparationWarning)


@pytest.fixture()
def frame():
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n)
    y = 1 / (1 + np.exp(-(0.3 + 0.8 * x))) + rng.uniform(-0.05, 0.05, n)
    return pd.DataFrame({"y": np.clip(y, 0, 1), "x": x, "g": rng.integers(0, 10, n),
                         "h": rng.integers(0, 7, n)}, index=[f"r{i}" for i in range(n)])


def test_outcome_outside_unit_interval_names_rows(frame):
    frame.loc["r3", "y"] = 1.5
    frame.loc["r7", "y"] = -0.1
    with pytest.raises(DataError, match=r"2 rows \(first: 'r3', 'r7'\)"):
        br.FractionalLogit.from_formula("y ~ x", frame)


def test_nonfinite_outcome_is_an_error(frame):
    y = frame["y"].to_numpy().copy()
    y[5] = np.inf
    with pytest.raises(DataError, match=r"must lie in \[0, 1\].*1 row \(first: 'r5'\)"):
        br.FractionalProbit(pd.Series(y, index=frame.index), np.column_stack([np.ones(200), frame.x]))


def test_logit_rejects_fractional_outcome_and_points_to_fractional_logit(frame):
    with pytest.raises(DataError, match="use FractionalLogit"):
        br.Logit.from_formula("y ~ x", frame)


def test_rank_deficient_design_names_terms(frame):
    frame["x2"] = 2 * frame["x"]
    frame["z"] = np.arange(len(frame), dtype=float)
    with pytest.raises(RankDeficientError, match=r"collinear terms: \['x', 'x2'\]"):
        br.FractionalLogit.from_formula("y ~ x + z + x2", frame)


def test_dummy_trap_is_named(frame):
    frame["a"] = (frame.g < 5).astype(float)
    frame["b"] = 1.0 - frame["a"]
    with pytest.raises(RankDeficientError, match=r"Intercept.*'a'.*'b'"):
        br.FractionalLogit.from_formula("y ~ x + a + b", frame)


def test_missing_values_are_dropped_with_a_warning_and_clusters_align(frame):
    frame.loc[["r1", "r2"], "x"] = np.nan
    with pytest.warns(MissingValueWarning, match="2 of 200 rows dropped"):
        model = br.FractionalLogit.from_formula("y ~ x", frame)
    assert model.nobs == 198
    by_name = model.fit(cov_type="cluster", cov_kwds={"groups": "g"})
    by_full_array = model.fit(cov_type="cluster", cov_kwds={"groups": frame["g"].to_numpy()})
    by_series = model.fit(cov_type="cluster", cov_kwds={"groups": frame["g"]})
    kept = frame.drop(index=["r1", "r2"])
    by_used_array = model.fit(cov_type="cluster", cov_kwds={"groups": kept["g"].to_numpy()})
    for other in (by_full_array, by_series, by_used_array):
        np.testing.assert_allclose(other.cov_params(), by_name.cov_params(), rtol=1e-13)


def test_cluster_groups_with_missing_values_wrong_length_or_one_cluster(frame):
    model = br.FractionalLogit.from_formula("y ~ x", frame)
    g = frame["g"].astype(float)
    g.iloc[[4, 9]] = np.nan
    with pytest.raises(DataError, match=r"2 missing value\(s\), first at rows \['r4', 'r9'\]"):
        model.fit(cov_type="cluster", cov_kwds={"groups": g})
    with pytest.raises(DataError, match="length 17"):
        model.fit(cov_type="cluster", cov_kwds={"groups": np.arange(17)})
    # an array has no name: the message said "cluster variable None has 1 cluster"
    with pytest.raises(DataError, match=r"cluster variable 'groups\[0\]' has 1 cluster; at "
                                        "least 2"):
        model.fit(cov_type="cluster", cov_kwds={"groups": np.zeros(200)})
    with pytest.raises(DataError, match="cluster variable 'g' has 1 cluster"):
        br.FractionalLogit.from_formula("y ~ x", frame.assign(g=1)).fit(
            cov_type="cluster", cov_kwds={"groups": "g"})
    with pytest.raises(KeyError, match="nosuch"):
        model.fit(cov_type="cluster", cov_kwds={"groups": "nosuch"})
    with pytest.raises(ValueError, match="needs cov_kwds"):
        model.fit(cov_type="cluster")


@pytest.mark.parametrize("cov_type", ["HC2", "HC3", "HAC", "robust", "bootstrap"])
def test_unimplemented_covariances_are_refused(frame, cov_type):
    model = br.FractionalLogit.from_formula("y ~ x", frame)
    with pytest.raises(ValueError, match="not implemented"):
        model.fit(cov_type=cov_type)


def test_groups_without_cluster_and_unknown_kwds_are_refused(frame):
    model = br.FractionalLogit.from_formula("y ~ x", frame)
    with pytest.raises(ValueError, match="only used with cov_type='cluster'"):
        model.fit(cov_type="HC0", cov_kwds={"groups": "g"})
    with pytest.raises(ValueError, match="unknown cov_kwds"):
        model.fit(cov_type="cluster", cov_kwds={"groups": "g", "use_correction": False})
    with pytest.raises(ValueError, match="hessian"):
        model.fit(hessian="outer")


def test_bad_weights_named(frame):
    w = np.ones(200)
    w[[3, 8]] = [0.0, -1.0]
    with pytest.raises(DataError, match=r"finite and positive.*2 rows \(first: 'r3', 'r8'\)"):
        br.FractionalLogit.from_formula("y ~ x", frame, weights=w)


def test_separation_warns_and_gives_large_finite_standard_errors():
    # the paper's case: one run at 16 prices, choices that a price threshold separates
    price = np.arange(20, 100, 5.0)
    choice = (price < 50).astype(float)
    data = pd.DataFrame({"buy": choice, "price": price})
    with pytest.warns(SeparationWarning, match="separation"):
        res = br.Logit.from_formula("buy ~ np.log(price)", data).fit()
    assert np.all(np.isfinite(res.bse))
    assert res.bse["np.log(price)"] > 100 * abs(res.params["np.log(price)"]) / 50
    assert res.bse["np.log(price)"] > 10
    assert "separation" in res.summary().as_text()


def test_quasi_separation_in_one_category_warns():
    data = pd.DataFrame({"y": [0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0.0],
                         "d": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
                         "x": [0.1, 0.5, 0.2, 0.9, 0.3, 0.6, 0.8, 0.2, 0.4, 0.7, 0.5, 0.1]})
    with pytest.warns(SeparationWarning):
        res = br.Logit.from_formula("y ~ d + x", data).fit()
    assert res.bse["d"] > 50 and np.isfinite(res.bse["d"])
    assert res.bse["x"] < 10


def test_nonconvergence_warns_with_iteration_count(frame):
    with pytest.warns(ConvergenceWarning, match="in 2 iterations"):
        br.FractionalProbit.from_formula("y ~ x", frame).fit(maxiter=2)


def test_clean_fit_emits_no_warning(frame):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = br.FractionalLogit.from_formula("y ~ x", frame).fit()
    assert res.converged


@pytest.mark.parametrize("threshold", [25, 30, 35, 40, 50, 60, 70, 80, 90])
def test_complete_separation_at_any_threshold_gives_finite_huge_ses(threshold):
    # one run at 16 prices, buying below a threshold: the information matrix would underflow
    # to singular if the iterations ran on; they stop where R's glm does instead
    price = np.arange(20, 100, 5.0)
    data = pd.DataFrame({"buy": (price < threshold).astype(float), "price": price})
    with pytest.warns(SeparationWarning):
        res = br.Logit.from_formula("buy ~ np.log(price)", data).fit()
    assert res.converged and res.n_iter < 60
    assert np.all(np.isfinite(res.bse)) and np.all(res.bse > 1e3)
    assert np.all(np.isfinite(res.params))


def test_singular_information_gets_huge_not_small_variances():
    from beliefreg.models.bernoulli import inverse_information

    info = np.array([[1.0, 1.0], [1.0, 1.0]])  # rank 1: the direction (1, -1) is unidentified
    v = inverse_information(info)
    direction = np.array([1.0, -1.0]) / np.sqrt(2)
    assert direction @ v @ direction > 1e13
    assert np.all(np.isfinite(v))


@pytest.mark.parametrize("case", ["groups", "weights", "situations"])
def test_a_missing_column_is_a_data_error_naming_it(case):
    rng = np.random.default_rng(0)
    d = pd.DataFrame({"y": rng.uniform(0.1, 0.9, 40), "x": rng.normal(size=40),
                      "alt": ["a", "b"] * 20, "sit": np.repeat(range(20), 2)})
    with pytest.raises(br.DataError, match="column 'nope' is not in the data") as info:
        if case == "groups":
            br.FractionalLogit.from_formula("y ~ x", d).fit(cov_type="cluster",
                                                           cov_kwds={"groups": "nope"})
        elif case == "weights":
            br.FractionalLogit.from_formula("y ~ x", d, weights="nope").fit()
        else:
            d["choice"] = np.tile([1, 0], 20)
            br.ConditionalLogit.from_formula("choice ~ x", d, groups="nope",
                                             alternatives="alt").fit()
    assert isinstance(info.value, KeyError)  # code that caught the KeyError still does


def test_a_separated_fit_has_no_robust_standard_errors():
    """Separation: the model-based SEs are (honestly) huge; a sandwich or cluster covariance
    divides two numerically zero quantities (an SE of 3 or NaN for the same fit), so every
    robust SE, test and delta-method SE is NaN with the reason given."""
    price = np.repeat([30.0, 60.0, 90.0], 4)
    df = pd.DataFrame({"price": price, "buy": (price < 70).astype(float),
                       "cid": np.repeat([0, 1, 2], 4)})
    model = br.Logit.from_formula("buy ~ np.log(price)", df)
    with pytest.warns(br.SeparationWarning):
        plain = model.fit()
    assert (plain.bse > 1e4).all()
    for ct, kw in (("HC0", {}), ("HC1", {}), ("cluster", {"groups": "cid"})):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = model.fit(cov_type=ct, cov_kwds=kw)
            el = res.elasticity("price", at="mean")
        assert res.bse.isna().all(), ct
        assert np.isnan(float(el["std_err"].iloc[0]))
        msgs = [str(w.message) for w in caught if issubclass(w.category, br.CovarianceWarning)]
        assert any(f"the fit is separated (12 fitted probabilities are 0 or 1" in m
                   and f"the {ct} covariance divides two numerically zero quantities" in m
                   for m in msgs), (ct, msgs)
        assert not any("two-way" in m for m in msgs)


def test_numbers_written_as_text_and_unused_categories_are_explained(frame):
    # a regressor of numbers as strings was a category with one column per value: with 200
    # rows and 200 values a saturated model was fitted without a word, with more values the
    # error listed every column name; an unused level of a pandas Categorical gave a zero
    # column without saying where it came from
    text = frame.assign(x=frame.x.astype(str))
    with pytest.raises(DataError, match=r"the regressor 'x' of 'y ~ x' holds numbers written "
                                        r"as text \(200 distinct values .*pd.to_numeric, or "
                                        r"write C\(x\)"):
        br.FractionalLogit.from_formula("y ~ x", text)
    # C(x) says a category is meant: then the design is too wide, and the error says why
    # without listing 200 names
    with pytest.raises(RankDeficientError) as info:
        br.FractionalLogit.from_formula("y ~ C(x) + g", text)   # 201 columns, 200 rows
    message = str(info.value)
    assert "... and 190 more" in message and message.count("C(x)[T.") == 10
    assert "'C(x)' was coded as a category with at least" in message
    unused = frame.assign(c=pd.Categorical(np.where(frame.x > 0, "a", "b"),
                                           categories=["a", "b", "never"]))
    with pytest.raises(RankDeficientError, match=r"\['c\[T.never\]'\] are identically zero; "
                                                 r"a level .*remove_unused_categories"):
        br.FractionalLogit.from_formula("y ~ x + c", unused)
    # a real category with a few levels is untouched: no hint
    few = frame.assign(c=np.where(frame.x > 0, "1", "2"), d=np.where(frame.x > 0, "1", "2"))
    with pytest.raises(RankDeficientError) as info:
        br.FractionalLogit.from_formula("y ~ c + d", few)
    assert "pd.to_numeric" not in str(info.value)


def test_a_transform_of_a_text_column_names_the_column(frame):
    # np.log of a text column failed in patsy with a ufunc TypeError that named no column
    text = frame.assign(x=(frame.x + 3).round(2).astype(str) + "c")
    with pytest.raises(DataError, match=r"\(in `np.log\(x\)`\): .*; column 'x' holds text "
                                        r"such as \['.*c', .*pd.to_numeric"):
        br.FractionalLogit.from_formula("y ~ np.log(x)", text)


def test_numbers_mixed_with_a_few_text_values_are_refused(frame):
    # an object column of numbers with one text entry ('n/a', or a number that came in as a
    # string from another file) was coded by patsy as a 200-level category: a saturated,
    # separated fit with 200 parameters and only a SeparationWarning
    for odd, what in (("n/a", "that are not numbers"), ("0.5", "that are numbers written as text")):
        mixed = frame.assign(x=frame.x.astype(object))
        mixed.loc[mixed.index[3], "x"] = odd
        with pytest.raises(DataError, match=rf"the regressor 'x' of 'y ~ x' holds numbers "
                                            rf"\(200 distinct values\) mixed with 1 value\(s\) "
                                            rf"{what}, such as \['{odd}'\] \(rows \['r3'\]\)"
                                            r".*pd.to_numeric"):
            br.FractionalLogit.from_formula("y ~ x", mixed)
    # numbers only (object dtype) are numbers; a text category with many levels is a category
    numbers = frame.assign(x=frame.x.astype(object))
    ref = br.FractionalLogit.from_formula("y ~ x", frame).fit()
    np.testing.assert_allclose(br.FractionalLogit.from_formula("y ~ x", numbers).fit().params,
                               ref.params, rtol=1e-12)
    cities = frame.assign(c=pd.Series([1.5, 2.5] + [f"city{i % 25}" for i in range(2, len(frame))],
                                      index=frame.index, dtype=object))
    model = br.FractionalLogit.from_formula("y ~ x + c", cities)   # no error
    assert sum(name.startswith("c[T.") for name in model.exog_names) == 26


def test_an_outcome_of_numbers_mixed_with_text_is_parsed_or_named(frame):
    # 0/1 ints with one '1' written as text made patsy fail with "mismatch between
    # column_names and columns coded by given terms", which named nothing
    buy = (np.random.default_rng(1).uniform(size=len(frame)) < frame.y).astype(int)
    ref = br.Logit.from_formula("b ~ x", frame.assign(b=buy)).fit()
    mixed = pd.Series(buy.to_numpy(), index=frame.index, dtype=object)
    mixed.iloc[4] = str(mixed.iloc[4])
    res = br.Logit.from_formula("b ~ x", frame.assign(b=mixed)).fit()
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-12)
    mixed.iloc[6] = "n/a"
    with pytest.raises(DataError, match=r"the outcome column 'b' holds numbers mixed with values "
                                        r"that are not numbers: \['n/a'\] \(rows \['r6'\]\)"):
        br.Logit.from_formula("b ~ x", frame.assign(b=mixed))


def test_a_column_name_with_a_space_outside_q_is_explained(frame):
    # 'y ~ unit price' raised Python's bare "SyntaxError: invalid syntax (<unknown>, line 1)"
    # from deep inside patsy
    spaced = frame.rename(columns={"x": "unit price"})
    with pytest.raises(DataError, match=r"cannot build the design of 'y ~ unit price': the term "
                                        r"`unit price` is not a Python expression \(.*\); a "
                                        r"column whose name has spaces or symbols is written "
                                        r"Q\('unit price'\)"):
        br.FractionalLogit.from_formula("y ~ unit price", spaced)
    with pytest.raises(DataError, match=r"the term `x 2` is not a Python expression .*Q\('name'\)"):
        br.FractionalLogit.from_formula("y ~ x 2", frame)
    ok = br.FractionalLogit.from_formula("y ~ Q('unit price')", spaced).fit()
    assert list(ok.params.index) == ["Intercept", "Q('unit price')"]


@pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")
def test_rows_a_transform_made_missing_are_named_in_the_warning(frame):
    # np.log of a negative value gives NaN, and the row was dropped as "missing values in the
    # formula's variables" although no variable was missing (np.log(0) is refused as -inf)
    data = frame.assign(p=frame.g + 1.0)
    data.loc["r5", "p"] = -2.0
    data.loc["r8", "x"] = np.nan
    with pytest.warns(MissingValueWarning, match=r"2 of 200 rows dropped for missing values "
                                                 r"in the formula's variables; in 1 of them "
                                                 r"\(rows \['r5'\]\) every variable is present: "
                                                 r"a transform in the formula gave NaN there"):
        model = br.FractionalLogit.from_formula("y ~ np.log(p) + x", data)
    assert model.nobs == 198
    # a row missing in the data only: the warning says nothing more
    with pytest.warns(MissingValueWarning) as caught:
        br.FractionalLogit.from_formula("y ~ x", data)
    assert [str(w.message) for w in caught] == [
        "1 of 200 rows dropped for missing values in the formula's variables"]


@pytest.mark.parametrize("model", ["Logit", "FractionalLogit", "MultinomialFractionalLogit"])
def test_duplicated_exog_column_names_are_named(model):
    # before: two columns named 'x' were "collinear terms ['x[0]', 'x[1]']" (or a fit whose
    # two 'x' parameters could not be told apart)
    rng = np.random.default_rng(0)
    n = 60
    exog = pd.DataFrame(np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)]),
                        columns=["const", "x", "x"])
    y = (rng.uniform(size=n) < 0.5).astype(float)
    endog = (pd.DataFrame({"a": y, "b": 1 - y}) if model == "MultinomialFractionalLogit"
             else y)
    with pytest.raises(br.DataError, match=r"duplicated column names \['x'\] \('x' 2 times\)"):
        getattr(br, model)(endog, exog)
    with pytest.raises(br.DataError, match=r"\['x'\] \('x' 2 times\)"):   # copies, too
        getattr(br, model)(endog, exog.iloc[:, [0, 1, 1]])
