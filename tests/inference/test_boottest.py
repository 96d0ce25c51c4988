"""The wild cluster score bootstrap (``res.boottest``), issue 12 item 1(b).

References:

* Stata's ``boottest`` on a published case (its author's unit-test log, committed numbers in
  ``tests/reference/boottest_stata.json``): probit with 12 industry clusters, restricted
  estimates, the score statistic, and the p-value (exact here: all 4096 Rademacher draws);
* a slow reference written from the formulas with independent pieces (the restricted estimate
  by scipy's optimiser on a model without the column or with an equality constraint, scores
  from the closed form, the Hessian by differentiating them numerically, a Python loop over
  draws and clusters), compared draw by draw;
* exact enumeration of all 2^G Rademacher draws (deterministic, seed-free p-values), and the
  test-inversion identity of the confidence set.
"""

import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import beliefreg as br
from beliefreg.inference.boottest import bootstrap_weights, restricted_fit

REF = Path(__file__).parents[1] / "reference"


# ---------------------------------------------------------------------------------- Stata
@pytest.fixture(scope="module")
def nlsw():
    data = pd.read_csv(REF / "data" / "nlsw88_probit.csv").dropna()
    for c in ("tenure", "wage", "ttl_exp"):  # stored as float32 in Stata
        data[c] = data[c].astype(np.float32).astype(float)
    return data


@pytest.fixture(scope="module")
def stata_probit(nlsw):
    return br.FractionalProbit.from_formula("c_city ~ tenure + wage + ttl_exp + collgrad",
                                            nlsw).fit(cov_type="cluster",
                                                      cov_kwds={"groups": "industry"})


def test_matches_stata_boottest_after_probit(stata_probit):
    ref = json.loads((REF / "boottest_stata.json").read_text())
    res = stata_probit
    assert res.nobs == ref["nobs"] and res.n_groups == (ref["n_clusters"],)
    r, q = res._constraint("tenure = 0")
    b = pd.Series(restricted_fit(res._score_problem(), r, q), index=res.params.index)
    for name, value in ref["restricted_params"].items():
        assert b[name] == pytest.approx(value, abs=6e-8)  # Stata prints 7 decimals
    bt = res.boottest("tenure = 0", reps=4096, small=False, conf_set=False,
                      recenter="share")  # boottest's recentring
    assert bt.exact and bt.reps == 4096
    assert bt.statistic == pytest.approx(ref["z"], abs=5e-5)
    # Stata: two runs of 999 random draws, 0.7708 and 0.7808 (MC s.d. of one run about 0.013)
    assert abs(bt.pvalue - np.mean(ref["pvalues_999_random_draws"])) < 0.04
    # all 2^12 draws: no dependence on the seed; the CR1 factor does not move the p-value
    assert res.boottest("tenure = 0", reps=5000, seed=7, conf_set=False,
                        recenter="share").pvalue == bt.pvalue
    assert res.boottest("tenure = 0", reps=4096, conf_set=False,
                        recenter="share").statistic == pytest.approx(
        bt.statistic / np.sqrt(12 / 11 * 2216 / 2212))


# ---------------------------------------------------------------------------------- slow reference
def _clustered_fractional_data(g=8, m=25, seed=0):
    rng = np.random.default_rng(seed)
    cl = np.repeat(np.arange(g), m)
    x1 = rng.normal(size=g)[cl] + rng.normal(size=g * m)
    x2 = rng.normal(size=g * m)
    mu = 1 / (1 + np.exp(-(0.3 + 0.4 * x1 - 0.2 * x2 + rng.normal(scale=0.5, size=g)[cl])))
    y = rng.beta(mu * 6, (1 - mu) * 6)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "cl": cl})


def _logit_qll(b, y, x):
    eta = x @ b
    return np.sum(y * eta - np.logaddexp(0.0, eta))


