"""Real-world frames and new data (issue 12, item 3).

Every frame a user would pass must give the numbers of the same data as a plain float64
pandas frame (the reference here), or a clear error naming the column; never a raw patsy
error, a NaN-ambiguity TypeError or a silently different model.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.exceptions import DataError, MissingValueWarning

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 300
    d = pd.DataFrame({"price": rng.uniform(1, 3, n), "brand": rng.choice(["a", "b", "c"], n),
                      "promo": rng.uniform(size=n) < 0.5, "k": rng.integers(0, 4, n)})
    eta = 1 - 0.8 * d.price + d.brand.map({"a": 0, "b": .5, "c": -.5}) + 0.3 * d.promo
    p = 1 / (1 + np.exp(-eta))
    d["belief"] = np.clip(p + rng.normal(0, .05, n), 0, 1)
    d["buy"] = rng.uniform(size=n) < p
    d["w"] = rng.uniform(1, 2, n)
    return d


def _fit(formula, data, model=br.FractionalLogit, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingValueWarning)
        return model.from_formula(formula, data, **kw).fit()


def _same(res, ref):
    assert list(res.params.index) == list(ref.params.index)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse.to_numpy(), rtol=1e-8)
    assert res.nobs == ref.nobs


# ---------------------------------------------------------------------- pandas dtypes
@pytest.mark.parametrize("dtype", ["Float64", "Int64"])
def test_nullable_numbers_with_pd_na_are_missing_values(data, dtype):
    d = data.copy()
    if dtype == "Int64":
        d["x"] = pd.array(d.k, dtype="Int64")
        ref_col = d.k.astype(float)
    else:
        d["x"] = pd.array(d.price, dtype="Float64")
        ref_col = d.price.copy()
    d.loc[[3, 17], "x"] = pd.NA
    ref_col[[3, 17]] = np.nan
    with pytest.warns(MissingValueWarning, match="2 of 300 rows dropped"):
        res = br.FractionalLogit.from_formula("belief ~ x + brand", d).fit()
    ref = _fit("belief ~ x + brand", data.assign(x=ref_col))
    _same(res, ref)
    assert res.margins("x")["estimate"].iloc[0] == pytest.approx(
        ref.margins("x")["estimate"].iloc[0], rel=1e-10)


def test_nullable_boolean_regressor_is_a_boolean(data):
    d = data.assign(promo=pd.array(data.promo, dtype="boolean"))
    _same(_fit("belief ~ price + promo", d), _fit("belief ~ price + promo", data))
    d.loc[5, "promo"] = pd.NA
    _same(_fit("belief ~ price + promo", d), _fit("belief ~ price + promo", data.drop(index=5)))


@pytest.mark.parametrize("dtype", [bool, "boolean"])
def test_bool_outcome_for_logit(data, dtype):
    # the README's `buy = choice == "yes"` step
    d = data.assign(buy=data.buy.astype(dtype))
    res = _fit("buy ~ price + brand", d, br.Logit)
    _same(res, _fit("buy ~ price + brand", data.assign(buy=data.buy.astype(float)), br.Logit))


def test_object_columns_of_numbers_are_numbers(data):
    ref = _fit("belief ~ price", data)
    as_object = data.assign(belief=data.belief.astype(object), price=data.price.astype(object))
    _same(_fit("belief ~ price", as_object), ref)
    # numbers written as text (a CSV read with dtype=str) in the outcome
    as_text = data.assign(belief=data.belief.map(repr))
    _same(_fit("belief ~ price", as_text), ref)


def test_outcome_text_that_is_not_a_number_names_the_column_and_values(data):
    d = data.assign(belief=data.belief.map(repr))
    d.loc[7, "belief"] = "n/a?"
    with pytest.raises(DataError, match=r"outcome column 'belief'.*\['n/a\?'\].*rows \[7\]"):
        br.FractionalLogit.from_formula("belief ~ price", d)


def test_a_text_outcome_says_it_holds_text(data):
    d = data.assign(answer=np.where(data.buy, "yes", "no"))
    with pytest.raises(DataError, match=r"must be one numeric column; patsy coded it as 2 "
                                        r"columns .* holds text or categories"):
        br.Logit.from_formula("answer ~ price", d)


def test_repeated_index_labels_with_weights(data):
    d = data.copy()
    d.index = np.repeat(np.arange(len(d) // 2), 2)
    ref = _fit("belief ~ price + brand", data, weights="w")
    for weights in ("w", d.w, d.w.to_numpy()):
        res = _fit("belief ~ price + brand", d, weights=weights)
        _same(res, ref)
    np.testing.assert_allclose(res.margins()["estimate"].to_numpy(),
                               ref.margins()["estimate"].to_numpy(), rtol=1e-10)
    cl = br.FractionalLogit.from_formula("belief ~ price", d, weights="w").fit(
        cov_type="cluster", cov_kwds={"groups": "brand"})
    cl_ref = br.FractionalLogit.from_formula("belief ~ price", data, weights="w").fit(
        cov_type="cluster", cov_kwds={"groups": "brand"})
    _same(cl, cl_ref)


# ---------------------------------------------------------------------- other frames
@pytest.mark.parametrize("kind", ["polars", "polars_categorical", "pyarrow"])
def test_polars_and_pyarrow_frames(data, kind):
    ref = _fit("belief ~ price + brand + promo", data)
    if kind == "pyarrow":
        frame = pa.Table.from_pandas(data, preserve_index=False)
    else:
        frame = pl.from_pandas(data)
        if kind == "polars_categorical":
            frame = frame.with_columns(pl.col("brand").cast(pl.Enum(["a", "b", "c"])))
    res = _fit("belief ~ price + brand + promo", frame)
    _same(res, ref)
    new = data.iloc[:5]
    new_frame = pl.from_pandas(new) if kind != "pyarrow" else pa.Table.from_pandas(new)
    np.testing.assert_allclose(np.asarray(res.predict(new_frame)), ref.predict(new).to_numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose(res.get_prediction(new_frame).predicted_mean,
                               ref.get_prediction(new).predicted_mean, rtol=1e-10)


def test_polars_long_data_for_the_conditional_logit():
    rng = np.random.default_rng(3)
    g = 200
    long = pd.DataFrame({"obs": np.repeat(np.arange(g), 3), "brand": np.tile(["a", "b", "n"], g),
                         "price": rng.uniform(1, 2, 3 * g)})
    u = (-1.5 * long.price + long.brand.map({"a": 1.0, "b": 0.5, "n": 0.0})).to_numpy()
    p = np.exp(u.reshape(g, 3))
    p /= p.sum(1, keepdims=True)
    long["share"] = p.ravel()
    ref = br.ConditionalLogit.from_formula("share ~ price + C(brand)", long, groups="obs",
                                           alternatives="brand").fit()
    res = br.ConditionalLogit.from_formula("share ~ price + C(brand)", pl.from_pandas(long),
                                           groups="obs", alternatives="brand").fit()
    _same(res, ref)


# ---------------------------------------------------------------------- new data
def test_newdata_categorical_with_a_subset_or_reordering_of_the_levels(data):
    d = data.assign(brand=pd.Categorical(data.brand))
    res = _fit("belief ~ price + brand", d)
    plain = pd.DataFrame({"price": [2.0, 2.5, 1.5], "brand": ["b", "a", "b"]})
    for cats in (["b", "a"], ["c", "b", "a"], ["a", "b", "c", "z"]):
        new = plain.assign(brand=pd.Categorical(plain.brand, categories=cats))
        np.testing.assert_allclose(res.predict(new).to_numpy(), res.predict(plain).to_numpy(),
                                   rtol=1e-14)
        np.testing.assert_allclose(res.get_prediction(new).se_mean,
                                   res.get_prediction(plain).se_mean, rtol=1e-12)
    # a value that is not a fitted level: a DataError naming the term, not a PatsyError
    with pytest.raises(DataError, match=r"`brand`.*'z'"):
        res.predict(plain.assign(brand=["a", "z", "b"]))


def test_predict_with_missing_values_gives_nan_rows_and_get_prediction_names_them(data):
    res = _fit("belief ~ price + brand", data)
    new = pd.DataFrame({"price": [2.0, np.nan, 1.5, 2.2], "brand": ["a", "b", None, "c"]},
                       index=[10, 11, 12, 13])
    pred = res.predict(new)
    assert list(pred.index) == [10, 11, 12, 13]
    assert np.isnan(pred.iloc[1]) and np.isnan(pred.iloc[2])
    np.testing.assert_allclose(pred.iloc[[0, 3]].to_numpy(),
                               res.predict(new.iloc[[0, 3]]).to_numpy(), rtol=1e-14)
    nullable = new.assign(price=pd.array(new.price.to_numpy(), dtype="Float64"))
    nullable.loc[11, "price"] = pd.NA
    np.testing.assert_allclose(res.predict(nullable).to_numpy(), pred.to_numpy(), rtol=1e-14)
    with pytest.raises(DataError, match=r"missing values in rows \[11, 12\] \(column\(s\) "
                       r"\['price', 'brand'\]\)"):
        res.get_prediction(new)


def test_multinomial_predict_with_missing_values_gives_nan_rows():
    rng = np.random.default_rng(5)
    n = 200
    d = pd.DataFrame({"x": rng.normal(size=n)})
    s = rng.dirichlet(np.ones(3), n)
    d[["a", "b", "c"]] = s
    res = br.MultinomialFractionalLogit.from_formula("a + b + c ~ x", d).fit()
    new = pd.DataFrame({"x": [0.1, np.nan, 0.3]})
    pred = np.asarray(res.predict(new))
    assert np.isnan(pred[1]).all() and np.isfinite(pred[[0, 2]]).all()


# ---------------------------------------------------------------------- property
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_REPRESENTATIONS = {
    "float64": lambda s: s.astype(float),
    "Float64": lambda s: s.astype("Float64"),
    "object": lambda s: s.astype(object),
    "arrow": lambda s: s.astype("double[pyarrow]"),
}


@settings(max_examples=20, deadline=None)
@given(outcome=st.sampled_from(sorted(_REPRESENTATIONS)),
       regressor=st.sampled_from(sorted(_REPRESENTATIONS)),
       brand=st.sampled_from(["object", "category", "string"]),
       index=st.sampled_from(["range", "repeated", "strings"]))
def test_every_representation_of_the_same_numbers_gives_the_same_fit(data, outcome, regressor,
                                                                      brand, index):
    d = data[["belief", "price", "brand"]].copy()
    d["belief"] = _REPRESENTATIONS[outcome](d.belief)
    d["price"] = _REPRESENTATIONS[regressor](d.price)
    d["brand"] = d.brand.astype(brand)
    if index == "repeated":
        d.index = np.repeat(np.arange(len(d) // 3 + 1), 3)[:len(d)]
    elif index == "strings":
        d.index = [f"r{i}" for i in range(len(d))]
    _same(_fit("belief ~ price + brand", d), _fit("belief ~ price + brand", data))


def test_text_in_a_numeric_column_of_newdata_names_the_column(data):
    # a CSV read as strings: patsy failed inside its own message formatting with
    # "AttributeError: 'DataFrame' object has no attribute 'dtype'" (predict, get_prediction,
    # the multinomial predict) or a ufunc TypeError (np.log of text)
    new = pd.DataFrame({"price": ["1.5", "2"], "brand": ["a", "b"], "promo": [True, False]})
    res = _fit("belief ~ price + brand + promo", data)
    log_res = _fit("belief ~ np.log(price) + brand", data)
    d = data.assign(choice=np.where(data.belief > 0.5, "yes", np.where(data.promo, "no",
                                                                          "maybe")))
    mnl = _fit("C(choice) ~ price", d, model=br.MultinomialFractionalLogit)
    calls = [lambda: res.predict(new), lambda: res.get_prediction(new),
             lambda: log_res.predict(new), lambda: log_res.get_prediction(new),
             lambda: mnl.predict(new), lambda: mnl.get_prediction(new)]
    for call in calls:
        with pytest.raises(DataError, match=r"'price' holds 2 non-numeric value\(s\) such as "
                                            r"\['1.5', '2'\] \(rows \[0, 1\]\)"):
            call()
    # numbers held as Python objects are numbers, not text: accepted
    as_objects = new.assign(price=pd.Series([1.5, 2.0], dtype=object))
    np.testing.assert_allclose(res.predict(as_objects),
                               res.predict(new.assign(price=[1.5, 2.0])))
