"""Benchmark: how much of ``simulate(study, "local")`` is llama.cpp's own evaluation time.

Runs a study of Yes/No conditions on the embedded Gemma 3 270M model with the backend's
defaults (thread count measured on the machine and cached, see
``beliefreg.simulation.backends.llama_runtime.measured_threads``) and records, for every
request that ``simulate`` sends, llama.cpp's own timings (``prompt_ms`` + ``predicted_ms``, as
the server reports them). The fraction is their sum over the wall time of ``simulate``: what
Python, JSON and the store-free pipeline add on top of llama.cpp. The first call in the process
(model load, metadata read) is reported apart; the fraction is the median over the later calls.
After each later call its requests are sent again, straight to llama.cpp's server in a bare
loop (the same prompts, seeds and top-N list; no package code): the share of that loop in
``simulate`` is what the package itself costs, apart from what llama.cpp's server spends
outside its own timings (sorting the vocabulary and listing the top N).

Run: ``python benchmarks/local_overhead.py [--conditions 8] [--repeats 3]``. Writes
``## Local backend overhead`` in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os

import _threads  # noqa: F401,E402  (pins BLAS threads before numpy is imported)

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from beliefreg import Study, simulate  # noqa: E402
from beliefreg.simulation import LocalBackend  # noqa: E402
from beliefreg.simulation.backends import llama_runtime  # noqa: E402

from _results import write_section  # noqa: E402

EXAMPLES = [("Is the sky blue? Answer Yes or No.", "Yes"),
            ("Is fire cold? Answer Yes or No.", "No")]


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conditions", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args()

    path = llama_runtime.default_model_path()
    loads = {"start": _load()}
    t0 = time.perf_counter()
    threads = llama_runtime.measured_threads(path)
    t_measure = time.perf_counter() - t0
    cache = llama_runtime.cache_dir() / "llama_threads.json"
    entry = json.loads(cache.read_text()).get(llama_runtime._threads_key(path, 512), {}) \
        if cache.exists() else {}
    runtime = llama_runtime.get_runtime(path)

    spent: list[float] = []
    sent: list[tuple[tuple, dict]] = []
    original = runtime.complete

    def own_ms(out) -> float:
        tm = out.get("timings") or {}
        return (tm.get("prompt_ms") or 0.0) + (tm.get("predicted_ms") or 0.0)

    def recording(*a, **kw):
        out = original(*a, **kw)
        sent.append((a, kw))
        spent.append(own_ms(out))
        return out

    def replay() -> tuple[float, float]:
        """The requests of the last call sent straight to llama.cpp's server, in a bare loop."""
        t = time.perf_counter()
        own = sum(own_ms(original(*a, **kw)) for a, kw in sent)
        return time.perf_counter() - t, own / 1000.0

    runtime.complete = recording  # type: ignore[method-assign]

    prices = [20 + 5 * i for i in range(args.conditions)]
    study = Study(prompt="Would you buy a pack of diapers for {price} cents? Answer {choices}.",
                  choices={"yes": ["Yes"], "no": ["No"]}, conditions={"price": prices},
                  runs=1, examples=EXAMPLES, seed=1)
    calls, bare = [], []
    for rep in range(args.repeats + 1):
        spent.clear()
        sent.clear()
        t = time.perf_counter()
        simulate(study.replace(seed=rep + 1), LocalBackend(), store=None, progress=False)
        wall = time.perf_counter() - t
        calls.append((wall, sum(spent) / 1000.0, len(spent)))
        msg = (f"call {rep}: simulate {wall:.3f} s, llama.cpp {sum(spent) / 1000:.3f} s over "
               f"{len(spent)} requests ({sum(spent) / 1000 / wall:.1%})")
        if rep:
            bare.append(replay())
            msg += (f"; the same requests in a bare loop {bare[-1][0]:.3f} s "
                    f"({bare[-1][0] / wall:.1%} of simulate)")
        print(msg, flush=True)
    loads["end"] = _load()
    later = calls[1:]
    fractions = [llama / wall for wall, llama, _ in later]
    frac = statistics.median(fractions)
    bare_fractions = [b / wall for (wall, _, _), (b, _) in zip(later, bare)]
    bare_own = [own / b for b, own in bare]
    first_wall, first_llama, _ = calls[0]
    lines = [
        f"`python benchmarks/local_overhead.py --conditions {args.conditions} --repeats "
        f"{args.repeats}` on {dt.date.today().isoformat()}: {os.cpu_count()} shared cores, load "
        f"average {loads['start']} before, {loads['end']} after; xllamacpp "
        f"{llama_runtime.xllamacpp_version()}, Gemma 3 270M Q4_K_M, BLAS threads 1.",
        "",
        "| quantity | value |",
        "|---|---:|",
        f"| llama.cpp threads chosen by the measurement (`measured_threads`) | {threads} |",
        f"| measured median per probe prompt, by thread count (ms) | "
        f"{entry.get('median_ms', 'n/a')} (load then {entry.get('load_average', 'n/a')}, "
        f"{entry.get('measured_at', 'n/a')}) |",
        f"| time to obtain the thread count in this process (a measurement when no cached "
        f"entry exists, else a file read) | "
        f"{t_measure:.3f} s |",
        f"| first `simulate` call in the process (model load, metadata read): wall / llama.cpp "
        f"| {first_wall:.2f} s / {first_llama:.2f} s |",
        f"| later calls, {args.conditions} conditions each: median wall / llama.cpp own time | "
        f"{statistics.median(w for w, _, _ in later):.2f} s / "
        f"{statistics.median(s for _, s, _ in later):.2f} s |",
        f"| **llama.cpp's own time as a share of `simulate`** (median of {len(later)} calls; "
        f"range {min(fractions):.1%}-{max(fractions):.1%}) | **{frac:.1%}** |",
        f"| the same requests sent straight to llama.cpp's server in a bare loop (no package "
        f"code; same top-N list), as a share of `simulate` (median; range "
        f"{min(bare_fractions):.1%}-{max(bare_fractions):.1%}) | "
        f"**{statistics.median(bare_fractions):.1%}** |",
        f"| llama.cpp's own timings as a share of that bare loop (median) | "
        f"{statistics.median(bare_own):.1%} |",
        "",
        "<!-- notes are kept by hand below this marker; a rerun replaces the table above and "
        "keeps them (benchmarks/_results.py), so re-read the figures and update the notes -->",
    ]
    write_section(args.out, "Local backend overhead", "\n".join(lines))


if __name__ == "__main__":
    main()