def _slow_reference(y, x, cl, b_tilde, r_row, draws, small=True):
    """Score bootstrap statistics from the formulas, one draw and one cluster at a time."""
    n, k = x.shape
    clusters = np.unique(cl)
    G = len(clusters)

    def score_total(b):
        return x.T @ (y - 1 / (1 + np.exp(-x @ b)))

    h = 1e-6
    hess = np.column_stack([(score_total(b_tilde + h * e) - score_total(b_tilde - h * e)) / (2 * h)
                            for e in np.eye(k)])
    a = np.linalg.inv(-0.5 * (hess + hess.T))
    mu = 1 / (1 + np.exp(-x @ b_tilde))
    s = x * (y - mu)[:, None]
    u = [float(r_row @ a @ s[cl == c].sum(axis=0)) for c in clusters]
    pi = [np.mean(cl == c) for c in clusters]
    c_fac = G / (G - 1) * (n - 1) / (n - k) if small else 1.0
    out = []
    for v in draws.T:
        num = sum(v[i] * u[i] for i in range(G))
        den = c_fac * sum((v[i] * u[i] - pi[i] * num) ** 2 for i in range(G))
        out.append(num / np.sqrt(den))
    return np.array(out)


def test_restricted_score_bootstrap_equals_slow_reference_all_draws():
    frame = _clustered_fractional_data()
    res = br.FractionalLogit.from_formula("y ~ x1 + x2", frame).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"})
    bt = res.boottest("x1 = 0", reps=256, keep_dist=True, conf_set=False, recenter="share")
    assert bt.exact and len(bt.dist) == 256
    # the restricted estimate, by a different route: the model without x1, by BFGS
    x_r = np.column_stack([np.ones(len(frame)), frame.x2])
    opt = optimize.minimize(lambda b: -_logit_qll(b, frame.y.to_numpy(), x_r), np.zeros(2),
                            method="BFGS", options={"gtol": 1e-12})
    b_tilde = np.array([opt.x[0], 0.0, opt.x[1]])
    x = np.column_stack([np.ones(len(frame)), frame.x1, frame.x2])
    draws = np.array(list(itertools.product([1.0, -1.0], repeat=8))).T
    ref = _slow_reference(frame.y.to_numpy(), x, frame.cl.to_numpy(), b_tilde,
                          np.array([0.0, 1.0, 0.0]), draws)
    assert bt.statistic == pytest.approx(ref[0], rel=1e-6)  # the all-ones draw
    np.testing.assert_allclose(np.sort(np.abs(bt.dist)), np.sort(np.abs(ref)), rtol=1e-6,
                               atol=1e-6)
    assert bt.pvalue == pytest.approx(np.mean(np.abs(ref) >= abs(ref[0]) * (1 - 1e-9)))
    # exact enumeration: every seed gives the same p-value
    assert res.boottest("x1 = 0", reps=300, seed=3, conf_set=False,
                        recenter="share").pvalue == bt.pvalue


def test_linear_restriction_with_webb_weights_equals_slow_reference():
    frame = _clustered_fractional_data(g=10, seed=1)
    res = br.FractionalLogit.from_formula("y ~ x1 + x2", frame).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"})
    bt = res.boottest("x1 + x2 = 0.1", reps=499, weights="webb", seed=11, keep_dist=True,
                      conf_set=False, recenter="share")
    assert not bt.exact
    x = np.column_stack([np.ones(len(frame)), frame.x1, frame.x2])
    y = frame.y.to_numpy()
    cons = {"type": "eq", "fun": lambda b: b[1] + b[2] - 0.1}
    opt = optimize.minimize(lambda b: -_logit_qll(b, y, x), np.zeros(3), method="SLSQP",
                            constraints=[cons], options={"ftol": 1e-14, "maxiter": 500})
    chunks, n_draws, _ = bootstrap_weights(10, 499, "webb", 11)
    draws = np.concatenate(list(chunks()), axis=1)
    assert draws.shape == (10, 499) and set(np.round(np.abs(draws).ravel(), 6)) == {
        round(np.sqrt(0.5), 6), 1.0, round(np.sqrt(1.5), 6)}
    ref = _slow_reference(y, x, frame.cl.to_numpy(), opt.x, np.array([0.0, 1.0, 1.0]),
                          np.column_stack([np.ones(10), draws]))
    assert bt.statistic == pytest.approx(ref[0], rel=1e-5)
    np.testing.assert_allclose(bt.dist, np.abs(ref[1:]), rtol=1e-5)  # |t| per draw
    assert bt.pvalue == pytest.approx(np.mean(np.abs(ref[1:]) >= abs(ref[0]) * (1 - 1e-9)))


