r"""The linearmodels bridge: Berry's logit inversion and linear probability models of beliefs.

Two linear estimators that researchers run next to the (quasi-)likelihood models, estimated by
`linearmodels <https://bashtage.github.io/linearmodels/>`_ (``pip install beliefreg[panel]``):

* :func:`share_inversion` -- Berry (1994): with logit shares
  :math:`s_{gj} = e^{\delta_{gj}} / \sum_l e^{\delta_{gl}}` and an outside alternative 0 with
  :math:`\delta_{g0} = 0`, :math:`\log s_{gj} - \log s_{g0} = \delta_{gj} = z_{gj}'\beta +
  \xi_{gj}`, a linear regression on the alternatives' attributes (with fixed effects, or with
  instruments for an endogenous price);
* :func:`linear_probability` -- the linear probability model of a belief (or a 0/1 choice)
  with absorbed fixed effects, e.g. persona and prompt-variant effects.

Fixed effects are absorbed by ``PanelOLS`` (as ``other_effects``, so any one or two columns
can be effects and the rows need no panel structure); instruments, written in linearmodels'
formula syntax ``[price ~ cost]``, use ``IV2SLS``; with neither, ``IV2SLS`` is OLS. Formulas are
linearmodels' (patsy) formulas: **write the intercept** (``1 + ...``), linearmodels does not add
it.

Covariances are chosen by the package's names and mapped to linearmodels' options so that the
conventions are those of the rest of beliefreg:

==============  ===========================================================================
``cov_type``    estimate
==============  ===========================================================================
``nonrobust``   :math:`s^2 (X'X)^{-1}`, :math:`s^2 = e'e / (n - k)`
``HC0``         White's sandwich, no correction
``HC1``         HC0 times :math:`n / (n - k)`
``cluster``     one- or two-way CR1, :math:`G/(G-1) \cdot (n-1)/(n-k)` for each term, two-way
                :math:`V_a + V_b - V_{a \cap b}` (as ``sandwich::vcovCL(type = "HC1")``)
==============  ===========================================================================

Here *k* counts **every** parameter, the absorbed effects included (as if their dummies were
in the regression: the numbers of R's ``lm`` with factor dummies and ``sandwich``, or Stata's
``areg``). Software that drops effects nested in the clusters from *k* (Stata's ``xtreg``,
``reghdfe``, R's ``fixest``) reports slightly smaller clustered SEs. Inference uses the t and F
distributions for ``HC1``, ``cluster`` and ``nonrobust`` (linearmodels' ``debiased=True``).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..exceptions import DataError, MissingColumnError, RankDeficientError
from ..frames import as_pandas_frame, code_names
from .design import check_full_rank, describe_rows, numbers_as_text

__all__ = ["share_inversion", "linear_probability", "DEPENDENT_NAME"]

DEPENDENT_NAME = "log_share_ratio"
_EFFECT_WORDS = re.compile(r"\b(EntityEffects|TimeEffects|FixedEffects)\b")


def _linearmodels():
    try:
        import linearmodels
    except ImportError as exc:  # pragma: no cover - linearmodels is installed in the test env
        raise ImportError("share_inversion and linear_probability need linearmodels: "
                          "pip install 'beliefreg[panel]'") from exc
    return linearmodels


def _split_formula(formula: str) -> tuple[str, str]:
    if "~" not in formula:
        raise ValueError(f"formula {formula!r} has no '~'; write 'share ~ 1 + attributes'")
    lhs, rhs = formula.split("~", 1)
    if _EFFECT_WORDS.search(rhs):
        raise ValueError("absorb fixed effects with effects=['persona', ...] (one or two "
                         "columns), not with EntityEffects/TimeEffects in the formula")
    return lhs.strip(), rhs.strip()


def _as_list(spec: Any) -> list[Any]:
    if spec is None:
        return []
    if isinstance(spec, (str, pd.Series)) or (isinstance(spec, np.ndarray) and spec.ndim == 1):
        return [spec]
    return list(spec)


def _columns(data: pd.DataFrame, specs: Sequence[Any], what: str) -> pd.DataFrame:
    """Column names, or arrays aligned with ``data``, as a DataFrame on ``data``'s index."""
    out = {}
    for i, spec in enumerate(specs):
        if isinstance(spec, str):
            if spec not in data.columns:
                raise MissingColumnError(f"{what} column {spec!r} is not in the data")
            values, name = data[spec], spec
        else:
            values = pd.Series(np.asarray(spec), index=data.index) if not isinstance(
                spec, pd.Series) else spec.reindex(data.index)
            if len(values) != len(data):
                raise DataError(f"{what} #{i + 1} has length {len(values)}, the data "
                                f"{len(data)} rows")
            name = getattr(spec, "name", None) or f"{what}{i}"
        missing = values.isna().to_numpy()
        if missing.any():
            raise DataError(f"{what} {name!r} is missing in {describe_rows(data.index[missing])}")
        out[f"_{what}_{i}"] = pd.Series(pd.factorize(values, sort=True)[0], index=data.index)
    return pd.DataFrame(out, index=data.index)


