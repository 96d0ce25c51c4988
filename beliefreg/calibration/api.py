"""``beliefreg.calibrate``: human answers plus LLM predictions, through the models' formulas."""

from __future__ import annotations

import difflib
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import patsy

from ..exceptions import DataError, MissingColumnError, MissingValueWarning
from ..frames import as_pandas_frame, code_names, formula_outcome_names
from ..models.binary import BinaryModel, Logit
from ..models.design import build_matrix, describe_rows
from ..models.multinomial import MultinomialFractionalLogit, _check_shares
from ..models.share_effects import alternative_name
from .estimator import Samples, dsl_fit, ppi_fit
from .families import family_of
from .results import CalibratedCovariance, calibrated_results

__all__ = ["calibrate", "METHODS"]

METHODS = ("ppi++", "dsl")


def calibrate(formula: str, human: pd.DataFrame, llm: pd.DataFrame, *,
              prediction: str | Sequence[str] | Mapping[str, str],
              model: type = Logit, method: str = "ppi++", lam: float | None = None,
              coord: str | int | None = None, cov_type: str = "HC0",
              cov_kwds: Mapping[str, Any] | None = None, weights: Any = None,
              sampling_prob: Any = None, ddof: int = 0, bread: str = "rectified",
              base: str | int | None = None,
              maxiter: int = 100, tol: float = 1e-10, eval_env: Any = 0):
    r"""Estimate a model for people from a human sample and LLM predictions (PPI++ or DSL).

    The human frame holds, per respondent-question, the human answer (the formula's outcome)
    and the LLM's prediction for the same question (``prediction``: a model belief); the LLM
    frame holds further rows with the formula's regressors and the prediction (simulated
    respondents, or the rest of the sample). The estimate is consistent for the human
    parameters **however wrong the LLM is**; it is more precise than the human rows alone when
    the prediction tracks the human answers. See :mod:`beliefreg.calibration` for the
    estimators, their assumptions and the covariance.

    Parameters
    ----------
    formula : str
        The model's formula, e.g. ``"buy ~ np.log(price) + C(persona)"`` (for the multinomial
        model ``"C(choice) ~ ..."`` or ``"a + b + c ~ ..."``).
    human : pandas.DataFrame (or any frame the models accept: polars, pyarrow, dict)
        The human rows: outcome, regressors, prediction. Rows with missing values in the
        formula's variables are dropped with a warning; a missing or invalid prediction on a
        used row is an error naming the rows.
    llm : pandas.DataFrame
        The simulated rows: regressors and prediction (no outcome needed). Rows with missing
        regressors or prediction are dropped with a :class:`~beliefreg.MissingValueWarning`.
        For PPI++ they must be draws from the same population of regressors as the human rows
        (e.g. the same personas and conditions); for DSL they are the rows of the full sample
        that were *not* selected for human labelling.
    prediction : str, list of str or dict
        The prediction column: a probability in [0, 1] for the binary models; for the
        multinomial model one column per alternative (a list in the order of the model's
        alternatives, or ``{alternative: column}``), each row summing to 1.
    model : class
        :class:`~beliefreg.Logit` (default; 0/1 human answers), :class:`~beliefreg.FractionalLogit`,
        :class:`~beliefreg.FractionalProbit` or :class:`~beliefreg.MultinomialFractionalLogit`.
    method : {'ppi++', 'dsl'}
        PPI++ (Angelopoulos, Duchi and Zrnic 2023) or DSL (Egami et al. 2023; needs
        ``sampling_prob``).
    lam : float, optional
        PPI++ only: a fixed :math:`\lambda` in [0, 1] (0: the human-only fit, exactly; 1: plain
        PPI). Default: power tuning, the :math:`\lambda` minimising the variance of ``coord``
        (or the trace of the covariance), clipped to [0, 1].
    coord : str or int, optional
        The coefficient whose variance the tuning minimises (a name in ``params`` or a
        position); default the trace.
    cov_type : {'HC0', 'cluster'}
        The sandwich's meat. ``'cluster'`` needs ``cov_kwds={'groups': g}`` with ``g`` a column
        name present in both frames (the same label is the same cluster in both: a person who
        answered and whose persona was simulated) or a pair ``(human_groups, llm_groups)`` of
        arrays aligned with the frames.
    cov_kwds : dict, optional
    weights : str or (array, array), optional
        Prior (survey) weights: a column name present in both frames, or a pair of arrays
        aligned with the frames. Normalised to mean 1 within each sample (within the full
        sample for DSL), as ``ppi_py`` does.
    sampling_prob : str or array_like, optional
        DSL only: the probability with which each human row was selected for labelling, a
        column of ``human`` or an array aligned with it; in (0, 1].
    ddof : {0, 1}
        PPI++ with HC0 only: 1 gives each sample's variance the :math:`m/(m-1)` factor of
        ``np.cov`` (``ppi_py``'s intervals); 0 (default) reduces to the human-only HC0 at
        :math:`\lambda = 0`.
    bread : {'rectified', 'pooled'}
        PPI++ only: the sandwich's bread. ``'rectified'`` (default): the derivative of the
        rectified estimating equation, :math:`(1-\lambda)\bar I_h + \lambda \bar I_u`
        (continuous in :math:`\lambda`). ``'pooled'``: the average information over both
        samples pooled, ``ppi_py``'s convention. Asymptotically the same.
    base : str or int, optional
        The multinomial model's base alternative.
    maxiter, tol : optional
        Fisher scoring on the rectified estimating equation.
    eval_env : int or patsy.EvalEnvironment

    Returns
    -------
    CalibratedBinaryResults or CalibratedMultinomialResults
        The model's usual results (``params``, ``bse``, ``conf_int``, ``summary``, ``margins``,
        ``elasticity``, ``wtp``, ``nlcom``, ``get_prediction``, and ``compare``) with the
        calibrated covariance throughout, plus ``lam``, ``n_human``, ``n_llm``,
        ``effective_nobs`` (per coefficient: the human rows that alone would give the same
        variance) and ``human_only`` (the human-only fit with the same covariance type).

    Raises
    ------
    DataError
        Invalid predictions, weights, clusters or sampling probabilities (naming the rows);
        no more usable human rows than regressors.
    ValueError
        Unknown method, covariance type or option combination.

    Examples
    --------
    >>> import numpy as np, pandas as pd, beliefreg as br
    >>> rng = np.random.default_rng(0)
    >>> def frame(m):
    ...     d = pd.DataFrame({"price": rng.choice([1.0, 2.0, 4.0], m)})
    ...     eta = 1 - 1.5 * np.log(d.price) + rng.normal(0, 2, m)   # taste: the LLM sees it
    ...     d["buy"] = (rng.uniform(size=m) < 1 / (1 + np.exp(-eta))).astype(int)
    ...     d["belief"] = 1 / (1 + np.exp(-(eta + 0.5 + rng.normal(0, 0.5, m))))  # biased
    ...     return d
    >>> res = br.calibrate("buy ~ np.log(price)", human=frame(300), llm=frame(3000),
    ...                    prediction="belief")
    >>> bool(0 < res.lam <= 1), res.n_human, res.n_llm
    (True, 300, 3000)
    >>> bool((res.bse < res.human_only.bse).all())
    True
    """
    method_key = str(method).lower()
    if method_key not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not isinstance(model, type) or not issubclass(model, (BinaryModel,
                                                             MultinomialFractionalLogit)):
        raise TypeError("model must be br.Logit, br.FractionalLogit, br.FractionalProbit or "
                        f"br.MultinomialFractionalLogit, got {model!r}")
    if cov_type.lower() in ("hc0",):
        cov_type = "HC0"
    elif cov_type.lower() in ("cluster", "clustered"):
        cov_type = "cluster"
    else:
        raise ValueError(f"cov_type must be 'HC0' or 'cluster' for a calibrated fit, got "
                         f"{cov_type!r} (the PPI sandwich has no nonrobust form)")
    cov_kwds = dict(cov_kwds or {})
    unknown = set(cov_kwds) - {"groups"}
    if unknown:
        raise ValueError(f"unknown cov_kwds {sorted(unknown)}; accepted: 'groups'")
    if (cov_type == "cluster") != ("groups" in cov_kwds):
        raise ValueError("cov_type='cluster' needs cov_kwds={'groups': ...}, and groups are "
                         "only used with cov_type='cluster'")
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
    if method_key == "dsl":
        if lam is not None or coord is not None:
            raise ValueError("lam and coord are PPI++ options; DSL has no tuning parameter")
        if sampling_prob is None:
            raise ValueError("method='dsl' needs sampling_prob (the probability that each "
                             "human row was selected for labelling)")
        if ddof:
            raise ValueError("ddof applies to PPI++ with HC0 only")
    elif sampling_prob is not None:
        raise ValueError("sampling_prob is used by method='dsl' only")
    if lam is not None and coord is not None:
        raise ValueError("coord chooses what power tuning minimises; with a fixed lam there "
                         "is no tuning: drop coord or lam")
    if lam is not None and not (np.isfinite(lam) and 0 <= lam <= 1):
        raise ValueError(f"lam must be a number in [0, 1], got {lam!r}")
    if bread not in ("rectified", "pooled"):
        raise ValueError(f"bread must be 'rectified' or 'pooled', got {bread!r}")
    if ddof and cov_type == "cluster":
        raise ValueError("ddof applies to cov_type='HC0' only (clusters use the CR1 factor)")
    # any frame the models accept (pandas, polars, pyarrow, dict of columns), as pandas with a
    # unique index (the rows are matched by label between the design and the frames)
    human = as_pandas_frame(human, what="human", formula=formula)
    # the llm rows are new data for the human design: a Categorical may hold any subset or
    # order of the human levels (read as plain values, checked against the fitted levels)
    llm = as_pandas_frame(llm, what="llm", newdata=True)
    if not human.index.is_unique:
        human = human.reset_index(drop=True)
    if not llm.index.is_unique:
        llm = llm.reset_index(drop=True)

    if isinstance(eval_env, int):
        eval_env = patsy.EvalEnvironment.capture(eval_env + 1)
    w_h_spec, w_u_spec = _split_pair(weights, "weights")
    kwargs: dict[str, Any] = {"weights": w_h_spec, "eval_env": eval_env}
    if issubclass(model, MultinomialFractionalLogit):
        kwargs["base"] = base
    elif base is not None:
        raise ValueError("base is an option of MultinomialFractionalLogit only")
    human_model = model.from_formula(formula, human, **kwargs)
    design = human_model.design
    labels = design.row_labels
    multinomial = isinstance(human_model, MultinomialFractionalLogit)
    k = design.exog.shape[1]
    if len(labels) <= k:
        # n = k rows fit exactly (a separated logit): the variance of the human rows' scores,
        # the human part of the sandwich, has rank <= n - 1 < k and the "standard errors"
        # that came out (e.g. 0.17 from 2 rows) measured nothing
        raise DataError(f"the human frame has {len(labels)} usable row(s) for {k} regressors "
                        f"{design.exog_names}: the human part of the calibrated covariance "
                        "cannot be estimated; calibration needs more human rows than "
                        "regressors (many more for reliable intervals)")

    pred_cols = _prediction_columns(prediction, human_model, multinomial)
    outcome = set(formula_outcome_names(formula, human.columns))
    if outcome & set(pred_cols):
        # the human answers passed as their own prediction: PPI++ then "calibrates" y with y
        raise ValueError(f"the prediction column(s) {sorted(outcome & set(pred_cols))} are the "
                         f"formula's outcome: the prediction is the LLM's belief for the same "
                         "question (e.g. 'belief_yes'), a column of its own in both frames")
    for name, frame in (("human", human), ("llm", llm)):
        missing = [c for c in pred_cols if c not in frame.columns]
        if missing:
            raise _missing_columns("prediction", missing, name, frame)
    f_h = _predictions(human.loc[labels, pred_cols], pred_cols, multinomial, human_model,
                       "human", drop=False)

    # simulated rows: the formula's right-hand side rebuilt, rows with missing values dropped
    llm_kept, x_u = _llm_design(design, llm, pred_cols)
    f_u = _predictions(llm.loc[llm_kept, pred_cols], pred_cols, multinomial, human_model, "llm",
                       drop=False)
    if len(x_u) == 0:
        raise DataError("the llm frame has no usable rows")

    w_h = np.ones(len(labels)) if design.weights is None else np.asarray(design.weights, float)
    w_u = _llm_weights(w_u_spec, llm, llm_kept)
    if method_key == "dsl":
        total = w_h.sum() + w_u.sum()
        scale = (len(w_h) + len(w_u)) / total
        w_h, w_u = w_h * scale, w_u * scale
    else:
        w_h, w_u = w_h / w_h.mean(), w_u / w_u.mean()

    codes = groups_h = None
    group_name = None
    if cov_type == "cluster":
        g_h, g_u, group_name = _groups(cov_kwds["groups"], human, llm, labels, llm_kept)
        groups_h = g_h
        values = pd.concat([pd.Series(g_h, dtype=object), pd.Series(g_u, dtype=object)],
                           ignore_index=True)
        if values.isna().any():
            raise DataError("cluster groups have missing values in the rows used")
        codes = pd.factorize(values, sort=True)[0].astype(np.intp)

    y_h = np.asarray(design.endog, float)
    samples = Samples(family=family_of(human_model), x_h=design.exog, y_h=y_h, f_h=f_h,
                      w_h=w_h, x_u=x_u, f_u=f_u, w_u=w_u, codes=codes)

    # the human-only fit: starting values, lambda = 0, the effective sample size
    human_cov_kwds = None
    if codes is not None:
        human_cov_kwds = {"groups": group_name if group_name else np.asarray(groups_h, dtype=object)}
    fit_kwargs: dict[str, Any] = {"cov_type": cov_type, "cov_kwds": human_cov_kwds}
    if not multinomial:
        fit_kwargs["hessian"] = "expected"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingValueWarning)
        human_only = human_model.fit(**fit_kwargs)
    start = human_only.params.to_numpy()

    names = list(human_only.params.index)
    coord_pos = _coord_position(coord, names)
    if method_key == "dsl":
        pi = _sampling_prob(sampling_prob, human, labels)
        fitted = dsl_fit(samples, start, pi, maxiter=maxiter, tol=tol)
    else:
        fitted = ppi_fit(samples, start, lam=lam, coord=coord_pos, ddof=ddof, maxiter=maxiter,
                         tol=tol, bread=bread)

    label = f"{fitted.method} sandwich, " + ("HC0" if cov_type == "HC0" else "cluster (CR1)")
    if ddof:
        label += ", ddof=1"
    estimator = CalibratedCovariance(kind=cov_type, label=label, groups=fitted.n_groups)
    results_cov_kwds = {"groups": group_name} if group_name else (
        {"groups": "(arrays)"} if cov_type == "cluster" else {})
    info = {
        "method": fitted.method,
        "lam": fitted.lam,
        "n_human": len(labels),
        "n_llm": len(x_u),
        "coord": None if coord_pos is None else names[coord_pos],
        "human_only": human_only,
        "prediction": pred_cols if multinomial else pred_cols[0],
        "ddof": ddof,
        "_lam_fixed": lam is not None,
        "_samples": samples,
        "bread": ("expected information, all rows" if method_key == "dsl" else
                  f"expected information, {bread}"),
    }
    return calibrated_results(human_model, fitted, estimator, results_cov_kwds, info)


