# The two Quickstart commands: `make demo` (the main job) and `make test` (all tests).
# Each creates or reuses the local virtual environment .venv and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# One BLAS/OpenMP thread per process: oversubscription on these 2-core machines made
# small matrix products 1000x slower.
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export VECLIB_MAXIMUM_THREADS := 1
export NUMEXPR_NUM_THREADS := 1

.PHONY: demo test venv bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/beliefreg demo $(ARGS)

# The suite sees nothing of the home directory: the model cache, the response store and every
# tool cache (matplotlib, Jupyter/IPython, XDG) live in a fresh temporary folder, removed after,
# so a missing install or model-assembly step fails here as it would on a new machine.
test: $(STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT INT TERM && \
	env BELIEFREG_CACHE="$$tmp/beliefreg" BELIEFREG_STORE="$$tmp/beliefreg/store.sqlite" \
	    MPLCONFIGDIR="$$tmp/matplotlib" IPYTHONDIR="$$tmp/ipython" \
	    JUPYTER_CONFIG_DIR="$$tmp/jupyter/config" JUPYTER_DATA_DIR="$$tmp/jupyter/data" \
	    JUPYTER_RUNTIME_DIR="$$tmp/jupyter/runtime" JUPYTER_PLATFORM_DIRS=1 \
	    XDG_CACHE_HOME="$$tmp/xdg/cache" XDG_CONFIG_HOME="$$tmp/xdg/config" \
	    XDG_DATA_HOME="$$tmp/xdg/data" BELIEFREG_TEST_ISOLATED=1 \
	    $(BIN)/python -m pytest -p no:cacheprovider $(ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/estimation.py

clean:
	rm -rf $(VENV) build *.egg-info