_COV_MAP: dict[str, tuple[str, dict[str, Any]]] = {
    "nonrobust": ("unadjusted", {"debiased": True}),
    "HC0": ("robust", {"debiased": False}),
    "HC1": ("robust", {"debiased": True}),
    "cluster": ("clustered", {"debiased": True}),
}


def _canonical_cov(cov_type: str) -> str:
    key = {"nonrobust": "nonrobust", "hc0": "HC0", "hc1": "HC1", "cluster": "cluster",
           "clustered": "cluster"}.get(str(cov_type).lower())
    if key is None:
        raise ValueError(f"cov_type {cov_type!r} is not implemented; choose one of "
                         f"{tuple(_COV_MAP)}")
    return key


def linear_fit(formula: str, data: pd.DataFrame, *, effects: Any = None,
               cov_type: str = "cluster", cov_kwds: Mapping[str, Any] | None = None):
    """Fit a linear model with linearmodels under beliefreg's covariance conventions.

    The engine of :func:`share_inversion` and :func:`linear_probability`; ``formula`` is a
    linearmodels formula on ``data`` (its left-hand side a column of ``data``).
    """
    lm = _linearmodels()
    cov = _canonical_cov(cov_type)
    cov_kwds = dict(cov_kwds or {})
    unknown = set(cov_kwds) - {"groups"}
    if unknown:
        raise ValueError(f"unknown cov_kwds {sorted(unknown)}; only 'groups' is accepted")
    groups = _as_list(cov_kwds.get("groups"))
    if cov == "cluster" and not groups:
        raise ValueError("cov_type='cluster' needs cov_kwds={'groups': <column name(s)>}")
    if cov != "cluster" and groups:
        raise ValueError(f"cov_kwds['groups'] is only used with cov_type='cluster', not "
                         f"{cov_type!r}")
    if len(groups) > 2:
        raise ValueError(f"at most two-way clustering is supported, got {len(groups)}")
    effects = _as_list(effects)
    if len(effects) > 2:
        raise ValueError(f"at most two absorbed effects are supported, got {len(effects)}")
    lm_cov, options = _COV_MAP[cov]
    fit_kw: dict[str, Any] = dict(options)
    if groups:
        clusters = _columns(data, groups, "cluster")
        n_groups = clusters.nunique()
        if (n_groups < 2).any():
            raise DataError("cluster-robust covariance needs at least 2 clusters per variable")
        fit_kw["clusters"] = clusters
        if effects:  # PanelOLS: G/(G-1)(n-1)/n here, n/(n-k) from debiased
            fit_kw["group_debias"] = True
    if effects:
        if "[" in formula:
            raise ValueError("linearmodels cannot absorb effects in an IV regression; add the "
                             "effects as dummies to the formula instead (C(persona))")
        absorbed = _columns(data, effects, "effect")
        frame = data.copy(deep=False)
        frame.index = pd.MultiIndex.from_arrays([np.arange(len(data)), np.zeros(len(data), int)],
                                                names=["row", "period"])
        absorbed.index = frame.index
        if groups:
            fit_kw["clusters"] = fit_kw["clusters"].set_axis(frame.index)
        # k counts the absorbed effects (auto_df off): the LSDV convention of the package
        return _fit_named(data, formula,
                          lambda: lm.PanelOLS.from_formula(formula, frame, other_effects=absorbed),
                          lambda m: m.fit(cov_type=lm_cov, auto_df=False,
                                          count_effects=cov != "HC0", **fit_kw))
    return _fit_named(data, formula, lambda: lm.IV2SLS.from_formula(formula, data),
                      lambda m: m.fit(cov_type=lm_cov, **fit_kw))


def _fit_named(data: pd.DataFrame, formula: str, build: Callable[[], Any],
               fit: Callable[[Any], Any]) -> Any:
    """``fit(build())``, with linearmodels' "regressors [exog endog] do not have full column
    rank" (raised when the model is built or fitted) as a :class:`DataError` for a column of
    numbers written as text (coded as a category with one column per value), else a
    :class:`RankDeficientError` naming the collinear columns
    (:func:`~beliefreg.models.design.check_full_rank`)."""
    model = None
    try:
        model = build()
        return fit(model)
    except ValueError as exc:
        if "full column rank" not in str(exc):
            raise
        _, rhs = _split_formula(formula)
        why = numbers_as_text(data, sorted(code_names(rhs.replace("[", "(").replace("]", ")")
                                                      .replace("~", "+"))), formula)
        if why:
            raise DataError(why) from None
        parts = [getattr(model, name, None) for name in ("exog", "endog")]
        frames = [p.pandas for p in parts if p is not None and getattr(p, "shape", (0, 0))[1]]
        if frames:
            x = pd.concat(frames, axis=1)
            check_full_rank(x.to_numpy(dtype=float), [str(c) for c in x.columns])
        raise RankDeficientError(f"the regressors do not have full column rank "
                                 f"(linearmodels: {exc})") from None


