"""beliefreg: econometrics on LLM-simulated choice data.

Model *belief* (the probability an LLM puts on each alternative at the pivot token) and
model *choice* (the sampled answer) as outcomes of fractional-response and choice models,
with sandwich (robust, clustered) and delta-method standard errors.
"""

from .exceptions import (ConvergenceWarning, CovarianceWarning, DataError,
                         MissingValueWarning, RankDeficientError, SeparationWarning)
from .models.binary import FractionalLogit, FractionalProbit, Logit
from .economics import LogPriceWTPError, NoInteriorOptimumError
from .inference.datagrid import UnknownVariableError
from .inference.delta import DeltaResult, NonSmoothFunctionError
from .results import BinaryResults
from .tables import compare
from . import efficiency  # belief vs choice: runs_needed, compare_measures, SyntheticRespondent
from .simulate import Study, simulate  # noqa: E402  (the function shadows the subpackage name)

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "FractionalLogit",
    "FractionalProbit",
    "Logit",
    "BinaryResults",
    "compare",
    "DeltaResult",
    "NonSmoothFunctionError",
    "UnknownVariableError",
    "NoInteriorOptimumError",
    "LogPriceWTPError",
    "Study",
    "simulate",
    "efficiency",
    "DataError",
    "RankDeficientError",
    "SeparationWarning",
    "ConvergenceWarning",
    "MissingValueWarning",
    "CovarianceWarning",
]
