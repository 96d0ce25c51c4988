"""Property tests: equivariance to rescaling, invariance to the weights' scale."""

import numpy as np
import pandas as pd
from hypothesis import given, strategies as st

import beliefreg as br

MODELS = st.sampled_from([br.FractionalLogit, br.FractionalProbit])


def _data(seed: int, n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.uniform(0, 3, size=n)
    p = 1 / (1 + np.exp(-(0.2 + 0.7 * x1 - 0.5 * x2)))
    y = rng.beta(4 * p + 0.1, 4 * (1 - p) + 0.1)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": rng.integers(0, 12, n),
                         "w": rng.uniform(0.5, 2.0, n)})


@given(seed=st.integers(0, 10_000), scale=st.floats(1e-3, 1e3), model=MODELS,
       cov=st.sampled_from(["HC0", "HC1", "nonrobust", "cluster"]))
def test_rescaling_a_regressor_rescales_its_coefficient_and_se(seed, scale, model, cov):
    data = _data(seed)
    kw = {"groups": "g"} if cov == "cluster" else None
    base = model.from_formula("y ~ x1 + x2", data).fit(cov_type=cov, cov_kwds=kw)
    scaled = model.from_formula("y ~ x1 + x2", data.assign(x1=data.x1 * scale)).fit(
        cov_type=cov, cov_kwds=kw)
    np.testing.assert_allclose(scaled.params["x1"] * scale, base.params["x1"], rtol=1e-7)
    np.testing.assert_allclose(scaled.bse["x1"] * scale, base.bse["x1"], rtol=1e-7)
    np.testing.assert_allclose(scaled.params[["Intercept", "x2"]], base.params[["Intercept", "x2"]],
                               rtol=1e-7, atol=1e-10)


@given(seed=st.integers(0, 10_000), factor=st.floats(0.01, 100), model=MODELS)
def test_multiplying_all_weights_changes_no_estimate_nor_robust_se(seed, factor, model):
    data = _data(seed)
    a = model.from_formula("y ~ x1 + x2", data, weights="w").fit(cov_type="cluster",
                                                                 cov_kwds={"groups": "g"})
    b = model.from_formula("y ~ x1 + x2", data, weights=data.w * factor).fit(
        cov_type="cluster", cov_kwds={"groups": "g"})
    np.testing.assert_allclose(b.params, a.params, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(b.bse, a.bse, rtol=1e-7)


@given(seed=st.integers(0, 10_000))
def test_doubling_every_weight_changes_no_estimate(seed):
    data = _data(seed)
    a = br.FractionalLogit.from_formula("y ~ x1 + x2", data).fit()
    b = br.FractionalLogit.from_formula("y ~ x1 + x2", data, weights=np.full(len(data), 2.0)).fit()
    np.testing.assert_allclose(b.params, a.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.bse, a.bse, rtol=1e-8)


@given(seed=st.integers(0, 10_000), model=MODELS)
def test_integer_weights_equal_duplicated_rows(seed, model):
    data = _data(seed, n=60)
    reps = np.random.default_rng(seed).integers(1, 4, len(data))
    weighted = model.from_formula("y ~ x1 + x2", data, weights=reps.astype(float)).fit(
        cov_type="nonrobust")
    expanded = model.from_formula("y ~ x1 + x2", data.loc[data.index.repeat(reps)]).fit(
        cov_type="nonrobust")
    np.testing.assert_allclose(weighted.params, expanded.params, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(weighted.bse, expanded.bse, rtol=1e-8)
