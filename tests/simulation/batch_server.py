"""A fake OpenAI Batch API on 127.0.0.1 (tests only): the files and batches endpoints.

Endpoints: ``POST /v1/files`` (multipart upload), ``GET /v1/files`` (list, ``purpose``),
``GET /v1/files/{id}``, ``GET /v1/files/{id}/content``, ``POST /v1/batches``,
``GET /v1/batches`` (list), ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``, in
OpenAI's shapes (the official ``openai`` client talks to it).

A batch is ``validating`` when created; each retrieve moves it on: ``in_progress``, then
``lines_per_poll`` of its lines are executed per retrieve, then ``finalizing``, then
``completed`` with an output file (one line per executed request, the body a chat completion
with the same log-probabilities as :mod:`.fault_server`) and an error file. Faults:

* per line, by ``case=<name>`` in the last user message: ``fail500`` fails (HTTP 500 line in
  the error file) the first time its ``custom_id`` is executed; ``bad400`` always fails with a
  400; ``nologprobs`` answers the first time without log-probabilities;
* ``state["expire_after"] = k``: a batch expires after executing ``k`` lines; the rest go to
  the error file with ``batch_expired`` (once: the switch is cleared);
* ``state["fail_validation"]``: the next batch fails validation as a whole (once);
* cancel: ``cancelling`` then ``cancelled``; unexecuted lines get ``batch_cancelled``;
* ``state["paused"]``: batches in progress execute nothing until it is cleared;
* gates for kill tests: ``hold("create_before")`` blocks a create request before the batch
  exists (and then drops it), ``hold("create_after")`` creates the batch, then blocks the
  response, ``hold("content")`` blocks output downloads, ``hold("upload_after")`` stores an
  upload then blocks the response. ``reached[name]`` is set when a request hits the gate;
  ``release(name)`` lets it go.

Accounting (what the tests assert): ``executed[custom_id]`` counts the executions answered
with HTTP 200 (what is paid), ``created`` lists the batches created, ``uploads`` the files.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from .fault_server import _content

HOLDS = ("create_before", "create_after", "content", "upload_after")


def _multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """``{field: (filename, bytes)}`` of a multipart/form-data body."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    assert m, content_type
    boundary = b"--" + m.group(1).encode()
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in body.split(boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.partition(b"\r\n\r\n")
        data = data[:-2] if data.endswith(b"\r\n") else data
        name = re.search(rb'name="([^"]*)"', head)
        fname = re.search(rb'filename="([^"]*)"', head)
        if name:
            out[name.group(1).decode()] = (fname.group(1).decode() if fname else None, data)
    return out


class BatchServer:
    """Start with :meth:`start`; ``url`` is the base URL (``.../v1``)."""

    def __init__(self, *, lines_per_poll: int = 10**9) -> None:
        self.lines_per_poll = lines_per_poll
        self.state: dict[str, Any] = {"expire_after": None, "fail_validation": False,
                                      "paused": False}
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.work: dict[str, dict[str, Any]] = {}
        self.executed: dict[str, int] = {}
        self.seen: dict[str, int] = {}
        self.created: list[str] = []
        self.uploads: list[str] = []
        self.lock = threading.RLock()
        self.reached = {h: threading.Event() for h in HOLDS}
        self._held: set[str] = set()
        self._release = {h: threading.Event() for h in HOLDS}
        self._n = 0
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> BatchServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                server._route(self, "GET", b"")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                server._route(self, "POST", self.rfile.read(length))

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for h in HOLDS:
            self._release[h].set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def hold(self, name: str) -> None:
        self._held.add(name)
        self.reached[name].clear()
        self._release[name].clear()

    def release(self, name: str) -> None:
        self._held.discard(name)
        self._release[name].set()

    def _gate(self, name: str) -> bool:
        """Block at gate ``name`` if held; True if the request was held."""
        if name not in self._held:
            return False
        self.reached[name].set()
        self._release[name].wait(timeout=120)
        return True

    # -- helpers -------------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        with self.lock:
            self._n += 1
            return f"{prefix}-{self._n:06d}"

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes,
              ctype: str = "application/json") -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _json(self, h: BaseHTTPRequestHandler, status: int, obj: Any) -> None:
        self._send(h, status, json.dumps(obj).encode())

    def _not_found(self, h: BaseHTTPRequestHandler, what: str) -> None:
        self._json(h, 404, {"error": {"message": f"No such {what}", "type":
                                      "invalid_request_error", "param": None, "code": None}})

    def _new_file(self, content: bytes, filename: str, purpose: str) -> dict[str, Any]:
        fid = self._id("file")
        obj = {"id": fid, "object": "file", "bytes": len(content), "created_at": int(time.time()),
               "filename": filename, "purpose": purpose, "status": "processed"}
        with self.lock:
            self.files[fid] = dict(obj, _content=content)
        return obj

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    # -- routing -------------------------------------------------------------------------------
    def _route(self, h: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        url = urlparse(h.path)
        path = url.path.rstrip("/")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if method == "POST" and path == "/v1/files":
            return self._upload(h, body)
        if method == "GET" and path == "/v1/files":
            with self.lock:
                data = [self._public(f) for f in self.files.values()
                        if "purpose" not in query or f["purpose"] == query["purpose"]]
            return self._json(h, 200, {"object": "list", "data": data, "has_more": False})
        m = re.fullmatch(r"/v1/files/([\w-]+)(/content)?", path)
        if m and method == "GET":
            with self.lock:
                f = self.files.get(m.group(1))
            if f is None:
                return self._not_found(h, "file")
            if m.group(2):
                if f["purpose"] == "batch_output":
                    self._gate("content")
                return self._send(h, 200, f["_content"], "application/octet-stream")
            return self._json(h, 200, self._public(f))
        if method == "POST" and path == "/v1/batches":
            return self._create(h, json.loads(body or b"{}"))
        if method == "GET" and path == "/v1/batches":
            with self.lock:
                data = [self._public(b) for b in self.batches.values()]
            data.reverse()  # newest first, as OpenAI lists them
            return self._json(h, 200, {"object": "list", "data": data, "has_more": False,
                                       "first_id": data[0]["id"] if data else None,
                                       "last_id": data[-1]["id"] if data else None})
        m = re.fullmatch(r"/v1/batches/([\w-]+)(/cancel)?", path)
        if m:
            bid = m.group(1)
            with self.lock:
                b = self.batches.get(bid)
                if b is None:
                    return self._not_found(h, "batch")
                if m.group(2) and method == "POST":
                    if b["status"] in ("validating", "in_progress", "finalizing"):
                        b["status"] = "cancelling"
                        b["cancelling_at"] = int(time.time())
                    return self._json(h, 200, self._public(b))
                if method == "GET":
                    self._advance(bid)
                    return self._json(h, 200, self._public(self.batches[bid]))
        return self._not_found(h, "route")

    # -- endpoints -----------------------------------------------------------------------------
    def _upload(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        parts = _multipart(body, h.headers.get("Content-Type", ""))
        filename, content = parts["file"]
        purpose = parts["purpose"][1].decode()
        obj = self._new_file(content, filename or "upload.jsonl", purpose)
        with self.lock:
            self.uploads.append(obj["id"])
        self._gate("upload_after")
        self._json(h, 200, obj)

    def _create(self, h: BaseHTTPRequestHandler, req: dict[str, Any]) -> None:
        if self._gate("create_before"):
            return self._json(h, 500, {"error": {"message": "dropped", "type": "server_error"}})
        fid = req.get("input_file_id")
        with self.lock:
            f = self.files.get(fid)
            if f is None or f["purpose"] != "batch":
                return self._json(h, 400, {"error": {"message": f"invalid input file {fid}",
                                                     "type": "invalid_request_error"}})
            lines = [json.loads(x) for x in f["_content"].splitlines() if x.strip()]
            bid = self._id("batch")
            now = int(time.time())
            b = {"id": bid, "object": "batch", "endpoint": req.get("endpoint"),
                 "errors": None, "input_file_id": fid,
                 "completion_window": req.get("completion_window"), "status": "validating",
                 "output_file_id": None, "error_file_id": None, "created_at": now,
                 "in_progress_at": None, "expires_at": now + 86400, "finalizing_at": None,
                 "completed_at": None, "failed_at": None, "expired_at": None,
                 "cancelling_at": None, "cancelled_at": None,
                 "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                 "metadata": req.get("metadata")}
            self.batches[bid] = b
            fail = bool(self.state.get("fail_validation"))
            self.state["fail_validation"] = False
            expire = self.state.get("expire_after")
            self.state["expire_after"] = None
            self.work[bid] = {"lines": lines, "next": 0, "out": [], "err": [],
                              "fail_validation": fail, "expire_after": expire}
            self.created.append(bid)
        self._gate("create_after")
        self._json(h, 200, self._public(b))

    # -- the batch's life ----------------------------------------------------------------------
    def _execute(self, line: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(output line, error line) of one request line."""
        cid = line["custom_id"]
        body = line["body"]
        messages = body.get("messages") or []
        last = str(messages[-1].get("content", "")) if messages else ""
        m = re.search(r"case=(\w+)", last)
        case = m.group(1) if m else "ok"
        self.seen[cid] = seen = self.seen.get(cid, 0) + 1
        rid = self._id("req")
        if case == "bad400" or (case == "fail500" and seen == 1):
            status = 400 if case == "bad400" else 500
            err = {"id": self._id("batch_req"), "custom_id": cid,
                   "response": {"status_code": status, "request_id": rid,
                                "body": {"error": {"message": f"fake HTTP {status}",
                                                   "type": "server_error" if status == 500
                                                   else "invalid_request_error"}}},
                   "error": None}
            return None, err
        seed = body.get("seed") or 0
        sampled = " Yes" if seed % 3 else " No"
        top = int(body.get("top_logprobs") or 0)
        with_lp = bool(body.get("logprobs")) and not (case == "nologprobs" and seen == 1)
        choice = {"index": 0, "finish_reason": "stop",
                  "message": {"role": "assistant", "content": sampled + "."},
                  "logprobs": {"content": _content(sampled, top)} if with_lp else None}
        answer = {"id": f"chatcmpl-{rid}", "object": "chat.completion",
                  "created": 1700000000, "model": body.get("model"), "choices": [choice],
                  "usage": {"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42}}
        self.executed[cid] = self.executed.get(cid, 0) + 1
        return {"id": self._id("batch_req"), "custom_id": cid,
                "response": {"status_code": 200, "request_id": rid, "body": answer},
                "error": None}, None

    def _finish(self, bid: str, status: str, code: str | None = None) -> None:
        b, w = self.batches[bid], self.work[bid]
        for line in w["lines"][w["next"]:]:
            w["err"].append({"id": self._id("batch_req"), "custom_id": line["custom_id"],
                             "response": None,
                             "error": {"code": code, "message": f"fake {code}"}})
            b["request_counts"]["failed"] += 1
        w["next"] = len(w["lines"])
        if w["out"]:
            b["output_file_id"] = self._new_file(
                b"".join(json.dumps(x).encode() + b"\n" for x in w["out"]),
                f"{bid}_output.jsonl", "batch_output")["id"]
        if w["err"]:
            b["error_file_id"] = self._new_file(
                b"".join(json.dumps(x).encode() + b"\n" for x in w["err"]),
                f"{bid}_error.jsonl", "batch_output")["id"]
        b["status"] = status
        b[f"{status}_at"] = int(time.time())

    def _advance(self, bid: str) -> None:
        b, w = self.batches[bid], self.work[bid]
        st = b["status"]
        if st == "validating":
            if w["fail_validation"]:
                b["status"] = "failed"
                b["failed_at"] = int(time.time())
                b["errors"] = {"object": "list", "data": [
                    {"code": "invalid_request", "message": "fake validation failure",
                     "line": 1, "param": None}]}
                return
            b["status"] = "in_progress"
            b["in_progress_at"] = int(time.time())
        elif st == "in_progress":
            if self.state["paused"]:
                return
            stop = min(len(w["lines"]), w["next"] + self.lines_per_poll)
            if w["expire_after"] is not None:
                stop = min(stop, w["expire_after"])
            for line in w["lines"][w["next"]:stop]:
                out, err = self._execute(line)
                if out is not None:
                    w["out"].append(out)
                    b["request_counts"]["completed"] += 1
                else:
                    w["err"].append(err)
                    b["request_counts"]["failed"] += 1
            w["next"] = stop
            if w["expire_after"] is not None and stop >= w["expire_after"]:
                self._finish(bid, "expired", "batch_expired")
            elif stop >= len(w["lines"]):
                b["status"] = "finalizing"
                b["finalizing_at"] = int(time.time())
        elif st == "finalizing":
            self._finish(bid, "completed")
        elif st == "cancelling":
            self._finish(bid, "cancelled", "batch_cancelled")
