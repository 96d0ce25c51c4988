"""Large designs start from a subsample and reuse Hessians; the estimate is the same.

Issue 16, item 2: designs of at least ``REUSE_MIN_ROWS`` rows start from a fit on every
``PRESAMPLE_STRIDE``-th row and take chord steps (the gradient of the pass, the Hessian of an
earlier one) where a Newton step was already small. Each test compares this path with plain
Newton steps on the same data (``REUSE_MIN_ROWS`` raised above n), or with statsmodels, and
counts the passes over the rows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import beliefreg as br
from beliefreg.exceptions import SeparationWarning
from beliefreg.models import bernoulli

N = 40_000  # above the lowered threshold below, so the tests stay fast


def _data(n=N, k=6, seed=0, fractional=True, weights=False):
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])
    beta = rng.normal(scale=0.4, size=k)
    mu = 1.0 / (1.0 + np.exp(-(x @ beta)))
    y = rng.beta(4 * mu + 0.01, 4 * (1 - mu) + 0.01) if fractional else rng.binomial(1, mu)
    w = rng.uniform(0.2, 3.0, n) if weights else None
    return y.astype(float), x, w, rng.integers(0, 300, n)


def _fit_both(monkeypatch, model, y, x, w, g, polish=True, **fit_kwds):
    """The fit with reuse (threshold 4096), with plain Newton steps (threshold above n), and
    the reference: plain Newton's estimate polished by three more Newton steps (without a
    stopping rule), where the fit then evaluates its covariance."""
    if fit_kwds.get("cov_type") == "cluster":
        fit_kwds["cov_kwds"] = {"groups": g}
    monkeypatch.setattr(bernoulli, "REUSE_MIN_ROWS", 4096)
    reuse = model(y, x, weights=w).fit(**fit_kwds)
    monkeypatch.setattr(bernoulli, "REUSE_MIN_ROWS", 10 * len(y))
    m = model(y, x, weights=w)
    plain = m.fit(**fit_kwds)
    if not polish:
        return reuse, plain, None
    b = plain.params.to_numpy()
    kind = "expected" if m.link.canonical else "observed"
    for _ in range(3):
        grad, info, _eta = bernoulli.evaluate(y, x, w, m.link, b, kind)
        b = b + np.linalg.solve(info, grad)
    ref = m.fit(start_params=b, **fit_kwds)
    np.testing.assert_array_equal(ref.params.to_numpy(), b)  # evaluated at b itself
    return reuse, plain, ref


def _assert_close(res, ref, tol):
    """Parameters within ``tol`` on the fit's own scale (that of the linear predictor:
    ``|db_j| s_j / (1 + |b_j| s_j)``, ``s_j`` the column's root mean square), standard errors
    and covariances within ``tol`` relative."""
    x = ref.model.exog
    s = np.sqrt(np.einsum("ij,ij->j", x, x) / len(x))
    a, b = res.params.to_numpy(), ref.params.to_numpy()
    gap = np.abs(a - b) * s / (1 + np.abs(b) * s)
    assert gap.max() <= tol, f"params: {gap.max():.2g} > {tol:g} on the linear predictor's scale"
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse.to_numpy(), rtol=tol, err_msg="bse")
    a, b = res.cov_params().to_numpy(), ref.cov_params().to_numpy()
    np.testing.assert_allclose(a, b, rtol=10 * tol, atol=10 * tol * np.abs(b).max())


def _assert_same(reuse, plain, ref):
    """Reuse reaches the maximum to 1e-12; plain Newton to its tolerance (1e-10)."""
    _assert_close(reuse, ref, 1e-12)
    _assert_close(plain, ref, 1e-9)


@pytest.mark.parametrize("model,fractional", [(br.FractionalLogit, True),
                                              (br.FractionalProbit, True),
                                              (br.Logit, False)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cov_type", ["HC0", "cluster", "nonrobust"])
def test_the_estimate_and_its_covariance_equal_plain_newton(monkeypatch, model, fractional,
                                                            weighted, cov_type):
    y, x, w, g = _data(fractional=fractional, weights=weighted)
    reuse, plain, ref = _fit_both(monkeypatch, model, y, x, w, g, cov_type=cov_type)
    assert reuse.converged and plain.converged
    _assert_same(reuse, plain, ref)


@pytest.mark.parametrize("hessian", ["observed", "expected"])
def test_probit_with_either_hessian(monkeypatch, hessian):
    y, x, w, g = _data(seed=3)
    _assert_same(*_fit_both(monkeypatch, br.FractionalProbit, y, x, None, g,
                            cov_type="cluster", hessian=hessian))


def _count_passes(monkeypatch, fit):
    calls = []
    original = bernoulli.evaluate

    def counted(y, exog, *args, **kwargs):
        calls.append((len(y), kwargs.get("with_info", True)))
        return original(y, exog, *args, **kwargs)

    monkeypatch.setattr(bernoulli, "evaluate", counted)
    fit()
    return calls


def test_fewer_hessian_passes_over_all_rows(monkeypatch):
    y, x, w, g = _data()
    n = len(y)

    def fit():
        br.FractionalLogit(y, x).fit(cov_type="cluster", cov_kwds={"groups": g})

    monkeypatch.setattr(bernoulli, "REUSE_MIN_ROWS", 10 * n)
    plain = [c for c in _count_passes(monkeypatch, fit) if c[0] == n]
    monkeypatch.setattr(bernoulli, "REUSE_MIN_ROWS", 4096)
    reuse = _count_passes(monkeypatch, fit)
    full = [c for c in reuse if c[0] == n]
    assert all(with_info for _, with_info in plain)
    hessian_passes = sum(with_info for _, with_info in full)
    # plain Newton: 5 passes with a Hessian; reuse: 2 (after the subsample's start, and the
    # last), the others gradient only
    assert len(plain) >= 4
    assert hessian_passes <= len(plain) - 2
    assert full[-1][1], "the last pass must compute the Hessian (the covariance's bread)"
    # the subsample's passes see every PRESAMPLE_STRIDE-th row
    sub = [c for c in reuse if c[0] != n]
    assert sub and all(c[0] == len(range(0, n, bernoulli.PRESAMPLE_STRIDE)) for c in sub)


def test_a_wide_design_takes_no_subsample_start_but_still_reuses_hessians(monkeypatch):
    # 40,000 rows / 32 = 1,250 subsample rows, fewer than 64 per column for 25 columns
    y, x, w, g = _data(k=25, seed=13)
    monkeypatch.setattr(bernoulli, "REUSE_MIN_ROWS", 4096)
    calls = _count_passes(monkeypatch, lambda: br.FractionalLogit(y, x).fit())
    assert all(n == len(y) for n, _ in calls)  # no subsample pass
    assert any(not with_info for _, with_info in calls)  # chord steps all the same
    _assert_same(*_fit_both(monkeypatch, br.FractionalLogit, y, x, None, g))


@pytest.mark.parametrize("drawn", [0, 2])
def test_sorted_rows_and_a_rare_dummy(monkeypatch, drawn):
    # sorted by the outcome, with a dummy that is 1 on 7 rows, of which `drawn` are in the
    # subsample: with none, the subsample's design is singular and gives no start (plain
    # Newton steps); with two, its Hessian is poor in that direction and the steps recover
    y, x, w, g = _data(seed=5)
    order = np.argsort(y)
    y, x, g = y[order], x[order], g[order]
    rows = np.linspace(1001, len(y) - 1001, 7).astype(int) | 1  # odd: not in the subsample
    rows[:drawn] = rows[:drawn] // bernoulli.PRESAMPLE_STRIDE * bernoulli.PRESAMPLE_STRIDE
    assert np.count_nonzero(rows % bernoulli.PRESAMPLE_STRIDE == 0) == drawn
    rare = np.zeros(len(y))
    rare[rows] = 1.0
    x = np.column_stack([x, rare])
    monkeypatch.setattr(bernoulli, "REUSE_MIN_ROWS", 4096)
    calls = _count_passes(monkeypatch, lambda: br.FractionalLogit(y, x).fit())
    started = any(n < len(y) for n, _ in calls)
    assert started == (drawn > 0)  # none drawn: singular subsample, no start from it
    _assert_same(*_fit_both(monkeypatch, br.FractionalLogit, y, x, None, g, cov_type="HC0"))


def test_a_bad_subsample_start_falls_back(monkeypatch):
    # a subsample Hessian 100x too small makes the first chord step overshoot: it is rejected
    # and a Newton step is taken from the same point; the estimate is unchanged
    y, x, w, g = _data(seed=7)
    original = bernoulli._presample

    def bad(*args, **kwargs):
        b, info = original(*args, **kwargs)
        return b, info / 100.0

    monkeypatch.setattr(bernoulli, "_presample", bad)
    monkeypatch.setattr(bernoulli, "REUSE_MIN_ROWS", 4096)
    calls = _count_passes(monkeypatch, lambda: br.FractionalLogit(y, x).fit())
    _assert_same(*_fit_both(monkeypatch, br.FractionalLogit, y, x, None, g))
    full = [c for c in calls if c[0] == len(y)]
    # the gradient at the start, the rejected trial, then a Newton pass at the start
    assert full[:3] == [(len(y), False), (len(y), True), (len(y), True)]


def test_separation_is_found_and_reported_the_same_way(monkeypatch):
    y, x, w, g = _data(seed=9, fractional=False)
    x = np.column_stack([x, np.where(y > 0, 0.0, np.random.default_rng(1).uniform(0, 1, len(y)))])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reuse, plain, _ = _fit_both(monkeypatch, br.Logit, y, x, None, g, polish=False,
                                    cov_type="HC0")
    assert sum(issubclass(c.category, SeparationWarning) for c in caught) == 2
    assert reuse.converged and plain.converged
    # the separating coefficient diverges; the others agree
    np.testing.assert_allclose(reuse.params.to_numpy()[:-1], plain.params.to_numpy()[:-1],
                               rtol=1e-6, atol=1e-6)
    assert reuse.params.iloc[-1] < -10 and plain.params.iloc[-1] < -10


def test_matches_statsmodels_at_the_default_threshold():
    # the default path at 2**17 rows, against statsmodels' GLM (an independent fit)
    n = 2 * bernoulli.REUSE_MIN_ROWS
    y, x, w, g = _data(n=n, k=5, seed=11)
    res = br.FractionalLogit(y, x).fit(cov_type="cluster", cov_kwds={"groups": g})
    ref = sm.GLM(y, x, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": g}, tol=1e-14)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params, rtol=1e-10)
    # both apply the small-sample factor G/(G-1) (n-1)/(n-k) (Stata's CR1)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse, rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(2, 7),
       scale=st.floats(0.05, 1.5), fractional=st.booleans())
def test_property_reuse_equals_plain_newton(seed, k, scale, fractional):
    rng = np.random.default_rng(seed)
    n = 6000
    x = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1)) * rng.uniform(0.1, 10, k - 1)])
    beta = rng.normal(scale=scale, size=k) / np.r_[1.0, x[:, 1:].std(axis=0)]
    mu = 1.0 / (1.0 + np.exp(-(x @ beta)))
    y = rng.beta(3 * mu + 0.01, 3 * (1 - mu) + 0.01) if fractional else rng.binomial(1, mu)
    y = y.astype(float)
    old = bernoulli.REUSE_MIN_ROWS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mp = pytest.MonkeyPatch()
            reuse, plain, ref = _fit_both(mp, br.FractionalLogit, y, x, None, None,
                                          polish=False)
            assume_fine = plain.converged and not np.any(
                np.minimum(plain.fittedvalues, 1 - plain.fittedvalues) < 1e-8)
            if assume_fine:
                reuse, plain, ref = _fit_both(mp, br.FractionalLogit, y, x, None, None)
    finally:
        bernoulli.REUSE_MIN_ROWS = old
    assume(assume_fine)  # separated or unconverged draws are the separation tests' business
    _assert_same(reuse, plain, ref)


def test_a_given_start_is_kept(monkeypatch):
    # a warm start at the maximum: one pass with the Hessian, no subsample, the start returned
    y, x, w, g = _data(seed=17)
    _, _, ref = _fit_both(monkeypatch, br.FractionalLogit, y, x, None, g)
    monkeypatch.setattr(bernoulli, "REUSE_MIN_ROWS", 4096)
    start = ref.params.to_numpy()
    calls = _count_passes(monkeypatch, lambda: br.FractionalLogit(y, x).fit(start_params=start))
    assert calls == [(len(y), True)]
    res = br.FractionalLogit(y, x).fit(start_params=start)
    np.testing.assert_array_equal(res.params.to_numpy(), start)
    # a far start still converges to the same maximum
    _assert_close(br.FractionalLogit(y, x).fit(start_params=np.zeros(x.shape[1])), ref, 1e-12)


def test_uneven_weights(monkeypatch):
    # lognormal weights, and 20 rows of weight 5000 that the subsample misses: the subsample's
    # Hessian is scaled by the weights' sums; the estimate is the maximum
    y, x, w, g = _data(seed=19)
    w = np.random.default_rng(2).lognormal(0.0, 1.5, len(y))
    heavy = np.arange(1, 41, 2) * 977  # odd: not multiples of the stride
    w[heavy] = 5000.0
    _assert_same(*_fit_both(monkeypatch, br.FractionalLogit, y, x, w, g, cov_type="HC1"))
