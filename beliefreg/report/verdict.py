"""What the model's demand did, read from the numbers; and whether the price reached it at all.

* :func:`describe_demand` — sign, size (percentage points across the price range, the prices
  named) and significance of the price effect, from the belief model (the choice model when
  belief could not be fitted), with the choice model's reading beside it.
* :func:`price_blind_check` — from the panel: does the belief move with the condition at all,
  holding the sampled variables fixed? (an F test of condition effects in a linear model of the
  belief with fixed effects of the sampled variables, HC1), and the covered mass per condition.
* :func:`probe_next_token` — directly: the model's next-token distribution at the lowest and
  the highest price for the same prompt otherwise (total variation distance, the top tokens).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import CovarianceWarning

__all__ = ["Verdict", "PriceBlind", "PriceBlindProbe", "describe_demand", "price_blind_check",
           "probe_next_token", "FLAT_PP"]

#: A change of the fitted purchase probability across the whole price range smaller than this
#: many percentage points is called small, whatever its significance.
FLAT_PP = 5.0


@dataclass
class Verdict:
    """The reading of the price effect.

    Attributes
    ----------
    text : str
    direction : {'falls', 'rises', 'none'}
        'none' when the price coefficient is not significant at ``level``.
    change_pp, change_ci : float, tuple
        Fitted P(first alternative) at the highest minus at the lowest price, in percentage
        points, with its interval: MOVER (Zou & Donner 2008) from the two probabilities'
        index-scale intervals, so inside [-100, 100].
    significant : bool
    measure : str
        The model the verdict is read from.
    """

    text: str
    direction: str = "none"
    change_pp: float = math.nan
    change_ci: tuple[float, float] = (math.nan, math.nan)
    significant: bool = False
    measure: str = ""
    p_low: float = math.nan
    p_high: float = math.nan
    price_low: float = math.nan
    price_high: float = math.nan


@dataclass
class PriceBlind:
    """Does the belief move with the condition at all (from the panel)?

    Attributes
    ----------
    f_stat, df, p_value : float
        F test that every condition has the same mean belief, holding the sampled variables
        fixed (linear model with condition and sampled-variable fixed effects, HC1). NaN when
        the beliefs do not vary at all.
    max_gap : float
        Largest difference between two conditions' mean beliefs.
    identical : bool
        The belief is bitwise the same at every condition for the same sampled values.
    covered_low, covered_high : float
        Smallest and largest mean covered mass across conditions.
    text : str
    """

    f_stat: float
    df: tuple[int, int]
    p_value: float
    max_gap: float
    identical: bool
    covered_low: float
    covered_high: float
    text: str


@dataclass
class PriceBlindProbe:
    """The next-token distribution at the lowest and highest price, same prompt otherwise.

    Attributes
    ----------
    prices : tuple
    tv_distance : float
        Total variation distance between the two distributions (over the listed tokens; the
        unlisted mass is bounded by ``unlisted``).
    unlisted : float
        Largest probability mass off the lists.
    top : pandas.DataFrame
        The most likely tokens with their probability at each price.
    p_first : tuple
        The belief in the first alternative at each price.
    text : str
    """

    prices: tuple[float, float]
    tv_distance: float
    unlisted: float
    top: pd.DataFrame
    p_first: tuple[float, float]
    text: str
    details: dict[str, Any] = field(default_factory=dict)


def _crit(few: bool, groups: int | None, level: float) -> tuple[float, str]:
    if few and groups and groups > 1:
        return float(stats.t.ppf(0.5 + level / 2.0, groups - 1)), f"t({groups - 1})"
    return float(stats.norm.ppf(0.5 + level / 2.0)), "normal"


def _boottest(res: Any, term: str, level: float) -> dict[str, Any] | None:
    """The wild cluster score bootstrap of ``term = 0`` (``res.boottest``), or None."""
    if not hasattr(res, "boottest") or not res.n_groups:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Rademacher weights give only 2**G sign vectors: with G below 12 the p-value has
            # a floor (1/8 with 4 clusters), so Webb's six-point weights are used (Webb 2014)
            weights = "webb" if res.n_groups[0] < 12 else "rademacher"
            bt = res.boottest(f"{term} = 0", reps=999, seed=0, level=level, weights=weights)
        low, high = (bt.conf_int if bt.conf_int is not None else (math.nan, math.nan))
        return {"pvalue": float(bt.pvalue), "reps": int(bt.reps), "low": float(low),
                "high": float(high), "weights": weights}
    except Exception:  # noqa: BLE001 - the t(G-1) reading stands
        return None


def no_se_reason(res: Any, crit_name: str) -> str:
    """Why a fit gives no standard error, for the verdict (empty when it gives one).

    A one-way cluster covariance has rank at most G - 1: with G <= k clusters for k
    parameters it is singular, and when the model fits each cluster exactly (2 prices, an
    intercept and a slope) every cluster's scores sum to 0 and it is numerically zero; the
    t(G - 1) reference then has G - 1 degrees of freedom as well.
    """
    check = getattr(res, "cov_check", None)
    groups = res.n_groups[0] if getattr(res, "n_groups", None) else None
    k = len(res.params)
    if groups is not None and groups <= k:
        why = (f"{groups} clusters for {k} parameters: a cluster-robust covariance has rank at "
               f"most G − 1 = {groups - 1}")
        if check is not None and check.degenerate:
            why += (f", and the model fits each of the {groups} clusters exactly, so every "
                    "cluster's scores sum to 0 and the covariance is zero")
        if crit_name != "normal":
            why += (f"; the {crit_name} reference of so few clusters has {groups - 1} "
                    f"degree{'s' if groups - 1 != 1 else ''} of freedom")
        return why + "; simulate more conditions (prices) than parameters"
    if check is not None and check.reason:
        return check.reason
    return "its variance is not positive"


def _fmt_price(p: float) -> str:
    return f"{p:g}"


def _predicted_change(res: Any, cond: pd.DataFrame, price: str, lo: float, hi: float,
                      crit: float) -> tuple[float, float, float, tuple[float, float]]:
    r"""P at lo and hi (averaged over the conditions with the price set), the change, and the
    change's interval.

    Each probability's interval is the delta method on the model's index scale mapped back
    (:func:`~beliefreg.inference.prediction.mean_conf_int`, ``'endpoint'``, inside [0, 1]);
    the change's interval combines them by MOVER with their delta-method correlation
    (:func:`~beliefreg.inference.prediction.mover_difference`; Zou & Donner 2008), so it lies
    inside [-1, 1] — a plain Wald interval ``change -/+ crit se`` does not (it gave -132 points
    for a 3-price x 2-run panel).
    """
    from ..inference.prediction import mean_conf_int, mover_difference

    vmap = res._variable_map()
    link = res.model.link
    b = res.params.to_numpy(dtype=float)
    v = res.cov_params().to_numpy(dtype=float)
    probs, jac = [], []
    for p in (lo, hi):
        frame = cond.copy()
        frame[price] = p
        x = vmap.build(frame)
        eta = x @ b
        probs.append(float(link.cdf(eta).mean()))
        jac.append((link.pdf(eta)[:, None] * x).mean(axis=0))
    p_lo, p_hi = probs
    j = np.vstack(jac)
    with warnings.catch_warnings():  # the fit has warned about its covariance already
        warnings.simplefilter("ignore", CovarianceWarning)
        se_lo, se_hi = res.inference.std_errors(j, v, ["P(low)", "P(high)"],
                                                what="predicted probability")
    cov = float(j[0] @ v @ j[1])
    ci_lo, ci_hi = mean_conf_int(np.array([p_lo, p_hi]), np.array([se_lo, se_hi]), link, crit)
    # a zero SE gives a zero-width interval and the correlation does not enter; NaN stays NaN
    corr = cov / (se_lo * se_hi) if se_lo > 0 and se_hi > 0 else 0.0
    return p_lo, p_hi, p_hi - p_lo, mover_difference(p_hi, p_lo, tuple(ci_hi), tuple(ci_lo),
                                                     corr)


def describe_demand(fits: dict[str, Any], sample: pd.DataFrame, design: Any,
                    by_condition: pd.DataFrame, *, belief: str, few: bool = False,
                    level: float = 0.95) -> Verdict:
    """Sign, size across the price range and significance of the price effect (see module)."""
    from .analysis import LABELS, price_term

    if design.price is None:
        return Verdict("No price variable: the report describes the condition effects in the "
                       "tables below.")
    price = design.price
    p_lo = float(sample[price].min())
    p_hi = float(sample[price].max())
    cond = sample.groupby("condition_id", sort=True).first().reset_index()
    m_lo = sample[sample[price] == p_lo]
    m_hi = sample[sample[price] == p_hi]
    raw = (f"Raw means: belief in {belief[len('belief_'):]!r} "
           f"{m_lo[belief].mean():.3f} at {price} {_fmt_price(p_lo)} and "
           f"{m_hi[belief].mean():.3f} at {_fmt_price(p_hi)}; share choosing it "
           f"{m_lo['buy'].mean():.2f} and {m_hi['buy'].mean():.2f}.")
    readings = {}
    for m in ("belief", "choice"):
        f = fits[m]
        if f.results is None or (m == "choice" and f.separated):
            continue
        term = price_term(f.results, price)
        if term is None:
            continue
        groups = f.results.n_groups[0] if f.results.n_groups else None
        crit, crit_name = _crit(few, groups, level)
        b, se = float(f.results.params[term]), float(f.results.bse[term])
        lo_p, hi_p, change, change_ci = _predicted_change(f.results, cond, price, p_lo, p_hi,
                                                          crit)
        sig = abs(b) > crit * se
        boot = _boottest(f.results, term, level) if few else None
        no_se = "" if math.isfinite(se) and se > 0 else no_se_reason(f.results, crit_name)
        readings[m] = dict(term=term, b=b, ci=(b - crit * se, b + crit * se), crit=crit_name,
                           boot=boot, no_se=no_se,
                           p_lo=lo_p, p_hi=hi_p, change=100 * change,
                           change_ci=(100 * change_ci[0], 100 * change_ci[1]), sig=sig,
                           p=2 * (stats.t.sf(abs(b / se), groups - 1) if crit_name != "normal"
                                  else stats.norm.sf(abs(b / se))) if se > 0 else math.nan)
    if not readings:
        return Verdict("Neither demand model could be read for the price effect. " + raw)
    m = "belief" if "belief" in readings else "choice"
    r = readings[m]
    direction = ("falls" if r["change"] < 0 else "rises") if r["sig"] else "none"
    size = (f"from {r['p_lo']:.1%} at {price} {_fmt_price(p_lo)} to {r['p_hi']:.1%} at "
            f"{_fmt_price(p_hi)}, {r['change']:+.1f} percentage points"
            + (f" ({level:.0%} CI {r['change_ci'][0]:+.1f} to {r['change_ci'][1]:+.1f})"
               if all(math.isfinite(x) for x in r["change_ci"]) else ""))
    if r["no_se"]:
        coef = (f"coefficient of {r['term']} {r['b']:.3f}, with no standard error and so no "
                f"{level:.0%} interval or p-value: {r['no_se']}")
    else:
        coef = (f"coefficient of {r['term']} {r['b']:.3f}, {level:.0%} CI {r['ci'][0]:.3f} to "
                f"{r['ci'][1]:.3f} ({r['crit']} critical values), p = {r['p']:.3g}")
    if r.get("boot") is not None:
        bt = r["boot"]
        coef += (f"; wild cluster score bootstrap ({bt['reps']} {bt['weights'].capitalize()} "
                 "draws, few "
                 f"clusters) p "
                 + (f"= {bt['pvalue']:.3g}" if bt["pvalue"] > 0 else f"< {1 / bt['reps']:.2g}")
                 + (f", {level:.0%} confidence set {bt['low']:.3f} to {bt['high']:.3f}"
                    if math.isfinite(bt['low']) else ""))
        if not r["no_se"] and (bt["pvalue"] < 1 - level) != r["sig"]:
            coef += (" — the two disagree: with so few clusters the evidence is thin, read the "
                     "direction with caution")
    label = LABELS[m].split(" (")[0]
    if direction == "none" and r["no_se"]:
        boot_sig = r.get("boot") is not None and r["boot"]["pvalue"] < 1 - level
        head = (f"The {label} model's price effect cannot be tested from its covariance: the "
                f"fitted probability goes {size}; {coef}"
                + (f"; the bootstrap {'rejects' if boot_sig else 'does not reject'} "
                   f"no effect at {1 - level:.0%}" if r.get("boot") is not None else "")
                + ".")
    elif direction == "none":
        head = (f"No detectable price effect in the {label} model: the fitted probability goes "
                f"{size}; {coef}, not significant at {1 - level:.0%}.")
    else:
        small = abs(r["change"]) < FLAT_PP
        verb = "falls" if direction == "falls" else "RISES"
        head = (f"Demand {verb} with {price}{' (significantly, but by little)' if small else ''}"
                f" in the {label} model: the fitted probability goes {size}; {coef}.")
        if direction == "rises":
            head += " A demand that rises with price is not what a consumer does."
    other = "choice" if m == "belief" else None
    if other and other in readings:
        o = readings[other]
        if round(o["change"], 1) == 0:  # printed as +0.0 points: no sign to compare
            agree = "does not move"
        else:
            agree = ("agrees in sign" if np.sign(o["change"]) == np.sign(r["change"])
                     else "has the opposite sign")
        head += (f" The choice model {agree}: {o['change']:+.1f} points "
                 + (f"(no standard error: {o['no_se']})." if o["no_se"] else
                    f"(CI {o['change_ci'][0]:+.1f} to {o['change_ci'][1]:+.1f}), "
                    f"{'significant' if o['sig'] else 'not significant'}."))
    elif m == "belief" and fits["choice"].separated:
        head += " The choice logit is separated (no estimate)."
    return Verdict(head + " " + raw, direction, r["change"], r["change_ci"], bool(r["sig"]), m,
                   r["p_lo"], r["p_hi"], p_lo, p_hi)


#: The HC1 F test of the price-blind check needs this many residual degrees of freedom: with
#: one, a deterministic belief (the local backend gives the same belief to the same prompt)
#: leaves residuals of rounding size and F statistics of 1e25.
MIN_RESIDUAL_DF = 10


def price_blind_check(sample: pd.DataFrame, design: Any, belief: str) -> PriceBlind:
    """Does the belief move with the condition at all, holding the sampled variables fixed?

    A linear model of the belief on condition fixed effects and fixed effects of the sampled
    values' cells, HC1 covariance, F test of the condition effects (statsmodels OLS). The
    residual is the part of the belief that neither explains (run noise, and the
    condition-by-persona interaction when beliefs are deterministic), so the test asks whether
    the belief's mean moves with the condition beyond that; it needs at least
    :data:`MIN_RESIDUAL_DF` residual degrees of freedom.
    """
    import statsmodels.api as sm

    keys = list(design.sampled)
    y = sample[belief].to_numpy(dtype=float)
    cond = pd.get_dummies(sample["condition_id"].astype("category"), prefix="c",
                          drop_first=True, dtype=float)
    parts = [pd.Series(1.0, index=sample.index, name="const"), cond]
    if keys:
        cell = sample[keys].astype(str).agg("|".join, axis=1)
        parts.append(pd.get_dummies(cell, prefix="s", drop_first=True, dtype=float))
    x = pd.concat(parts, axis=1)
    means = sample.groupby("condition_id")[belief].mean()
    gap = float(means.max() - means.min())
    if keys:
        # only the cells of sampled values seen at two or more conditions say anything: a cell
        # seen at one condition (2 runs at 2 prices, each with its own persona) has range 0
        # whatever the price does
        cells = sample.groupby(keys)
        spans = cells["condition_id"].nunique() >= 2
        within = cells[belief].agg(lambda s: s.max() - s.min())[spans]
        identical = bool(len(within) > 0 and (within == 0).all())
    else:
        identical = bool(gap == 0 and sample["condition_id"].nunique() >= 2)
    covered = (sample.groupby("condition_id")["covered_mass"].mean()
               if "covered_mass" in sample else pd.Series([math.nan]))
    f_stat = p = math.nan
    df = (cond.shape[1], 0)
    resid_df = len(y) - x.shape[1]
    testable = (np.linalg.matrix_rank(x.to_numpy()) == x.shape[1]
                and resid_df >= MIN_RESIDUAL_DF)
    if np.ptp(y) > 0 and cond.shape[1] > 0 and testable:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.OLS(y, x.to_numpy()).fit(cov_type="HC1")
            r = np.zeros((cond.shape[1], x.shape[1]))
            for i in range(cond.shape[1]):
                r[i, 1 + i] = 1.0
            test = fit.f_test(r)
        f_stat = float(np.squeeze(test.fvalue))
        p = float(test.pvalue)
        df = (int(test.df_num), int(test.df_denom))
    what = design.price or "condition"
    held = f" holding {', '.join(keys)} fixed" if keys else ""
    if identical:
        text = (f"The belief is exactly the same at every {what} for the same "
                f"{'/'.join(keys) if keys else 'prompt'}: the {what} in the prompt does not "
                "change the model's answer distribution at all.")
    elif math.isnan(p):
        text = (f"The mean belief ranges over {gap:.4f} across conditions"
                + ("" if testable else f" (too few runs to test it{held}: after the "
                   f"condition and sampled-variable effects {max(resid_df, 0)} residual degrees "
                   f"of freedom are left, and the HC1 test needs at least {MIN_RESIDUAL_DF})")
                + ".")
    else:
        verdict = ("moves the belief" if p < 0.05 else "does not detectably move the belief")
        text = (f"The {what} {verdict}{held}: F({df[0]}, {df[1]}) = {f_stat:.2f}, p = {p:.3g} "
                f"(linear model with condition and sampled-variable fixed effects, HC1); the "
                f"mean belief ranges over {gap:.3f} across conditions.")
    if covered.notna().any():
        text += (f" Covered mass (probability on any alternative at the pivot) per condition: "
                 f"{covered.min():.3f} to {covered.max():.3f}.")
    return PriceBlind(f_stat, df, p, gap, identical, float(covered.min()),
                      float(covered.max()), text)


def _tv(a: dict[int, float], b: dict[int, float]) -> tuple[float, float]:
    keys = set(a) | set(b)
    tv = 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in keys)
    unlisted = max(1.0 - sum(a.values()), 1.0 - sum(b.values()), 0.0)
    return tv, unlisted


def probe_next_token(study: Any, *, model: str | None = None, n_threads: int | None = None,
                     n_probs: int = 4096, top: int = 8, price: str = "price"
                     ) -> PriceBlindProbe:
    """The embedded/local model's next-token distribution at the lowest and highest price.

    The prompt is the study's first run at the lowest and at the highest price with the same
    sampled values (the first condition's first run's, e.g. the same persona), laid out as the
    local backend does; the distribution is llama.cpp's exact top-``n_probs`` list (normalised
    over the whole vocabulary).

    Parameters
    ----------
    study : Study
    model : str, optional
        A GGUF file; default the embedded model.
    n_threads, n_probs, top : int
        llama.cpp threads, the listed probabilities, the tokens shown.
    price : str
        The condition variable compared at its lowest and highest value.

    Raises
    ------
    ValueError
        The study has no variable ``price`` or fewer than two values of it.
    """
    from ..simulation.backends.local import LocalBackend
    from ..simulation.design import expand

    backend = LocalBackend(model, n_threads=n_threads)
    model_name = backend.resolve_model(model)
    items = expand(study)
    if any(price not in it.variables for it in items[:1]):
        raise ValueError(f"the study has no condition variable {price!r} (its variables: "
                         f"{sorted(items[0].variables) if items else []})")
    prices = sorted({float(it.variables[price]) for it in items})
    if len(prices) < 2:
        raise ValueError(f"the study has one value of {price!r}: nothing to compare")
    first = items[0]
    sampled = {k: first.variables[k] for k in study.sampled}

    def item_at(p: float) -> Any:
        for it in items:
            if float(it.variables[price]) == p and all(it.variables[k] == v
                                                       for k, v in sampled.items()):
                return it
        return next(it for it in items if float(it.variables[price]) == p)

    rt = backend._runtime()
    dists, p_first, vocab = [], [], {}
    for p in (prices[0], prices[-1]):
        item = item_at(p)
        payload = backend.build_payload(item, study, model_name)
        out = rt.complete(payload["prompt"], max_tokens=1, n_probs=n_probs, temperature=1.0,
                          top_p=1.0, seed=0)
        first_tok = out["choices"][0]["logprobs"]["content"][0]
        d = {int(t["id"]): math.exp(t["logprob"]) for t in first_tok["top_logprobs"]}
        for t in first_tok["top_logprobs"]:
            vocab[int(t["id"])] = t.get("token")
        dists.append(d)
        resolved = backend._resolve(study.choices)
        alts = list(study.alternatives)
        mass = {a: sum(d.get(i, 0.0) for i in resolved.token_ids.get(a, ())) for a in alts}
        total = sum(mass.values())
        p_first.append(mass[alts[0]] / total if total > 0 else math.nan)
    tv, unlisted = _tv(dists[0], dists[1])
    ids = sorted(set(dists[0]) | set(dists[1]),
                 key=lambda i: -(dists[0].get(i, 0.0) + dists[1].get(i, 0.0)))[:top]
    table = pd.DataFrame({"token": [repr(vocab.get(i, "")) for i in ids],
                          f"P at {prices[0]:g}": [dists[0].get(i, 0.0) for i in ids],
                          f"P at {prices[-1]:g}": [dists[1].get(i, 0.0) for i in ids]},
                         index=pd.Index(ids, name="token_id"))
    persona = ", ".join(f"{k}={v!r}" for k, v in sampled.items())
    text = (f"Direct check on the model: the next-token distribution after the prompt at "
            f"{price} {prices[0]:g} and at {prices[-1]:g} (same prompt otherwise"
            f"{'; ' + persona if persona else ''}) differs by a total variation distance of "
            f"{tv:.4f} (unlisted mass at most {unlisted:.1e}); belief in "
            f"{study.alternatives[0]!r} {p_first[0]:.4f} vs {p_first[1]:.4f}. "
            + ("The price in the prompt barely changes what the model would say next "
               "(total variation below 0.02)."
               if tv < 0.02 else "The price in the prompt does change the distribution "
               "(total variation 0.02 or more).")
            + " This compares one prompt at the two extreme prices; the test above asks "
              "whether the belief's mean across the runs moves with the price beyond how much "
              "the price's effect differs between runs (sampled values), so the two can "
              "disagree: a change for one persona that others do not share is not a "
              "movement of the mean.")
    return PriceBlindProbe((prices[0], prices[-1]), tv, unlisted, table,
                           (p_first[0], p_first[1]), text)
