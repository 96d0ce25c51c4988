"""Multi-token alternatives against Yes/No on the embedded model, per request, in one run.

Three brands (Pampers / Huggies / Luvs: labels of two or three tokens, every case and
leading-space variant) scored exactly by the chain rule, against the same price question
answered Yes/No. Two schedules for the brands, same prompts, fresh (no) store, one call per distinct label
prefix on the evaluated prompt's KV cache in both:

* ``now`` (the default): the multi-token runtime with a full sliding-window cache, on which a
  follow-up call evaluates only its new token;
* ``before``: the default runtime, whose cache reuse evaluates the prompt's last four tokens
  again in every follow-up call (the schedule before this change).

Prints the per-request seconds, the ratios to Yes/No, and the follow-up cost per label prefix
relative to a Yes/No request (the ``--dry-run`` constant ``FOLLOW_UP_COST``).

    .venv/bin/python benchmarks/multitoken.py [REQUESTS [ROUNDS]]
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
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
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


class Before(LocalBackend):
    """The schedule before: the default runtime (no full sliding-window cache)."""

    def _runtime_spec(self, study):
        spec = super()._runtime_spec(study)
        spec.pop("swa_full", None)
        return spec


def timed(kind: str, backend: LocalBackend) -> tuple[float, object]:
    s = study(kind)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = br.simulate(s, backend, store=None, progress=False)
    return (time.perf_counter() - t0) / len(panel), panel


if __name__ == "__main__":
    load0 = os.getloadavg()
    for kind, cls in (("yesno", LocalBackend), ("brands", LocalBackend), ("brands", Before)):
        timed(kind, cls())  # load both runtimes once (not timed)
    times: dict[str, list[float]] = {k: [] for k in ("yesno", "now", "before")}
    panels = {}
    for _ in range(ROUNDS):  # interleaved, so that a change in load hits every schedule
        for name, kind, cls in (("yesno", "yesno", LocalBackend), ("now", "brands", LocalBackend),
                                ("before", "brands", Before)):
            t, panels[name] = timed(kind, cls())
            times[name].append(t)
    mean = {k: sum(v) / len(v) for k, v in times.items()}
    cols = ["belief_pampers", "belief_huggies", "belief_luvs"]
    moved = (panels["now"][cols] - panels["before"][cols]).abs().max().max()
    resolved = LocalBackend()._resolve(study("brands").choices)
    seqs = [s for a in resolved.alternatives for s in resolved.sequences[a]]
    n_prefix = len({s[:i] for s in seqs for i in range(1, len(s))})
    print(f"load {load0[0]:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"{len(panels['now'])} requests per schedule, {ROUNDS} rounds interleaved")
    print(f"Yes/No: {mean['yesno']:.3f} s/request")
    for k in ("now", "before"):
        print(f"3 brands, {k}: {mean[k]:.3f} s/request ({mean[k] / mean['yesno']:.2f}x Yes/No)")
    print(f"max |belief difference| now vs before (the two runtimes' schedules): {moved:.2e}")
    print(f"label prefixes: {n_prefix}; follow-up cost per prefix relative to a Yes/No request "
          f"(now): {(mean['now'] - mean['yesno']) / n_prefix / mean['yesno']:.3f}")