def test_hessian_recentring_is_one_newton_step_per_draw():
    """recenter='hessian': the bootstrap cluster scores are those after one Newton step of
    re-estimation on the bootstrap sample, w_g = v_g S_g - H_g (b1 - b_tilde), with H_g each
    cluster's part of minus the Hessian (computed here from the closed form, cluster by
    cluster) and b1 - b_tilde = A sum_h v_h S_h. Checked draw by draw in a loop."""
    frame = _clustered_fractional_data(g=8, seed=7)
    res = br.FractionalLogit.from_formula("y ~ x1 + x2", frame).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"})
    bt = res.boottest("x1 = 0.2", reps=256, keep_dist=True, conf_set=False)  # auto: hessian
    assert "Newton step" in bt.method
    problem = res._score_problem()
    r, q = res._constraint("x1 = 0.2")
    b_t = restricted_fit(problem, r, q)
    x = np.column_stack([np.ones(len(frame)), frame.x1, frame.x2])
    y, cl = frame.y.to_numpy(), frame.cl.to_numpy()
    mu = 1 / (1 + np.exp(-x @ b_t))
    s = x * (y - mu)[:, None]
    sg = np.array([s[cl == g].sum(axis=0) for g in range(8)])
    hg = np.array([x[cl == g].T @ (x[cl == g] * (mu * (1 - mu))[cl == g, None])
                   for g in range(8)])
    a = np.linalg.inv(hg.sum(axis=0))
    n, k = x.shape
    c = 8 / 7 * (n - 1) / (n - k)
    stats_ = []
    for v in itertools.product([1.0, -1.0], repeat=8):
        v = np.array(v)
        step = a @ (v[:, None] * sg).sum(axis=0)
        w = [r[0] @ a @ (v[g] * sg[g] - hg[g] @ step) for g in range(8)]
        stats_.append((r[0] @ step) / np.sqrt(c * sum(wi ** 2 for wi in w)))
    stats_ = np.array(stats_)
    assert bt.statistic == pytest.approx(stats_[0], rel=1e-9)
    np.testing.assert_allclose(np.sort(bt.dist), np.sort(np.abs(stats_)), rtol=1e-9)
    # at the identity draw the step is the unrestricted estimate's one-step approximation,
    # so the sample statistic is close to the Wald t at the unrestricted estimate
    wald = (res.params["x1"] - 0.2) / res.bse["x1"]
    assert bt.statistic == pytest.approx(wald, rel=0.05)


# ---------------------------------------------------------------------------------- confidence sets
def test_confidence_set_is_the_test_inversion():
    frame = _clustered_fractional_data(g=12, seed=2)
    res = br.FractionalLogit.from_formula("y ~ x1 + x2", frame).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"})
    bt = res.boottest("x1 = 0", reps=999, weights="webb", seed=5)
    lo, hi = bt.conf_int
    assert lo < res.params["x1"] < hi
    se = res.bse["x1"]
    for bound, outward in ((lo, -1.0), (hi, 1.0)):
        inside = res.boottest(f"x1 = {bound - outward * 1e-3 * se}", reps=999, weights="webb",
                              seed=5, conf_set=False).pvalue
        outside = res.boottest(f"x1 = {bound + outward * 1e-3 * se}", reps=999,
                               weights="webb", seed=5, conf_set=False).pvalue
        assert inside > 0.05 >= outside
    # a wider set than the normal Wald interval with 12 clusters, as it should be
    wald = res.conf_int().loc["x1"]
    assert hi - lo > wald[1] - wald[0]


