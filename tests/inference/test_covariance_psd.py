"""Issue 12, item 2: a covariance that is not positive semi-definite never becomes a zero or
negative variance downstream.

The reproduced case: two-way clustering with few groups gives a covariance with a positive
diagonal and a negative eigenvalue. Before the fix there was no warning, ``nlcom`` in the
direction of the negative eigenvalue gave ``std_err`` 0.0 (z = inf, p = 0), ``get_prediction``
a standard error of 0.0 and ``wald_test`` a negative statistic. Now: a CovarianceWarning at fit
naming the eigenvalues, and NaN (with a reason) for every quantity whose variance is not
positive, unless ``fix=True`` (eigenvalue clipping) was asked for. With G <= k one-way clusters
the covariance is singular, and the fit says so.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.exceptions import CovarianceWarning


def _two_way_data():
    rng = np.random.default_rng(12)  # found by search: two-way V with a negative eigenvalue
    n = 60
    a = rng.integers(0, 3, n)
    b = rng.integers(0, 4, n)
    x1 = rng.normal(size=n) + 0.5 * a
    x2 = rng.normal(size=n) + 0.5 * b
    mu = 1 / (1 + np.exp(-(0.2 + 0.5 * x1 - 0.3 * x2)))
    y = rng.beta(mu * 5 + 0.1, (1 - mu) * 5 + 0.1)
    return y, np.column_stack([np.ones(n), x1, x2]), np.column_stack([a, b])


@pytest.fixture(scope="module")
def non_psd():
    y, x, groups = _two_way_data()
    with pytest.warns(CovarianceWarning, match="not positive semi-definite") as record:
        res = br.FractionalLogit(y, x).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert "eigenvalues -0.00257" in str(record[0].message)
    return res


def _negative_direction(res):
    values, vectors = np.linalg.eigh(res.cov_params().to_numpy())
    assert values[0] < 0 < np.diag(res.cov_params()).min()  # the trap: a positive diagonal
    return vectors[:, 0]


def test_fit_warns_with_eigenvalues_and_check_is_recorded(non_psd):
    check = non_psd.cov_check
    assert not check.psd and not check.fixed
    assert check.eigenvalues[0] == pytest.approx(-0.00257145, rel=1e-4)
    # the diagonal is positive, so the coefficient SEs exist
    assert np.isfinite(non_psd.bse).all() and (non_psd.bse > 0).all()
    assert "not positive semi-definite" in str(non_psd.summary())


def test_nlcom_in_negative_direction_is_nan_not_zero(non_psd):
    d = _negative_direction(non_psd)
    with pytest.warns(CovarianceWarning, match="is not positive"):
        frame = non_psd.nlcom(lambda p: p.to_numpy() @ d, name="bad").summary_frame()
    assert np.isnan(frame.loc["bad", "std_err"])
    assert np.isnan(frame.loc["bad", "z"]) and np.isnan(frame.loc["bad", "p_value"])
    assert np.isnan(frame.loc["bad", "ci_lower"])
    # a well-behaved direction is unaffected
    good = non_psd.nlcom("x1").summary_frame()
    assert good.loc["x1", "std_err"] == pytest.approx(non_psd.bse["x1"])


def test_t_test_and_wald_test_refuse_negative_variance(non_psd):
    d = _negative_direction(non_psd)
    with pytest.warns(CovarianceWarning):
        t = non_psd.t_test((d[None, :], np.zeros(1)))
    assert np.isnan(t.sd).all() and np.isnan(t.statistic).all()
    with pytest.warns(CovarianceWarning, match="Wald statistic is NaN"):
        w = non_psd.wald_test(np.eye(3))
    assert np.isnan(w.statistic)  # was -41.83-like: a negative chi-squared


def test_get_prediction_se_is_nan_not_zero(non_psd):
    d = _negative_direction(non_psd)
    with pytest.warns(CovarianceWarning):
        pred = non_psd.get_prediction(d[None, :]).summary_frame()
    assert np.isnan(pred["mean_se"].iloc[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok = non_psd.get_prediction(np.array([[1.0, 0.0, 0.0]])).summary_frame()
    assert ok["mean_se"].iloc[0] > 0


def test_fix_true_clips_and_never_warns():
    y, x, groups = _two_way_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CovarianceWarning)
        res = br.FractionalLogit(y, x).fit(cov_type="cluster",
                                           cov_kwds={"groups": groups, "fix": True})
        d = _eig_min(res)
        se = res.nlcom(lambda p: p.to_numpy() @ d, name="clipped").std_err.iloc[0]
        w = res.wald_test(np.eye(3))
    assert res.cov_check.fixed and np.linalg.eigvalsh(res.cov_params())[0] >= -1e-15
    assert se == pytest.approx(0.0, abs=1e-8)  # the clipped direction: 0, as asked
    assert np.isfinite(w.statistic) and w.statistic >= 0


def _eig_min(res):
    return np.linalg.eigh(res.cov_params().to_numpy())[1][:, 0]


def test_two_clusters_three_parameters_is_singular():
    rng = np.random.default_rng(3)
    n = 40
    g = np.repeat([0, 1], n // 2)
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = rng.uniform(0.1, 0.9, size=n)
    with pytest.warns(CovarianceWarning, match="singular: 2 clusters for 3 parameters"):
        res = br.FractionalLogit(y, x).fit(cov_type="cluster", cov_kwds={"groups": g})
    assert res.cov_check.singular
    values, vectors = np.linalg.eigh(res.cov_params().to_numpy())
    null = vectors[:, 0]  # rank <= G - 1 = 1: two null directions
    with pytest.warns(CovarianceWarning, match="2 clusters for 3 parameters"):
        se = res.nlcom(lambda p: p.to_numpy() @ null, name="null").std_err.iloc[0]
    assert np.isnan(se)


def test_psd_covariance_gives_no_warning_and_zero_jacobian_gives_zero():
    rng = np.random.default_rng(4)
    n = 200
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.uniform(0.1, 0.9, size=n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = br.FractionalLogit(y, x).fit()
        const = res.nlcom(lambda p: 0.0 * p.to_numpy()[0] + 2.0, name="c").summary_frame()
    assert res.cov_check.ok
    assert const.loc["c", "std_err"] == 0.0  # a constant: exactly no variance, not NaN


def test_share_model_inherits_the_check():
    rng = np.random.default_rng(12)
    n = 60
    a, b = rng.integers(0, 3, n), rng.integers(0, 3, n)
    x = rng.normal(size=n) + a - b
    y = rng.dirichlet([2, 2, 2], size=n)
    frame = pd.DataFrame(y, columns=["s1", "s2", "s3"]).assign(x=x, a=a, b=b)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        res = br.MultinomialFractionalLogit.from_formula("s1 + s2 + s3 ~ x", frame).fit(
            cov_type="cluster", cov_kwds={"groups": ["a", "b"]})
    values = np.linalg.eigvalsh(res.cov_params().to_numpy())
    warned = any(issubclass(w.category, CovarianceWarning) for w in record)
    assert warned == (values[0] < -1e-10 * values[-1]) or res.cov_check.singular
    # bse never 0 for a parameter with negative variance; NaN instead
    diag = np.diag(res.cov_params().to_numpy())
    assert np.array_equal(np.isnan(res.bse.to_numpy()), diag <= 0)


# ---------------------------------------------------------------------------------- properties
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

from beliefreg.inference.wald import WaldInference, check_covariance  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(eig=arrays(float, 3, elements=st.floats(-1.0, 1.0)),
       rot=arrays(float, (3, 3), elements=st.floats(-1.0, 1.0)),
       jac=arrays(float, (4, 3), elements=st.floats(-2.0, 2.0)))
def test_standard_errors_are_never_zero_or_imaginary_for_a_moving_quantity(eig, rot, jac):
    q, _ = np.linalg.qr(rot + 3 * np.eye(3))
    v = (q * eig) @ q.T
    v = 0.5 * (v + v.T)
    check = check_covariance(v, nparams=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CovarianceWarning)
        se = WaldInference(None, check).std_errors(jac, v)
    var = np.einsum("ij,jk,ik->i", jac, v, jac)
    moving = np.any(jac != 0, axis=1)
    assert np.all(se[~moving] == 0.0)
    ok = moving & np.isfinite(se)
    assert np.all(se[ok] > 0) and np.allclose(se[ok] ** 2, var[ok])  # a positive variance
    assert np.all(var[moving & ~np.isfinite(se)] <= 1e-12 * (1 + np.abs(v).sum() * 4))
    # clipping (fix=True): never NaN, never negative
    fixed = check_covariance(v, nparams=3, fixed=True)
    se_fix = WaldInference(None, fixed).std_errors(jac, v)
    assert np.all(np.isfinite(se_fix)) and np.all(se_fix >= 0)
    assert check.psd == bool(eig.min() >= -1e-10 * max(np.abs(eig).max(), 0))


def test_clusters_fitted_exactly_give_nan_not_round_off_standard_errors():
    # two prices, two parameters: the model fits each price cluster's mean belief exactly, so
    # every cluster's score sum is 0 and the CR1 covariance is round-off (about 1e-29): a
    # standard error of 1e-15 with z = 1e14 must not come out of it (a new user's report)
    rng = np.random.default_rng(5)
    d = pd.DataFrame({"price": np.repeat([20.0, 50.0], 10),
                      "belief": rng.uniform(0.3, 0.7, size=20)})
    with pytest.warns(CovarianceWarning, match="numerically zero"):
        res = br.FractionalLogit.from_formula("belief ~ np.log(price)", d).fit(
            cov_type="cluster", cov_kwds={"groups": "price"})
    assert res.cov_check.degenerate and res.cov_check.singular
    assert np.abs(res.cov_params().to_numpy()).max() < 1e-20  # the round-off itself
    assert res.bse.isna().all() and res.pvalues.isna().all()
    assert res.conf_int().isna().all().all()
    with pytest.warns(CovarianceWarning):
        el = res.elasticity("price")
    assert np.isnan(el["std_err"]).all()
    with pytest.warns(CovarianceWarning):
        assert np.isnan(res.wald_test("np.log(price) = 0").statistic)
    # HC0 on the same data is fine: the rule is about the cluster sums, not the data
    assert res.model.fit(cov_type="HC0").bse.gt(0).all()


def test_few_clusters_with_real_variation_keep_their_standard_errors():
    # G = k = 2 but the clusters are not fitted exactly: the covariance is singular (rank 1)
    # yet not numerically zero, so a coefficient with positive variance keeps its SE
    rng = np.random.default_rng(6)
    n = 40
    g = np.repeat([0, 1], n // 2)
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.uniform(0.1, 0.9, size=n)
    with pytest.warns(CovarianceWarning, match="2 clusters for 2 parameters"):
        res = br.FractionalLogit(y, x).fit(cov_type="cluster", cov_kwds={"groups": g})
    assert not res.cov_check.degenerate
    assert res.bse.notna().any()
