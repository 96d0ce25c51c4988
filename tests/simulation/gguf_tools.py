"""Write a copy of a GGUF file with a chat template added to its metadata (tests only).

Tensor data offsets in GGUF are relative to the aligned start of the data section, so adding a
key only rewrites the header; the tensor data are copied unchanged.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def _skip_value(buf: bytes, pos: int, vtype: int) -> int:
    if vtype in _SIZES:
        return pos + _SIZES[vtype]
    if vtype == 8:
        (n,) = struct.unpack_from("<Q", buf, pos)
        return pos + 8 + n
    if vtype == 9:
        etype, count = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        if etype in _SIZES:
            return pos + _SIZES[etype] * count
        for _ in range(count):
            pos = _skip_value(buf, pos, etype)
        return pos
    raise ValueError(f"unknown GGUF type {vtype}")


def with_chat_template(src: Path, dst: Path, template: str) -> Path:
    """Copy ``src`` to ``dst`` adding ``tokenizer.chat_template = template``."""
    with open(src, "rb") as fh:
        head = fh.read(64 << 20)
    assert head[:4] == b"GGUF"
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", head, 4)
    pos, alignment = 24, 32
    for _ in range(n_kv):
        (klen,) = struct.unpack_from("<Q", head, pos)
        key = head[pos + 8:pos + 8 + klen].decode()
        pos += 8 + klen
        (vtype,) = struct.unpack_from("<I", head, pos)
        pos += 4
        if key == "general.alignment":
            (alignment,) = struct.unpack_from("<I", head, pos)
        pos = _skip_value(head, pos, vtype)
    kv_end = pos
    for _ in range(n_tensors):
        (nlen,) = struct.unpack_from("<Q", head, pos)
        pos += 8 + nlen
        (ndim,) = struct.unpack_from("<I", head, pos)
        pos += 4 + 8 * ndim + 4 + 8
    infos_end = pos
    data_start = -(-infos_end // alignment) * alignment
    key, tpl = b"tokenizer.chat_template", template.encode()
    new_kv = (struct.pack("<Q", len(key)) + key + struct.pack("<I", 8)
              + struct.pack("<Q", len(tpl)) + tpl)
    header = (head[:4] + struct.pack("<IQQ", version, n_tensors, n_kv + 1) + head[24:kv_end]
              + new_kv + head[kv_end:infos_end])
    header += b"\0" * ((-len(header)) % alignment)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        fout.write(header)
        fin.seek(data_start)
        shutil.copyfileobj(fin, fout, 16 << 20)
    return dst
