"""beliefreg.calibrate: lambda = 0 is the human-only fit, the sandwich by hand (HC0 and
clustered), DSL by hand, the multinomial model, the results API and the errors."""

import numpy as np
import pandas as pd
import pytest

import beliefreg as br
from beliefreg.exceptions import DataError, MissingColumnError, MissingValueWarning


def _expit(v):
    return 1.0 / (1.0 + np.exp(-v))


def _frames(seed=0, n=240, N=1200, fractional=False):
    rng = np.random.default_rng(seed)

    def draw(m, start):
        person = start + rng.integers(0, m // 4, m)
        d = pd.DataFrame({"price": rng.choice([6.0, 12.0, 24.0, 48.0], m),
                          "income": rng.integers(1, 6, m).astype(float),
                          "person": person})
        z = rng.normal(size=m)
        eta = 2.0 - 0.8 * np.log(d.price) + 0.2 * d.income + z
        p = _expit(eta)
        d["yes"] = p if fractional else (rng.uniform(size=m) < p).astype(float)
        d["belief"] = _expit(0.5 * eta + 0.3 + rng.normal(0, 0.5, m))
        d["w"] = rng.uniform(0.5, 2.0, m)
        return d

    human = draw(n, 0)
    llm = draw(N, n // 8)          # persons overlap between the frames
    return human, llm


FORMULA = "yes ~ np.log(price) + income"


@pytest.mark.parametrize("model", [br.Logit, br.FractionalLogit, br.FractionalProbit])
@pytest.mark.parametrize("cov", ["HC0", "cluster"])
def test_lambda_zero_is_the_human_only_fit(model, cov):
    human, llm = _frames(fractional=model is not br.Logit)
    kw = {"cov_type": cov, "cov_kwds": {"groups": "person"}} if cov == "cluster" else {
        "cov_type": "HC0"}
    res = br.calibrate(FORMULA, human, llm, prediction="belief", model=model, lam=0, **kw)
    ref = model.from_formula(FORMULA, human).fit(hessian="expected", **kw)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.cov_params(), ref.cov_params(), rtol=1e-9, atol=1e-14)
    assert res.lam == 0.0 and res.effective_nobs.round(6).eq(len(human)).all()


def test_lambda_zero_with_weights():
    human, llm = _frames()
    res = br.calibrate(FORMULA, human, llm, prediction="belief", lam=0, weights="w")
    ref = br.Logit.from_formula(FORMULA, human, weights="w").fit(cov_type="HC0")
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-12)
    np.testing.assert_allclose(res.cov_params(), ref.cov_params(), rtol=1e-9)


def _hand_pieces(res, human, llm, lam):
    x = np.column_stack([np.ones(len(human)), np.log(human.price), human.income])
    xu = np.column_stack([np.ones(len(llm)), np.log(llm.price), llm.income])
    th = res.params.to_numpy()
    mu, muu = _expit(x @ th), _expit(xu @ th)
    sy = x * (human.yes.to_numpy() - mu)[:, None]
    sf = x * (human.belief.to_numpy() - mu)[:, None]
    su = xu * (llm.belief.to_numpy() - muu)[:, None]
    # the derivative of the rectified estimating equation
    bread = ((1 - lam) * x.T @ (x * (mu * (1 - mu))[:, None]) / len(x)
             + lam * xu.T @ (xu * (muu * (1 - muu))[:, None]) / len(xu))
    return x, xu, sy, sf, su, bread


def test_clustered_sandwich_by_hand():
    """The estimating equation is zero at the estimate, and the covariance is the cluster
    sandwich written out with loops over the persons."""
    human, llm = _frames(1)
    lam = 0.6
    res = br.calibrate(FORMULA, human, llm, prediction="belief", lam=lam,
                       cov_type="cluster", cov_kwds={"groups": "person"})
    n, N = len(human), len(llm)
    x, xu, sy, sf, su, bread = _hand_pieces(res, human, llm, lam)
    ee = sy.sum(0) / n - lam * sf.sum(0) / n + lam * su.sum(0) / N
    assert np.abs(ee).max() < 1e-9
    a = (sy - sy.mean(0)) / n - lam * (sf - sf.mean(0)) / n
    b = lam * (su - su.mean(0)) / N
    meat = np.zeros((3, 3))
    persons = sorted(set(human.person) | set(llm.person))
    for g in persons:
        total = a[(human.person == g).to_numpy()].sum(0) + b[(llm.person == g).to_numpy()].sum(0)
        meat += np.outer(total, total)
    G, m, k = len(persons), n + N, 3
    meat *= G / (G - 1) * (m - 1) / (m - k)
    binv = np.linalg.inv(bread)
    np.testing.assert_allclose(res.cov_params().to_numpy(), binv @ meat @ binv, rtol=1e-9)
    assert res.n_groups == (G,)
    # the persons in both frames matter: ignoring the overlap changes the answer
    assert len(set(human.person) & set(llm.person)) > 10


