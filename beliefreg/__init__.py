"""beliefreg: econometrics on LLM-simulated choice data.

Model *belief* (the probability an LLM puts on each alternative at the pivot token) and
model *choice* (the sampled answer) as outcomes of fractional-response and choice models,
with sandwich (robust, clustered) and delta-method standard errors.
"""

from .exceptions import (AbsorbedTermWarning, ConvergenceWarning, CovarianceWarning,
                         DataError, MissingValueWarning, RankDeficientError,
                         SeparationWarning)
from .models.binary import FractionalLogit, FractionalProbit, Logit
from .models.conditional import ConditionalLogit
from .models.conditional_results import ConditionalResults
from .models.linear import linear_probability, share_inversion
from .models.multinomial import MultinomialFractionalLogit
from .models.multinomial_results import MultinomialResults
from .economics import LogPriceWTPError, NoInteriorOptimumError
from .inference.datagrid import UnknownVariableError
from .inference.delta import DeltaResult, NonSmoothFunctionError
from .results import BinaryResults
from .tables import compare
from . import efficiency  # belief vs choice: runs_needed, compare_measures, SyntheticRespondent
from .simulation import Study, simulate
from . import report  # beliefreg.report(panel, out): the belief-vs-choice report of any panel
from . import calibration  # PPI++ and DSL: calibrate LLM predictions to a human sample
from .calibration import calibrate

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "report",
    "FractionalLogit",
    "FractionalProbit",
    "Logit",
    "BinaryResults",
    "MultinomialFractionalLogit",
    "MultinomialResults",
    "ConditionalLogit",
    "ConditionalResults",
    "share_inversion",
    "linear_probability",
    "compare",
    "Study",
    "simulate",
    "efficiency",
    "calibration",
    "calibrate",
    "DeltaResult",
    "NonSmoothFunctionError",
    "UnknownVariableError",
    "NoInteriorOptimumError",
    "LogPriceWTPError",
    "DataError",
    "RankDeficientError",
    "SeparationWarning",
    "ConvergenceWarning",
    "MissingValueWarning",
    "AbsorbedTermWarning",
    "CovarianceWarning",
]
