"""What a top-N list costs llama.cpp's server per request, outside its own timings.

The local backend reads exact probabilities from llama.cpp's top-N list at the generated token
(``n_probs``). The server's timings (``prompt_ms`` + ``predicted_ms``) do not include building
that list: the full-vocabulary sort behind any list, and one JSON entry per listed token (id,
text, bytes, log-probability) converted to Python by xllamacpp. This benchmark measures the wall
time of ``handle_completions`` less the server's own timings, for list lengths from 0 to 2048,
interleaved, on the embedded Gemma 3 270M (262,144-token vocabulary) with one thread, and
prints the median per length. It explains the part of ``## Local backend overhead`` that is
not Python.

    python benchmarks/list_cost.py [--repeats 10]
"""

from __future__ import annotations

import _threads  # noqa: F401  (pins BLAS threads before numpy)

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from beliefreg.simulation.backends import llama_runtime  # noqa: E402

LENGTHS = (2048, 1024, 512, 64, 1, 0)
PROMPT = ("Is the sky blue? Answer Yes or No.\nA: Yes\n\nQ: Would you buy a pack of diapers "
          "for 35 cents? Answer Yes or No.\nA:")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    rt = llama_runtime.get_runtime(llama_runtime.default_model_path(), n_threads=1)
    load0 = os.getloadavg()[0]
    outside: dict[int, list[float]] = {n: [] for n in LENGTHS}
    inside: dict[int, list[float]] = {n: [] for n in LENGTHS}
    for r in range(args.repeats + 1):
        for n in LENGTHS:  # interleaved: a change in load hits every length
            request = {"prompt": PROMPT, "n_predict": 1, "n_probs": n, "temperature": 1.0,
                       "samplers": ["temperature"], "seed": r, "cache_prompt": False,
                       "return_tokens": True}
            t0 = time.perf_counter()
            out = rt._server.handle_completions(request)
            wall = time.perf_counter() - t0
            own = (out["timings"]["prompt_ms"] + out["timings"]["predicted_ms"]) / 1000
            if r:  # the first round warms up
                outside[n].append(wall - own)
                inside[n].append(own)
    print(f"load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"{args.repeats} interleaved repeats, 1 thread, prompt of "
          f"{len(rt.tokenize(PROMPT))} tokens")
    print("| top-N list length | outside llama.cpp's timings (ms, median) | llama.cpp's own "
          "timings (ms, median) |")
    print("|---:|---:|---:|")
    for n in LENGTHS:
        print(f"| {n} | {1000 * statistics.median(outside[n]):.1f} | "
              f"{1000 * statistics.median(inside[n]):.0f} |")


if __name__ == "__main__":
    main()
