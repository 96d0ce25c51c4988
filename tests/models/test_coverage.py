"""Seeded Monte Carlo: 95% Wald intervals from HC0 and cluster covariances cover the truth.

Fractional outcomes from a beta distribution with a logit mean (so the Bernoulli likelihood is
wrong and only the sandwich is valid), with a cluster-level shock in the clustered design.
With 400 replications the coverage estimate has a standard error of about 1.1 points; the
band [0.92, 0.98] is about +/- 2.7 standard errors around 0.95 and still rejects the
nonrobust covariance, whose coverage here is far lower.
"""

import numpy as np
import pandas as pd

import beliefreg as br

TRUE = np.array([-0.3, 0.8])
REPS = 400


def _covers(res, alpha=0.05) -> np.ndarray:
    ci = res.conf_int(alpha).to_numpy()
    return (ci[:, 0] <= TRUE) & (TRUE <= ci[:, 1])


def test_hc0_coverage_near_95_percent():
    rng = np.random.default_rng(20261123)
    hits_hc0, hits_naive = np.zeros(2), np.zeros(2)
    for _ in range(REPS):
        n = 300
        x = rng.normal(size=n)
        mu = 1 / (1 + np.exp(-(TRUE[0] + TRUE[1] * x)))
        y = rng.beta(2 * mu * 5, 2 * (1 - mu) * 5)  # Var(y) = mu(1-mu)/11: underdispersed
        model = br.FractionalLogit(y, np.column_stack([np.ones(n), x]))
        hits_hc0 += _covers(model.fit(cov_type="HC0"))
        hits_naive += _covers(model.fit(cov_type="nonrobust"))
    coverage = hits_hc0 / REPS
    assert np.all((coverage > 0.92) & (coverage < 0.98)), coverage
    # the Bernoulli variance overstates Var(y) here: nonrobust intervals over-cover
    assert np.all(hits_naive / REPS > 0.995)


def test_cluster_coverage_near_95_percent():
    rng = np.random.default_rng(7)
    hits_cl, hits_hc0 = np.zeros(2), np.zeros(2)
    G, m = 60, 10
    for _ in range(REPS):
        g = np.repeat(np.arange(G), m)
        x = rng.normal(size=G)[g] + 0.5 * rng.normal(size=G * m)
        u = rng.normal(scale=0.8, size=G)[g]
        mu = 1 / (1 + np.exp(-(TRUE[0] + TRUE[1] * x + u)))
        y = rng.beta(mu * 20 + 0.01, (1 - mu) * 20 + 0.01)
        # E[y|x] is no longer exactly logistic in x once u is integrated out; compare with the
        # population QMLE target computed below instead of TRUE
        model = br.FractionalLogit(y, np.column_stack([np.ones(G * m), x]))
        hits_cl += _covers_target(model.fit(cov_type="cluster", cov_kwds={"groups": g}))
        hits_hc0 += _covers_target(model.fit(cov_type="HC0"))
    coverage = hits_cl / REPS
    assert np.all((coverage > 0.92) & (coverage < 0.98)), coverage
    assert (hits_hc0 / REPS)[1] < 0.90  # ignoring the clustering under-covers


def _population_target() -> np.ndarray:
    """The QMLE's probability limit under the clustered design, from one very large sample."""
    rng = np.random.default_rng(123)
    G, m = 40_000, 10
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G)[g] + 0.5 * rng.normal(size=G * m)
    u = rng.normal(scale=0.8, size=G)[g]
    mu = 1 / (1 + np.exp(-(TRUE[0] + TRUE[1] * x + u)))
    return br.FractionalLogit(mu, np.column_stack([np.ones(G * m), x])).fit().params.to_numpy()


_TARGET = None


def _covers_target(res) -> np.ndarray:
    global _TARGET
    if _TARGET is None:
        _TARGET = _population_target()
    ci = res.conf_int().to_numpy()
    return (ci[:, 0] <= _TARGET) & (_TARGET <= ci[:, 1])