def test_hc0_sandwich_by_hand():
    human, llm = _frames(2)
    lam = 0.8
    res = br.calibrate(FORMULA, human, llm, prediction="belief", lam=lam)
    n, N = len(human), len(llm)
    x, xu, sy, sf, su, bread = _hand_pieces(res, human, llm, lam)
    a = sy - lam * sf
    va = np.cov(a.T, ddof=0) / n
    vu = lam ** 2 * np.cov(su.T, ddof=0) / N
    binv = np.linalg.inv(bread)
    np.testing.assert_allclose(res.cov_params().to_numpy(), binv @ (va + vu) @ binv, rtol=1e-9)


def test_tuning_minimises_the_variance_at_the_lambda_one_estimate():
    """The tuned lambda minimises the (quadratic in lambda) variance of the named coefficient,
    computed at the lambda = 1 estimate with the pooled bread, over a grid of [0, 1]."""
    from beliefreg.calibration.estimator import (pooled_bread, ppi_fit, ppi_meat_parts)
    from beliefreg.models.bernoulli import inverse_information

    human, llm = _frames(3)
    res = br.calibrate(FORMULA, human, llm, prediction="belief", coord="np.log(price)")
    assert res.coord == "np.log(price)" and 0 < res.lam < 1
    s = res._samples
    theta1 = ppi_fit(s, res.params.to_numpy(), lam=1.0).params
    w = inverse_information(pooled_bread(s, theta1, 1.0, "pooled"))[1]
    s_a, s_f, _, _ = ppi_meat_parts(s, theta1)
    grid = np.linspace(0, 1, 2001)
    var = [np.sum(((s_a + g * s_f) @ w) ** 2) for g in grid]
    assert abs(grid[int(np.argmin(var))] - res.lam) < 1e-3
    trace = br.calibrate(FORMULA, human, llm, prediction="belief")
    assert trace.coord is None and trace.lam != res.lam
    assert "tuned for np.log(price)" in str(res.summary())


def test_dsl_by_hand():
    """DSL: the design-adjusted pseudo-outcome in the logit score, solved and sandwiched."""
    rng = np.random.default_rng(4)
    full = _frames(4, n=1500, N=10)[0]
    pi = np.where(full.income >= 3, 0.5, 0.15)          # known, unequal sampling probabilities
    sampled = rng.uniform(size=len(full)) < pi
    human = full[sampled].assign(pi=pi[sampled])
    llm = full[~sampled].drop(columns="yes")
    res = br.calibrate(FORMULA, human, llm, prediction="belief", method="dsl",
                       sampling_prob="pi")
    allr = pd.concat([human, llm])
    x = np.column_stack([np.ones(len(allr)), np.log(allr.price), allr.income])
    r = np.r_[np.ones(len(human)), np.zeros(len(llm))]
    y = np.r_[human.yes, np.zeros(len(llm))]
    f = allr.belief.to_numpy()
    p = np.r_[human.pi, np.ones(len(llm))]
    ytil = f + r * (y - f) / p
    th = np.zeros(3)
    for _ in range(50):
        mu = _expit(x @ th)
        th = th + np.linalg.solve(x.T @ (x * (mu * (1 - mu))[:, None]), x.T @ (ytil - mu))
    mu = _expit(x @ th)
    s = x * (ytil - mu)[:, None]
    binv = np.linalg.inv(x.T @ (x * (mu * (1 - mu))[:, None]))
    np.testing.assert_allclose(res.params.to_numpy(), th, rtol=1e-8)
    np.testing.assert_allclose(res.cov_params().to_numpy(), binv @ s.T @ s @ binv, rtol=1e-8)
    assert res.method == "DSL" and np.isnan(res.lam)
    assert "DSL" in str(res.summary())


