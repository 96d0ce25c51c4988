"""runs_needed recovers answers known in closed form.

The case: the synthetic respondent with the two-point latent state, and the estimator "mean of
the measure at one condition" with the true demand m as target. At that condition each run
leans yes (D = 1) with probability m, belief = (1 - t) m + t D, choice ~ Bernoulli(belief).

* Resampling R of the panel's N runs **without replacement**, the number of leaners H among
  them is hypergeometric (N, K = leaners in the panel, R), and so is the number of buyers; so
  P(mean belief of R runs within tol of m) is an exact finite sum. The bootstrap share must
  match it at every R within Monte Carlo error: 4.5 standard errors sqrt(p(1-p)/n_boot).
* Resampling **with replacement** from a large panel approximates the population, where H and
  the number of buyers are Binomial(R, m): the curve must match the closed form within 0.04
  (Monte Carlo error plus the panel's own sampling error, K/N - m) and the runs needed within
  10% (at least 1 run).
"""

import numpy as np
import pytest
from scipy import stats

from beliefreg.efficiency import MeasureMean, SyntheticRespondent, runs_needed

TOL = 0.2
LEVEL = 0.95
N_BOOT = 4000
PRICES = [2.0, 3.0, 5.0]
CONDITION = 1  # price 3.0


@pytest.fixture(scope="module")
def respondent():
    return SyntheticRespondent(1.0, -0.5, precision=8, latent="two_point")


def _window(respondent, measure, r):
    """Counts h = 0..r and whether h of r runs put the mean within the tolerance."""
    m, t = float(respondent.demand(PRICES[CONDITION])), respondent.lean_weight
    h = np.arange(r + 1)
    mean = (1 - t) * m + t * h / r if measure == "belief" else h / r
    dev = np.abs(mean - m)
    return h, dev <= TOL * m, np.min(np.abs(dev - TOL * m))


def _check_curve(curve, exact, n_boot, runs):
    se = np.sqrt(np.clip(exact * (1 - exact), 0, None) / n_boot)
    # where the exact probability is 0 or 1 the bootstrap share must be exactly that
    bound = np.where(se > 0, 4.5 * se, 1e-12)
    bad = np.abs(curve - exact) > bound
    assert not bad.any(), (runs[bad], curve[bad], exact[bad])


@pytest.mark.parametrize("seed", [2, 11])  # 11: the panel's share of buyers is 0.69, m 0.61
@pytest.mark.parametrize("measure", ["belief", "choice"])
def test_without_replacement_matches_hypergeometric_exactly(respondent, measure, seed):
    n = 300
    panel = respondent.panel(PRICES, runs=n, seed=seed)
    at = panel[panel.condition_id == CONDITION]
    k = int(at.latent.sum()) if measure == "belief" else int((at.choice == "yes").sum())
    m = float(respondent.demand(PRICES[CONDITION]))
    res = runs_needed(panel, MeasureMean(condition=CONDITION), target=m, tolerance=TOL,
                      level=LEVEL, n_boot=N_BOOT, seed=3, measures=[measure], max_runs=120,
                      stop_early=False)
    assert res.vectorized
    runs = res.runs_tried
    exact, margins = [], []
    for r in runs:
        h, inside, margin = _window(respondent, measure, r)
        exact.append(stats.hypergeom.pmf(h, n, k, r)[inside].sum())
        margins.append(margin)
    exact = np.array(exact)
    # no count sits on the edge of the window, so rounding cannot decide membership
    assert min(margins) > 1e-9
    _check_curve(res.curve_table()[measure].to_numpy(), exact, N_BOOT, runs)
    # the runs needed: reached there, and not clearly reached before
    r_hat = res.runs[measure]
    se = np.sqrt(LEVEL * (1 - LEVEL) / N_BOOT)
    if r_hat is None:
        assert (exact < LEVEL + 4.5 * se).all()
    else:
        assert exact[r_hat - 1] >= LEVEL - 4.5 * se
        assert (exact[: r_hat - 1] < LEVEL + 4.5 * se).all()
    if seed == 2:  # a panel close to the population: both measures get there
        assert r_hat is not None


def test_with_replacement_recovers_the_population_answer(respondent):
    panel = respondent.panel(PRICES, runs=20_000, seed=0)
    m = float(respondent.demand(PRICES[CONDITION]))
    res = runs_needed(panel, MeasureMean(condition=CONDITION), target=m, tolerance=TOL,
                      level=LEVEL, n_boot=N_BOOT, seed=3, max_runs=100, replace=True)
    table = res.curve_table()
    for measure in ("belief", "choice"):
        exact = np.array([stats.binom.pmf(h, r, m)[inside].sum()
                          for r in table.index
                          for h, inside, _ in [_window(respondent, measure, r)]])
        assert np.max(np.abs(table[measure].to_numpy() - exact)) < 0.04
        r_star = int(table.index[np.argmax(exact >= LEVEL)])
        assert abs(res.runs[measure] - r_star) <= max(1, 0.1 * r_star), (measure, r_star)
    # the two answers in closed form: 7 runs from beliefs, 59 from choices
    assert res.runs["belief"] <= 8 and 53 <= res.runs["choice"] <= 65
