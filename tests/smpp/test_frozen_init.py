"""gateway/smpp/frozen_init.py: the fast __init__ builds exactly what the dataclass one does."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from gateway import model
from gateway.smpp import pdu as P
from gateway.smpp.frozen_init import fast_init, fast_replace


def _pair(fast: bool):
    @dataclass(frozen=True, kw_only=True, slots=True)
    class Base:
        name: str
        count: int = 3
        tags: list = field(default_factory=list)

    @dataclass(frozen=True, kw_only=True, slots=True)
    class Child(Base):
        id: int
        note: str = "n"

    if fast:
        fast_init(Base)
        fast_init(Child)
    return Base, Child


def fields_of(obj) -> dict:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


@pytest.mark.parametrize("kwargs", [
    {"name": "a", "id": 1},
    {"name": "b", "id": 2, "count": 9, "tags": ["x"], "note": "m"},
])
def test_the_same_values_as_the_generated_init_defaults_and_factories_included(kwargs):
    (_, slow), (_, quick) = _pair(False), _pair(True)
    made, reference = quick(**kwargs), slow(**kwargs)
    assert type(made) is quick
    assert fields_of(made) == fields_of(reference)
    assert made == quick(**kwargs)


def test_each_instance_gets_its_own_default_factory_value():
    base, _ = _pair(True)
    first, second = base(name="a"), base(name="b")
    assert first.tags == [] and first.tags is not second.tags


def test_the_result_stays_frozen_and_replace_works():
    base, child = _pair(True)
    made = child(name="a", id=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.count = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        del made.name
    assert dataclasses.replace(made, count=7) == child(name="a", id=1, count=7)
    assert isinstance(made, base)


def test_missing_unknown_and_positional_arguments_are_refused():
    base, child = _pair(True)
    with pytest.raises(TypeError, match="id"):
        child(name="a")
    with pytest.raises(TypeError, match="colour"):
        base(name="a", colour="red")
    with pytest.raises(TypeError):
        base("a")


def test_classes_it_cannot_reproduce_are_refused():
    @dataclass(frozen=True, kw_only=True)
    class NoSlots:
        a: int = 0

    @dataclass(kw_only=True, slots=True)
    class NotFrozen:
        a: int = 0

    @dataclass(frozen=True, kw_only=True, slots=True)
    class PostInit:
        a: int = 0

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class Positional:
        a: int = 0

    for cls in (NoSlots, NotFrozen, PostInit, Positional, int):
        with pytest.raises(TypeError):
            fast_init(cls)


@pytest.mark.parametrize("cls", [model.Address, model.SubmitRequest, model.Message,
                                 model.NewOutboxItem, model.OutboxItem, P.SubmitSm,
                                 P.DeliverSm, P.SubmitSmResp, P.DeliverSmResp])
def test_every_field_of_the_hot_types_is_stored(cls):
    values = {}
    for n, f in enumerate(dataclasses.fields(cls)):
        values[f.name] = object() if f.name not in ("ton", "npi") else n
    made = cls(**values)
    assert type(made) is cls
    assert all(getattr(made, name) is value for name, value in values.items())
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, dataclasses.fields(cls)[0].name, 1)


@pytest.mark.parametrize("names", [("id",), ("note", "name"), ("tags", "count", "id", "note")])
def test_fast_replace_builds_what_dataclasses_replace_does(names):
    base, child = _pair(True)
    template = child(name="a", id=1, tags=["t"])
    values = [object() for _ in names]
    made = fast_replace(child, *names)(template, *values)
    reference = dataclasses.replace(template, **dict(zip(names, values)))
    assert type(made) is child
    assert fields_of(made) == fields_of(reference)
    assert made.tags is template.tags or "tags" in names  # copied as replace copies: shared
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.name = "b"
    assert fields_of(template) == fields_of(child(name="a", id=1, tags=["t"]))


@pytest.mark.parametrize("cls", [model.Message, model.NewOutboxItem, model.OutboxItem,
                                 P.DeliverSm, P.Tlvs])
def test_fast_replace_copies_every_field_of_the_hot_types(cls):
    fields = [f.name for f in dataclasses.fields(cls)]
    template = cls(**{name: object() for name in fields})
    changed = fields[1::3]
    values = [object() for _ in changed]
    made = fast_replace(cls, *changed)(template, *values)
    expected = {name: getattr(template, name) for name in fields} | dict(zip(changed, values))
    assert type(made) is cls
    assert all(getattr(made, name) is value for name, value in expected.items())


def test_fast_replace_refuses_unknown_or_repeated_fields_and_classes_it_cannot_copy():
    _, child = _pair(True)
    with pytest.raises(TypeError, match="colour"):
        fast_replace(child, "colour")
    with pytest.raises(TypeError):
        fast_replace(child, "id", "id")

    @dataclass(frozen=True, kw_only=True)
    class NoSlots:
        a: int = 0

    with pytest.raises(TypeError):
        fast_replace(NoSlots, "a")
