"""Benchmark: conditions per second on the local model, exact beliefs versus sampled completions;
with ``--throughput``, requests per second of the paid path against a fast local server.

Usage::

    python benchmarks/simulation.py [--threads 1] [--conditions 16] [--repeats 3]
    python benchmarks/simulation.py --throughput [--requests 3000] [--repeats 2]

``--throughput`` starts ``_fast_server.py`` (an asyncio HTTP server answering every request
with one fixed chat completion with log-probabilities) in its own process and measures, in
the same run and interleaved: the bare ``openai`` client (``AsyncOpenAI``, 32 requests in
flight, nothing stored or read; through its default httpx transport and its aiohttp transport),
``simulate(..., "openai")`` at concurrency 32 with the store in memory, with the store on disk,
with the store on disk written as before (one fsync'd commit per answer on the event loop),
and with the store on disk through the httpx transport. Requests/s is wall time from the first request to the
panel; the package's CPU per request is the process CPU time of ``simulate`` (planning,
sending, storing, reading the panel through the belief extraction) less that of the bare
client, divided by the requests. Results go to ``## Simulation throughput``.

Three ways of learning a condition's choice probability on the embedded Gemma 3 270M model,
all on the same prompts and in the same process:

``exact belief``
    What ``simulate(study, "local")`` does with ``pivot="first"``: one forward pass over the
    prompt gives the exact probability of every Yes/No token variant (top-4096 list, plus one
    biased pass if a variant is off the list) and a sampled choice. One request per condition
    gives the choice probability exactly.
``sampled completion``
    One sampled answer of up to 8 tokens without log-probabilities (what a choice-only
    pipeline sends per run). It gives one Bernoulli draw per request: estimating the choice
    probability to a standard error ``se`` takes ``b(1-b)/se^2`` of them.
``naive full vocabulary``
    The exact distribution read by asking llama.cpp to list all 262,144 token probabilities
    (about 5 s per call, mostly JSON), measured on two conditions for reference.

BLAS threads are pinned to one and llama.cpp uses ``--threads`` threads. The results are
written to ``benchmarks/RESULTS.md`` under ``## Simulation`` (other sections are kept).
"""

from __future__ import annotations

import os

import _threads  # noqa: F401,E402  (pins BLAS threads before numpy is imported)

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from beliefreg import Study, simulate  # noqa: E402
from beliefreg.simulation import LocalBackend  # noqa: E402
from beliefreg.simulation.backends.llama_runtime import (  # noqa: E402
    default_model_path,
    get_runtime,
    xllamacpp_version,
)
from beliefreg.simulation.design import expand  # noqa: E402
from beliefreg.simulation.layout import COMPLETION_STOP, completion_prompt  # noqa: E402

