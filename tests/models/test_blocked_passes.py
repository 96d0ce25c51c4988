"""The blocked passes and the blocked formula design give the numbers of the one-shot code.

Issue 16 moved the design checks, the Newton passes, the HC0 meat and the formula design to
row blocks on one BLAS thread. These tests compare each piece with a direct computation (or
with ``patsy.dmatrices``) on designs spanning several blocks, and check that the BLAS limit is
applied inside and restored outside.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_info

import beliefreg as br
from beliefreg._blas_threads import single_blas_thread
from beliefreg._passes import BLOCK_ROWS, constant_columns, has_intercept, weighted_gram
from beliefreg.exceptions import DataError
from beliefreg.inference.covariance import encode_groups
from beliefreg.models.bernoulli import evaluate, working_weights
from beliefreg.models.design import design_from_formula
from beliefreg.models.formula_blocks import build_formula_design
from beliefreg.models.links import LogitLink, ProbitLink


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_single_blas_thread_limits_inside_and_restores_outside():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        with single_blas_thread():
            assert set(_blas_threads()) == {1}
            with single_blas_thread():  # nested: still one, and no early restore
                pass
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == before


@pytest.fixture(scope="module")
def tall():
    rng = np.random.default_rng(16)
    n = 3 * BLOCK_ROWS + 123
    x = np.column_stack([np.ones(n), rng.normal(size=(n, 4))])
    y = rng.uniform(size=n)
    return y, x


@pytest.mark.parametrize("link,kind", [(LogitLink(), "expected"), (ProbitLink(), "expected"),
                                       (ProbitLink(), "observed")])
@pytest.mark.parametrize("order,weighted", [("C", False), ("F", True)])
def test_evaluate_matches_the_direct_formulas(tall, link, kind, order, weighted):
    """Over the last partial block (3 blocks + 123 rows); column-major with weights too (the
    probit's observed Hessian takes the product branch, h < 0 possible, not Z'Z)."""
    y, x = tall
    w = np.random.default_rng(5).uniform(0.2, 3.0, size=len(y)) if weighted else None
    b = np.array([0.1, 0.3, -0.2, 0.05, 0.4])
    grad, info, eta = evaluate(y, np.asarray(x, order=order), w, link, b, kind)
    u, h = working_weights(y, x @ b, w, link, kind)
    np.testing.assert_allclose(eta, x @ b, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(grad, x.T @ u, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(info, x.T @ (x * h[:, None]), rtol=1e-12, atol=1e-9)


def test_weighted_gram_matches_the_direct_product(tall):
    y, x = tall
    h = np.random.default_rng(1).uniform(-1, 1, size=len(y))
    np.testing.assert_allclose(weighted_gram(x, h), x.T @ (x * h[:, None]), rtol=1e-12,
                               atol=1e-9)


@pytest.mark.parametrize("link,kind", [(LogitLink(), "expected"), (ProbitLink(), "observed")])
def test_a_column_major_design_gives_the_row_major_numbers(tall, link, kind):
    """Designs from pandas and from formulas are column-major: the passes take their row
    blocks as they are (column-major scratch), with the numbers of a row-major design."""
    y, x = tall
    xf = np.asfortranarray(x)
    assert xf.flags.f_contiguous and not xf.flags.c_contiguous
    b = np.array([0.1, 0.3, -0.2, 0.05, 0.4])
    for with_info in (True, False):
        got, want = (evaluate(y, a, None, link, b, kind, with_info=with_info) for a in (xf, x))
        np.testing.assert_allclose(got[0], want[0], rtol=1e-13, atol=1e-10)
        np.testing.assert_allclose(got[2], want[2], rtol=1e-14, atol=1e-14)
        if with_info:
            np.testing.assert_allclose(got[1], want[1], rtol=1e-13, atol=1e-10)
    h = np.random.default_rng(4).uniform(-1, 1, size=len(y))
    np.testing.assert_allclose(weighted_gram(xf, h), weighted_gram(x, h), rtol=1e-13,
                               atol=1e-10)


@pytest.mark.parametrize("n,k,m", [(5, 3, 2), (5, 1, 2), (5, 3, 0), (1, 3, 0), (100, 7, 99),
                                   (3, 3, 1), (2, 4, 1), (4, 1, 0), (9000, 4, 8999)])
def test_keep_first_rows_shrinks_a_column_major_matrix_in_place(n, k, m):
    """Overlapping column moves, one column (both C- and F-contiguous), no row kept."""
    from beliefreg.models.formula_blocks import _keep_first_rows

    a = np.empty((n, k), order="F")
    a[...] = np.arange(n * k, dtype=float).reshape(n, k)
    want = a[:m].copy()
    _keep_first_rows(a, m)
    assert a.shape == (m, k) and a.flags.f_contiguous and a.flags.owndata
    np.testing.assert_array_equal(a, want)


def test_cluster_sums_of_a_column_major_design_copy_nothing():
    """scipy's sparse product would copy a column-major design to row-major first; the sums
    are taken a column at a time instead, equal to the row-major ones."""
    import tracemalloc

    from beliefreg.inference.covariance import IndexScores, encode_groups as encode

    rng = np.random.default_rng(8)
    n, k = 200_000, 10
    x = rng.normal(size=(n, k))
    xf = np.asfortranarray(x)
    u = rng.normal(size=n)
    codes, n_groups = encode(rng.integers(0, 300, size=n))
    want = np.zeros((n_groups, k))
    np.add.at(want, codes, x * u[:, None])
    np.testing.assert_allclose(IndexScores(x, u).group_sums(codes, n_groups), want,
                               rtol=1e-10, atol=1e-10)
    tracemalloc.start()
    got = IndexScores(xf, u).group_sums(codes, n_groups)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    assert peak < 0.25 * xf.nbytes  # the indicator (n values and codes), not a design copy


@settings(max_examples=60, deadline=None)
@given(n_blocks=st.integers(0, 3), k=st.integers(1, 4), data=st.data())
def test_constant_columns_equal_the_full_comparison(n_blocks, k, data):
    """The blocked scan equals ``np.all(x == x[0], axis=0)``, with a column broken in any
    block (or by a NaN), in either memory order."""
    n = data.draw(st.integers(1, 3)) + n_blocks * BLOCK_ROWS
    x = np.tile(np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, -2.5, np.nan]),
                                            min_size=k, max_size=k))), (n, 1))
    for _ in range(data.draw(st.integers(0, 3))):
        x[data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, k - 1))] = 7.0
    want = np.all(x == x[0], axis=0)
    for design in (x, np.asfortranarray(x)):
        np.testing.assert_array_equal(constant_columns(design), want)
        assert has_intercept(design) == bool(np.any(want & (x[0] != 0)))


def test_constant_columns_build_no_n_by_k_mask():
    """``df_model`` and the data grid ask which columns are constant of a design of any size;
    the comparison of the whole design with its first row was an n x k boolean temporary."""
    import tracemalloc

    n, k = 400_000, 10
    x = np.ones((n, k))
    x[-1, 3] = 2.0  # found only in the last block: every block is read
    tracemalloc.start()
    got = constant_columns(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert got.tolist() == [True] * 3 + [False] + [True] * 6
    assert peak < 0.25 * n * k  # a block's mask, not the n x k one (n * k bytes)
    assert constant_columns(np.empty((0, 3))).tolist() == [False] * 3


def test_a_data_frame_design_fits_as_the_array():
    """``DataFrame.to_numpy()`` gives a column-major design: the same estimates and standard
    errors as the row-major array, on the reuse path (2^16 rows and more) too."""
    from beliefreg.models import bernoulli

    rng = np.random.default_rng(12)
    n = bernoulli.REUSE_MIN_ROWS + 1000
    x = np.column_stack([np.ones(n), rng.normal(size=(n, 3))])
    y = 1 / (1 + np.exp(-(x @ np.array([0.2, 0.5, -0.4, 0.1])))) + rng.normal(0, 0.01, n)
    y = np.clip(y, 0, 1)
    frame = pd.DataFrame(x, columns=["const", "a", "b", "c"])
    groups = rng.integers(0, 40, size=n)
    model = br.FractionalLogit(pd.Series(y), frame)
    assert model.exog.flags.f_contiguous and not model.exog.flags.c_contiguous
    for cov_type, kwds in (("HC0", None), ("cluster", {"groups": groups})):
        got = model.fit(cov_type=cov_type, cov_kwds=kwds)
        want = br.FractionalLogit(y, x).fit(cov_type=cov_type, cov_kwds=kwds)
        np.testing.assert_allclose(got.params.to_numpy(), want.params.to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(got.bse.to_numpy(), want.bse.to_numpy(), rtol=1e-12)


def test_nonfinite_regressors_are_named_without_a_full_mask(tall):
    y, x = tall
    x = x.copy()
    x[2 * BLOCK_ROWS + 5, 2] = np.inf
    with pytest.raises(DataError, match=r"regressors \['x3'\] are not finite in 1 row"):
        br.FractionalLogit(y, x)
    x[7, 1] = np.nan
    with pytest.raises(DataError, match=r"missing values in 1 row \(first: 7\)"):
        br.FractionalLogit(y, x)


def test_huge_finite_regressors_are_not_reported_as_infinite():
    """A Gram diagonal that overflows sends the check to the exact scan, which finds nothing."""
    rng = np.random.default_rng(2)
    x = np.column_stack([np.ones(50), rng.normal(size=50) * 1e160])
    from beliefreg.models.design import check_finite

    check_finite(x, ["const", "big"], pd.RangeIndex(50))  # no error


@pytest.mark.parametrize("values", [np.array([5, 3, 3, 9, 0, 5]), np.array([7, 7, 8]),
                                    np.array([10**9, 3, 3])])
def test_cluster_codes_equal_sorted_factorize(values):
    ref_codes, ref_uniques = pd.factorize(pd.Series(values), sort=True)
    for given in (pd.Series(values), values, values.astype(np.uint32), values.astype(object),
                  list(values)):
        codes, n = encode_groups(given)
        assert n == len(ref_uniques)
        np.testing.assert_array_equal(codes, ref_codes)


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(3)
    n = 20_000
    df = pd.DataFrame({"y": rng.uniform(size=n), "price": rng.uniform(1, 3, size=n),
                       "age": rng.normal(40, 5, size=n),
                       "brand": rng.choice(["a", "b", "c"], size=n),
                       "g": rng.integers(0, 5, size=n), "flag": rng.uniform(size=n) > 0.5},
                      index=pd.RangeIndex(n) * 3 + 7)
    df.loc[df.index[5], "y"] = np.nan
    df.loc[df.index[7000], "price"] = np.nan
    df.loc[df.index[15000], "brand"] = None
    # a pandas Categorical with a category no row holds, categories not sorted, one missing
    df["cat"] = pd.Categorical(rng.choice(["q", "p", "r"], size=n), categories=["r", "q", "z", "p"])
    df.loc[df.index[12345], "cat"] = None
    return df


def _built_as_dmatrices(formula: str, data: pd.DataFrame, env):
    """Build ``formula`` and check it against ``patsy.dmatrices``: the same columns, rows and
    values, to the bit (the same functions on the same values); returns both."""
    built = build_formula_design(formula, data, env)
    y, x = patsy.dmatrices(formula, data, return_type="dataframe", NA_action="drop",
                           eval_env=env)
    assert built.rhs_info.column_names == list(x.columns)
    assert built.row_labels.equals(x.index)
    np.testing.assert_array_equal(built.exog, x.to_numpy())
    np.testing.assert_array_equal(built.endog, y.to_numpy())
    return built, x


@pytest.mark.parametrize("formula", [
    "y ~ price + age",
    "y ~ np.log(price) + I(age**2) + Q('price'):age + g",
    "y ~ price*age - 1",
    "y ~ C(brand) + np.log(price) + flag",
    "y ~ C(brand):price + center(age) + C(g, Treatment(2))",
    "np.log(price) ~ age + I(g > 2)",
    "y ~ C(brand, Sum) * C(g) + np.log(price):C(brand)",
    "y ~ np.column_stack([price, age]) + C(flag)",
    "y ~ cat + price:C(cat, Sum)",
])
def test_blocked_formula_design_equals_patsy(frame, formula):
    built, x = _built_as_dmatrices(formula, frame, patsy.EvalEnvironment.capture(0))
    # column-major, also after rows were dropped (shrunk in place, column by column)
    assert built.exog.flags["F_CONTIGUOUS"]
    # X'X summed block by block while written, rows dropped for missing values excluded
    np.testing.assert_allclose(built.gram, x.to_numpy().T @ x.to_numpy(), rtol=1e-12,
                               atol=1e-12 * np.abs(built.gram).max())
    # the design information rebuilds new data as patsy's own would
    new = frame.dropna().iloc[:20]
    np.testing.assert_allclose(patsy.build_design_matrices([built.rhs_info], new)[0],
                               patsy.build_design_matrices([x.design_info], new)[0],
                               rtol=1e-13)


@pytest.fixture(scope="module")
def categoricals():
    """pandas Categoricals of several kinds: unused categories, missing values, ordered, and
    categories that are integers, booleans, floats, dates or of mixed types."""
    rng = np.random.default_rng(21)
    n = 5000
    df = pd.DataFrame({"y": rng.uniform(size=n), "x": rng.normal(size=n)})
    df["s"] = pd.Categorical(rng.choice(["q", "p", "r"], size=n), categories=["r", "q", "z", "p"])
    df.loc[df.index[17], "s"] = None
    df["o"] = pd.Categorical(rng.choice(["lo", "mid", "hi"], size=n),
                             categories=["lo", "mid", "hi"], ordered=True)
    df["i"] = pd.Categorical(rng.choice([3, 1, 2], size=n), categories=[3, 1, 2, 7])
    df.loc[df.index[4000], "i"] = np.nan
    df["b"] = pd.Categorical(rng.choice([True, False], size=n))
    df["m"] = pd.Categorical(rng.choice(np.array([1, "a", 2.5], dtype=object), size=n))
    df["f"] = pd.Categorical(rng.choice([0.5, 1.5, 2.0], size=n))
    df["d"] = pd.Categorical(rng.choice(pd.to_datetime(["2020-01-01", "2021-01-01"]), size=n))
    df["two"] = pd.Categorical(rng.choice(["p", "q"], size=n), categories=["z", "q", "p"])
    df["text"] = rng.choice(["p", "q", "r"], size=n)
    return df


@pytest.mark.parametrize("formula", [
    "y ~ s + o + i + b + m + f + d + two",
    "y ~ C(s, levels=['p', 'q', 'r'])",            # a reordering without the unused category
    "y ~ C(s, levels=['p', 'q', 'r', 'z', 'w'])",  # levels no row holds
    "y ~ C(s, Treatment(reference='q')) + C(o, Sum) + C(o, Poly):x",
    "y ~ C(i, levels=[1, 2, 3]) + C(f, levels=[2, 1.5, 0.5]) + C(m, levels=['a', 1, 2.5])",
    "y ~ C(i, levels=[1.0, 2.0, 3.0]) + C(b, levels=[True, False])",
    "y ~ C(two, levels=['q', 'p'])",               # a category no row holds is not a level
    "y ~ s:x + C(i):s",
    # a level given twice: patsy takes it (its code is its last place); pandas cannot look
    # values up in such an index, so these blocks are left to patsy
    "y ~ C(s, levels=['p', 'p', 'q', 'r'])",
    "y ~ C(text, levels=['p', 'p', 'q', 'r'])",
])
def test_categoricals_are_coded_as_patsy_codes_them(categoricals, formula):
    _built_as_dmatrices(formula, categoricals, patsy.EvalEnvironment.capture(0))


def test_a_category_in_use_that_is_not_a_level_is_patsys_error(categoricals):
    env = patsy.EvalEnvironment.capture(0)
    with pytest.raises(patsy.PatsyError, match="'r' does not match any of the expected"):
        build_formula_design("y ~ C(s, levels=['p', 'q'])", categoricals, env)


def test_a_categorical_without_categories_codes_every_row_missing():
    """All missing, no categories (``pd.Categorical([nan] * n, categories=[])``) under
    ``C(x, levels=...)``: every row is dropped as patsy drops it (was an IndexError from the
    lookup of category 0 in an empty table)."""
    n = 50
    df = pd.DataFrame({"y": np.linspace(0.1, 0.9, n), "x": np.arange(n) / n,
                       "e": pd.Categorical([np.nan] * n, categories=[])})
    env = patsy.EvalEnvironment.capture(0)
    formula = "y ~ x + C(e, levels=['a', 'b'])"
    built = build_formula_design(formula, df, env)
    _, x = patsy.dmatrices(formula, df, return_type="dataframe", eval_env=env)
    assert built.exog.shape == x.shape == (0, 3)
    with pytest.warns(br.MissingValueWarning), pytest.raises(br.RankDeficientError,
                                                              match="0 rows"):
        br.FractionalLogit.from_formula(formula, df)


@pytest.mark.parametrize("term", ["e", "C(e)", "C(e, Sum):x"])
def test_a_categorical_without_categories_and_levels_is_named(term):
    """Without levels patsy's coding of zero categories failed with numpy's "negative
    dimensions are not allowed"; the column is named instead."""
    n = 50
    df = pd.DataFrame({"y": np.linspace(0.1, 0.9, n), "x": np.arange(n) / n,
                       "e": pd.Categorical([np.nan] * n, categories=[])})
    with pytest.raises(br.DataError, match=r"column 'e' .* Categorical without categories"):
        br.FractionalLogit.from_formula(f"y ~ x + {term}", df)


