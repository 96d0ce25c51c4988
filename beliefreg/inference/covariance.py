r"""Sandwich covariance estimators for M-estimators such as the Bernoulli QMLE.

Every estimator here is built from two pieces computed by the model at the estimate
:math:`\hat\beta`:

* the *bread* :math:`A^{-1}`, the inverse of minus the Hessian of the (quasi-)log-likelihood
  (observed, or its expectation, the Fisher information), and
* the *scores* :math:`s_i`, one row per observation: the gradient of observation *i*'s
  contribution, prior weights included.

.. math::

   \widehat V = c \, A^{-1} \Big( \sum_g \big(\textstyle\sum_{i \in g} s_i\big)
                \big(\textstyle\sum_{i \in g} s_i\big)' \Big) A^{-1}

with one group per observation for the heteroskedasticity-robust (HC) estimators. The
small-sample factors *c* are defined in exactly one place each: :func:`hc1_factor` and
:func:`cluster_factor`. Covariance types are chosen by name (``cov_type='HC0'``) and validated
in :func:`get_covariance`; anything else is refused, so HC0 is never returned under another
name (the defect of statsmodels issue #7798).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from .._passes import weighted_gram
from ..exceptions import DataError

__all__ = [
    "CovType",
    "COV_TYPES",
    "Covariance",
    "NonRobust",
    "HC0",
    "HC1",
    "Clustered",
    "get_covariance",
    "hc1_factor",
    "cluster_factor",
    "cluster_meat",
    "sandwich",
    "encode_groups",
    "Scores",
    "DenseScores",
    "IndexScores",
    "as_scores",
    "clip_negative_eigenvalues",
]

CovType = Literal["nonrobust", "HC0", "HC1", "cluster"]
COV_TYPES: tuple[str, ...] = ("nonrobust", "HC0", "HC1", "cluster")


def hc1_factor(nobs: int, nparams: int) -> float:
    r"""The HC1 degrees-of-freedom factor :math:`n / (n - k)` (rows, not sum of weights)."""
    if nobs <= nparams:
        raise DataError(f"HC1 needs more observations ({nobs}) than parameters ({nparams})")
    return nobs / (nobs - nparams)


def cluster_factor(n_groups: int, nobs: int, nparams: int) -> float:
    r"""The CR1 factor :math:`\frac{G}{G-1} \cdot \frac{n-1}{n-k}`.

    The convention of Stata and of R's ``sandwich::vcovCL(type = "HC1")``; in two-way
    clustering each of the three terms gets its own *G*.
    """
    if n_groups < 2:
        raise DataError(f"cluster-robust covariance needs at least 2 clusters, got {n_groups}")
    if nobs <= nparams:
        raise DataError(f"cluster-robust covariance needs more observations ({nobs}) "
                        f"than parameters ({nparams})")
    return n_groups / (n_groups - 1.0) * (nobs - 1.0) / (nobs - nparams)


def sandwich(bread: np.ndarray, meat: np.ndarray) -> np.ndarray:
    r"""Return :math:`A^{-1} B A^{-1}`, symmetrised against rounding."""
    v = bread @ meat @ bread
    return 0.5 * (v + v.T)


class Scores(Protocol):
    """Observation scores :math:`s_i` (rows), as the meat of a sandwich needs them."""

    @property
    def shape(self) -> tuple[int, int]: ...

    def outer(self) -> np.ndarray:
        r""":math:`\sum_i s_i s_i'`."""
        ...

    def group_sums(self, codes: np.ndarray, n_groups: int) -> np.ndarray:
        r"""The (n_groups, k) matrix of :math:`S_g = \sum_{i \in g} s_i`."""
        ...


def _group_indicator(codes: np.ndarray, n_groups: int, values: np.ndarray | None = None):
    """The (n_groups, n) matrix with ``values[i]`` at ``(codes[i], i)``, built in CSC form
    directly (one entry per column), so no sort is needed."""
    n = len(codes)
    data = np.ones(n) if values is None else np.asarray(values, float)
    # int32 indices when they fit: scipy then takes them as they are, instead of scanning
    # 64-bit ones for their range and copying them to int32 (about a third of the product's time)
    index = np.int32 if max(n, n_groups) < np.iinfo(np.int32).max else np.int64
    return sparse.csc_matrix((data, codes.astype(index, copy=False),
                              np.arange(n + 1, dtype=index)), shape=(n_groups, n))


def _group_sums(codes: np.ndarray, n_groups: int, matrix: np.ndarray,
                values: np.ndarray | None = None) -> np.ndarray:
    r"""The (n_groups, k) sums :math:`\sum_{i \in g} v_i m_i` of the rows of ``matrix``.

    ``values`` (shape (n,)) weight the rows (1 if None). A row-major matrix takes one sparse
    product with the group indicator. Any other (a column-major design from pandas or a
    formula) takes one product per column: scipy would first copy the whole matrix to
    row-major (160 MB at 10^6 x 20).
    """
    indicator = _group_indicator(codes, n_groups, values)
    if matrix.flags.c_contiguous:
        return np.asarray(indicator @ matrix)
    out = np.empty((n_groups, matrix.shape[1]))
    for j in range(matrix.shape[1]):
        out[:, j] = indicator @ matrix[:, j]
    return out


@dataclass(frozen=True)
class DenseScores:
    """Scores held as an (n, k) matrix."""

    matrix: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def outer(self) -> np.ndarray:
        return self.matrix.T @ self.matrix

    def group_sums(self, codes: np.ndarray, n_groups: int) -> np.ndarray:
        return _group_sums(codes, n_groups, self.matrix)


@dataclass(frozen=True)
class IndexScores:
    r"""Scores of a single-index model, :math:`s_i = u_i x_i`, never formed as a matrix.

    The meats are computed from ``exog`` and ``u`` directly (:math:`X' \mathrm{diag}(u^2) X`
    and a sparse group-indicator product), which saves an n x k temporary on large designs.
    """

    exog: np.ndarray
    u: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.exog.shape

    @property
    def matrix(self) -> np.ndarray:
        return self.exog * self.u[:, None]

    def outer(self) -> np.ndarray:
        return weighted_gram(self.exog, self.u * self.u)  # blocked: no n x k temporary

    def group_sums(self, codes: np.ndarray, n_groups: int) -> np.ndarray:
        return _group_sums(codes, n_groups, self.exog, self.u)


def as_scores(scores: "Scores | np.ndarray") -> Scores:
    """Wrap a plain (n, k) array as :class:`DenseScores`."""
    return DenseScores(np.asarray(scores, float)) if isinstance(scores, np.ndarray) else scores


def cluster_meat(scores: "Scores | np.ndarray", codes: np.ndarray, n_groups: int) -> np.ndarray:
    r"""The meat :math:`\sum_g S_g S_g'` with :math:`S_g = \sum_{i \in g} s_i`.

    ``codes`` are integer group codes in ``0 .. n_groups - 1`` (see :func:`encode_groups`).
    """
    sums = as_scores(scores).group_sums(codes, n_groups)
    return sums.T @ sums


def encode_groups(groups: np.ndarray | pd.Series, *, name: str = "groups") -> tuple[np.ndarray, int]:
    """Integer-code a cluster variable; missing values are an error naming the rows."""
    if isinstance(groups, pd.Series):
        values = groups
    elif isinstance(groups, np.ndarray) and groups.dtype.kind in "iu":
        values = pd.Series(groups)  # integers as they are: counted, not boxed (165 ms at 10^6)
    else:
        values = pd.Series(np.asarray(groups, dtype=object))
    missing = values.isna().to_numpy()
    if missing.any():
        rows = list(values.index[missing][:5])
        raise DataError(f"cluster variable {name!r} has {int(missing.sum())} missing value(s), "
                        f"first at rows {rows}; drop those rows or fill them")
    small = _small_integer_codes(values)
    if small is not None:
        return small
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.intp), len(uniques)


def _small_integer_codes(values: pd.Series) -> tuple[np.ndarray, int] | None:
    """The codes of ``pd.factorize(values, sort=True)`` for integers in ``0 .. 4n``, by counting.

    Cluster identifiers are usually such integers; one ``bincount`` and one lookup replace
    hashing and sorting (about 5 times faster at 10^6 rows). None for anything else.
    """
    if not (pd.api.types.is_integer_dtype(values.dtype) and isinstance(values.dtype, np.dtype)):
        return None
    arr = values.to_numpy()
    if len(arr) == 0:
        return None
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi > 4 * len(arr):
        return None
    present = np.bincount(arr, minlength=hi + 1) > 0
    lookup = np.cumsum(present) - 1
    return lookup[arr].astype(np.intp, copy=False), int(present.sum())


@dataclass(frozen=True)
class Covariance:
    """A covariance estimator: the name it is chosen by and how it is computed."""

    name: str = field(init=False, default="")
    description: str = field(init=False, default="")

    def compute(self, bread: np.ndarray, scores: Scores | np.ndarray) -> np.ndarray:
        """The covariance from the bread :math:`A^{-1}` and the observation scores."""
        raise NotImplementedError  # pragma: no cover

    @property
    def n_groups(self) -> tuple[int, ...] | None:
        return None


@dataclass(frozen=True)
class NonRobust(Covariance):
    r"""The inverse of minus the Hessian, :math:`A^{-1}`.

    Valid when the model is the true likelihood (the ML logit for 0/1 choices); for a
    fractional outcome it is *not* valid (QMLE needs a sandwich).
    """

    name: str = field(init=False, default="nonrobust")
    description: str = field(init=False, default="nonrobust (inverse Hessian)")

    def compute(self, bread: np.ndarray, scores: Scores | np.ndarray) -> np.ndarray:
        return 0.5 * (bread + bread.T)


@dataclass(frozen=True)
class HC0(Covariance):
    r"""The White/Huber sandwich with no small-sample correction.

    .. math:: \widehat V = A^{-1} \Big(\sum_i s_i s_i'\Big) A^{-1}
    """

    name: str = field(init=False, default="HC0")
    description: str = field(init=False, default="robust (HC0)")

    def compute(self, bread: np.ndarray, scores: Scores | np.ndarray) -> np.ndarray:
        return sandwich(bread, as_scores(scores).outer())


@dataclass(frozen=True)
class HC1(Covariance):
    r"""HC0 times :math:`n / (n - k)` (:func:`hc1_factor`)."""

    name: str = field(init=False, default="HC1")
    description: str = field(init=False, default="robust (HC1)")

    def compute(self, bread: np.ndarray, scores: Scores | np.ndarray) -> np.ndarray:
        scores = as_scores(scores)
        n, k = scores.shape
        return hc1_factor(n, k) * sandwich(bread, scores.outer())


@dataclass(frozen=True)
class Clustered(Covariance):
    r"""One- or two-way cluster-robust covariance (CR1).

    One-way: :math:`c_G \, A^{-1} \sum_g S_g S_g' A^{-1}` with :math:`c_G` from
    :func:`cluster_factor`. Two-way (Cameron, Gelbach and Miller 2011):

    .. math:: \widehat V = \widehat V_a + \widehat V_b - \widehat V_{a \cap b}

    each term a one-way CR1 estimate with its own number of groups (for the intersection, the
    number of non-empty (a, b) cells), as R's ``sandwich::vcovCL(type = "HC1")`` computes it.
    The two-way estimate is not guaranteed positive semi-definite: by default it is returned as
    is (R's ``fix = FALSE``; the results warn if a variance is negative); with ``fix=True`` the
    negative eigenvalues are set to zero (:func:`clip_negative_eigenvalues`).

    Parameters
    ----------
    codes
        One or two integer code arrays, aligned with the estimation rows.
    counts
        The number of groups of each code array.
    """

    codes: tuple[np.ndarray, ...] = ()
    counts: tuple[int, ...] = ()
    fix: bool = False
    name: str = field(init=False, default="cluster")
    description: str = field(init=False, default="cluster")

    @property
    def n_groups(self) -> tuple[int, ...]:
        return self.counts

    def compute(self, bread: np.ndarray, scores: Scores | np.ndarray) -> np.ndarray:
        scores = as_scores(scores)
        n, k = scores.shape

        def one_way(codes: np.ndarray, count: int) -> np.ndarray:
            return cluster_factor(count, n, k) * sandwich(bread, cluster_meat(scores, codes, count))

        if len(self.codes) == 1:
            return one_way(self.codes[0], self.counts[0])
        a, b = self.codes
        inter, n_inter = encode_groups(pd.Series(a.astype(np.int64) * (int(self.counts[1]) + 1)
                                                 + b.astype(np.int64)))
        v = one_way(a, self.counts[0]) + one_way(b, self.counts[1]) - one_way(inter, n_inter)
        return clip_negative_eigenvalues(v) if self.fix else v


def clip_negative_eigenvalues(v: np.ndarray) -> np.ndarray:
    r"""Set the negative eigenvalues of a symmetric matrix to zero.

    The fix of Cameron, Gelbach and Miller (2011) for a two-way cluster covariance that is not
    positive semi-definite; R's ``sandwich::vcovCL(fix = TRUE)``.
    """
    values, vectors = np.linalg.eigh(v)
    if values.min() >= 0:
        return v
    out = (vectors * np.clip(values, 0.0, None)) @ vectors.T
    return 0.5 * (out + out.T)


def get_covariance(cov_type: str, groups: Sequence[np.ndarray] | None = None,
                   *, nobs: int, fix: bool = False) -> Covariance:
    """Validate ``cov_type`` and build its estimator.

    Parameters
    ----------
    cov_type
        One of ``'nonrobust'``, ``'HC0'``, ``'HC1'``, ``'cluster'`` (case-insensitive for the
        HC names; ``'clustered'`` is accepted as an alias of ``'cluster'``).
    groups
        For ``'cluster'``: one or two arrays of cluster labels aligned with the estimation rows.
    nobs
        The number of estimation rows (to check the group arrays' length).
    fix
        Two-way clustering only: clip negative eigenvalues (see :class:`Clustered`).
    """
    key = str(cov_type)
    canonical = {"nonrobust": "nonrobust", "hc0": "HC0", "hc1": "HC1", "cluster": "cluster",
                 "clustered": "cluster"}.get(key.lower())
    if canonical is None:
        raise ValueError(f"cov_type {cov_type!r} is not implemented; choose one of {COV_TYPES} "
                         "(HC2/HC3 and others are refused rather than silently replaced)")
    if canonical != "cluster":
        if groups is not None or fix:
            raise ValueError(f"cov_kwds 'groups' and 'fix' are only used with "
                             f"cov_type='cluster', not {cov_type!r}")
        return {"nonrobust": NonRobust, "HC0": HC0, "HC1": HC1}[canonical]()
    if groups is None or len(groups) == 0:
        raise ValueError("cov_type='cluster' needs cov_kwds={'groups': <column name(s) or "
                         "array>} (for a beliefreg panel, runs of one condition share a prompt: "
                         "cov_kwds={'groups': 'condition_id'})")
    if len(groups) > 2:
        raise ValueError(f"at most two-way clustering is supported, got {len(groups)} variables")
    codes, counts = [], []
    for i, g in enumerate(groups):
        if len(g) != nobs:
            raise DataError(f"cluster groups #{i + 1} have length {len(g)}, but the model has "
                            f"{nobs} estimation rows")
        label = getattr(g, "name", None) or f"groups[{i}]"
        c, n_g = encode_groups(g, name=label)
        if n_g < 2:
            # an array has no name: "cluster variable None" said nothing
            raise DataError(f"cluster variable {label!r} has {n_g} cluster; at least 2 are "
                            "needed")
        codes.append(c)
        counts.append(n_g)
    if fix and len(codes) != 2:
        raise ValueError("cov_kwds['fix'] applies to two-way clustering only (a one-way "
                         "cluster covariance is positive semi-definite)")
    return Clustered(codes=tuple(codes), counts=tuple(counts), fix=bool(fix))
