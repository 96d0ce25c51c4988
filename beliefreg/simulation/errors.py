"""Errors and warnings raised by the simulator.

They are part of the public API: catch them by class, never by message.

Errors that stop a study
------------------------
SimulationError
    Base class of every error raised by :func:`beliefreg.simulate`.
StudyError
    The study description is invalid (a missing placeholder, an empty design, ...).
BackendError
    A backend cannot serve the study at all (the runtime is missing, authentication failed, the
    server is unreachable after retries). Raised before or instead of writing error rows.
LogprobsUnsupportedError
    The model refuses log-probabilities (reasoning models do) or the server returns none.
QuotaExceededError
    The provider reports an exhausted quota or billing limit. The study stops; every response
    received so far is in the store and in ``err.panel``.
BudgetExceededError
    The estimated cost of the requests still to send exceeds ``budget_usd``; nothing was sent.
StoreError
    The response store cannot be opened, read or written (disk full, read-only, not a
    database, damaged, another schema); the message names the file and the cause. Answers
    received but not stored are in ``err.emergency_path`` and ``err.panel``.
SimulationInterrupted
    SIGINT or SIGTERM stopped the study (a :class:`KeyboardInterrupt`); the requests in flight
    were awaited and stored; ``err.panel`` holds the rows obtained.

Errors of one request (retried, then stored as an error row)
-------------------------------------------------------------
RequestFailed
    One request failed; ``retryable`` says whether trying again may help, ``retry_after`` is the
    server's Retry-After in seconds when it sent one, ``rate_limited`` marks HTTP 429.

Warnings
--------
BeliefSamplingWarning
    Temperature is not 1 or top_p is below 1: the belief (read from log-probabilities before
    temperature scaling) then no longer describes the distribution the choice was sampled from.
FailedRequestsWarning
    Some requests still failed after retries; their rows carry the error and NaN beliefs.
DuplicateRequestWarning
    Two conditions produce the same request, so they share the same stored responses.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SimulationError",
    "StudyError",
    "BackendError",
    "LogprobsUnsupportedError",
    "QuotaExceededError",
    "BudgetExceededError",
    "RequestFailed",
    "StoreError",
    "SimulationInterrupted",
    "BeliefSamplingWarning",
    "FailedRequestsWarning",
    "DuplicateRequestWarning",
]


class SimulationError(Exception):
    """Base class of the errors raised by the simulator."""


class StudyError(SimulationError, ValueError):
    """The study description is invalid."""


class BackendError(SimulationError):
    """A backend cannot serve the study (missing runtime, authentication, unreachable server)."""


class LogprobsUnsupportedError(BackendError):
    """The model does not return token log-probabilities, so no belief can be read."""


class QuotaExceededError(SimulationError):
    """The provider's quota is exhausted; the study stopped with what was done kept.

    Attributes
    ----------
    panel : pandas.DataFrame or None
        The rows of the requests that completed (stored or received), error rows included.
    n_pending : int
        Requests not sent; running the study again sends exactly these.
    """

    def __init__(self, message: str, *, panel: Any = None, n_pending: int = 0) -> None:
        super().__init__(message)
        self.panel = panel
        self.n_pending = n_pending


class BudgetExceededError(SimulationError):
    """The estimated cost exceeds the budget given to :func:`beliefreg.simulate`.

    Attributes
    ----------
    estimate : beliefreg.simulation.CostEstimate
    """

    def __init__(self, message: str, *, estimate: Any = None) -> None:
        super().__init__(message)
        self.estimate = estimate


class StoreError(SimulationError, OSError):
    """The response store cannot be opened, read or written.

    Attributes
    ----------
    path : pathlib.Path or None
        The store file.
    emergency_path : pathlib.Path or None
        Where the answers that the store could not take were written (JSON lines; load them
        back with :meth:`beliefreg.simulation.Store.import_file`).
    panel : pandas.DataFrame or None
        The rows obtained, including the answers that could not be stored.
    """

    def __init__(self, message: str, *, path: Any = None, emergency_path: Any = None,
                 panel: Any = None) -> None:
        super().__init__(message)
        self.path = path
        self.emergency_path = emergency_path
        self.panel = panel

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class SimulationInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a study; what was in flight was awaited and stored.

    Attributes
    ----------
    signal_name : str
        ``"SIGINT"`` or ``"SIGTERM"``.
    panel : pandas.DataFrame or None
        The rows obtained so far (stored).
    n_pending : int
        Requests not sent; running the study again (same draw) sends exactly these.
    aborted : bool
        A second signal aborted the wait: the requests then in flight were lost.
    """

    def __init__(self, message: str, *, signal_name: str = "SIGINT", panel: Any = None,
                 n_pending: int = 0, aborted: bool = False) -> None:
        super().__init__(message)
        self.signal_name = signal_name
        self.panel = panel
        self.n_pending = n_pending
        self.aborted = aborted


class RequestFailed(Exception):
    """One request failed (raised by backends, handled by the runner).

    Parameters
    ----------
    message : str
        What went wrong, stored in the ``error`` column if retries do not help.
    retryable : bool
        Whether sending the same request again may succeed (timeouts, 5xx, 429, malformed
        bodies); a 400 for this request is not retryable.
    retry_after : float, optional
        Seconds the server asked us to wait (``Retry-After``).
    rate_limited : bool
        HTTP 429: the runner also lowers its concurrency.
    quota : bool
        The quota is exhausted: the runner stops the study.
    fatal : bool
        No request can succeed (authentication, model not found): the runner stops the study.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        rate_limited: bool = False,
        quota: bool = False,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.rate_limited = rate_limited
        self.quota = quota
        self.fatal = fatal


class BeliefSamplingWarning(UserWarning):
    """Belief does not describe the sampled choice (temperature != 1 or top_p < 1)."""


class FailedRequestsWarning(UserWarning):
    """Some requests failed after retries; their rows carry the error."""


class DuplicateRequestWarning(UserWarning):
    """Two conditions render to the same request and share stored responses."""