# ---------------------------------------------------------------------- helpers
def _split_pair(spec: Any, what: str) -> tuple[Any, Any]:
    if spec is None:
        return None, None
    if isinstance(spec, str):
        return spec, spec
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        return spec[0], spec[1]
    raise ValueError(f"{what} must be a column name present in both frames or a pair "
                     f"(human, llm) of arrays")


def _prediction_columns(prediction: Any, model: Any, multinomial: bool) -> list[str]:
    if not multinomial:
        if not isinstance(prediction, str):
            raise ValueError("prediction must be one column name for a binary model")
        return [prediction]
    alts = list(model.alternatives)
    if isinstance(prediction, Mapping):
        # 'C(choice) ~ x' names the alternatives 'C(choice)[a]': accept the level 'a' too
        unknown = [k for k in prediction if alternative_name(k, alts) is None]
        if unknown:
            raise ValueError(f"prediction names alternatives {unknown} that are not in the "
                             f"model, whose alternatives (the human outcome's) are {alts}"
                             f"{_ABSENT_HINT}")
        prediction = {alternative_name(k, alts): v for k, v in prediction.items()}
        missing = [a for a in alts if a not in prediction]
        if missing:
            raise ValueError(f"prediction has no column for alternatives {missing} "
                             f"(alternatives: {alts})")
        return [prediction[a] for a in alts]
    if isinstance(prediction, str) or len(prediction) != len(alts):
        given = ([prediction] if isinstance(prediction, str) else list(prediction))
        hint = _ABSENT_HINT if len(given) > len(alts) else ""
        raise ValueError(f"the multinomial model needs one prediction column per alternative "
                         f"{alts} (the human outcome's), as a list in that order or a dict; "
                         f"got {len(given)}: {given}{hint}")
    return list(prediction)


