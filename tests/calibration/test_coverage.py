"""Seeded Monte Carlo: PPI++ intervals cover the human parameter at the nominal rate with a
deliberately biased "LLM" (shifted and noisy beliefs), HC0 and clustered designs, and are
narrower than the human-only intervals when the LLM is informative.

The estimand is the pseudo-true logit of y on x in the population (z, which the LLM sees, is
omitted from the regression), computed once from two million draws. The replications call the
estimator on arrays (``beliefreg.calibration.estimator.ppi_fit``, the function ``calibrate``
calls after building the designs) to keep the test short.
"""

import numpy as np
import pytest
from scipy import stats

import beliefreg as br
from beliefreg.calibration.estimator import Samples, ppi_fit
from beliefreg.calibration.families import BinaryFamily
from beliefreg.models.links import LogitLink

REPS = 1000
Z = stats.norm.isf(0.025)
FAMILY = BinaryFamily(LogitLink(), 2)


def _expit(v):
    return 1.0 / (1.0 + np.exp(-v))


def _population(rng, m, person_effect=None):
    x = rng.normal(size=m)
    z = rng.normal(size=m) if person_effect is None else person_effect
    eta = 0.3 + 0.8 * x + 2.0 * z
    y = (rng.uniform(size=m) < _expit(eta)).astype(float)
    belief = _expit(0.7 * eta + 0.6 + rng.normal(0.0, 0.7, m))   # shifted, shrunk, noisy
    return np.column_stack([np.ones(m), x]), y, belief


@pytest.fixture(scope="module")
def truth():
    rng = np.random.default_rng(20261130)
    x, y, _ = _population(rng, 2_000_000)
    return br.Logit(y, x).fit().params.to_numpy()


@pytest.fixture(scope="module")
def truth_clustered():
    rng = np.random.default_rng(20261131)
    persons = 500_000
    z = np.repeat(rng.normal(size=persons), 4)
    x, y, _ = _population(rng, persons * 4, person_effect=z)
    return br.Logit(y, x).fit().params.to_numpy()


def _coverage(draw, truth):
    hits_ppi, hits_human, width_ppi, width_human, lams = [], [], [], [], []
    for _ in range(REPS):
        s = draw()
        human = ppi_fit(s, np.zeros(2), lam=0.0)
        start = human.params
        ppi = ppi_fit(s, start)
        for fit, hits, widths in ((ppi, hits_ppi, width_ppi), (human, hits_human, width_human)):
            se = np.sqrt(np.diag(fit.cov))
            hits.append(np.abs(fit.params - truth) <= Z * se)
            widths.append(2 * Z * se)
        lams.append(ppi.lam)
    return (np.mean(hits_ppi, axis=0), np.mean(hits_human, axis=0),
            np.mean(width_ppi, axis=0), np.mean(width_human, axis=0), np.mean(lams))


@pytest.mark.slow
def test_coverage_hc0(truth):
    rng = np.random.default_rng(1)

    def draw():
        x, y, f = _population(rng, 300)
        xu, _, fu = _population(rng, 2000)
        return Samples(FAMILY, x, y, f, np.ones(300), xu, fu, np.ones(2000))

    cov_ppi, cov_human, w_ppi, w_human, lam = _coverage(draw, truth)
    assert np.all((cov_ppi >= 0.93) & (cov_ppi <= 0.97)), cov_ppi
    assert np.all((cov_human >= 0.93) & (cov_human <= 0.97)), cov_human
    assert np.all(w_ppi < 0.9 * w_human), (w_ppi, w_human)
    assert 0.2 < lam <= 1.0


@pytest.mark.slow
def test_coverage_clustered(truth_clustered):
    """150 persons answer 4 questions each (a person effect the LLM sees); the simulated rows
    are 100 of those persons' personas at 4 new questions each (clusters spanning both
    samples) plus 400 new personas."""
    rng = np.random.default_rng(2)
    g_h, q = 150, 4

    def draw():
        z_h = rng.normal(size=g_h)
        x, y, f = _population(rng, g_h * q, person_effect=np.repeat(z_h, q))
        z_u = np.concatenate([z_h[:100], rng.normal(size=400)])
        xu, _, fu = _population(rng, len(z_u) * q, person_effect=np.repeat(z_u, q))
        ids_h = np.repeat(np.arange(g_h), q)
        ids_u = np.repeat(np.concatenate([np.arange(100), g_h + np.arange(400)]), q)
        codes = np.unique(np.concatenate([ids_h, ids_u]), return_inverse=True)[1]
        return Samples(FAMILY, x, y, f, np.ones(len(y)), xu, fu, np.ones(len(fu)), codes=codes)

    cov_ppi, cov_human, w_ppi, w_human, lam = _coverage(draw, truth_clustered)
    assert np.all((cov_ppi >= 0.93) & (cov_ppi <= 0.97)), cov_ppi
    assert np.all((cov_human >= 0.93) & (cov_human <= 0.97)), cov_human
    # x varies within persons, so the person effect the LLM sees helps the slope less
    assert np.all(w_ppi < 0.95 * w_human), (w_ppi, w_human)


@pytest.mark.slow
def test_coverage_dsl_with_unequal_sampling_probabilities(truth):
    """DSL: 2000 rows, each labelled by a human with a known probability that depends on x
    (0.05 to 0.35); the belief is biased. The interval covers the population logit at the
    nominal rate, the human-rows-only logit (ignoring the design) does not have to."""
    from beliefreg.calibration.estimator import dsl_fit

    rng = np.random.default_rng(3)
    hits = []
    for _ in range(REPS):
        x, y, f = _population(rng, 2000)
        pi = np.where(x[:, 1] > 0, 0.35, 0.05)
        r = rng.uniform(size=2000) < pi
        s = Samples(FAMILY, x[r], y[r], f[r], np.ones(r.sum()), x[~r], f[~r],
                    np.ones((~r).sum()))
        fit = dsl_fit(s, np.zeros(2), pi[r])
        se = np.sqrt(np.diag(fit.cov))
        hits.append(np.abs(fit.params - truth) <= Z * se)
    cov = np.mean(hits, axis=0)
    assert np.all((cov >= 0.93) & (cov <= 0.97)), cov
