"""Side-by-side tables of several fitted models: text, HTML and LaTeX.

:func:`compare` takes any beliefreg results (binary now, multinomial later: anything with
``params``, ``bse``, ``pvalues``, ``nobs`` and ``cov_type``) and lines up the estimates, with
the standard errors of each fit's own covariance in parentheses and significance stars.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["compare", "ComparisonTable"]

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _cov_label(res: Any) -> str:
    label = getattr(res, "_cov_label", None)
    return label() if callable(label) else str(getattr(res, "cov_type", ""))


@dataclass
class ComparisonTable:
    """Estimates of several models side by side.

    Attributes
    ----------
    params, bse, pvalues : pandas.DataFrame
        Terms x models (NaN where a model lacks a term).
    stats : pandas.DataFrame
        Rows: model, dependent variable, observations, covariance, clusters; one column per
        model.
    frame : pandas.DataFrame
        The formatted table (strings): for each term an estimate row with stars and a
        standard-error row in parentheses, then the statistics.
    """

    params: pd.DataFrame
    bse: pd.DataFrame
    pvalues: pd.DataFrame
    stats: pd.DataFrame
    stars: tuple[float, ...]
    digits: int
    frame: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.frame = self._format()

    # ------------------------------------------------------------------ formatting
    def _star(self, p: float) -> str:
        if not np.isfinite(p):
            return ""
        return "*" * sum(p < s for s in self.stars)

    def _format(self) -> pd.DataFrame:
        fmt = f"{{:.{self.digits}f}}"
        rows, labels = [], []
        for term in self.params.index:
            est, se = [], []
            for model in self.params.columns:
                b = self.params.loc[term, model]
                if np.isfinite(b):
                    est.append(fmt.format(b) + self._star(self.pvalues.loc[term, model]))
                    se.append("(" + fmt.format(self.bse.loc[term, model]) + ")")
                else:
                    est.append("")
                    se.append("")
            rows += [est, se]
            labels += [str(term), ""]
        for name, values in self.stats.iterrows():
            rows.append([str(v) for v in values])
            labels.append(str(name))
        return pd.DataFrame(rows, index=labels, columns=[str(c) for c in self.params.columns])

    @property
    def note(self) -> str:
        parts = ["Standard errors in parentheses, from each model's own covariance."]
        if self.stars:
            marks = [f"{'*' * (i + 1)} p<{s:g}" for i, s in enumerate(self.stars)]
            parts.append(", ".join(marks) + ".")
        return " ".join(parts)

    def as_text(self) -> str:
        """A plain-text table (the ``str()`` of the object)."""
        body = self.frame.to_string()
        lines = body.splitlines()
        width = max(len(line) for line in lines)
        n_terms = 2 * len(self.params.index)
        out = ["=" * width, lines[0], "-" * width]
        out += lines[1:1 + n_terms]
        out += ["-" * width] + lines[1 + n_terms:] + ["=" * width, self.note]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()

    def as_html(self) -> str:
        """An HTML ``<table>`` (also what notebooks display)."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.frame.columns)
        n_terms = 2 * len(self.params.index)
        body = []
        for i, (label, row) in enumerate(self.frame.iterrows()):
            style = ' style="border-top: 1px solid"' if i == n_terms else ""
            cells = "".join(f"<td>{html.escape(v)}</td>" for v in row)
            body.append(f"<tr{style}><th>{html.escape(label)}</th>{cells}</tr>")
        return ("<table class=\"beliefreg-compare\">\n<thead><tr><th></th>" + head +
                "</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n"
                f"<caption style=\"caption-side: bottom\">{html.escape(self.note)}</caption>\n"
                "</table>")

    def _repr_html_(self) -> str:
        return self.as_html()

    def as_latex(self) -> str:
        """A LaTeX ``tabular`` (booktabs rules: needs ``\\usepackage{booktabs}``)."""
        ncol = len(self.frame.columns)
        lines = [r"\begin{tabular}{l" + "c" * ncol + "}", r"\toprule",
                 " & " + " & ".join(_latex_escape(c) for c in self.frame.columns) + r" \\",
                 r"\midrule"]
        n_terms = 2 * len(self.params.index)
        for i, (label, row) in enumerate(self.frame.iterrows()):
            if i == n_terms:
                lines.append(r"\midrule")
            cells = [_latex_escape(v).replace("*", "$^{*}$") if v.endswith("*") else
                     _latex_escape(v) for v in row]
            cells = [c.replace("$^{*}$$^{*}$$^{*}$", "$^{***}$").replace("$^{*}$$^{*}$",
                                                                          "$^{**}$")
                     for c in cells]
            lines.append(_latex_escape(label) + " & " + " & ".join(cells) + r" \\")
        lines += [r"\bottomrule",
                  r"\multicolumn{" + str(ncol + 1) + r"}{l}{\footnotesize "
                  + _latex_escape(self.note).replace("*", r"$^{*}$")
                  .replace("$^{*}$$^{*}$$^{*}$", "$^{***}$").replace("$^{*}$$^{*}$", "$^{**}$")
                  + r"} \\", r"\end{tabular}"]
        return "\n".join(lines)


