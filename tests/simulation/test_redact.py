"""Redaction of response bodies: the fast path (no walk when no secret can occur) gives what the
full walk gives."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beliefreg.simulation.redact import REDACTED, Redactor

KEY = "sk-proj-ABCDEFGHIJKLMNOP0123"
PLAIN = "local-key-123456"


@pytest.mark.parametrize("text", [
    '{"choices": [{"message": {"content": " Yes"}}]}',
    '{"a": "Authorization: Bearer abcdefghij"}',
    '{"a": "AUTHORIZATION=zzzzzzzz"}',
    '{"a": "bearer abcdefghijkl"}',
    '{"a": "my key is %s"}' % KEY,
    '{"a": "my key is %s"}' % PLAIN,
    '{"a": "escaped \\u0073k-proj-ABCDEFGHIJKLMNOP0123"}',  # "sk-..." behind a \\u escape
    '{"a": "local\\u002dkey-123456"}',  # the configured key behind a \\u escape
    '{"a": "local-key\\/123456", "b": "x\\/y"}',
    '{"a": "Authoriz\\u0061tion: Bearer abcdefghij"}',
    '{"é": "Authorization: Bearer abcdefghij"}',
    '{"%s": 1}' % KEY,
    '[1, 2.5, null, true, {"k": "v"}]',
])
def test_json_equals_the_full_walk(text):
    r = Redactor([KEY, PLAIN])
    body = text.encode("utf-8")
    assert r.json(body) == r.obj(json.loads(body))


def test_the_fast_path_skips_the_walk_only_where_nothing_can_match():
    r = Redactor([PLAIN])
    assert not r._may_hold_secret(b'{"content": " Yes", "n": [1, 2]}')
    for body in (b'{"a": "local-key-123456"}', b'{"a": "\\u0041"}', b'{"a": "\\/"}',
                 '{"a": "\u00e9"}'.encode(), b'{"a": "sk-x"}', b'{"a": "BeArEr"}',
                 b'{"a": "authorization"}'):
        assert r._may_hold_secret(body), body
    # a secret JSON would write escaped cannot be looked for in the raw body
    assert Redactor(['quote"secret']).__dict__["_unsafe_secret"]
    assert Redactor(['quote"secret'])._may_hold_secret(b'{"a": 1}')


def test_json_raises_value_error_on_bad_bodies():
    r = Redactor([KEY])
    with pytest.raises(ValueError):
        r.json(b"<html>oops</html>")
    with pytest.raises(ValueError):
        r.json(b'{"a": "\xff"}')


_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                  st.sampled_from([KEY, PLAIN, "Authorization: Basic abcdefgh", "x sk-",
                                   "Bearer 1234567", " Yes", "é", "a/b", "q\"uote"]),
                  st.text(max_size=12))
_json = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=6) | st.sampled_from([KEY]), inner,
                                       max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(_json, st.booleans())
def test_json_equals_the_full_walk_for_any_body(obj, ascii_only):
    r = Redactor([KEY, PLAIN])
    body = json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8")
    out = r.json(body)
    assert out == r.obj(json.loads(body))
    assert KEY not in json.dumps(out, ensure_ascii=False)
    if KEY in json.dumps(obj, ensure_ascii=False):
        assert REDACTED in json.dumps(out, ensure_ascii=False)
