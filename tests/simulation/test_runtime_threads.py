"""The local backend's thread count is measured once per machine and load regime and cached;
the GGUF tokenizer metadata is read once per process (issue 16)."""

from __future__ import annotations

import json
import os

import pytest

from beliefreg.simulation.backends import gguf, llama_runtime
from beliefreg.simulation.errors import BackendError


@pytest.fixture
def fresh_measurements(monkeypatch, tmp_path):
    monkeypatch.setenv("BELIEFREG_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(llama_runtime.THREADS_ENV, raising=False)
    monkeypatch.setattr(llama_runtime, "_MEASURED", {})
    llama_runtime._process_regime.cache_clear()
    yield tmp_path / "cache" / "llama_threads.json"
    llama_runtime._process_regime.cache_clear()  # later tests decide under the real load


def test_the_environment_variable_fixes_the_count(fresh_measurements, monkeypatch, tmp_path):
    monkeypatch.setenv(llama_runtime.THREADS_ENV, "3")
    assert llama_runtime.measured_threads(tmp_path / "absent.gguf") == 3
    monkeypatch.setenv(llama_runtime.THREADS_ENV, "two")
    with pytest.raises(BackendError, match="BELIEFREG_LLAMA_THREADS must be a positive integer"):
        llama_runtime.measured_threads(tmp_path / "absent.gguf")


def test_a_cached_measurement_is_read_not_repeated(fresh_measurements, tmp_path):
    pytest.importorskip("xllamacpp")
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")  # never loaded: the cached entry answers
    key = llama_runtime._threads_key(model, 512)
    fresh_measurements.parent.mkdir(parents=True)
    fresh_measurements.write_text(json.dumps({key: {"threads": 2}}))
    assert llama_runtime.measured_threads(model) == 2


@pytest.mark.parametrize("load,regime", [((0.5, 0.4, 0.3), "free"),
                                         ((9.0, 8.5, 9.3), "saturated")])
def test_each_load_regime_has_its_own_measurement(fresh_measurements, monkeypatch, tmp_path,
                                                  load, regime):
    pytest.importorskip("xllamacpp")
    monkeypatch.setattr(os, "getloadavg", lambda: load)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert llama_runtime.load_regime() == regime
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")  # never loaded: the cached entries answer
    fresh_measurements.parent.mkdir(parents=True)
    fresh_measurements.write_text(json.dumps({
        llama_runtime._threads_key(model, 512, "free"): {"threads": 2},
        llama_runtime._threads_key(model, 512, "saturated"): {"threads": 1}}))
    assert llama_runtime.measured_threads(model) == {"free": 2, "saturated": 1}[regime]
    # the process keeps its first regime when the load changes
    monkeypatch.setattr(os, "getloadavg",
                        lambda: (0.1, 0.1, 0.1) if regime == "saturated" else (9.0, 9.0, 9.0))
    monkeypatch.setattr(llama_runtime, "_MEASURED", {})
    assert llama_runtime.measured_threads(model) == {"free": 2, "saturated": 1}[regime]
    # a new process decides afresh
    llama_runtime._process_regime.cache_clear()
    assert llama_runtime.measured_threads(model) == {"free": 1, "saturated": 2}[regime]


def test_the_measurement_picks_a_candidate_and_caches_it(fresh_measurements, gemma_path,
                                                         monkeypatch):
    monkeypatch.setattr(llama_runtime, "_thread_candidates", lambda: [1, 2])
    best = llama_runtime.measured_threads(gemma_path)
    assert best in (1, 2)
    entry = json.loads(fresh_measurements.read_text())[llama_runtime._threads_key(gemma_path, 512)]
    assert entry["threads"] == best
    assert set(entry["median_ms"]) == {"1", "2"} and all(v > 0 for v in entry["median_ms"].values())
    # the winner is the runtime get_runtime hands out by default
    rt = llama_runtime.get_runtime(gemma_path)
    assert rt.n_threads == best
    monkeypatch.setattr(llama_runtime, "_MEASURED", {})  # a new process reads the file
    assert llama_runtime.measured_threads(gemma_path) == best


def test_tokenizer_metadata_is_read_once_per_process(gemma_path, monkeypatch):
    gguf._tokenizer_metadata.cache_clear()
    calls = []
    real = gguf.read_gguf_metadata

    def counting(path, keys=None):
        calls.append(path)
        return real(path, keys)

    monkeypatch.setattr(gguf, "read_gguf_metadata", counting)
    first = gguf.tokenizer_metadata(gemma_path)
    second = gguf.tokenizer_metadata(gemma_path)
    assert first is second and len(calls) == 1
    assert len(first["tokenizer.ggml.tokens"]) == 262144
    assert "tokenizer.chat_template" not in first  # the base model has none


def test_no_load_average_is_a_free_machine(monkeypatch):
    # Windows has no os.getloadavg: the regime is "free", not an AttributeError
    monkeypatch.delattr(os, "getloadavg")
    assert llama_runtime.load_regime() == "free"
