"""A fast fake OpenAI-compatible server for throughput benchmarks (asyncio streams, HTTP/1.1
keep-alive, one fixed chat completion with log-probabilities). Usage: ``python
_fast_server.py`` prints the port, then serves until killed."""

from __future__ import annotations

import asyncio
import json
import sys

TOP = [{"token": t, "logprob": lp, "bytes": list(t.encode())}
       for t, lp in ((" Yes", -0.5), (" No", -1.25), (" Maybe", -3.0))]
BODY = json.dumps({
    "id": "chatcmpl-fast", "object": "chat.completion", "created": 1700000000, "model": "m",
    "choices": [{"index": 0, "finish_reason": "length",
                 "message": {"role": "assistant", "content": " Yes"},
                 "logprobs": {"content": [dict(TOP[0], top_logprobs=TOP)]}}],
    "usage": {"prompt_tokens": 40, "completion_tokens": 1, "total_tokens": 41},
}).encode()
HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(BODY)).encode() + b"\r\n\r\n")


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            writer.write(HEAD + BODY)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
