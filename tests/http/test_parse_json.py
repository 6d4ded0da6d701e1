"""parse_json takes orjson's fast path only where orjson reads a body exactly as the
stdlib does: every value and every error message below is the stdlib's."""
from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.http.web import BadBody, _stdlib_json, parse_json


def outcome(parse, raw: bytes) -> tuple[str, str]:
    try:
        return "value", repr(parse(raw))  # repr: -0.0 is not 0.0, 1 is not 1.0
    except BadBody as e:
        return "error", f"{e.status} {e}"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_values, st.booleans())
@example({"to": "4917600000001", "text": "hello", "from": "smsgw"}, False)
@example(2**64, False)  # orjson would read it as a float
@example(-(2**63) - 1, False)
@example([1.5e308, -0.0, 5e-324], True)
@example({"a": "\ud800"}, False)  # a lone surrogate: the stdlib keeps it, orjson refuses
def test_any_json_document_reads_as_the_stdlib_reads_it(value, indent) -> None:
    raw = json.dumps(value, indent=2 if indent else None).encode()
    assert outcome(parse_json, raw) == outcome(_stdlib_json, raw)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64) | st.text(alphabet='[]{}",:0123456789.eE+-tfnul \\\t\n',
                                        max_size=40).map(str.encode))
@example(b"\xef\xbb\xbf{}")  # a byte order mark
@example(b"NaN")
@example(b"[1e400]")  # the stdlib reads inf
@example(b"01")
@example(b'"a\tb"')
@example(b"\xff")
def test_any_bytes_read_or_refused_as_the_stdlib_does(raw: bytes) -> None:
    assert outcome(parse_json, raw) == outcome(_stdlib_json, raw)


@pytest.mark.parametrize("depth", [200, 300, 1000, 1020, 5000])
def test_deep_nesting_is_the_stdlib_s_answer(depth: int) -> None:
    # orjson reads 1,024 levels; the stdlib stops sooner, and so must we
    raw = b"[" * depth + b"]" * depth
    assert outcome(parse_json, raw) == outcome(_stdlib_json, raw)
    if depth >= 1000:
        assert outcome(parse_json, raw) == ("error", "400 the body is nested too deeply")