def test_results_api_uses_the_calibrated_covariance():
    human, llm = _frames(5)
    res = br.calibrate(FORMULA, human, llm, prediction="belief", lam=0.7)
    v = res.cov_params().to_numpy()
    # nlcom: median WTP-like ratio through the delta method
    out = res.nlcom("exp(-Intercept / `np.log(price)`)", name="m").summary_frame()
    th = res.params.to_numpy()
    val = np.exp(-th[0] / th[1])
    grad = np.array([-val / th[1], val * th[0] / th[1] ** 2, 0.0])
    np.testing.assert_allclose(out["std_err"].iloc[0], np.sqrt(grad @ v @ grad), rtol=1e-6)
    # predictions and margins use it too (different from the human-only ones)
    pred = res.get_prediction(pd.DataFrame({"price": [12.0], "income": [3.0]})).summary_frame()
    xr = np.array([1.0, np.log(12.0), 3.0])
    mu = _expit(xr @ th)
    np.testing.assert_allclose(pred["mean_se"].iloc[0],
                               mu * (1 - mu) * np.sqrt(xr @ v @ xr), rtol=1e-8)
    el = res.elasticity("price")
    el_h = res.human_only.elasticity("price")
    assert el["std_err"].iloc[0] != el_h["std_err"].iloc[0]
    assert {"estimate", "std_err"} <= set(res.margins("income").columns)
    wtp = res.wtp("income", "price", at_price=12.0)
    wtp_h = res.human_only.wtp("income", "price", at_price=12.0)
    assert np.isfinite(wtp["std_err"]).all() and (wtp["std_err"] != wtp_h["std_err"]).all()
    text = str(res.summary())
    for needle in ("Lambda:", "0.7000 (fixed)", "No. human rows:", "240",
                   "No. simulated rows:", "1200", "Effective human n:"):
        assert needle in text, needle
    table = str(br.compare({"human": res.human_only, "PPI++": res}))
    assert "PPI++ sandwich" in table


def test_multinomial():
    rng = np.random.default_rng(6)

    def draw(m):
        d = pd.DataFrame({"x": rng.normal(size=m), "g": rng.integers(0, 60, m)})
        z = rng.normal(size=(m, 2))
        u = np.column_stack([np.zeros(m), 0.5 + d.x + z[:, 0], -0.3 - d.x + z[:, 1]])
        p = np.exp(u) / np.exp(u).sum(1, keepdims=True)
        d["choice"] = [("a", "b", "c")[rng.choice(3, p=row)] for row in p]
        q = np.exp(0.6 * u + rng.normal(0, 0.3, (m, 3)))
        q /= q.sum(1, keepdims=True)
        d[["pa", "pb", "pc"]] = q
        return d

    human, llm = draw(400), draw(2000)
    ref = br.MultinomialFractionalLogit.from_formula("C(choice) ~ x", human).fit()
    alts = ref.alternatives
    pred = {"a": "pa", "b": "pb", "c": "pc"}           # levels of C(choice) are accepted
    assert alts == ["C(choice)[a]", "C(choice)[b]", "C(choice)[c]"]
    r0 = br.calibrate("C(choice) ~ x", human, llm, prediction=pred,
                      model=br.MultinomialFractionalLogit, lam=0)
    np.testing.assert_allclose(r0.params, ref.params, rtol=1e-10)
    np.testing.assert_allclose(r0.cov_params(), ref.cov_params(), rtol=1e-8)
    res = br.calibrate("C(choice) ~ x", human, llm, prediction=pred,
                       model=br.MultinomialFractionalLogit, cov_type="cluster",
                       cov_kwds={"groups": "g"})
    assert isinstance(res, br.MultinomialResults) and 0 <= res.lam <= 1
    assert res.margins("x").shape[0] == 3
    # the estimating equation holds at the estimate
    from beliefreg.calibration.families import MultinomialFamily
    s = res._samples
    th = res.params.to_numpy()
    fam = s.family
    assert isinstance(fam, MultinomialFamily)
    ee = (fam.scores(th, s.x_h, s.y_h, s.w_h).sum(0) / s.n
          - res.lam * fam.scores(th, s.x_h, s.f_h, s.w_h).sum(0) / s.n
          + res.lam * fam.scores(th, s.x_u, s.f_u, s.w_u).sum(0) / s.N)
    assert np.abs(ee).max() < 1e-9