# an alternative no respondent chose has zero human share: its coefficients are not identified
_ABSENT_HINT = ("; an alternative that no human answer holds is not in the model: drop its "
                "prediction column and renormalise the others, or pool it with another "
                "alternative")


def _missing_columns(what: str, missing: Sequence[str], which: str,
                     frame: pd.DataFrame) -> MissingColumnError:
    """The error for columns named by an argument (``prediction``, ``weights``, cluster
    groups, ``sampling_prob``) that a frame lacks: the argument, the columns, the frame's
    columns and, for a misspelling, the close names (as a missing column elsewhere)."""
    columns = [str(c) for c in frame.columns]
    close = sorted({m for name in missing
                    for m in difflib.get_close_matches(str(name), columns, n=3)})
    hint = f"; did you mean {close}?" if close else ""
    shown = columns if len(columns) <= 20 else columns[:20] + ["..."]
    return MissingColumnError(f"{what} column(s) {list(missing)} not in the {which} frame; "
                              f"its columns: {shown}{hint}")


def _predictions(frame: pd.DataFrame, cols: list[str], multinomial: bool, model: Any,
                 which: str, drop: bool) -> np.ndarray:
    values = frame.to_numpy(dtype=float)
    labels = frame.index
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise DataError(f"the prediction {cols if multinomial else cols[0]!r} is missing in the "
                        f"{which} frame in {describe_rows(labels[bad])}; drop those rows or "
                        "score them")
    if multinomial:
        try:
            return _check_shares(values, list(model.alternatives), labels, model.share_tol)
        except DataError as exc:
            raise DataError(f"predictions in the {which} frame: {exc}") from None
    v = values[:, 0]
    out = (v < 0) | (v > 1)
    if out.any():
        raise DataError(f"the prediction {cols[0]!r} must be a probability in [0, 1]; it is not "
                        f"in the {which} frame in {describe_rows(labels[out])}, e.g. "
                        f"{[float(x) for x in v[out][:3]]}")
    return v


