"""Keep credentials out of everything stored or printed.

A server may echo the API key back (in an error message, in the generated text of a
misconfigured proxy, in a debug field). :class:`Redactor` replaces the configured key, any
``Authorization`` header value and any OpenAI-style secret key (``sk-...``) by ``[REDACTED]``
in strings and, recursively, in JSON-like objects (dicts, lists).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["Redactor", "REDACTED"]

REDACTED = "[REDACTED]"

_AUTH = re.compile(r"""(?i)(authorization["']?\s*[:=]\s*["']?)((?:bearer|basic)\s+)?[^\s"',;}]+""")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}")
_SK = re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")


class Redactor:
    """Replace secrets by ``[REDACTED]``.

    Parameters
    ----------
    secrets : iterable of str
        Exact strings to remove (the configured API key). Strings shorter than 6 characters
        are ignored (placeholders such as ``"unused"`` are not secrets worth hiding in text).

    Examples
    --------
    >>> r = Redactor(["my-secret-key"])
    >>> r.text("bad key my-secret-key; Authorization: Bearer abcdefgh")
    'bad key [REDACTED]; Authorization: Bearer [REDACTED]'
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)
        self._secret_bytes = [s.encode() for s in self.secrets]
        # a secret that JSON may write escaped (quotes, backslashes, slashes, control or
        # non-ASCII characters) cannot be looked for in the raw body
        self._unsafe_secret = any(not s.isascii() or any(c in s for c in '"\\/')
                                  or any(ord(c) < 32 or ord(c) == 127 for c in s)
                                  for s in self.secrets)

    def text(self, value: str) -> str:
        """``value`` with every secret replaced."""
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        value = _AUTH.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}{REDACTED}"
                          if m.group(0)[len(m.group(1)) + len(m.group(2) or ''):] != REDACTED
                          else m.group(0), value)
        value = _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", value)
        return _SK.sub(REDACTED, value)

    def obj(self, value: Any) -> Any:
        """A copy of a JSON-like ``value`` with every string redacted (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.obj(v)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.obj(v) for v in value]
        return value

    def json(self, body: bytes) -> Any:
        """The parsed JSON ``body`` (UTF-8 bytes), redacted as by :meth:`obj`.

        A body in which no secret can occur is parsed and returned without the walk over
        every string: an ASCII body without JSON escapes that could hide a character
        (``\\u``, ``\\/``) holds each of the needles every match contains (the secrets,
        ``authorization``, ``bearer``, ``sk-``) as plain bytes if it holds it at all.

        Raises
        ------
        ValueError
            The body is not JSON (``json.JSONDecodeError``) or not UTF-8.
        """
        value = json.loads(body)
        if self._may_hold_secret(body):
            return self.obj(value)
        return value

    def _may_hold_secret(self, body: bytes) -> bool:
        if not body.isascii() or b"\\u" in body or b"\\/" in body:
            return True
        if self._unsafe_secret:
            return True
        lower = body.lower()
        if b"authorization" in lower or b"bearer" in lower or b"sk-" in body:
            return True
        return any(s in body for s in self._secret_bytes)