def test_a_repeated_level_is_a_rank_error_not_a_pandas_error(categoricals):
    # intercept + a dummy for each of the three levels in use (the first 'p' holds no row)
    for column in ("s", "text"):
        with pytest.raises(br.RankDeficientError):
            br.FractionalLogit.from_formula(f"y ~ C({column}, levels=['p', 'p', 'q', 'r'])",
                                            categoricals)


def test_the_gram_of_a_non_finite_column_has_a_non_finite_diagonal(frame):
    # np.log(0) is -inf: the gram summed block by block flags the column as the whole one does
    env = patsy.EvalEnvironment.capture(0)
    data = frame.dropna().copy()
    data.loc[data.index[12345], "price"] = 0.0
    with np.errstate(divide="ignore"):
        built = build_formula_design("y ~ np.log(price) + age", data, env)
    assert not np.isfinite(built.gram[1, 1])
    assert np.isfinite(built.gram[2, 2]) and np.isfinite(built.gram[0, 0])
    with pytest.raises(br.DataError, match=r"np.log\(price\).*not finite"):
        with np.errstate(divide="ignore"):
            br.FractionalLogit.from_formula("y ~ np.log(price) + age", data)


@pytest.mark.parametrize("formula", [
    "y ~ I(price - price.mean()) + I(age / age.std())",
    "y ~ pd.cut(age, 3) + price",
    "y ~ pd.qcut(price, 4):age",
    "y ~ I(age.rank() / len(age)) + center(price)",
])
def test_a_transform_that_depends_on_the_data_sees_all_the_rows(frame, formula):
    """The factors are evaluated once on the whole frame, as ``dmatrices`` evaluates them:
    evaluated per block of rows, ``x - x.mean()`` took each block's mean (silently different
    numbers) and ``pd.cut`` each block's bins (patsy's mismatching-levels error)."""
    from beliefreg.models import formula_blocks

    assert len(frame) > 4 * formula_blocks._WRITE_ROWS  # several sub-blocks are written
    _built_as_dmatrices(formula, frame, patsy.EvalEnvironment([{"np": np, "pd": pd}]))