def share_inversion(formula: str, data: pd.DataFrame, *, groups: str, alternatives: str,
                    outside: Any, effects: Any = None, cov_type: str = "cluster",
                    cov_kwds: Mapping[str, Any] | None = None, floor: float | None = None,
                    share_tol: float = 1e-6):
    r"""Berry's (1994) logit inversion, :math:`\log(s_{gj}/s_{g0})` on attributes.

    The data are long format, as for :class:`~beliefreg.ConditionalLogit`: one row per choice
    situation (market, LLM run) x alternative, the outside alternative included. For every
    inside row the dependent variable :math:`\log s_{gj} - \log s_{g0}` (named
    ``log_share_ratio``) is regressed on the formula's right-hand side; the outside rows are
    then dropped. Under the logit model this is linear in the attributes, so it can absorb
    fixed effects (``PanelOLS``) or instrument an endogenous price (``IV2SLS``).

    Parameters
    ----------
    formula : str
        ``'belief ~ 1 + price + C(brand)'``: the share column, then linearmodels' formula for
        the right-hand side, e.g. ``'belief ~ 1 + C(brand) + [price ~ cost]'`` for IV. No
        intercept is added for you.
    data : pandas.DataFrame
        Long format; every situation has every alternative once; shares sum to 1 within a
        situation (``share_tol``).
    groups, alternatives : str
        Columns with the situation id and the alternative.
    outside : scalar
        The outside alternative's label (its share is :math:`s_{g0}`).
    effects : str or list of str, optional
        One or two columns whose fixed effects are absorbed (``PanelOLS``), e.g.
        ``['persona', 'condition']``.
    cov_type : {'cluster', 'HC0', 'HC1', 'nonrobust'}
        See :mod:`beliefreg.models.linear` for the conventions. Default ``'cluster'``.
    cov_kwds : dict, optional
        ``{'groups': 'persona'}`` or two columns for two-way clustering.
    floor : float, optional
        Zero shares make the log undefined and are an error naming them. With ``floor`` every
        share below it (inside and outside) is set to ``floor`` before the logs (no
        renormalisation). This is a documented approximation, not a fix: it biases the
        coefficients toward zero when zeros are frequent; the quasi-likelihood models
        (:class:`~beliefreg.ConditionalLogit`) need no floor.
    share_tol : float

    Returns
    -------
    linearmodels results
        ``PanelEffectsResults`` (with effects) or ``IVResults``: ``params``, ``std_errors``,
        ``summary``, ...

    Examples
    --------
    >>> import numpy as np, pandas as pd, beliefreg as br
    >>> rng = np.random.default_rng(0)
    >>> long = pd.DataFrame({"obs": np.repeat(np.arange(200), 3),
    ...                      "brand": np.tile(["a", "b", "none"], 200),
    ...                      "price": rng.uniform(1, 2, 600), "persona": np.repeat(np.arange(200) % 20, 3)})
    >>> long.loc[long.brand == "none", "price"] = 0.0
    >>> u = (-1.5 * long.price + long.brand.map({"a": 2.0, "b": 1.5, "none": 0.0})
    ...      + rng.normal(scale=0.1, size=600)).to_numpy()
    >>> e = np.exp(u.reshape(200, 3)); long["belief"] = (e / e.sum(1, keepdims=True)).ravel()
    >>> res = br.share_inversion("belief ~ 1 + price + C(brand)", long, groups="obs",
    ...                          alternatives="brand", outside="none",
    ...                          cov_kwds={"groups": "persona"})
    >>> float(round(res.params["price"], 1))
    -1.5
    """
    from .conditional import grid_structure

    data = as_pandas_frame(data, what="data")   # polars, pyarrow: as the other models
    lhs, rhs = _split_formula(formula)
    if lhs not in data.columns:
        raise MissingColumnError(f"the share column {lhs!r} (the formula's left-hand side) is "
                                 "not in the data")
    for col in (groups, alternatives):
        if col not in data.columns:
            raise MissingColumnError(f"column {col!r} is not in the data")
    structure = grid_structure(data[groups], data[alternatives], data.index)
    if outside not in structure.alternatives:
        raise ValueError(f"outside alternative {outside!r} is not among "
                         f"{structure.alternatives}")
    alt_index = structure.alternatives.index(outside)
    lacking = ~structure.available[:, alt_index]
    if lacking.any():
        first = [structure.group_labels[i] for i in np.flatnonzero(lacking)[:5]]
        raise DataError(f"{int(lacking.sum())} situation(s) do not offer the outside "
                        f"alternative {outside!r} (first groups "
                        f"{[g.item() if isinstance(g, np.generic) else g for g in first]}); "
                        "the share inversion divides by its share in every situation")
    s = data[lhs].to_numpy(dtype=float)
    bad = ~np.isfinite(s) | (s < 0) | (s > 1)
    if bad.any():
        raise DataError(f"shares {lhs!r} must lie in [0, 1]; they do not in "
                        f"{describe_rows(data.index[bad])}")
    grid = structure.grid(s)
    off = np.abs(grid.sum(axis=1) - 1.0) > share_tol
    if off.any():
        first = [structure.group_labels[i] for i in np.flatnonzero(off)[:5]]
        raise DataError(f"shares {lhs!r} must sum to 1 within each situation (share_tol="
                        f"{share_tol:g}); they do not in {int(off.sum())} situation(s), first "
                        f"groups {[g.item() if isinstance(g, np.generic) else g for g in first]}")
    if floor is None:
        zero = s <= 0.0
        if zero.any():
            raise DataError(
                f"{int(zero.sum())} zero share(s) in {describe_rows(data.index[zero])}: "
                f"log({lhs}) is undefined. Pass floor= (e.g. 1e-4) to replace shares below it "
                "by it (an approximation that biases the estimates toward zero when zeros are "
                "common), or use ConditionalLogit, which handles zero shares")
    else:
        if not 0.0 < floor < 1.0:
            raise ValueError(f"floor must be in (0, 1), got {floor}")
        s = np.maximum(s, floor)
    outside_share = structure.grid(s)[:, alt_index][structure.group_codes]
    inside = (structure.alt_codes != alt_index)
    frame = data.loc[inside].copy()
    for name in frame.columns:   # the outside level of a pandas Categorical: an empty column
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].cat.remove_unused_categories()
    if DEPENDENT_NAME in frame.columns:
        raise ValueError(f"the data already have a column {DEPENDENT_NAME!r}")
    frame[DEPENDENT_NAME] = np.log(s[inside]) - np.log(outside_share[inside])
    return linear_fit(f"{DEPENDENT_NAME} ~ {rhs}", frame, effects=effects, cov_type=cov_type,
                      cov_kwds=cov_kwds)