def _llm_design(design: Any, llm: pd.DataFrame, pred_cols: list[str]
                ) -> tuple[pd.Index, np.ndarray]:
    if design.design_info is None:
        raise ValueError("calibrate needs a formula model")

    def absent_columns(exc: patsy.PatsyError) -> str:
        # name the llm frame's missing columns, not patsy's NameError
        needed = sorted({n for f in design.design_info.factor_infos
                         for n in code_names(getattr(f, "code", ""))}
                        & set(map(str, design.data.columns)))
        absent = [c for c in needed if c not in set(map(str, llm.columns))]
        return ": " + (f"column(s) {absent} of the human frame used by the formula are not in "
                       f"the llm frame (its columns: {list(llm.columns)})" if absent
                       else str(getattr(exc, "message", exc)))

    x = build_matrix(design.design_info, llm, what="the llm frame's",
                     context=f"cannot build the regressors of {design.formula!r} for the llm "
                             "frame",
                     patsy_reason=absent_columns, NA_action="drop", return_type="dataframe")
    ok = llm.loc[x.index, pred_cols].notna().all(axis=1)
    dropped = len(llm) - int(ok.sum())
    if dropped:
        first = list(llm.index.difference(x.index[ok.to_numpy()])[:5])
        warnings.warn(f"{dropped} of {len(llm)} llm rows dropped for missing regressors or "
                      f"predictions (first: {first})", MissingValueWarning, stacklevel=3)
    x = x.loc[ok.to_numpy()]
    return x.index, x.to_numpy(dtype=float)