def test_a_transform_warns_in_any_block(frame):
    # the X'X of each block is summed without warnings, the user's own transforms still warn
    env = patsy.EvalEnvironment.capture(0)
    data = frame.dropna().copy()
    data.loc[data.index[15000], "price"] = -1.0
    with pytest.warns(RuntimeWarning, match="invalid value"):
        build_formula_design("y ~ np.log(price) + age", data, env)


def test_numeric_terms_are_written_bit_for_bit(frame):
    env = patsy.EvalEnvironment.capture(0)
    formula = "y ~ np.log(price) + price:age + g"
    built = build_formula_design(formula, frame, env)
    _, x = patsy.dmatrices(formula, frame, return_type="dataframe", eval_env=env)
    assert np.array_equal(built.exog, x.to_numpy())


def test_formula_fit_equals_array_fit_and_keeps_cluster_columns(frame):
    data = frame.dropna()
    res_f = br.FractionalLogit.from_formula("y ~ np.log(price) + age", data).fit(
        cov_type="cluster", cov_kwds={"groups": "g"})
    x = np.column_stack([np.ones(len(data)), np.log(data["price"]), data["age"]])
    res_a = br.FractionalLogit(data["y"].to_numpy(), x).fit(
        cov_type="cluster", cov_kwds={"groups": data["g"].to_numpy()})
    np.testing.assert_allclose(res_f.params.to_numpy(), res_a.params.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(res_f.bse.to_numpy(), res_a.bse.to_numpy(), rtol=1e-12)


def test_missing_rows_are_dropped_in_every_block(frame):
    with pytest.warns(br.MissingValueWarning, match="3 of 20000 rows dropped"):
        design = design_from_formula("y ~ C(brand) + price", frame)
    assert design.nobs == len(frame) - 3
    assert frame.index[5] not in design.row_labels


def test_warnings_inside_the_single_thread_fit_point_at_the_caller():
    """The BLAS limit is a with block, not a wrapper: warnings keep pointing at user code."""
    import warnings

    x = np.column_stack([np.ones(40), np.linspace(-1, 1, 40)])
    y = (x[:, 1] > 0).astype(float)  # perfect separation
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        br.Logit(y, x).fit()
    assert caught and all(w.filename == __file__ for w in caught
                          if issubclass(w.category, br.SeparationWarning))
    shares = np.random.default_rng(0).dirichlet(np.ones(3), size=60)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        br.MultinomialFractionalLogit(shares, np.column_stack([np.ones(60),
                                                               np.arange(60.0)])).fit(maxiter=1)
    conv = [w for w in caught if issubclass(w.category, br.ConvergenceWarning)]
    assert conv and all(w.filename == __file__ for w in conv)


_POOLS = {"text": ["p", "q", "r", "s", "t"], "int": [3, 1, 2, 7, 0], "bool": [True, False],
          "float": [0.5, 1.5, 2.0, -1.0]}


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_level_codes_of_a_categorical_are_categorical_to_int(data):
    """A pandas Categorical (any categories, some unused, missing values, ordered or not)
    under ``C(x, levels=...)`` with levels reordered, a subset or with extras: the codes of
    ``patsy.categorical.categorical_to_int`` or None (patsy then codes it, raising its
    error for a value that is not a level)."""
    from patsy.categorical import _CategoricalBox, categorical_to_int

    from beliefreg.models.formula_blocks import _level_codes

    pool = _POOLS[data.draw(st.sampled_from(sorted(_POOLS)))]
    categories = data.draw(st.lists(st.sampled_from(pool), min_size=0, max_size=len(pool),
                                    unique=True))
    codes = data.draw(st.lists(st.integers(-1, len(categories) - 1), min_size=1, max_size=40))
    values = pd.Series(pd.Categorical.from_codes(
        codes, categories=categories, ordered=data.draw(st.booleans())))
    levels = tuple(data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=len(pool),
                                      unique=True)))
    try:
        want = np.asarray(categorical_to_int(_CategoricalBox(values, None, levels), levels,
                                             patsy.NAAction("drop")))
    except patsy.PatsyError:
        want = None
    got = _level_codes(_CategoricalBox(values, None, levels), levels, len(values))
    if want is None:
        assert got is None
    elif got is not None:
        np.testing.assert_array_equal(got, want)
    # a plain Categorical column: its levels are its categories
    if categories:
        plain = tuple(categories)
        np.testing.assert_array_equal(
            _level_codes(values, plain, len(values)),
            categorical_to_int(values, plain, patsy.NAAction("drop")))
