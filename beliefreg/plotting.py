"""Plots of fitted quantities (matplotlib, imported only when a plot is drawn)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .inference.datagrid import AtSpec

__all__ = ["plot_demand", "observed_means"]


def observed_means(results: Any, variable: str, *, by: Any = None,
                   max_levels: int = 50, n_bins: int = 20) -> pd.DataFrame:
    """Mean observed outcome per value ("condition") of ``variable``, per ``by`` group.

    With more than ``max_levels`` distinct values (a continuous regressor rather than
    experimental conditions) the values are binned into ``n_bins`` quantile bins and each bin
    is placed at its mean. Prior weights, if any, weight the means.

    Returns
    -------
    pandas.DataFrame
        Columns ``x``, ``mean``, ``count`` (and the ``by`` columns).
    """
    vmap = results._variable_map()
    (variable,) = vmap.check_variables([variable])
    data = vmap.estimation_data()
    x = data[variable]
    frame = pd.DataFrame({"x": x.to_numpy(), "y": results.model.endog,
                          "w": (np.ones(len(x)) if results.model.weights is None
                                else results.model.weights)}, index=data.index)
    by_names = [] if by is None else ([by] if isinstance(by, str) else list(by))
    for b in by_names:
        frame[b] = vmap.design.data.loc[data.index, b].to_numpy()
    if x.nunique() > max_levels and pd.api.types.is_numeric_dtype(x):
        frame["key"] = pd.qcut(frame["x"], n_bins, duplicates="drop")
    else:
        frame["key"] = frame["x"]
    frame["wy"], frame["wx"] = frame["w"] * frame["y"], frame["w"] * frame["x"]
    keys = by_names + ["key"]
    agg = frame.groupby(keys, observed=True, sort=True).agg(
        wy=("wy", "sum"), wx=("wx", "sum"), w=("w", "sum"), count=("y", "size")).reset_index()
    out = pd.DataFrame({"x": agg["wx"] / agg["w"], "mean": agg["wy"] / agg["w"],
                        "count": agg["count"]})
    for b in by_names:
        out[b] = agg[b].to_numpy()
    return out


def plot_demand(results: Any, variable: str, values: Any = None, *, at: AtSpec = "overall",
                by: Any = None, observed: bool = True, alpha: float = 0.05,
                method: str = "endpoint",
                ax: Any = None) -> Any:
    """The fitted demand curve with its delta-method band and the observed mean outcomes.

    Parameters
    ----------
    results : BinaryResults
    variable : str
        The raw variable on the horizontal axis (e.g. ``'price'``).
    values : array_like, optional
        The grid (default: 100 points over the observed range).
    at, by
        As in :meth:`~beliefreg.BinaryResults.demand_curve`; one curve per ``by`` group.
    observed : bool
        Also plot the mean observed outcome per condition (:func:`observed_means`).
    alpha : float
        The band is the pointwise ``1 - alpha`` interval.
    method : {'endpoint', 'delta'}, default 'endpoint'
        ``'endpoint'``: the Wald interval of the index-scale demand mapped through the link
        (inside [0, 1]); ``'delta'``: the Wald interval on the probability scale (see
        :meth:`BinaryResults.demand_curve`).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Lines carry labels (``'fitted'`` or the group), the bands are ``PolyCollection``
        objects from ``fill_between``, the observed means a line with markers only.
    """
    import matplotlib.pyplot as plt

    from .economics import demand_curve
    from .inference.prediction import mean_summary_frame

    vmap = results._variable_map()
    (variable,) = vmap.check_variables([variable])
    if values is None:
        obs = vmap.estimation_data()[variable].to_numpy(dtype=float)
        values = np.linspace(obs.min(), obs.max(), 100)
    curve = demand_curve(results, variable, values, at=at, by=by)
    if hasattr(results, "_stamp"):  # t bands with use_t
        curve = results._stamp(curve)
    curve = mean_summary_frame(curve, results.model.link, alpha, method)
    if ax is None:
        _, ax = plt.subplots()
    by_names = [] if by is None else ([by] if isinstance(by, str) else list(by))
    if by_names:
        groups = curve.index.droplevel(0).unique()
        pieces = [(g, curve.xs(g if isinstance(g, tuple) else (g,),
                               level=list(range(1, curve.index.nlevels)), drop_level=True))
                  for g in groups]
    else:
        pieces = [(None, curve)]
    means = observed_means(results, variable, by=by) if observed else None
    for i, (g, part) in enumerate(pieces):
        x = np.asarray(part.index, dtype=float)
        label = "fitted" if g is None else f"{', '.join(by_names)} = {g}"
        (line,) = ax.plot(x, part["estimate"].to_numpy(), label=label)
        ax.fill_between(x, part["ci_lower"].to_numpy(), part["ci_upper"].to_numpy(),
                        color=line.get_color(), alpha=0.25, linewidth=0,
                        label=f"{100 * (1 - alpha):g}% band" if i == 0 else None)
        if means is not None:
            sel = means
            if g is not None:
                gt = g if isinstance(g, tuple) else (g,)
                mask = np.ones(len(means), bool)
                for name, val in zip(by_names, gt):
                    mask &= (means[name] == val).to_numpy()
                sel = means[mask]
            ax.plot(sel["x"].to_numpy(), sel["mean"].to_numpy(), linestyle="none", marker="o",
                    color=line.get_color(), label="observed mean" if g is None else None)
    ax.set_xlabel(variable)
    ax.set_ylabel(f"E[{results.model.endog_names}]")
    ax.legend()
    return ax