def _llm_weights(spec: Any, llm: pd.DataFrame, kept: pd.Index) -> np.ndarray:
    if spec is None:
        return np.ones(len(kept))
    if isinstance(spec, str):
        if spec not in llm.columns:
            raise _missing_columns("weights", [spec], "llm", llm)
        w = llm.loc[kept, spec].to_numpy(dtype=float)
    else:
        arr = np.asarray(spec, float)
        if len(arr) == len(llm):
            w = arr[llm.index.get_indexer(kept)]
        elif len(arr) == len(kept):
            w = arr
        else:
            raise DataError(f"llm weights have length {len(arr)}, expected {len(llm)} "
                            f"(rows of the llm frame) or {len(kept)} (rows used)")
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        raise DataError(f"llm weights must be finite and positive; bad in "
                        f"{describe_rows(kept[bad])}")
    return w


def _align(values: Any, frame: pd.DataFrame, rows: pd.Index, what: str,
           which: str) -> np.ndarray:
    if isinstance(values, str):
        if values not in frame.columns:
            raise _missing_columns(what, [values], which, frame)
        return frame.loc[rows, values].to_numpy()
    if isinstance(values, pd.Series):
        return values.loc[rows].to_numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"{what} for the {which} frame must be one-dimensional")
    if len(arr) == len(frame):
        return arr[frame.index.get_indexer(rows)]
    if len(arr) == len(rows):
        return arr
    expected = (f"{len(frame)} (the rows of the frame)" if len(frame) == len(rows) else
                f"{len(frame)} (the rows of the frame) or {len(rows)} (the rows used)")
    raise DataError(f"{what} for the {which} frame has length {len(arr)}, expected "
                    f"{expected}")