EXAMPLES = [("Is the sky blue? Answer Yes or No.", "Yes"),
            ("Is fire cold? Answer Yes or No.", "No")]


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _throughput(args: argparse.Namespace) -> None:
    import asyncio
    import subprocess
    import tempfile

    import openai

    from beliefreg.simulation import OpenAIBackend
    from beliefreg.simulation import runner as runner_mod

    server = subprocess.Popen([sys.executable, str(HERE / "_fast_server.py")],
                              stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline())
    url = f"http://127.0.0.1:{port}/v1"
    n = args.requests
    study = Study(prompt="Would you buy a pack of diapers for {price} cents? Answer {choices}.",
                  choices={"yes": ["Yes"], "no": ["No"]},
                  conditions={"price": list(range(n // 100))}, runs=100, examples=EXAMPLES,
                  seed=1, model="m")

    # the bare clients send the very payloads simulate sends (system, examples, question)
    from beliefreg.simulation.pipeline import plan

    payloads = [{k: v for k, v in p.items() if k != "api"}
                for p in plan(study, OpenAIBackend(base_url=url), "m").payloads]
    http_response = openai._base_client.httpx2.Response \
        if hasattr(openai._base_client, "httpx2") else openai._base_client.httpx.Response

    def make_client(transport: str) -> openai.AsyncOpenAI:
        http = openai.DefaultAioHttpClient() if transport == "aiohttp" else None
        return openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0, http_client=http)

    async def bare(how: str, transport: str) -> None:
        client = make_client(transport)
        it = iter(payloads)

        async def worker() -> None:
            for p in it:
                if how == "create":  # typed parameters in, pydantic models out
                    await client.chat.completions.create(model="m", **p)
                else:  # the client's transport with a plain body, the raw response out
                    r = await client.post("/chat/completions", cast_to=http_response,
                                          body=dict(p, model="m"))
                    r.content

        await asyncio.gather(*(worker() for _ in range(32)))
        await client.close()

    class CommitOnLoop:  # the writer before: one fsync'd commit per answer, on the loop
        def __init__(self, store, **kw):
            self.store = store

        def put(self, record):
            self.store.put(record)

        def close(self):
            pass

    from _fast_server import BODY

    from beliefreg.simulation.backends.base import Reply

    class NoHTTP(OpenAIBackend):  # the package's own work: every answer is the fast
        # server's body, parsed as the backend parses it, without a transport
        async def open(self, model, study, store):
            pass

        async def send(self, payload, model):
            await asyncio.sleep(0)
            body = dict(payload)  # as send() builds its request body
            body.pop("api")
            return Reply(response=self._redactor.json(BODY), input_tokens=40, output_tokens=1)

    def run_sim(kind: str, rep: int) -> None:
        tmp = tempfile.mkdtemp()
        store = None if kind == "memory" else os.path.join(tmp, "s.sqlite")
        real = runner_mod.StoreWriter
        if kind == "disk, commit on the loop":
            runner_mod.StoreWriter = CommitOnLoop
        transport = "httpx" if kind.endswith("httpx") else "aiohttp"
        backend = (NoHTTP if kind.endswith("no HTTP") else OpenAIBackend)(
            base_url=url, transport=transport)
        try:
            simulate(study.replace(seed=rep), backend, store=store, concurrency=32,
                     progress=False)
        finally:
            runner_mod.StoreWriter = real

    # (label, transport of its client)
    kinds = {"bare openai client, create, httpx": "httpx",
             "bare openai client, client.post, httpx": "httpx",
             "bare openai client, client.post, aiohttp": "aiohttp",
             "memory": "aiohttp", "disk": "aiohttp",
             "disk, commit on the loop": "aiohttp",
             "disk, httpx": "httpx",
             "disk, no HTTP": "none"}
    peer = {"httpx": "bare openai client, client.post, httpx",
            "aiohttp": "bare openai client, client.post, aiohttp"}
    create = "bare openai client, create, httpx"
    wall = {k: [] for k in kinds}
    cpu = {k: [] for k in kinds}
    load_before = _load()
    try:
        asyncio.run(bare("create", "httpx"))  # warm up every path
        asyncio.run(bare("post", "httpx"))
        asyncio.run(bare("post", "aiohttp"))
        run_sim("memory", 99)
        run_sim("disk, httpx", 98)
        for rep in range(args.repeats):
            for k in kinds:
                t, c = time.perf_counter(), time.process_time()
                if k.startswith("bare"):
                    asyncio.run(bare("create" if ", create" in k else "post", kinds[k]))
                else:
                    run_sim(k, rep)
                wall[k].append(time.perf_counter() - t)
                cpu[k].append(time.process_time() - c)
                print(k, f"{n / wall[k][-1]:.0f} req/s", flush=True)
    finally:
        server.kill()
    load_after = _load()
    rate = {k: n / statistics.median(wall[k]) for k in kinds}
    cpu_req = {k: statistics.median(cpu[k]) / n * 1e3 for k in kinds}
    own = {k: cpu_req[k] - (cpu_req[peer[kinds[k]]] if kinds[k] in peer else 0.0)
           for k in kinds}
    peer["none"] = peer["aiohttp"]
    rows = [f"| {k} | {kinds[k]} | {rate[k]:.0f} | {rate[k] / rate[create]:.2f} | "
            f"{rate[k] / rate[peer[kinds[k]]]:.2f} | {cpu_req[k]:.2f} | "
            + ("-" if k.startswith("bare") else f"{own[k]:.2f}") + " |" for k in kinds]
    section = "\n".join([
        "## Simulation throughput",
        "",
        f"`python benchmarks/simulation.py --throughput --requests {n} --repeats "
        f"{args.repeats}` on {_dt.date.today().isoformat()}: {_cpu()}, {os.cpu_count()} "
        f"logical CPUs (shared; load average {load_before} before, {load_after} after), "
        f"Python {platform.python_version()}, openai {openai.__version__}. A fast local "
        "server (`benchmarks/_fast_server.py`, its own process) answers every request; "
        f"{n} requests per measurement, 32 in flight, median of {args.repeats} interleaved "
        "repeats. The bare clients send the payloads `simulate` sends (system, two "
        "examples, question) and store nothing: `create` is `chat.completions.create`; "
        "`client.post` is the client's documented call of an endpoint with a plain body, "
        "the call the openai backend makes; each through the official client's default "
        "`httpx` transport or its aiohttp transport (`openai.DefaultAioHttpClient`). "
        "`simulate` runs at concurrency 32 through the aiohttp transport (the backend's "
        "default when installed) unless the row says httpx. CPU is this process's CPU time "
        "per request; the package's own is that less the bare `client.post` client's with "
        "the same transport. The row `disk, no HTTP` is `simulate` with a backend whose "
        "`send` returns the fast server's body, parsed as the openai backend parses it, "
        "without any transport: the package's own work alone (its ratio is to the bare "
        "aiohttp client).",
        "",
        "| client | transport | requests/s | ratio to `create` (httpx) | ratio to "
        "`client.post` (same transport) | CPU ms/request | package CPU ms/request |",
        "|---|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ])
    write_section(args.out, "## Simulation throughput", section)
    print(section)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads (default 1)")
    ap.add_argument("--conditions", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--throughput", action="store_true",
                    help="requests/s of the paid path against a fast local server")
    ap.add_argument("--requests", type=int, default=3000)
    args = ap.parse_args()
    if args.throughput:
        _throughput(args)
        return

    prices = [20 + 2 * i for i in range(args.conditions)]
    study = Study(prompt="Would you buy a pack of diapers for {price} cents? Answer {choices}.",
                  choices={"yes": ["Yes"], "no": ["No"]}, conditions={"price": prices},
                  runs=1, examples=EXAMPLES, seed=1)
    prompts = [completion_prompt(it.system, it.examples, it.question) for it in expand(study)]

    load_before = _load()
    t0 = time.perf_counter()
    runtime = get_runtime(default_model_path(), n_threads=args.threads)
    load_s = time.perf_counter() - t0
    backend = LocalBackend(n_threads=args.threads)
    simulate(study.replace(conditions={"price": [19]}), backend, store=None, progress=False)
    runtime.complete(prompts[0], max_tokens=8, n_probs=0, temperature=1.0, top_p=1.0, seed=0)

    exact_t, sampled_t = [], []
    panel = None
    for rep in range(args.repeats):  # interleaved so that load changes hit both alike
        t = time.perf_counter()
        panel = simulate(study.replace(seed=100 + rep), backend, store=None, progress=False)
        exact_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        for i, p in enumerate(prompts):
            runtime.complete(p, max_tokens=8, n_probs=0, temperature=1.0, top_p=1.0,
                             seed=1000 * rep + i, stop=COMPLETION_STOP)
        sampled_t.append(time.perf_counter() - t)
    t = time.perf_counter()
    for p in prompts[:2]:
        runtime.complete(p, max_tokens=1, n_probs=runtime.n_vocab, temperature=1.0, top_p=1.0,
                         seed=0)
    naive_per = (time.perf_counter() - t) / 2
    load_after = _load()

    n = len(prompts)
    exact_rate = n / statistics.median(exact_t)
    sampled_rate = n / statistics.median(sampled_t)
    naive_rate = 1.0 / naive_per
    assert panel is not None
    b = panel["belief_yes"] * panel["covered_mass"]  # P(choice = yes), exact
    var = float((b * (1 - b)).mean())
    runs_needed = var / 0.01 ** 2  # sampled draws per condition for a standard error of 0.01
    print(f"exact belief:          {exact_rate:6.2f} conditions/s")
    print(f"sampled completion:    {sampled_rate:6.2f} conditions/s (one draw each)")
    print(f"naive full vocabulary: {naive_rate:6.2f} conditions/s")
    print(f"ratio exact/sampled: {exact_rate / sampled_rate:.2f} per request; "
          f"{runs_needed:.0f} draws per condition for SE 0.01")

    section = "\n".join([
        "## Simulation",
        "",
        f"`python benchmarks/simulation.py --threads {args.threads} --conditions "
        f"{args.conditions} --repeats {args.repeats}` on "
        f"{_dt.date.today().isoformat()}: {_cpu()}, {os.cpu_count()} logical CPUs "
        f"(shared; load average {load_before} before, {load_after} after), Python "
        f"{platform.python_version()}, xllamacpp {xllamacpp_version()}, model Gemma 3 270M "
        f"Q4_K_M, llama.cpp threads {args.threads}, BLAS threads 1. Model load "
        f"{load_s:.1f} s (not counted). Median of {args.repeats} interleaved repeats over "
        f"{n} conditions (prompts of about {int(panel['input_tokens'].mean())} tokens).",
        "",
        "| method | conditions/s | what one request gives |",
        "|---|---:|---|",
        f"| exact belief (`simulate`, pivot first, one forward pass) | {exact_rate:.2f} | "
        "the exact choice probability and one sampled choice |",
        f"| sampled completion (up to 8 tokens, no log-probabilities) | {sampled_rate:.2f} | "
        "one Bernoulli draw of the choice |",
        f"| naive exact belief (all 262,144 probabilities listed) | {naive_rate:.2f} | "
        "the exact choice probability |",
        "",
        f"Per request, exact beliefs run at {exact_rate / sampled_rate:.2f}x the rate of "
        f"sampled completions and {exact_rate / naive_rate:.0f}x the rate of listing the "
        f"whole vocabulary. Per condition the comparison is one request against many: with "
        f"the measured choice probabilities, estimating them from sampled choices to a "
        f"standard error of 0.01 takes about {runs_needed:.0f} draws per condition (mean "
        f"b(1-b) = {var:.3f}), so exact beliefs are about "
        f"{runs_needed * exact_rate / sampled_rate:.0f}x cheaper for that precision.",
        "",
    ])
    write_section(args.out, "## Simulation", section)
    print(f"wrote {args.out}")


def write_section(path: Path, heading: str, body: str) -> None:
    """Replace (or append) the section ``heading`` (``"## Title"``), keeping its hand-written
    notes and every other section (see ``_results.write_section``)."""
    from _results import write_section as write

    write(path, heading.removeprefix("## ").strip(), body.split("\n", 1)[1]
          if body.startswith(heading) else body)


if __name__ == "__main__":
    main()