def test_planner():
    human, llm = _frames(7, n=400, N=4000)
    pilot = br.calibrate(FORMULA, human, llm, prediction="belief")
    plan = br.calibration.plan(pilot, coef="np.log(price)", target_se=0.05, price_human=2.0,
                               price_llm=0.002)
    assert plan.se <= 0.05 * (1 + 1e-9)
    assert plan.cost <= plan.human_only_cost
    assert plan.n_human < plan.human_only_n and plan.n_llm > 0
    # brute force over lambda and n: no cheaper plan reaches the target
    from beliefreg.calibration.planner import variance_components
    a0, c, f, b = variance_components(pilot, "np.log(price)")
    best = np.inf
    for lam in np.linspace(0, 1, 201):
        a, bb = a0 - 2 * lam * c + lam ** 2 * f, lam ** 2 * b
        for n in range(50, plan.human_only_n + 1, 5):
            rest = 0.05 ** 2 - a / n
            if rest <= 0:
                continue
            big_n = np.ceil(bb / rest) if bb > 0 else 0
            best = min(best, 2.0 * n + 0.002 * big_n)
    assert plan.cost <= best * 1.01
    # the human-only size: a0 / se^2, and the human-only SE of the pilot agrees with a0
    assert plan.human_only_n == int(np.ceil(a0 / 0.05 ** 2))
    se_pilot = pilot.human_only.bse["np.log(price)"]
    assert abs(np.sqrt(a0 / len(human)) / se_pilot - 1) < 0.1
    assert "saving" in str(plan)
    np.testing.assert_allclose(br.calibration.effective_sample_size(pilot),
                               pilot.effective_nobs)
    # free LLM requests: the error says why a price is needed, with the values given
    with pytest.raises(ValueError, match=r"got 0.05, 2.0 and 0 \(price_llm=0: .*infinitely"):
        br.calibration.plan(pilot, coef="np.log(price)", target_se=0.05, price_human=2.0,
                            price_llm=0)
    with pytest.raises(ValueError, match=r"got -0.05, 2.0 and 0.002$"):
        br.calibration.plan(pilot, coef="np.log(price)", target_se=-0.05, price_human=2.0,
                            price_llm=0.002)


def test_errors_name_rows_and_options():
    human, llm = _frames(8)
    bad = human.copy()
    bad.loc[[3, 7], "belief"] = np.nan
    with pytest.raises(DataError, match=r"missing in the human frame.*3"):
        br.calibrate(FORMULA, bad, llm, prediction="belief")
    bad = human.copy()
    bad.loc[5, "belief"] = 1.5
    with pytest.raises(DataError, match=r"\[0, 1\].*5"):
        br.calibrate(FORMULA, bad, llm, prediction="belief")
    u = llm.copy()
    u.loc[[2, 9], "belief"] = np.nan
    with pytest.warns(MissingValueWarning, match="2 of 1200 llm rows"):
        res = br.calibrate(FORMULA, human, u, prediction="belief")
    assert res.n_llm == 1198
    with pytest.raises(ValueError, match="cov_type"):
        br.calibrate(FORMULA, human, llm, prediction="belief", cov_type="HC3")
    with pytest.raises(ValueError, match="sampling_prob"):
        br.calibrate(FORMULA, human, llm, prediction="belief", method="dsl")
    with pytest.raises(ValueError, match="lam"):
        br.calibrate(FORMULA, human, llm, prediction="belief", lam=-0.5)
    with pytest.raises(ValueError, match="coord"):
        br.calibrate(FORMULA, human, llm, prediction="belief", coord="nope")
    with pytest.raises(KeyError, match="llm frame"):
        br.calibrate(FORMULA, human, llm.drop(columns="belief"), prediction="belief")
    with pytest.raises(ValueError, match="groups"):
        br.calibrate(FORMULA, human, llm, prediction="belief", cov_type="cluster")
    with pytest.raises(ValueError, match="coord"):
        br.calibrate(FORMULA, human, llm, prediction="belief", lam=0.5, coord="income")
    with pytest.raises(ValueError, match="method"):
        br.calibrate(FORMULA, human, llm, prediction="belief", method="ols")
    with pytest.raises(DataError, match="sampling_prob"):
        br.calibrate(FORMULA, human.assign(pi=0.0), llm, prediction="belief", method="dsl",
                     sampling_prob="pi")


def test_polars_frames_and_repeated_index_labels():
    pl = pytest.importorskip("polars")
    human, llm = _frames(9)
    ref = br.calibrate(FORMULA, human, llm, prediction="belief", lam=0.5)
    res = br.calibrate(FORMULA, pl.from_pandas(human), pl.from_pandas(llm),
                       prediction="belief", lam=0.5)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-12)
    np.testing.assert_allclose(res.cov_params(), ref.cov_params(), rtol=1e-10)
    rep = br.calibrate(FORMULA, human.set_axis([0] * len(human)), llm.set_axis([1] * len(llm)),
                       prediction="belief", lam=0.5)
    np.testing.assert_allclose(rep.params, ref.params, rtol=1e-12)


