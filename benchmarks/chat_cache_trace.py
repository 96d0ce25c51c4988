"""Why beliefs through llama.cpp's chat endpoint differ from the local backend (issue 13).

Starts xllamacpp's HTTP server on the embedded model and sends one chat prompt (a) to
``/v1/chat/completions`` and (b), templated by the server's own ``/apply-template``, to
``/v1/completions``, with and without ``cache_prompt``; prints P(first token) of each, the cached
token counts and the local backend's value for the same text. Findings: benchmarks/RESULTS.md,
"One prompt, whatever the backend".

    python benchmarks/chat_cache_trace.py [--server-no-cache]
"""

from __future__ import annotations

import argparse
import json
import math
import urllib.request

import xllamacpp as x

from beliefreg.simulation.backends.llama_runtime import default_model_path, get_runtime
from beliefreg.simulation.layout import chat_messages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server-no-cache", action="store_true",
                    help="cache_prompt off and the RAM prompt cache off in the server too")
    args = ap.parse_args()
    p = x.CommonParams()
    p.model.path = str(default_model_path())
    p.n_ctx, p.n_batch, p.n_ubatch, p.n_parallel = 4096, 512, 512, 1
    p.cpuparams.n_threads = p.cpuparams_batch.n_threads = 1
    p.warmup, p.verbosity = False, -1
    if args.server_no_cache:
        p.cache_prompt, p.cache_ram_mib = False, 0
    srv = x.Server(p)
    url = srv.listening_address
    msgs = chat_messages(None, (("Would you buy a bag of fresh apples? Answer Yes or No.",
                                 "Yes"),),
                         "You are a grandparent. Pampers cost 60 cents. Would you buy a pack? "
                         "Answer Yes or No.")

    def post(path: str, body: dict) -> dict:
        req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(req).read())

    prompt = post("/apply-template", {"messages": msgs})["prompt"]
    common = {"model": "g", "max_tokens": 1, "temperature": 1.0, "seed": 1}

    def first(r: dict) -> str:
        lp = r["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]
        cached = (r["usage"].get("prompt_tokens_details") or {}).get("cached_tokens")
        return (f"P({lp['token']!r}) = {math.exp(lp['logprob']):.5f}, "
                f"{r['usage']['prompt_tokens']} prompt tokens, {cached} reported cached")

    def chat(cache: bool) -> str:
        return first(post("/v1/chat/completions", {**common, "messages": msgs, "logprobs": True,
                                                    "top_logprobs": 5, "cache_prompt": cache}))

    def completion(cache: bool) -> str:
        return first(post("/v1/completions", {**common, "prompt": prompt, "logprobs": 5,
                                               "cache_prompt": cache}))

    print("completions, cache_prompt false:", completion(False))
    print("chat,        cache_prompt false:", chat(False))
    print("chat,        cache_prompt false:", chat(False))
    print("completions, cache_prompt false:", completion(False))
    print("completions, cache_prompt true: ", completion(True))
    rt = get_runtime(default_model_path(), n_threads=1)
    out = rt.complete(prompt, max_tokens=1, n_probs=5, temperature=1.0, top_p=1.0, seed=1,
                      stop=[])
    t = out["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]
    print(f"local backend runtime:           P({t['token']!r}) = {math.exp(t['logprob']):.5f}")


if __name__ == "__main__":
    main()