def _groups(spec: Any, human: pd.DataFrame, llm: pd.DataFrame, labels: pd.Index,
            kept: pd.Index) -> tuple[np.ndarray, np.ndarray, str | None]:
    if isinstance(spec, str):
        return (_align(spec, human, labels, "cluster groups", "human"),
                _align(spec, llm, kept, "cluster groups", "llm"), spec)
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        return (_align(spec[0], human, labels, "cluster groups", "human"),
                _align(spec[1], llm, kept, "cluster groups", "llm"), None)
    raise ValueError("cov_kwds['groups'] must be a column name present in both frames or a "
                     "pair (human_groups, llm_groups); one-way clustering only")


def _sampling_prob(spec: Any, human: pd.DataFrame, labels: pd.Index) -> np.ndarray:
    pi = _align(spec, human, labels, "sampling_prob", "human").astype(float)
    bad = ~np.isfinite(pi) | (pi <= 0) | (pi > 1)
    if bad.any():
        raise DataError(f"sampling_prob must lie in (0, 1]; it does not in "
                        f"{describe_rows(labels[bad])}")
    return pi


def _coord_position(coord: Any, names: list[str]) -> int | None:
    if coord is None:
        return None
    if isinstance(coord, (int, np.integer)) and not isinstance(coord, bool):
        if not 0 <= coord < len(names):
            raise ValueError(f"coord {coord} is out of range for {len(names)} parameters")
        return int(coord)
    if coord not in names:
        raise ValueError(f"coord {coord!r} is not a parameter; parameters: {names}")
    return names.index(coord)