def test_nonlinear_quantity_unrestricted_bootstrap_t():
    frame = _clustered_fractional_data(g=12, seed=3)
    res = br.FractionalLogit.from_formula("y ~ x1 + x2", frame).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"})
    # a linear quantity through the nonlinear path equals the unrestricted linear test
    lin = res.boottest("x1 = 0.2", reps=999, seed=9, impose_null=False)
    via_nlcom = res.boottest(nlcom="x1", value=0.2, reps=999, seed=9)
    assert via_nlcom.statistic == pytest.approx(lin.statistic, rel=1e-10)
    assert via_nlcom.pvalue == lin.pvalue
    assert via_nlcom.conf_int == pytest.approx(lin.conf_int, rel=1e-10)
    # its sample statistic is the delta-method t with the CR1 cluster covariance
    assert lin.statistic == pytest.approx((res.params["x1"] - 0.2) / res.bse["x1"], rel=1e-8)
    # a genuinely nonlinear one: the ratio, and the elasticity through margins=
    ratio = res.boottest(nlcom="x2 / x1", value=0.0, reps=999, seed=9, keep_dist=True)
    d = res.nlcom("x2 / x1")
    se = d.std_err.iloc[0]
    lo, hi = ratio.conf_int
    crit = np.sort(ratio.dist)[::-1][int(np.floor(0.05 * 999))]
    assert (lo, hi) == pytest.approx((d.estimate.iloc[0] - crit * se,
                                      d.estimate.iloc[0] + crit * se))
    assert "linearisation" in ratio.method
    el = res.boottest(margins={"variables": "x1", "kind": "eyex"}, reps=199, seed=1)
    assert np.isfinite(el.pvalue) and el.conf_int[0] < el.estimate < el.conf_int[1]


def test_joint_hypothesis_gives_f_and_no_set():
    frame = _clustered_fractional_data(g=10, seed=4)
    res = br.FractionalLogit.from_formula("y ~ x1 + x2", frame).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"})
    bt = res.boottest("x1 = 0, x2 = 0", reps=999, seed=2)
    assert bt.df_num == 2 and bt.conf_set is None and 0 <= bt.pvalue <= 1
    assert "F(2" in repr(bt)


# ---------------------------------------------------------------------------------- share models
def _share_frame(seed=0, g=10, m=20):
    rng = np.random.default_rng(seed)
    cl = np.repeat(np.arange(g), m)
    x = rng.normal(size=g)[cl] + rng.normal(size=g * m)
    eta = np.column_stack([np.zeros(g * m), 0.3 + 0.5 * x, -0.2 - 0.4 * x])
    p = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    y = np.array([rng.dirichlet(10 * row) for row in p])
    return pd.DataFrame(y, columns=["a", "b", "c"]).assign(x=x, cl=cl)


def _restricted_reference_statistic(res, problem, r, b_tilde, small=True):
    """The sample score statistic from model.score_obs / model.information (loops)."""
    model = res.model
    s = model.score_obs(b_tilde)
    a = np.linalg.inv(model.information(b_tilde))
    u = np.array([r @ a @ s[problem.codes == g].sum(axis=0) for g in range(problem.n_clusters)])
    pi = np.bincount(problem.codes) / len(problem.codes)
    num = u.sum()
    den = sum((u[g] - pi[g] * num) ** 2 for g in range(problem.n_clusters))
    c = problem.factor() if small else 1.0
    return num / np.sqrt(c * den)


