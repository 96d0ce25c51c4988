"""The simulator: run a choice study on an LLM and return the choice/belief panel.

Study (design) -> simulate (backend: local | openai-compatible) -> store (SQLite, resumable)
-> belief extraction (:mod:`beliefreg.belief`) -> panel (pandas DataFrame).

The simulator knows nothing of regressions: the panel's documented schema
(README, "The panel") is the contract with the models.
"""

from .backends import Backend, get_backend
from .backends.local import LocalBackend
from .backends.openai import OpenAIBackend
from .backends.openai_batch import OpenAIBatchBackend
from .errors import (
    BackendError,
    BeliefSamplingWarning,
    BudgetExceededError,
    DuplicateRequestWarning,
    FailedRequestsWarning,
    LogprobsUnsupportedError,
    QuotaExceededError,
    RequestFailed,
    SimulationError,
    SimulationInterrupted,
    StoreError,
    StudyError,
)
from .panel import panel_columns, recommended_rows
from .pipeline import estimate, simulate
from .pricing import CostEstimate, Price
from .runner import RetryPolicy
from .store import Store
from .study import Study, load_study

__all__ = [
    "Study",
    "load_study",
    "simulate",
    "estimate",
    "Store",
    "Backend",
    "LocalBackend",
    "OpenAIBackend",
    "OpenAIBatchBackend",
    "get_backend",
    "RetryPolicy",
    "CostEstimate",
    "Price",
    "panel_columns",
    "recommended_rows",
    "SimulationError",
    "StudyError",
    "StoreError",
    "SimulationInterrupted",
    "BackendError",
    "LogprobsUnsupportedError",
    "QuotaExceededError",
    "BudgetExceededError",
    "RequestFailed",
    "BeliefSamplingWarning",
    "FailedRequestsWarning",
    "DuplicateRequestWarning",
]
