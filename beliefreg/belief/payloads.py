"""Reading token log-probabilities from every provider's response shape.

:func:`token_logprobs` turns a provider payload into a list of :class:`TokenLogprob`, one per
generated token, each with its own top-k alternatives. Dicts (parsed JSON) and the official
``openai`` client's pydantic objects are both accepted, as is a JSON string.

Recognised shapes (``payload_format`` in results)
-------------------------------------------------
``"token_list"``
    A bare list of entries ``{token, logprob, bytes?, id?, top_logprobs: [{token, logprob,
    bytes?, id?}]}``. This is OpenAI Chat Completions ``choices[0].logprobs.content``
    (``ChatCompletionTokenLogprob``), the Responses API ``output_text.logprobs``
    (``response_output_text.Logprob``), vLLM's and llama.cpp's OpenAI-compatible servers (which
    add the token ``id``), Ollama's ``logprobs`` and llama.cpp's native
    ``completion_probabilities``.
``"chat_completions"``
    A whole Chat Completions response (or one ``choice``, or ``choice.logprobs``): the
    entries of ``choices[0].logprobs.content``. A response with several choices is rejected:
    pass each ``choices[i]`` separately.
``"completions"``
    The legacy Completions shape (OpenAI ``/v1/completions``, vLLM):
    ``choices[0].logprobs = {tokens, token_logprobs, top_logprobs: [{token: logprob}]}``.
``"responses"``
    A Responses API response (``output[*].content[*].logprobs`` of the ``output_text`` parts,
    concatenated; logprobs need ``include=["message.output_text.logprobs"]``), or one output
    message, or one ``output_text`` part.
``"llamacpp_native"``
    llama.cpp server ``/completion`` with ``n_probs > 0``: ``completion_probabilities`` with
    ``logprob``/``top_logprobs`` (each entry also has the token ``id``).
``"llamacpp_native_post_sampling"``
    The same with ``post_sampling_probs: true``: probabilities ``prob``/``top_probs`` taken
    *after* the sampler chain (top-k, top-p, min-p, temperature); also the pre-2025 shape
    ``{content, probs: [{tok_str, prob}]}``, whose ``probs`` were always taken after the
    sampler chain. They describe the distribution actually sampled from, not the model's;
    with ``top_k=0, top_p=1, min_p=0, temperature=1`` the two coincide (checked on a real
    server for the newer shape).
``"ollama"``
    Ollama ``/api/generate`` and ``/api/chat`` (from v0.12.11): a top-level ``logprobs`` list
    of ``{token, logprob, bytes?, top_logprobs: [{token, logprob, bytes?}]}`` next to
    ``response`` or ``message``.
``"stream:<shape>"``
    A list of streamed chunks of one of the shapes above (Chat Completions chunks, Ollama's
    default streaming, llama.cpp ``stream: true``): their tokens are concatenated; chunks
    without tokens (the final ``done`` chunk) are skipped.

Data problems never raise here: an unreadable entry keeps a ``problem`` string, and a payload
that has no log-probabilities at all raises :class:`PayloadProblem`, which
:func:`~beliefreg.belief.extract` turns into a flagged NaN row.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from beliefreg.belief.result import Flag

__all__ = [
    "TokenLogprob",
    "token_logprobs",
    "PayloadProblem",
    "UNLIKELY_SENTINEL",
    "LOGPROB_TOLERANCE",
]

#: OpenAI documents ``logprob = -9999.0`` as "not within the top 20, very unlikely". Such a
#: value carries no probability; it is treated as unknown (bounded), never as exact.
UNLIKELY_SENTINEL = -9999.0

#: Positive log-probabilities up to this value are float rounding of 0 and are read as 0.
LOGPROB_TOLERANCE = 1e-4

_MISSING = object()


class PayloadProblem(Exception):
    """A payload that carries no usable log-probabilities (internal; becomes a flagged row)."""

    def __init__(self, flag: Flag, detail: str, payload_format: str | None = None) -> None:
        super().__init__(detail)
        self.flag = flag
        self.detail = detail
        self.payload_format = payload_format


def _field(obj: Any, name: str) -> Any:
    """``obj[name]`` for mappings, ``obj.name`` for objects, ``_MISSING`` when absent."""
    if isinstance(obj, Mapping):
        return obj.get(name, _MISSING)
    if isinstance(obj, (str, bytes, Sequence)) or obj is None:
        return _MISSING
    return getattr(obj, name, _MISSING)


def _has(obj: Any, name: str) -> bool:
    return _field(obj, name) is not _MISSING


def _present(value: Any) -> bool:
    return value is not _MISSING and value is not None


@dataclass(frozen=True)
class TokenLogprob:
    """One token with its log-probability, as reported by a provider.

    Attributes
    ----------
    token : str or None
        The token string as reported (None when missing).
    logprob : float
        Its log-probability (``-inf`` for probability 0; NaN when unreadable).
    bytes : bytes or None
        Its UTF-8 bytes when reported.
    id : int or None
        Its vocabulary id when reported (llama.cpp, vLLM with ``return_tokens_as_token_ids``).
    top_logprobs : tuple of TokenLogprob
        The listed most likely tokens at this position (empty for entries of that list, or
        when not requested).
    problem : str or None
        Why this entry (or one of its listed alternatives) is unreadable, or None.
    """

    token: str | None
    logprob: float
    bytes: bytes | None = None
    id: int | None = None
    top_logprobs: tuple[TokenLogprob, ...] = ()
    problem: str | None = None

    @property
    def text(self) -> str | None:
        """The token's text: its bytes decoded as UTF-8 when valid, else the token string."""
        if self.bytes is not None:
            try:
                return self.bytes.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return self.token

    @property
    def raw_bytes(self) -> bytes | None:
        """The token's bytes, or its string encoded as UTF-8 (for character alignment)."""
        if self.bytes is not None:
            return self.bytes
        if self.token is not None:
            return self.token.encode("utf-8")
        return None

    @property
    def prob(self) -> float:
        """``exp(logprob)``."""
        return math.exp(self.logprob) if not math.isnan(self.logprob) else math.nan

    @property
    def known(self) -> bool:
        """Whether the probability is known: not NaN and not the -9999 placeholder.

        ``-inf`` is known: an exact zero.
        """
        lp = self.logprob
        return lp == -math.inf or (not math.isnan(lp) and lp > UNLIKELY_SENTINEL)

    @property
    def identity(self) -> Any:
        """Key identifying the token: its id, else its text, else its raw bytes.

        The text is the decoded bytes when they are valid UTF-8 (then equal to the token
        string), so an entry with bytes and one without name the same token.
        """
        if self.id is not None:
            return ("id", self.id)
        text = self.text
        if self.bytes is not None and text != self.bytes.decode("utf-8", errors="replace"):
            return ("bytes", self.bytes)  # partial UTF-8: the string is an escape
        return ("text", text)

    @property
    def identity_text(self) -> str | None:
        """Text of the sampled token as the vocabulary spells it.

        llama.cpp holds back text that could start a stop string and emits it with the next
        token (a sampled ``"\\n"`` reported as ``""``, the next ``"Answer"`` as
        ``"\\nAnswer"``). When the entry has an id that also appears in its own top list, the
        listed token's text is the token's true text.
        """
        if self.id is not None:
            for t in self.top_logprobs:
                if t.id == self.id and t.text is not None:
                    return t.text
        return self.text