def linear_probability(formula: str, data: pd.DataFrame, *, effects: Any = None,
                       cov_type: str = "cluster",
                       cov_kwds: Mapping[str, Any] | None = None):
    r"""A linear probability model of a belief (or a 0/1 choice), with absorbed fixed effects.

    :math:`b_i = x_i'\beta + \alpha_{e(i)} + \gamma_{t(i)} + u_i` by OLS with up to two absorbed
    effects (e.g. persona and prompt variant) through ``PanelOLS``, and the package's clustered
    covariance (see :mod:`beliefreg.models.linear`). For users who want fixed effects, which the
    nonlinear fractional models cannot absorb without an incidental-parameters bias. Fitted
    values are not kept in [0, 1].

    Parameters
    ----------
    formula : str
        ``'belief ~ 1 + np.log(price)'`` (linearmodels formula; write the intercept; with
        instruments ``[x ~ z]`` and no effects, 2SLS).
    data : pandas.DataFrame
    effects : str or list of str, optional
        One or two columns whose fixed effects are absorbed.
    cov_type, cov_kwds
        As in :func:`share_inversion`; default one-way clusters from ``cov_kwds['groups']``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, beliefreg as br
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"persona": np.repeat(np.arange(30), 10), "price": rng.uniform(1, 2, 300)})
    >>> d["belief"] = np.clip(0.9 - 0.3 * d.price + 0.01 * d.persona
    ...                       + rng.normal(scale=0.05, size=300), 0, 1)
    >>> res = br.linear_probability("belief ~ price", d, effects="persona",
    ...                             cov_kwds={"groups": "persona"})
    >>> float(round(res.params["price"], 1))
    -0.3
    """
    data = as_pandas_frame(data, what="data")
    lhs, _ = _split_formula(formula)
    if lhs not in data.columns:
        raise MissingColumnError(f"the outcome column {lhs!r} is not in the data")
    y = data[lhs].to_numpy(dtype=float)
    bad = ~np.isfinite(y) | (y < 0) | (y > 1)
    if bad.any():
        raise DataError(f"the outcome {lhs!r} must be a belief or a choice in [0, 1]; it is "
                        f"not in {describe_rows(data.index[bad])}")
    return linear_fit(formula, data, effects=effects, cov_type=cov_type, cov_kwds=cov_kwds)
