"""Multi-token alternatives against Yes/No on the embedded model, per request, in one run.

Three brands (Pampers / Huggies / Luvs: labels of several tokens, every case and leading-space
variant) scored by the chain rule, with the evaluated prompt's KV cache reused for the labels'
own tokens (``chain_cache=True``, the default) and without it (every prefix evaluated from
scratch), against the same question answered Yes/No. Fresh store, same prompts otherwise.

    .venv/bin/python benchmarks/multitoken.py [REQUESTS]
"""

from __future__ import annotations

import _threads  # noqa: F401  (pins BLAS threads before numpy)

import os
import sys
import time
import warnings

import beliefreg as br
from beliefreg.simulation.backends.local import LocalBackend

N = int(sys.argv[1]) if len(sys.argv) > 1 else 6
PRICES = [20, 35, 50, 65, 80, 95][: max(1, N // 2)]
EXAMPLES = [("Which fruit would you buy, Apples, Pears or Plums?", "Apples")]


def study(kind: str) -> br.Study:
    if kind == "yesno":
        return br.Study(prompt="Pampers cost {price} cents per diaper. Would you buy them? "
                               "Answer {choices}.",
                        choices={"yes": ["Yes"], "no": ["No"]},
                        conditions={"price": PRICES}, runs=2, seed=1,
                        examples=[("Would you buy a bag of apples? Answer Yes or No.", "Yes")])
    return br.Study(prompt="Pampers cost {price} cents per diaper, Huggies 40 and Luvs 30. "
                           "Which brand would you buy: {choices}?",
                    choices={"pampers": ["Pampers"], "huggies": ["Huggies"], "luvs": ["Luvs"]},
                    conditions={"price": PRICES}, runs=2, seed=1, examples=EXAMPLES)


def timed(kind: str, **opts) -> tuple[float, object]:
    s = study(kind)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = br.simulate(s, LocalBackend(**opts), store=None, progress=False)
    return (time.perf_counter() - t0) / len(panel), panel


if __name__ == "__main__":
    timed("yesno")  # load the model once (not timed)
    yes, _ = timed("yesno")
    cached, p_cached = timed("brands", chain_cache=True)
    fresh, p_fresh = timed("brands", chain_cache=False)
    diff = (p_cached["belief_pampers"] - p_fresh["belief_pampers"]).abs().max()
    print(f"load {os.getloadavg()[0]:.2f}; {len(p_cached)} requests each")
    print(f"Yes/No: {yes:.3f} s/request")
    print(f"3 brands, prompt KV cache reused: {cached:.3f} s/request ({cached / yes:.2f}x Yes/No)")
    print(f"3 brands, every prefix from scratch: {fresh:.3f} s/request ({fresh / yes:.2f}x)")
    print(f"max |belief difference| between the two schedules: {diff:.2e}")
