"""beliefreg: econometrics on LLM-simulated choice data.

Model *belief* (the probability an LLM puts on each alternative at the pivot token) and
model *choice* (the sampled answer) as outcomes of fractional-response and choice models,
with sandwich (robust, clustered) and delta-method standard errors.
"""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
from beliefreg.simulate import Study, simulate  # noqa: E402
__all__ += ["Study", "simulate"]