def test_llm_frame_with_a_missing_or_text_regressor_names_the_frame_and_column():
    # before: patsy's "NameError: name 'price' is not defined" / a ufunc TypeError, with no
    # word of which frame
    human, llm = _frames()
    with pytest.raises(DataError, match=r"llm frame: column\(s\) \['price'\] of the human "
                                        r"frame .* not in the llm frame"):
        br.calibrate(FORMULA, human, llm.rename(columns={"price": "Price"}),
                     prediction="belief")
    text = llm.assign(price=llm.price.astype(str))
    with pytest.raises(DataError, match=r"llm frame's column\(s\) .* hold text: 'price' holds "
                                        rf"{len(llm)} non-numeric"):
        br.calibrate(FORMULA, human, text, prediction="belief")


def test_summary_note_and_length_error_read_correctly(monkeypatch):
    # the note said "worth about -0 extra human rows" when the effective n was a shade below
    # n (the demo's n = 150: 149.986); a sampling_prob of the wrong length said "expected 240
    # or 240"
    human, llm = _frames()
    res = br.calibrate(FORMULA, human, llm, prediction="belief", lam=0)
    assert "worth about 0 extra human rows" in res.summary().as_text()
    for effective, words in [(239.7, "worth about 0 extra human rows"),
                             (236.2, "worth about 4 human rows fewer than none"),
                             (250.4, "worth about 10 extra human rows")]:
        monkeypatch.setattr(type(res), "effective_n", property(lambda self: effective))
        text = " ".join(res.summary().as_text().split())
        assert words in text and "about -" not in text
    monkeypatch.undo()
    with pytest.raises(DataError, match=r"has length 30, expected 240 \(the rows of the "
                                        r"frame\)$"):
        br.calibrate(FORMULA, human, llm, prediction="belief", method="dsl",
                     sampling_prob=np.full(30, 0.5))


def test_multinomial_prediction_for_an_alternative_no_human_chose_is_explained():
    # the humans never answered "none": the model has two alternatives, and the message said
    # only "needs one prediction column per alternative [a, b]" for the three columns given;
    # a dict with the extra key was accepted silently and then failed on the shares' sums
    rng = np.random.default_rng(3)
    human = pd.DataFrame({"price": rng.uniform(1, 3, 200), "choice": rng.choice(["a", "b"], 200)})
    llm = pd.DataFrame({"price": rng.uniform(1, 3, 500)})
    shares = rng.dirichlet(np.ones(3), 200), rng.dirichlet(np.ones(3), 500)
    for frame, s in zip((human, llm), shares):
        frame[["p_a", "p_b", "p_none"]] = s
    kw = {"model": br.MultinomialFractionalLogit}
    with pytest.raises(ValueError, match=r"per alternative \['C\(choice\)\[a\]', "
                                         r"'C\(choice\)\[b\]'\] .*got 3: .*no human answer"):
        br.calibrate("C(choice) ~ price", human, llm, prediction=["p_a", "p_b", "p_none"], **kw)
    with pytest.raises(ValueError, match=r"alternatives \['none'\] that are not in the model.*"
                                         "no human answer"):
        br.calibrate("C(choice) ~ price", human, llm,
                     prediction={"a": "p_a", "b": "p_b", "none": "p_none"}, **kw)
    for frame in (human, llm):   # what the message asks for: the two alternatives' shares
        total = frame.p_a + frame.p_b
        frame["p_a"], frame["p_b"] = frame.p_a / total, frame.p_b / total
    res = br.calibrate("C(choice) ~ price", human, llm, prediction={"a": "p_a", "b": "p_b"},
                       base="a", **kw)
    assert res.model.alternatives == ["C(choice)[a]", "C(choice)[b]"]


def test_no_more_human_rows_than_regressors_is_refused():
    # two human rows for two parameters: the human logit is separated and the PPI++ fit
    # reported standard errors (0.17 for the slope) that measured nothing
    human, llm = _frames()
    with pytest.raises(DataError, match=r"the human frame has 3 usable row\(s\) for 3 "
                                        r"regressors"):
        br.calibrate(FORMULA, human.iloc[:3], llm, prediction="belief")
    with pytest.raises(DataError, match=r"has 2 usable row\(s\) for 2 regressors"):
        br.calibrate("yes ~ np.log(price)", human.iloc[:2], llm, prediction="belief")
    res = br.calibrate(FORMULA, human.iloc[:40], llm, prediction="belief")   # enough rows
    assert np.isfinite(res.bse).all()