def compare(results: Mapping[str, Any] | Sequence[Any], *,
            stars: Sequence[float] | None = (0.10, 0.05, 0.01), digits: int = 4,
            terms: Sequence[str] | None = None) -> ComparisonTable:
    """Compare fitted models side by side.

    Parameters
    ----------
    results : dict of name -> results, or a sequence of results
        Any beliefreg results. A sequence is named ``(1), (2), ...``.
    stars : sequence of float, optional
        p-value thresholds for one, two, three stars (default 0.10, 0.05, 0.01); ``None`` or
        ``()`` for no stars.
    digits : int
        Decimal places.
    terms : sequence of str, optional
        Which terms, in which order (default: every term, in order of first appearance).

    Returns
    -------
    ComparisonTable
        ``print(table)``, ``table.as_html()``, ``table.as_latex()``; the numbers are in
        ``table.params``, ``table.bse``, ``table.pvalues``. The p-values (and stars) are
        each model's own: t(df) for a model fitted with ``use_t=True`` (an ``Inference`` row
        then says which), normal otherwise.

    Examples
    --------
    >>> import numpy as np, beliefreg as br
    >>> from beliefreg.datasets import load_401k
    >>> data = load_401k()
    >>> f = "prate01 ~ mrate + np.log(totemp)"
    >>> table = br.compare({"HC0": br.FractionalLogit.from_formula(f, data).fit(),
    ...                     "cluster": br.FractionalLogit.from_formula(f, data).fit(
    ...                         cov_type="cluster", cov_kwds={"groups": "age"}),
    ...                     "probit": br.FractionalProbit.from_formula(f, data).fit()})
    >>> table.bse.round(4)
                       HC0  cluster  probit
    Intercept       0.1766   0.1664  0.0971
    mrate           0.1377   0.1102  0.0616
    np.log(totemp)  0.0226   0.0245  0.0128
    >>> print(table)  # doctest: +SKIP
    >>> latex = table.as_latex()
    """
    if isinstance(results, Mapping):
        named = [(str(k), v) for k, v in results.items()]
    else:
        named = [(f"({i + 1})", r) for i, r in enumerate(results)]
    if not named:
        raise ValueError("compare needs at least one results object")
    for name, res in named:
        if not hasattr(res, "params") or not hasattr(res, "bse"):
            raise TypeError(f"{name!r} is not a results object (no params/bse): "
                            f"{type(res).__name__}")
    if terms is None:
        order: list[Any] = []
        for _, res in named:
            order += [t for t in res.params.index if t not in order]
    else:
        order = list(terms)
        known = set().union(*(set(res.params.index) for _, res in named))
        unknown = [t for t in order if t not in known]
        if unknown:
            raise KeyError(f"terms {unknown} are in none of the models")
    cols = [n for n, _ in named]
    params = pd.DataFrame({n: r.params for n, r in named}, columns=cols).reindex(order)
    bse = pd.DataFrame({n: r.bse for n, r in named}, columns=cols).reindex(order)
    pvalues = pd.DataFrame({n: r.pvalues for n, r in named}, columns=cols).reindex(order)
    stat_rows: dict[str, list[str]] = {"Model": [], "Dependent variable": [],
                                       "Observations": [], "Covariance": [], "Clusters": []}
    for _, res in named:
        model = getattr(res, "model", None)
        stat_rows["Model"].append(str(getattr(model, "model_name", type(model).__name__)))
        outcome = getattr(model, "endog_names", "")
        if isinstance(outcome, (list, tuple)):  # a multinomial model's alternatives
            outcome = ", ".join(map(str, outcome))
        stat_rows["Dependent variable"].append(str(outcome))
        nobs = getattr(res, "nobs", getattr(model, "nobs", ""))
        stat_rows["Observations"].append(f"{nobs:,}" if isinstance(nobs, (int, np.integer))
                                         else str(nobs))
        stat_rows["Covariance"].append(_cov_label(res))
        groups = getattr(res, "n_groups", None)
        stat_rows["Clusters"].append(" x ".join(str(g) for g in groups) if groups else "")
        inference = getattr(res, "inference", None)
        stat_rows.setdefault("Inference", []).append(
            f"t({inference.df:g})" if inference is not None and inference.use_t else "z")
    stats = pd.DataFrame(stat_rows, index=cols).T
    if not any(stat_rows["Clusters"]):
        stats = stats.drop(index="Clusters")
    if all(v == "z" for v in stat_rows["Inference"]):
        stats = stats.drop(index="Inference")  # the default: say it only when t is used
    thresholds = tuple(sorted(stars, reverse=True)) if stars else ()
    return ComparisonTable(params=params, bse=bse, pvalues=pvalues, stats=stats,
                           stars=thresholds, digits=int(digits))
