"""What crosses between the solution and the judge: plain data in, built-in values out."""

from __future__ import annotations

import io
import math
from collections import Counter, OrderedDict, namedtuple
from decimal import Decimal
from enum import IntEnum
from fractions import Fraction
from typing import Any

import pytest

from taskseed.runtime.sandbox import wire
from taskseed.runtime.sandbox.wire import Unsendable, WireError, from_wire, to_wire


def across(value: object) -> Any:
    """`value` sent as a JSON line and read back, as the judge reads it."""
    stream = io.BytesIO()
    wire.send(stream, {"value": to_wire(value)})
    stream.seek(0)
    return from_wire(wire.receive(stream)["value"])


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(10**40),
        1.5,
        -0.0,
        "text\u2028\udcff",
        b"\x00\xff",
        bytearray(b"ab"),
        [1, [2, [3]]],
        (1, (2,)),
        {"a": 1, (1, 2): [3], 4: {5}},
        {1, "x", (2, 3)},
        frozenset({1, 2}),
        complex(1.5, -2),
        Fraction(1, 3),
        Decimal("1.10"),
        [],
        {},
        (),
    ],
)
def test_plain_values_cross_unchanged(value: object) -> None:
    back = across(value)
    assert back == value and type(back) is type(value)


def test_special_floats_cross() -> None:
    assert math.isnan(across(math.nan))
    assert across([math.inf, -math.inf]) == [math.inf, -math.inf]
    assert across(complex(math.inf, 0)) == complex(math.inf, 0)


def test_subclasses_cross_as_the_built_in_value_they_hold() -> None:
    class Level(IntEnum):
        HIGH = 3

    class Liar(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    Point = namedtuple("Point", "x y")
    assert type(across(Counter("aab"))) is dict and across(Counter("aab")) == {"a": 2, "b": 1}
    assert type(across(OrderedDict(a=1))) is dict
    assert type(across(Level.HIGH)) is int and across(Level.HIGH) == 3
    assert type(across(Liar(7))) is int and across(Liar(7)) != 8
    point = across(Point(1, 2))
    assert point == (1, 2) and point.y == 2 and type(point).__name__ == "Point"


def test_objects_do_not_cross_without_a_reference() -> None:
    class Anything:
        def __eq__(self, other: object) -> bool:
            return True

    with pytest.raises(Unsendable):
        to_wire(Anything())
    with pytest.raises(Unsendable):
        to_wire([1, lambda: 0])
    marker = {"$": "ref", "id": 1}
    assert to_wire([Anything()], lambda value: marker) == [marker]


@pytest.mark.parametrize(
    "data",
    [
        {"$": "eval", "v": "__import__('os')"},
        {"$": "ref", "id": 1},  # a reference where only data may be
        {"x": 1},
        {"$": "tuple", "v": "abc"},
        {"$": "dict", "v": [[[1], 2]]},  # an unhashable key
        {"$": "set", "v": [[1]]},
        {"$": "float", "v": "1e400"},
        {"$": "complex", "v": [1, 2, 3]},
        {"$": "fraction", "v": [1, 0]},
        {"$": "namedtuple", "name": "P", "fields": ["class"], "v": [1]},
        {"$": "namedtuple", "name": "P", "fields": ["x"], "v": [1, 2]},
        {"$": "decimal", "v": "nope"},
    ],
)
def test_malformed_values_are_refused(data: Any) -> None:
    with pytest.raises(WireError):
        from_wire(data)


def test_malformed_messages_are_refused() -> None:
    def receive(raw: bytes) -> dict[str, Any]:
        return wire.receive(io.BytesIO(raw))

    with pytest.raises(WireError):
        receive(b"not json\n")
    with pytest.raises(WireError):
        receive(b"[1, 2]\n")
    with pytest.raises(WireError):
        receive(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    with pytest.raises(WireError):
        receive(b'{"value": "' + b"x" * wire.MAX_LINE + b'"}\n')
    with pytest.raises(WireError):
        receive(b'{"value": 1}')  # cut off: no end of line
    with pytest.raises(WireError):
        receive(b'{"value": ' + b"9" * 5000 + b"}\n")  # too long an integer to parse
    with pytest.raises(EOFError):
        receive(b"")