def test_multinomial_fractional_logit_boottest():
    frame = _share_frame()
    res = br.MultinomialFractionalLogit.from_formula("a + b + c ~ x", frame).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"}, use_t=True)
    name = [n for n in res.params.index if n.endswith(":x")][0]
    bt = res.boottest(f"{name} = 0.4", reps=1024, conf_set=True)
    assert bt.exact
    problem = res._score_problem()
    r, q = res._constraint(f"{name} = 0.4")
    b_tilde = restricted_fit(problem, r, q)
    assert r @ b_tilde == pytest.approx(q)
    grad = res.model.score(b_tilde)
    assert np.abs(grad - (r[0] * (grad @ r[0]) / (r[0] @ r[0]))).max() < 1e-8  # KKT
    assert bt.statistic == pytest.approx(
        _restricted_reference_statistic(res, problem, r[0], b_tilde), rel=1e-8)
    lo, hi = bt.conf_int
    assert lo < res.params[name] < hi


def test_conditional_logit_boottest_uses_situation_clusters():
    rng = np.random.default_rng(5)
    g, per, alts = 12, 15, 3
    rows = []
    for c in range(g):
        shock = rng.normal(scale=0.4)
        for s in range(per):
            price = rng.uniform(1, 3, size=alts)
            u = -1.0 * price + np.array([0.0, 0.3, -0.2]) + shock * np.array([1, 0, -1])
            p = np.exp(u) / np.exp(u).sum()
            share = rng.dirichlet(20 * p)
            for j in range(alts):
                rows.append({"sit": f"{c}-{s}", "alt": f"b{j}", "price": price[j],
                             "share": share[j], "cl": c})
    data = pd.DataFrame(rows)
    res = br.ConditionalLogit.from_formula("share ~ price + C(alt)", data, groups="sit",
                                           alternatives="alt").fit(
        cov_type="cluster", cov_kwds={"groups": "cl"}, use_t=True)
    assert res.df_inference == 11 and "P>|t|" in str(res.summary())
    wtp = res.wtp(price="price").iloc[0]
    assert wtp["p_value"] == pytest.approx(2 * stats.t.sf(abs(wtp["t"]), 11))
    problem = res._score_problem()
    assert problem.n_clusters == 12 and problem.nobs == g * per
    bt = res.boottest("price = -1", reps=999, weights="webb", seed=4)
    r, q = res._constraint("price = -1")
    b_tilde = restricted_fit(problem, r, q)
    assert bt.statistic == pytest.approx(
        _restricted_reference_statistic(res, problem, r[0], b_tilde), rel=1e-8)
    assert bt.conf_int[0] < res.params["price"] < bt.conf_int[1]


# ---------------------------------------------------------------------------------- options
def test_options_are_validated_and_results_reproducible():
    frame = _clustered_fractional_data(g=9, seed=6)
    res = br.FractionalLogit.from_formula("y ~ x1 + x2", frame).fit(
        cov_type="cluster", cov_kwds={"groups": "cl"})
    with pytest.raises(ValueError, match="weights must be"):
        res.boottest("x1 = 0", weights="mammen")
    with pytest.raises(ValueError, match="exactly one"):
        res.boottest("x1 = 0", nlcom="x1")
    with pytest.raises(ValueError, match="unknown|not|x9"):
        res.boottest("x9 = 0")
    a = res.boottest("x1 = 0", reps=999, weights="webb", seed=42, conf_set=False)
    b = res.boottest("x1 = 0", reps=999, weights="webb", seed=42, conf_set=False)
    assert a.pvalue == b.pvalue
    # without clustering at fit: each observation is its own bootstrap cluster
    hc = br.FractionalLogit.from_formula("y ~ x1 + x2", frame).fit()
    assert hc._score_problem().n_clusters == len(frame)
    # an explicit bootstrap cluster overrides
    assert hc.boottest("x1 = 0", cluster="cl", reps=512, conf_set=False).n_clusters == 9