# ------------------------------------------------------------------------------- values
def _read_logprob(entry: Any) -> tuple[float, str | None]:
    lp = _field(entry, "logprob")
    if lp is not _MISSING:
        return _check_logprob(lp)
    p = _field(entry, "prob")
    if p is not _MISSING:
        return _check_prob(p)
    return math.nan, "no 'logprob' (or 'prob') field"


def _as_float(v: Any) -> float | None:
    """A real number (Python or numpy), else None. Strings are not numbers here."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return None
    return float(v)


def _check_logprob(v: Any) -> tuple[float, str | None]:
    x = _as_float(v)
    if x is None:
        return math.nan, f"log-probability {v!r} is not a number"
    if math.isnan(x):
        return math.nan, "log-probability is NaN"
    if x == math.inf:
        return math.nan, "log-probability is +inf"
    if x > LOGPROB_TOLERANCE:
        return math.nan, f"log-probability {x!r} is positive (probability above one)"
    return min(x, 0.0), None


def _check_prob(v: Any) -> tuple[float, str | None]:
    x = _as_float(v)
    if x is None:
        return math.nan, f"probability {v!r} is not a number"
    if math.isnan(x) or x < 0 or x > 1 + LOGPROB_TOLERANCE:
        return math.nan, f"probability {x!r} is not in [0, 1]"
    return (math.log(x) if x > 0 else -math.inf), None


def _read_bytes(entry: Any) -> bytes | None:
    b = _field(entry, "bytes")
    if not _present(b):
        return None
    if isinstance(b, (bytes, bytearray)):
        return bytes(b)
    try:
        return bytes(b)
    except (TypeError, ValueError):
        return None


def _read_id(entry: Any) -> int | None:
    i = _field(entry, "id")
    if isinstance(i, bool) or not isinstance(i, numbers.Integral):
        return None
    return int(i)


def _read_token(entry: Any, *names: str) -> tuple[str | None, str | None]:
    for name in names:
        t = _field(entry, name)
        if t is _MISSING:
            continue
        if isinstance(t, str):
            return t, None
        return None, f"token {t!r} is not a string"
    return None, "no 'token' field"


def _top_entry(entry: Any) -> TokenLogprob:
    if isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str):
        token, (lp, problem) = entry[0], _check_logprob(entry[1])
        return TokenLogprob(token=token, logprob=lp, problem=problem)
    if not isinstance(entry, Mapping) and not hasattr(entry, "__dict__"):
        return TokenLogprob(
            token=None, logprob=math.nan, problem=f"entry {entry!r} is not an object"
        )
    token, tproblem = _read_token(entry, "token", "tok_str")
    lp, lproblem = _read_logprob(entry)
    return TokenLogprob(
        token=token,
        logprob=lp,
        bytes=_read_bytes(entry),
        id=_read_id(entry),
        problem=tproblem or lproblem,
    )


def _position(entry: Any) -> TokenLogprob:
    if not isinstance(entry, Mapping) and not hasattr(entry, "__dict__"):
        return TokenLogprob(
            token=None, logprob=math.nan, problem=f"entry {entry!r} is not an object"
        )
    token, tproblem = _read_token(entry, "token", "content")
    lp, lproblem = _read_logprob(entry)
    if _has(entry, "probs") and not _has(entry, "logprob") and not _has(entry, "prob"):
        # pre-2025 llama.cpp: {content, probs: [{tok_str, prob}]}, sampled token's prob only
        # listed inside probs
        lp, lproblem = math.nan, None
    top_raw = _MISSING
    for name in ("top_logprobs", "top_probs", "probs"):
        top_raw = _field(entry, name)
        if top_raw is not _MISSING:
            break
    problems = [p for p in (tproblem, lproblem) if p]
    top: tuple[TokenLogprob, ...] = ()
    if _present(top_raw):
        if isinstance(top_raw, Mapping):  # legacy completions {token: logprob}
            top = tuple(_top_entry((k, v)) for k, v in top_raw.items())
        elif isinstance(top_raw, Sequence) and not isinstance(top_raw, (str, bytes)):
            top = tuple(_top_entry(t) for t in top_raw)
        else:
            problems.append(f"top list {top_raw!r} is not a list")
        bad = [t.problem for t in top if t.problem]
        if bad:
            problems.append(f"listed token unreadable ({bad[0]})")
    tok = TokenLogprob(
        token=token,
        logprob=lp,
        bytes=_read_bytes(entry),
        id=_read_id(entry),
        top_logprobs=top,
        problem="; ".join(problems) or None,
    )
    if math.isnan(tok.logprob) and tok.problem is None and top:
        # old llama.cpp shape: the sampled token's probability is the listed one, when listed
        match = [t for t in top if t.token == tok.token and not math.isnan(t.logprob)]
        if match:
            tok = TokenLogprob(
                token=tok.token,
                logprob=match[0].logprob,
                bytes=tok.bytes,
                id=tok.id,
                top_logprobs=top,
                problem=None,
            )
    return tok


def _entries(seq: Any, fmt: str) -> tuple[list[TokenLogprob], str]:
    if not isinstance(seq, Sequence) or isinstance(seq, (str, bytes)):
        raise PayloadProblem(
            Flag.MALFORMED, f"expected a list of token entries, got {type(seq).__name__}", fmt
        )
    if len(seq) == 0:
        raise PayloadProblem(Flag.EMPTY_CONTENT, "the payload has no generated tokens", fmt)
    return [_position(e) for e in seq], fmt


def _legacy_completions(lp: Any) -> tuple[list[TokenLogprob], str]:
    fmt = "completions"
    tokens = _field(lp, "tokens")
    values = _field(lp, "token_logprobs")
    tops = _field(lp, "top_logprobs")
    if not _present(tokens) or not _present(values):
        raise PayloadProblem(Flag.MALFORMED, "legacy logprobs without tokens/token_logprobs", fmt)
    if len(tokens) == 0:
        raise PayloadProblem(Flag.EMPTY_CONTENT, "the payload has no generated tokens", fmt)
    if len(values) != len(tokens) or (_present(tops) and len(tops) != len(tokens)):
        raise PayloadProblem(
            Flag.MALFORMED,
            "legacy logprobs: tokens, token_logprobs and top_logprobs differ in length",
            fmt,
        )
    entries = []
    for i, t in enumerate(tokens):
        entries.append(
            {
                "token": t,
                "logprob": values[i],
                "top_logprobs": (tops[i] if _present(tops) else None),
            }
        )
    return [_position(e) for e in entries], fmt


def _from_choice(choice: Any, fmt: str) -> tuple[list[TokenLogprob], str]:
    lp = _field(choice, "logprobs")
    if not _present(lp):
        raise PayloadProblem(
            Flag.NO_LOGPROBS,
            "the choice has no logprobs (request logprobs=True, top_logprobs=k)",
            fmt,
        )
    if isinstance(lp, Sequence) and not isinstance(lp, (str, bytes)):
        return _entries(lp, fmt)
    if _has(lp, "tokens"):
        return _legacy_completions(lp)
    content = _field(lp, "content")
    if not _present(content):
        raise PayloadProblem(Flag.NO_LOGPROBS, "logprobs.content is missing or null", fmt)
    return _entries(content, fmt)


def _from_responses_parts(parts: Sequence[Any], fmt: str) -> tuple[list[TokenLogprob], str]:
    collected: list[Any] = []
    saw_text = False
    for part in parts:
        if _field(part, "type") != "output_text":
            continue
        saw_text = True
        lps = _field(part, "logprobs")
        if not _present(lps):
            raise PayloadProblem(
                Flag.NO_LOGPROBS,
                "output_text has no logprobs (request include=['message.output_text.logprobs'] "
                "and top_logprobs=k)",
                fmt,
            )
        collected.extend(lps)
    if not saw_text:
        raise PayloadProblem(Flag.EMPTY_CONTENT, "the response has no output_text part", fmt)
    return _entries(collected, fmt)


_CHUNK_KEYS = ("choices", "completion_probabilities", "logprobs", "done", "object")


def _is_chunk(obj: Any) -> bool:
    """A streamed response chunk (not a token entry): has response keys and no token."""
    return not _has(obj, "token") and any(_has(obj, k) for k in _CHUNK_KEYS)


def _from_chunks(chunks: Sequence[Any]) -> tuple[list[TokenLogprob], str]:
    """Concatenate the tokens of streamed chunks (chunks without tokens are skipped)."""
    out: list[TokenLogprob] = []
    fmt = None
    empty: PayloadProblem | None = None
    for chunk in chunks:
        try:
            tokens, f = token_logprobs(chunk)
        except PayloadProblem as p:
            if p.flag not in (Flag.EMPTY_CONTENT, Flag.NO_LOGPROBS):
                raise
            empty = empty or p
            continue
        fmt = fmt or f
        out.extend(tokens)
    if not out:
        assert empty is not None
        raise PayloadProblem(empty.flag, f"no streamed chunk has tokens ({empty.detail})", "stream")
    return out, f"stream:{fmt}"


def _is_pre2025_llamacpp(entry: Any) -> bool:
    """The pre-2025 llama.cpp entry ``{content, probs: [{tok_str, prob}]}``."""
    return _has(entry, "probs") and not _has(entry, "logprob") and not _has(entry, "top_logprobs")


def token_logprobs(payload: Any) -> tuple[list[TokenLogprob], str]:
    """Read the generated tokens and their top-k log-probabilities from a payload.

    Parameters
    ----------
    payload : object
        Any shape listed in the module docstring, as dicts, pydantic objects or a JSON string.

    Returns
    -------
    tokens : list of TokenLogprob
        One entry per generated token, in order.
    payload_format : str
        The recognised shape.

    Raises
    ------
    PayloadProblem
        When the payload carries no usable log-probabilities (``flag`` says why).
    ValueError
        When a Chat Completions or Completions response holds several choices (pass each
        ``choices[i]`` separately): a usage error, not a data problem.

    Examples
    --------
    >>> tokens, fmt = token_logprobs({"completion_probabilities": [
    ...     {"id": 8438, "token": " Yes", "bytes": [32, 89, 101, 115], "logprob": -0.6,
    ...      "top_logprobs": [{"id": 8438, "token": " Yes", "bytes": [32, 89, 101, 115],
    ...                        "logprob": -0.6}]}]})
    >>> fmt, tokens[0].text, tokens[0].id, len(tokens[0].top_logprobs)
    ('llamacpp_native', ' Yes', 8438, 1)
    """
    if payload is None:
        raise PayloadProblem(Flag.NO_LOGPROBS, "the payload is None (were logprobs requested?)")
    if isinstance(payload, (str, bytes, bytearray)):
        try:
            payload = json.loads(payload)
        except (ValueError, TypeError) as exc:
            raise PayloadProblem(
                Flag.MALFORMED, f"payload is a string that is not JSON ({exc})"
            ) from None
        return token_logprobs(payload)
    if isinstance(payload, Sequence):
        if payload and all(_is_chunk(c) for c in payload):
            return _from_chunks(payload)
        return _entries(payload, "token_list")

    if _has(payload, "completion_probabilities"):
        cp = _field(payload, "completion_probabilities")
        if cp is None:
            raise PayloadProblem(
                Flag.NO_LOGPROBS, "completion_probabilities is null", "llamacpp_native"
            )
        fmt = "llamacpp_native"
        if isinstance(cp, Sequence) and cp and (
            _has(cp[0], "top_probs") or _is_pre2025_llamacpp(cp[0])
        ):
            # probabilities after the sampler chain: the newer ``post_sampling_probs`` shape,
            # and the pre-2025 ``probs`` shape, which always reported them (temperature and
            # truncation applied)
            fmt = "llamacpp_native_post_sampling"
        return _entries(cp, fmt)

    choices = _field(payload, "choices")
    if _present(choices):
        if not isinstance(choices, Sequence) or isinstance(choices, (str, bytes)):
            raise PayloadProblem(Flag.MALFORMED, "'choices' is not a list")
        if len(choices) == 0:
            raise PayloadProblem(Flag.EMPTY_CONTENT, "the response has no choices")
        if len(choices) > 1:
            raise ValueError(
                f"the response holds {len(choices)} choices (n > 1); pass each "
                "response.choices[i] to extract() separately"
            )
        choice = choices[0]
        lp = _field(choice, "logprobs")
        fmt = "completions" if _present(lp) and _has(lp, "tokens") else "chat_completions"
        return _from_choice(choice, fmt)

    output = _field(payload, "output")
    if _present(output) and isinstance(output, Sequence) and not isinstance(output, str):
        parts: list[Any] = []
        for item in output:
            if _field(item, "type") == "message":
                content = _field(item, "content")
                if _present(content):
                    parts.extend(content)
        return _from_responses_parts(parts, "responses")

    ptype = _field(payload, "type")
    if ptype == "message" and _present(_field(payload, "content")):
        return _from_responses_parts(_field(payload, "content"), "responses")
    if ptype == "output_text":
        return _from_responses_parts([payload], "responses")

    if _has(payload, "logprobs"):
        lp = _field(payload, "logprobs")
        is_ollama = any(_has(payload, k) for k in ("response", "done", "model", "created_at"))
        if _has(payload, "message") and _has(payload, "index"):  # one chat choice
            return _from_choice(payload, "chat_completions")
        fmt = "ollama" if is_ollama else "chat_completions"
        if lp is None:
            raise PayloadProblem(
                Flag.NO_LOGPROBS, "logprobs is null (were logprobs requested?)", fmt
            )
        if isinstance(lp, Sequence) and not isinstance(lp, (str, bytes)):
            return _entries(lp, fmt)
        return _from_choice(payload, fmt if not _has(lp, "tokens") else "completions")

    content = _field(payload, "content")
    if isinstance(content, Sequence) and not isinstance(content, (str, bytes)):
        return _entries(content, "chat_completions")  # choice.logprobs (ChoiceLogprobs)
    if isinstance(content, str):
        raise PayloadProblem(
            Flag.NO_LOGPROBS,
            "the response has text but no log-probabilities (llama.cpp: set n_probs > 0)",
        )
    if _has(payload, "response") or _has(payload, "message"):
        raise PayloadProblem(
            Flag.NO_LOGPROBS,
            "the response has text but no log-probabilities (Ollama: logprobs=true, "
            "top_logprobs=k)",
            "ollama",
        )
    keys = list(payload) if isinstance(payload, Mapping) else type(payload).__name__
    raise PayloadProblem(Flag.MALFORMED, f"unrecognised payload shape ({keys})")
