"""Errors and warnings raised by beliefreg.

They are part of the API: catch them by class, and filter the warnings with the standard
:mod:`warnings` machinery.
"""

from __future__ import annotations

__all__ = [
    "BeliefregError",
    "DataError",
    "MissingColumnError",
    "RankDeficientError",
    "SeparationWarning",
    "ConvergenceWarning",
    "MissingValueWarning",
    "AbsorbedTermWarning",
    "CovarianceWarning",
]


class BeliefregError(ValueError):
    """Base class of beliefreg's errors about the user's input."""


class DataError(BeliefregError):
    """The outcome, the weights or the cluster groups are not valid for the model."""


class MissingColumnError(DataError, KeyError):
    """A column named for the weights, the cluster groups or the choice situations is not in
    the data. A :class:`DataError` (and, for code that catches look-up errors, a ``KeyError``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RankDeficientError(BeliefregError):
    """The design matrix does not have full column rank."""


class SeparationWarning(UserWarning):
    """Fitted probabilities reached 0 or 1: the (quasi-)MLE may not exist.

    Under perfect or quasi-complete separation the likelihood keeps rising as some
    coefficients diverge. The fit stops when the quasi-log-likelihood no longer changes; the
    reported standard errors of the affected terms are then very large, which is the honest
    answer (the data do not bound those coefficients).
    """


class ConvergenceWarning(UserWarning):
    """The Newton iterations stopped at the iteration limit before converging."""


class MissingValueWarning(UserWarning):
    """Rows with missing values were dropped before estimation."""


class AbsorbedTermWarning(UserWarning):
    """Terms that cannot be identified were dropped from the design.

    In a conditional logit, a term that is constant within every choice situation (for
    example the main effect of a persona's income in ``C(brand) * income``) cancels from the
    choice probabilities; it is dropped and named in this warning.
    """


class CovarianceWarning(UserWarning):
    """The covariance estimate is not positive semi-definite (possible for two-way clustering).

    Negative variances make the affected standard errors NaN; ``cov_kwds={'fix': True}``
    clips the negative eigenvalues to zero (Cameron, Gelbach and Miller 2011; R's
    ``vcovCL(fix = TRUE)``).
    """