# ---------------------------------------------------------------------------------- Monte Carlo
@pytest.mark.slow
@pytest.mark.parametrize("g", [10, 16, 20])
def test_score_bootstrap_coverage_small_monte_carlo(g):
    """Seeded, small: 150 replications of the demo's design per G (the large run with Monte
    Carlo standard errors is benchmarks/few_clusters.py -> RESULTS.md). The band is about
    +/- 2.6 Monte Carlo standard errors around 0.95."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    from few_clusters import B_PRICE, simulate

    rng = np.random.default_rng(1000 + g)
    reps, covered = 150, 0
    for _ in range(reps):
        frame, _ = simulate(g, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = br.FractionalLogit.from_formula(
                "belief ~ np.log(price) + C(persona)", frame).fit(
                cov_type="cluster", cov_kwds={"groups": "price"})
        bt = res.boottest(f"np.log(price) = {B_PRICE}", reps=199, weights="webb",
                          seed=int(rng.integers(2**31)), conf_set=False)
        covered += bt.pvalue > 0.05
    coverage = covered / reps
    assert 0.90 <= coverage <= 0.995, coverage


# ---------------------------------------------------------------------------------- linear: WCR
def test_hessian_recentring_is_the_wild_cluster_bootstrap_for_ols():
    """For a linear model one Newton step is exact, so the score bootstrap with the Hessian
    recentring is the restricted wild cluster bootstrap (WCR, Cameron-Gelbach-Miller 2008):
    compared draw by draw with PyPI ``wildboottest`` (its ``WildboottestCL``, bootstrap type
    '11', all 2^G Rademacher draws enumerated), a separate implementation of the linear WCR."""
    wbt = pytest.importorskip("wildboottest.wildboottest")
    from beliefreg.inference.boottest import ScoreProblem, score_bootstrap_test
    from beliefreg.inference.covariance import DenseScores

    rng = np.random.default_rng(8)
    g, m = 8, 30
    cl = np.repeat(np.arange(g), m)
    x = np.column_stack([np.ones(g * m), rng.normal(size=g)[cl] + rng.normal(size=g * m),
                         rng.normal(size=g * m)])
    y = x @ np.array([1.0, 0.1, -0.5]) + rng.normal(size=g)[cl] + rng.normal(size=g * m)

    def cluster_hessians(b, codes, n_groups):
        return np.array([x[codes == h].T @ x[codes == h] for h in range(n_groups)])

    problem = ScoreProblem(
        params=np.linalg.lstsq(x, y, rcond=None)[0],
        evaluate=lambda b: (-0.5 * np.sum((y - x @ b) ** 2), x.T @ (y - x @ b), x.T @ x),
        scores=lambda b: DenseScores(x * (y - x @ b)[:, None]), codes=cl, n_clusters=g,
        cluster_hessians=cluster_hessians)
    ours = score_bootstrap_test(problem, r=np.array([[0.0, 1.0, 0.0]]), q=np.zeros(1),
                                reps=1000, keep_dist=True, conf_set=False)
    assert ours.exact and "Newton step" in ours.method

    boot = wbt.WildboottestCL(X=x, Y=y, cluster=cl, R=np.array([0.0, 1.0, 0.0]), B=1000,
                              seed=1, parallel=False)
    boot.get_scores(bootstrap_type="11", impose_null=True, adj=True, cluster_adj=True)
    boot.get_weights(weights_type="rademacher")
    assert boot.full_enumeration
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_vcov()
    boot.get_tstat()
    boot.get_pvalue(pval_type="two-tailed")
    theirs = np.sort(np.abs(np.asarray(boot.t_boot, float).reshape(-1)))
    np.testing.assert_allclose(np.sort(ours.dist), theirs, rtol=1e-8)
    assert ours.statistic == pytest.approx(float(np.ravel(boot.t_stat)[0]), rel=1e-8)
    # p-values: theirs counts |t*| > |t| strictly, ours >= (the draws v = +/-1 reproduce t)
    assert ours.pvalue == pytest.approx(float(boot.pvalue) + 2 / 2 ** g)
