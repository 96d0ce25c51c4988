"""Streaming plans: lazy expansion, fast keys equal to the reference keys, grid limits,
one pass per run, store look-ups per chunk."""

from __future__ import annotations

import itertools
import json
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beliefreg import Study
from beliefreg.simulation import OpenAIBackend, Store, StudyError
from beliefreg.simulation import planning as planning_mod
from beliefreg.simulation.design import condition_table, expand, iter_items, iter_rendered
from beliefreg.simulation.keys import canonical_json, plain, stable_hash
from beliefreg.simulation.planning import (
    iter_chunks,
    iter_tasks,
    key_prefixes,
    request_key,
    scan,
)
from beliefreg.simulation.store import Record

from .conftest import EXAMPLES


def _reference_keys(study, backend, model, draw=0):
    """Keys as the simulator computed them before plans streamed: every payload built, the
    whole request hashed with stable_hash (plain() + json.dumps)."""
    identity = backend.identity(model)
    out = []
    for it in expand(study, draw=draw):
        payload = backend.build_payload(it, study, model)
        out.append(stable_hash({"identity": identity, "payload": payload, "run": it.run,
                                "draw": it.draw}))
    return out


def _old_canonical(obj):
    return json.dumps(plain(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


_STUDIES = {
    "plain": dict(conditions={"price": [30, 35.5, 40], "brand": ["A", "Bé"]}, runs=3),
    "system": dict(conditions={"price": [30, 40]}, runs=2, system="You are {brand}.",
                   sampled={"brand": ["x", "y", "z"]}),
    "shuffle": dict(choices={"a": ["Apple"], "b": ["Banana"], "c": ["Cherry"]},
                    prompt="Pick one for {price}: {choices_list}", shuffle_choices=True,
                    conditions={"price": [1, 2]}, runs=4),
    "frame": dict(conditions=pd.DataFrame({"price": [30, 30, 45.5], "n": [1, 2, 3]}), runs=2),
    "none": dict(conditions=None, runs=5),
    "bare": dict(conditions={"price": [1, 2]}, runs=2, examples=(), system="Sys {price} \u00e9\n"),
}


def _study(name, **more):
    base = dict(prompt="Buy for {price} cents? Answer {choices}.",
                choices={"yes": ["Yes"], "no": ["No"]}, examples=EXAMPLES, seed=3)
    if name == "none":
        base["prompt"] = "Buy? Answer {choices}."
    base.update(_STUDIES[name])
    base.update(more)
    return Study(**base)


@pytest.mark.parametrize("name", sorted(_STUDIES))
@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("base_url", [None, "http://127.0.0.1:9/v1"])
def test_fast_keys_equal_reference_keys(name, api, base_url):
    study = _study(name)
    backend = OpenAIBackend(base_url=base_url, api=api)
    for draw in (0, 2):
        ref = _reference_keys(study, backend, "m", draw)
        fast = [k for ch in iter_chunks(study, backend, "m", draw=draw, chunk=4) for k in ch.keys]
        full = [k for ch in iter_chunks(study, backend, "m", draw=draw, chunk=5, payloads=True)
                for k in ch.keys]
        assert fast == ref
        assert full == ref


@pytest.mark.parametrize("name", sorted(_STUDIES))
@pytest.mark.parametrize("api", ["chat", "responses", "completion"])
def test_tasks_equal_the_reference_payloads_and_keys(name, api):
    """What the sending loop gets (OpenAIBackend.group_tasks through iter_tasks, messages
    hashed once per condition) equals every payload built item by item and hashed whole;
    pending positions in the middle of a condition's runs included."""
    more = {"layout": "completion"} if api == "completion" else {}
    study = _study(name, **more)
    backend = OpenAIBackend(base_url="http://127.0.0.1:9/v1",
                            api="chat" if api == "completion" else api,
                            extra_body={"top_k": -1} if name == "frame" else None)
    identity = backend.identity("m")
    for draw in (0, 2):
        items = expand(study, draw=draw)
        ref = []
        for it in items:
            payload = backend.build_payload(it, study, "m")
            ref.append((it, payload, stable_hash({"identity": identity, "payload": payload,
                                                  "run": it.run, "draw": it.draw})))
        sc = scan(study, backend, "m", Store(None), draw=draw, look_up=False)
        if sc.has_duplicates:
            continue
        for keep in (np.arange(len(ref)), np.arange(1, len(ref), 3), np.array([len(ref) - 1])):
            sc.pending = keep
            got = list(iter_tasks(study, backend, "m", sc))
            assert [(it, p, k) for it, p, k in got] == [ref[i] for i in keep]


def test_fast_token_estimates_equal_payload_estimates():
    study = _study("system")
    backend = OpenAIBackend(base_url="http://127.0.0.1:9/v1")
    groups = list(iter_rendered(study))
    ident = canonical_json(backend.identity("m"))
    _, fast = backend.request_keys(groups, study, "m", ident)
    _, generic = super(OpenAIBackend, backend).request_keys(groups, study, "m", ident)
    assert fast == generic


def test_request_key_is_stable_hash_of_the_request():
    payload = {"b": [1, 2.5, "é"], "a": {"z": None, "y": True}}
    ident = {"backend": "x", "model": "m"}
    assert request_key(canonical_json(ident), payload, 4, 2) == stable_hash(
        {"identity": ident, "payload": payload, "run": 4, "draw": 2})


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=5)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    | st.tuples(inner, inner),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_canonical_json_fast_path_equals_plain_path(obj):
    assert canonical_json(obj) == _old_canonical(obj)


@pytest.mark.parametrize("obj", [{True: 1}, {None: 1, "a": 2}, {1: "x", 2.5: "y"},
                                 [np.int64(3), np.float32(0.5), pd.Timestamp("2020-01-02")]])
def test_canonical_json_non_plain_values_take_the_plain_path(obj):
    assert canonical_json(obj) == _old_canonical(obj)


@pytest.mark.parametrize("conditions", [
    {"price": [30, 35, 40], "brand": ["A", "B"]},
    {"x": [1, 2.5], "flag": [True, False], "s": ["a", None]},
    {"one": [7]},
    {"mixed": [1, "a"], "d": [pd.Timestamp("2020-01-01")]},
    {"tup": [(1, 2), (3, 4)], "k": [0, 1]},
])
def test_factorial_grid_matches_the_tuple_product(conditions):
    names = list(conditions)
    old = pd.DataFrame(list(itertools.product(*conditions.values())), columns=names)
    new = condition_table(conditions)
    pd.testing.assert_frame_equal(new, old)


def test_iter_items_equals_expand_and_is_lazy():
    study = _study("system", runs=3)
    items = expand(study)
    assert list(iter_items(study, chunk=1)) == items
    assert [it.condition_id for it in items][:3] == [0, 0, 0]
    big = Study(prompt="{a} {b} {choices}", choices={"y": ["Y"], "n": ["N"]},
                conditions={"a": list(range(1000)), "b": list(range(1000))}, runs=1)
    first = next(iter_items(big))
    assert first.variables == {"a": 0, "b": 0}


def test_a_huge_grid_is_refused_with_its_size_before_anything_is_built():
    tracemalloc.start()
    try:
        with pytest.raises(StudyError, match=r"100,000,000 conditions x 2 runs = "
                                             r"200,000,000 requests.*max_requests=10,000,000"):
            Study(prompt="{a} {b} {choices}", choices={"y": ["Y"], "n": ["N"]},
                  conditions={"a": range(10_000), "b": range(10_000)}, runs=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # bytes: the grid was never built
    ok = Study(prompt="{a} {choices}", choices={"y": ["Y"], "n": ["N"]},
               conditions={"a": range(10)}, runs=3, max_requests=30)
    assert ok.n_requests == 30
    with pytest.raises(StudyError, match="max_requests must be a positive integer"):
        Study(prompt="{choices}", choices={"y": ["Y"], "n": ["N"]}, max_requests=0)


def _ok_record(key, **kw):
    return Record(key=key, backend="openai", model="m", run=0, draw=0, request={},
                  response={"x": 1}, status=kw.pop("status", "ok"), **kw)


def test_scan_counts_stored_duplicate_and_pending_requests():
    # "brand" is not in the prompt: pairs of conditions render to the same request
    study = Study(prompt="Buy for {price}? Answer {choices}.", choices={"yes": ["Yes"],
                  "no": ["No"]}, conditions={"price": [1, 2, 3], "brand": ["A", "B"]}, runs=2)
    backend = OpenAIBackend(base_url="http://127.0.0.1:9/v1")
    keys = _reference_keys(study, backend, "m")
    store = Store(None)
    store.put(_ok_record(keys[0]))
    store.put(_ok_record(keys[5], status="error", error="boom"))
    sc = scan(study, backend, "m", store, draw=0, chunk=3)
    assert sc.n_requests == 12 and sc.n_unique == 6 and sc.has_duplicates
    assert sc.n_cached == 1
    # first occurrences of the 6 distinct keys are positions 0,1 (price 1, brand A),
    # 4,5 (price 2, brand A), 8,9: position 0 is answered, the error row is sent again
    assert sc.pending.tolist() == [1, 4, 5, 8, 9]
    sent = [(it.condition_id, it.run, k) for it, _, k in iter_tasks(study, backend, "m", sc)]
    assert [k for *_, k in sent] == [keys[i] for i in sc.pending]
    assert np.array_equal(sc.prefixes, key_prefixes(keys))
    # without the look-up everything distinct is pending
    assert scan(study, backend, "m", store, draw=0, look_up=False).pending.tolist() == \
        [0, 1, 4, 5, 8, 9]


def test_a_prefix_collision_does_not_drop_a_request(monkeypatch):
    study = _study("system")
    backend = OpenAIBackend(base_url="http://127.0.0.1:9/v1")
    real = planning_mod.key_prefixes
    monkeypatch.setattr(planning_mod, "key_prefixes",
                        lambda keys: real(keys) & np.uint64(1))  # every prefix collides
    sc = scan(study, backend, "m", None, draw=0)
    assert sc.n_unique == study.n_requests and len(sc.pending) == study.n_requests


def test_choose_draw_reads_only_draws_with_rows(monkeypatch):
    study = _study("plain")
    backend = OpenAIBackend(base_url="http://127.0.0.1:9/v1")
    store = Store(None)
    assert planning_mod.choose_draw(study, backend, "m", store, fresh=True) == (0, False)
    for k in _reference_keys(study, backend, "m", draw=0)[:2]:
        store.put(_ok_record(k))
    assert planning_mod.choose_draw(study, backend, "m", store, fresh=False) == (0, True)
    assert planning_mod.choose_draw(study, backend, "m", store, fresh=True) == (1, False)
    # a store with rows of draw 1 of another study: draw 1 is checked, and is empty for us
    store.put(Record(key="other", backend="openai", model="m", run=0, draw=1, request={},
                     response={}, status="ok"))
    assert planning_mod.choose_draw(study, backend, "m", store, fresh=True) == (1, False)


def test_the_cli_plans_once(fault_server, tmp_path, monkeypatch):
    from beliefreg.cli import main

    calls = []
    real = planning_mod.scan

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr("beliefreg.simulation.pipeline.scan", counting)
    toml = tmp_path / "s.toml"
    toml.write_text(
        'prompt = "case=ok Buy for {price}? Answer {choices}."\nruns = 2\nmodel = "m"\n'
        '[choices]\nyes = ["Yes"]\nno = ["No"]\n[conditions]\nprice = [1, 2]\n')
    out = tmp_path / "p.csv"
    rc = main(["simulate", str(toml), "--backend", "openai", "--base-url", fault_server.url,
               "--store", str(tmp_path / "s.sqlite"), "--out", str(out), "--no-progress"])
    assert rc == 0 and len(pd.read_csv(out)) == 4
    assert len(calls) == 1


# -- question blocks: the grid planning path --------------------------------------------------

_BLOCK_STUDIES = {
    "grid": dict(prompt="A pack of {pack} for {price} cents? Answer {choices}.",
                 conditions={"price": [30, 35.5, 40], "pack": [1, 12]}, runs=1),
    "specs": dict(prompt="{price:>8.2f} {{literal}} {brand!r} {brand!s:^9} {flag} "
                         "{choices!a} {choices_list}", system="Plain {{system}} é",
                  conditions={"price": [1.5, 2], "brand": ["A", "Bé\n\"q\""],
                              "flag": [True, False]}, runs=3),
    "frame": dict(prompt="{price} and {n} and {tag}",
                  conditions=pd.DataFrame({"price": [30.0, 1e-7, 45.5], "n": [1, 2, 3],
                                           "tag": ["x", "\u00e9\"\\\\", "{braces}"]}), runs=2),
    "odd name": dict(prompt="{0} for {price}", conditions={"price": [1, 2]}, runs=1),
    "no fields": dict(prompt="Buy? {choices}", conditions=None, runs=4, examples=()),
    "space": dict(prompt="For {price} cents ({choices})",
                  conditions=pd.DataFrame({"price": [5, 6], "my var": ["u", "v"]}), runs=1),
}


def _block_study(name):
    base = dict(choices={"yes": ["Yes"], "no": ["No"]}, examples=EXAMPLES, seed=3)
    base.update(_BLOCK_STUDIES[name])
    return Study(**base)


@pytest.mark.parametrize("name", sorted(_BLOCK_STUDIES))
def test_question_blocks_render_the_questions_of_iter_rendered(name):
    from beliefreg.simulation.design import iter_question_blocks

    if name == "odd name":  # a positional field: refused when the study is made
        with pytest.raises(StudyError):
            _block_study(name)
        return
    study = _block_study(name)
    rendered = list(iter_rendered(study, draw=1))
    for chunk in (1, 2, 4096):
        blocks = list(iter_question_blocks(study, draw=1, chunk=chunk))
        assert [q for b in blocks for q in b.questions] == [g.question for g in rendered]
        assert {b.system for b in blocks} == {g.system for g in rendered}
        assert [b.start for b in blocks] == list(range(0, study.n_conditions, chunk))
        assert all(b.runs == range(study.runs) and b.draw == 1 for b in blocks)


@pytest.mark.parametrize("name", sorted(set(_BLOCK_STUDIES) - {"odd name"}))
@pytest.mark.parametrize("base_url", [None, "http://127.0.0.1:9/v1"])
def test_question_block_keys_and_tokens_equal_the_reference(name, base_url):
    study = _block_study(name)
    backend = OpenAIBackend(base_url=base_url)
    assert backend.keys_from_questions(study)
    ident = canonical_json(backend.identity("m"))
    for draw in (0, 2):
        keys, tokens = [], []
        for ch in planning_mod._key_chunks(study, backend, "m", draw, 3, ident):
            keys += planning_mod.digest_keys(ch[0])
            tokens += list(ch[1])
        assert keys == _reference_keys(study, backend, "m", draw)
        _, generic = super(OpenAIBackend, backend).request_keys(
            list(iter_rendered(study, draw=draw)), study, "m", ident)
        assert tokens == generic


def test_question_blocks_are_not_used_where_runs_differ_or_the_system_varies():
    from beliefreg.simulation.design import iter_question_blocks

    assert iter_question_blocks(_study("shuffle")) is None
    assert iter_question_blocks(_study("system")) is None  # sampled variables
    assert iter_question_blocks(_study("bare")) is None  # a system text with a field
    assert iter_question_blocks(_study("plain")) is not None
    for api in ("responses",):
        assert not OpenAIBackend(api=api).keys_from_questions(_study("plain"))
    assert not OpenAIBackend().keys_from_questions(_study("plain", layout="completion"))


def test_default_question_keys_equal_request_keys():
    from beliefreg.simulation.backends.base import Backend
    from beliefreg.simulation.design import iter_question_blocks

    study = _block_study("specs")
    backend = OpenAIBackend(api="responses")
    ident = canonical_json(backend.identity("m"))
    keys = [k for b in iter_question_blocks(study, chunk=2)
            for k in Backend.question_keys(backend, b, study, "m", ident)[0]]
    assert keys == _reference_keys(study, backend, "m")
    chat = OpenAIBackend()
    ident = canonical_json(chat.identity("m"))
    assert [k for b in iter_question_blocks(study, chunk=2)
            for k in chat.question_keys(b, study, "m", ident)[0]] == _reference_keys(
                study, chat, "m")


def test_a_bad_value_for_a_format_spec_is_reported_as_before():
    from beliefreg.simulation.design import iter_question_blocks

    study = Study(prompt="{price:d} {choices}", choices={"yes": ["Yes"], "no": ["No"]},
                  conditions={"price": [1.5, 2.5]}, runs=1)
    with pytest.raises(StudyError, match="cannot fill the prompt template"):
        list(iter_rendered(study))
    with pytest.raises(StudyError, match="cannot fill the prompt template"):
        list(iter_question_blocks(study))