def test_boottest_of_a_calibrated_fit_is_refused_not_answered_for_the_human_fit():
    # it bootstrapped the human-only estimator, one cluster per human row, and returned that
    # p-value on the calibrated results
    human, llm = _frames()
    res = br.calibrate(FORMULA, human, llm, prediction="belief", cov_type="cluster",
                       cov_kwds={"groups": "person"})
    with pytest.raises(NotImplementedError, match="not implemented for a PPI\\+\\+-calibrated"):
        res.boottest("np.log(price) = 0", reps=99, seed=1)
    bt = res.human_only.boottest("np.log(price) = 0", reps=99, seed=1)
    assert 0 <= bt.pvalue <= 1


def test_the_outcome_given_as_the_prediction_is_refused():
    # prediction="yes" (the human answers) with the llm frame's own "yes" column ran and
    # returned a "calibrated" fit of y on y
    human, llm = _frames()
    with pytest.raises(ValueError, match=r"the prediction column\(s\) \['yes'\] are the "
                                         "formula's outcome"):
        br.calibrate(FORMULA, human, llm.assign(yes=llm.belief), prediction="yes")


def test_llm_categoricals_may_order_or_subset_the_human_levels():
    # the llm frame's Categorical with the human levels in another order (or an unused extra
    # level) was refused by patsy: "mismatching levels: expected ('a', 'b'), got ('b', 'a')"
    human, llm = _frames()
    human["seg"] = np.where(human.person % 2 == 0, "a", "b")
    llm["seg"] = np.where(llm.person % 2 == 0, "a", "b")
    formula = FORMULA + " + seg"
    ref = br.calibrate(formula, human, llm, prediction="belief")
    for cats in (["b", "a"], ["a", "b", "never"]):
        res = br.calibrate(formula, human.assign(seg=pd.Categorical(human.seg)),
                           llm.assign(seg=pd.Categorical(llm.seg, categories=cats)),
                           prediction="belief")
        pd.testing.assert_series_equal(res.params, ref.params, rtol=1e-12)
    with pytest.raises(DataError, match=r"llm frame: .*value 'c' does not match"):
        br.calibrate(formula, human, llm.assign(seg="c"), prediction="belief")


@pytest.mark.parametrize("case", ["prediction", "prediction_llm", "weights_llm", "weights_human",
                                  "groups_human", "groups_llm", "sampling_prob"])
def test_a_missing_column_in_the_arguments_is_a_missing_column_error(case):
    # before: a bare KeyError ("prediction column(s) ['beleif'] not in the human frame"),
    # where a missing column elsewhere is a MissingColumnError naming the available ones
    human, llm = _frames()
    kw = {"prediction": "belief"}
    if case == "prediction":
        kw["prediction"], name, frame = "beleif", "beleif", "human"
    elif case == "prediction_llm":
        llm, name, frame = llm.rename(columns={"belief": "beleif"}), "belief", "llm"
    elif case == "weights_llm":
        llm, name, frame = llm.drop(columns="w"), "w", "llm"
        kw["weights"] = "w"
    elif case == "weights_human":
        human, name, frame = human.drop(columns="w"), "w", None
        kw["weights"] = "w"
    elif case in ("groups_human", "groups_llm"):
        frame = case.split("_")[1]
        if frame == "human":
            human = human.rename(columns={"person": "persn"})
        else:
            llm = llm.rename(columns={"person": "persn"})
        name = "person"
        kw.update(cov_type="cluster", cov_kwds={"groups": "person"})
    else:
        kw.update(method="dsl", sampling_prob="pi")
        name, frame = "pi", "human"
    with pytest.raises(MissingColumnError) as info:
        br.calibrate(FORMULA, human, llm, **kw)
    msg = str(info.value)
    assert repr(name) in msg
    if frame is not None:        # the calibrate argument, the frame and its columns
        assert f"not in the {frame} frame" in msg
        columns = list((human if frame == "human" else llm).columns)
        assert str(columns) in msg
    else:                        # the human weights: the model's own message
        assert "available" in msg
    if case in ("prediction", "groups_human", "groups_llm"):   # a misspelling: the close name
        assert "did you mean" in msg
    assert isinstance(info.value, (br.DataError, KeyError))
