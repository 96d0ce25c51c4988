"""``beliefreg.demo`` is now :mod:`beliefreg.report.demo` (the report on the built-in study).

Kept as an alias so that ``from beliefreg.demo import analyse, demand_study`` still works.
"""

from ..report.demo import *  # noqa: F401,F403
from ..report.demo import __all__  # noqa: F401
