"""unencodable_field answers from orjson's one pass exactly as the field-by-field walk
answers: the same field for a lone surrogate, None when every string is valid Unicode."""
from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.http.web import _first_unencodable, unencodable_field

# text with lone surrogates in it, and integers past orjson's 64 bits, which make orjson
# refuse a body for a reason that is not a surrogate
strings = st.text() | st.text(alphabet=st.characters(min_codepoint=0xD7F0,
                                                     max_codepoint=0xE010))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | strings,
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(strings.filter(lambda s: len(s) <= 8), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
@example({"to": ["4917000001", "4917000002"], "text": "hi"})
@example({"to": ["4917000001", "\ud800"], "text": "hi"})
@example({"n": 2**70, "text": "\udfff"})  # orjson refuses the integer first
@example({"n": 2**70, "text": "hi"})
@example({"\udc00": 1})  # a key
@example([[[[["\ud800"]]]]])
def test_the_fast_answer_is_the_walk_s_answer(value) -> None:
    assert unencodable_field(value) == _first_unencodable(value, "body")


def test_a_body_nested_past_orjson_s_depth_is_still_walked() -> None:
    deep: list = ["\ud800"]
    for _ in range(300):
        deep = [deep]
    assert unencodable_field({"a": deep}) == "a" + "[0]" * 301
