"""Read the metadata of a GGUF model file (no dependency; the header is a simple format).

Used by the local backend to tell whether a model file carries a chat template
(``tokenizer.chat_template``) and to read its vocabulary (``tokenizer.ggml.tokens``) for
resolving a choice set to token ids. Tensor data is never read.

Format (GGUF v2/v3, little-endian): ``b"GGUF"``, version (u32), tensor count (u64), key/value
count (u64), then key/value pairs: key (u64 length + UTF-8), value type (u32), value. Strings are
a u64 length + bytes; arrays are an element type (u32), a count (u64) and the elements.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["read_gguf_metadata", "tokenizer_metadata", "GGUFError"]


class GGUFError(ValueError):
    """The file is not a GGUF model file this reader understands."""


_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
    10: "<Q", 11: "<q", 12: "<d",
}
_STRING, _ARRAY = 8, 9


def _read(fh: BinaryIO, n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise GGUFError("truncated GGUF header")
    return data


def _read_str(fh: BinaryIO) -> str:
    (n,) = struct.unpack("<Q", _read(fh, 8))
    return _read(fh, n).decode("utf-8", errors="replace")


def _skip_str(fh: BinaryIO) -> None:
    (n,) = struct.unpack("<Q", _read(fh, 8))
    fh.seek(n, 1)


def _read_value(fh: BinaryIO, vtype: int, keep: bool) -> Any:
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        (v,) = struct.unpack(fmt, _read(fh, struct.calcsize(fmt)))
        return v
    if vtype == _STRING:
        if keep:
            return _read_str(fh)
        _skip_str(fh)
        return None
    if vtype == _ARRAY:
        (etype,) = struct.unpack("<I", _read(fh, 4))
        (count,) = struct.unpack("<Q", _read(fh, 8))
        if etype in _SCALARS:
            size = struct.calcsize(_SCALARS[etype])
            raw = _read(fh, size * count) if keep else fh.seek(size * count, 1)
            if not keep:
                return None
            return list(struct.unpack(f"<{count}{_SCALARS[etype][1]}", raw))
        if etype == _STRING:
            if keep:
                return [_read_str(fh) for _ in range(count)]
            for _ in range(count):
                _skip_str(fh)
            return None
        values = [_read_value(fh, etype, keep) for _ in range(count)]
        return values if keep else None
    raise GGUFError(f"unknown GGUF value type {vtype}")


def read_gguf_metadata(path: str | Path, keys: Iterable[str] | None = None) -> dict[str, Any]:
    """Metadata key/values of a GGUF file.

    Parameters
    ----------
    path : str or Path
        The model file.
    keys : iterable of str, optional
        Keys whose values to return; others are skipped without being decoded (the vocabulary
        array is large). ``None`` returns every scalar and string value, and skips arrays.

    Returns
    -------
    dict
        ``{key: value}`` for the requested keys present in the file.

    Raises
    ------
    GGUFError
        Not a GGUF file, or a truncated or unknown header.
    """
    wanted = None if keys is None else set(keys)
    out: dict[str, Any] = {}
    with open(path, "rb") as fh:
        if _read(fh, 4) != b"GGUF":
            raise GGUFError(f"{path} is not a GGUF file")
        (version,) = struct.unpack("<I", _read(fh, 4))
        if version < 2:
            raise GGUFError(f"GGUF version {version} is not supported")
        _n_tensors, n_kv = struct.unpack("<QQ", _read(fh, 16))
        for _ in range(n_kv):
            key = _read_str(fh)
            (vtype,) = struct.unpack("<I", _read(fh, 4))
            keep = (key in wanted) if wanted is not None else vtype != _ARRAY
            value = _read_value(fh, vtype, keep)
            if keep:
                out[key] = value
            if wanted is not None and wanted <= out.keys():
                break
    return out


#: The keys the local backend needs, read together (one scan of the header).
TOKENIZER_KEYS = ("tokenizer.chat_template", "tokenizer.ggml.tokens")


def tokenizer_metadata(path: str | Path) -> dict[str, Any]:
    """The chat template and the vocabulary of a GGUF file, read once per process.

    Reading the 262,144-token vocabulary of the embedded model takes about 0.27 s; every
    ``simulate`` call used to pay it. The result is cached by resolved path, size and
    modification time, so a replaced file is read again. Treat the returned values as
    read-only (they are shared).

    Returns
    -------
    dict
        ``{key: value}`` for the :data:`TOKENIZER_KEYS` present in the file.
    """
    p = Path(path).resolve()
    st = p.stat()
    return _tokenizer_metadata(str(p), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _tokenizer_metadata(path: str, size: int, mtime_ns: int) -> dict[str, Any]:
    return read_gguf_metadata(path, TOKENIZER_KEYS)
