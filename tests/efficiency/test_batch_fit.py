"""The vectorised logit fits return what FractionalLogit and Logit return, separation included."""

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import beliefreg as br
from beliefreg.efficiency.batch_fit import fit_logit_many


def _reference(y, x):
    """(params, separated) from the estimation core; a failed covariance is separation."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            params = br.FractionalLogit(y, x).fit().params.to_numpy()
        except np.linalg.LinAlgError:
            params = None
    separated = any(issubclass(w.category, br.SeparationWarning) for w in caught)
    if params is None:
        assert separated  # the core only fails to form the covariance under separation
    return params, separated


@st.composite
def problems(draw):
    c = draw(st.integers(3, 10))
    k = draw(st.integers(2, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(c), rng.normal(size=(c, k - 1))])
    beta = rng.normal(scale=draw(st.sampled_from([0.3, 1.5, 4.0])), size=k)
    m = 1 / (1 + np.exp(-x @ beta))
    runs = draw(st.sampled_from([1, 2, 5, 30]))
    kind = draw(st.sampled_from(["choice", "belief"]))
    if kind == "choice":
        y = (rng.random((12, runs, c)) < m).mean(axis=1)
    else:
        y = rng.beta(3 * m + 0.01, 3 * (1 - m) + 0.01, size=(12, runs, c)).mean(axis=1)
    return y, x


@settings(max_examples=25)
@given(problems())
def test_batch_matches_the_estimation_core(problem):
    y, x = problem
    fit = fit_logit_many(y, x)
    for i in range(len(y)):
        params, separated = _reference(y[i], x)
        assert fit.separated[i] == separated
        if not separated:
            assert fit.converged[i]
            np.testing.assert_allclose(fit.params[i], params, rtol=1e-8, atol=1e-8)


def test_logit_of_choices_equals_fit_on_condition_means():
    # the reduction the vectorised path relies on: same runs per condition -> same estimate
    rng = np.random.default_rng(5)
    price = np.repeat([1.0, 2.0, 3.0, 4.0], 7)
    x = np.column_stack([np.ones_like(price), np.log(price)])
    y = (rng.random(len(price)) < 1 / (1 + np.exp(-(1 - np.log(price))))).astype(float)
    row_level = br.Logit(y, x).fit().params.to_numpy()
    means = y.reshape(4, 7).mean(axis=1)
    fit = fit_logit_many(means[None, :], np.unique(x, axis=0))
    np.testing.assert_allclose(fit.params[0], row_level, rtol=1e-9)


def test_perfect_separation_is_flagged_not_crashed():
    x = np.column_stack([np.ones(6), np.arange(6.0)])
    y = np.array([[1, 1, 1, 0, 0, 0], [1, 0, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0.0]])
    fit = fit_logit_many(y, x)
    assert fit.separated.tolist() == [True, False, True]
    assert np.isfinite(fit.params).all()
