"""What crosses between the solution's process and the judge: plain data, one JSON line
per message.

Values are None, bool, int, float, complex, str, bytes, bytearray, list, tuple, dict,
set, frozenset, Fraction and Decimal, nested. JSON carries the first ones as they are;
the others are objects tagged with `"$"` (`{"$": "tuple", "v": [...]}`). The decoder
builds exactly these built-in types and nothing else: an object of the solution (an
instance of its class, a function, a generator) never crosses; it stays in the
solution's process and the judge holds a numbered reference to it (`{"$": "ref"}`),
which the decoder hands to a factory. Anything malformed, too deep or longer than
`MAX_LINE` is a `WireError`.

Standard library only: the sandbox loads this module outside the taskseed package.
"""

from __future__ import annotations

import json
import math
import sys

TYPE_CHECKING = False  # importing typing would cost every sandbox start
if TYPE_CHECKING:  # annotations only
    from collections.abc import Callable
    from typing import IO, Any

    Reference = Callable[[object], dict[str, Any]]
    Remote = Callable[[dict[str, Any]], object]

MAX_LINE = 8 * 1024 * 1024


class WireError(Exception):
    """A message that is not one this protocol can carry."""


class Unsendable(Exception):
    """A value that is not plain data (and no reference factory was given)."""


# ------------------------------------------------------------------ messages


def send(stream: IO[bytes], message: dict[str, Any]) -> None:
    line = json.dumps(message, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    stream.write(line.encode("ascii") + b"\n")
    stream.flush()


def receive(stream: IO[bytes]) -> dict[str, Any]:
    """The next message; EOFError when the other side has closed the channel."""
    line = stream.readline(MAX_LINE + 1)
    if not line:
        raise EOFError("the channel is closed")
    if len(line) > MAX_LINE or not line.endswith(b"\n"):
        raise WireError(f"a message longer than {MAX_LINE} bytes")
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"a message that is not JSON: {type(exc).__name__}") from None
    if not isinstance(message, dict):
        raise WireError("a message that is not a JSON object")
    return message


# ------------------------------------------------------------------ values


def to_wire(value: object, reference: Reference | None = None) -> Any:
    """`value` as JSON data; a value that is not plain data goes through `reference`
    (which returns its `{"$": "ref", ...}` form) or raises Unsendable."""
    try:
        return _encode(value, reference)
    except RecursionError:
        if reference is None:
            raise Unsendable("a value nested too deeply") from None
        return reference(value)


def _encode(value: object, reference: Reference | None) -> Any:
    # Subclasses of the built-in types are sent as their built-in value: what equality
    # with plain data compares (a Counter as its dict, a namedtuple as its tuple).
    if value is None or value is True or value is False:
        return value
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        number = float.__float__(value)
        return number if math.isfinite(number) else {"$": "float", "v": repr(number)}
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list):
        return [_encode(item, reference) for item in list.__iter__(value)]
    if isinstance(value, tuple):
        items = [_encode(item, reference) for item in tuple.__iter__(value)]
        fields = getattr(type(value), "_fields", None)
        if isinstance(fields, tuple) and len(fields) == len(items):  # a namedtuple
            name = type(value).__name__
            return {"$": "namedtuple", "name": name, "fields": list(fields), "v": items}
        return {"$": "tuple", "v": items}
    if isinstance(value, dict):
        pairs = dict.items(value)
        return {
            "$": "dict",
            "v": [[_encode(k, reference), _encode(v, reference)] for k, v in pairs],
        }
    if isinstance(value, (set, frozenset)):
        tag = "frozenset" if isinstance(value, frozenset) else "set"
        return {"$": tag, "v": [_encode(item, reference) for item in value]}
    if isinstance(value, (bytes, bytearray)):
        tag = "bytearray" if isinstance(value, bytearray) else "bytes"
        return {"$": tag, "v": bytes(value).decode("latin-1")}
    if isinstance(value, complex):
        return {"$": "complex", "v": [_encode(value.real, None), _encode(value.imag, None)]}
    # a Fraction or a Decimal exists only where its module was imported
    fractions, decimal = sys.modules.get("fractions"), sys.modules.get("decimal")
    if fractions is not None and isinstance(value, fractions.Fraction):
        return {"$": "fraction", "v": [value.numerator, value.denominator]}
    if decimal is not None and isinstance(value, decimal.Decimal):
        return {"$": "decimal", "v": str(value)}
    if reference is None:
        raise Unsendable(f"an object of type {type(value).__name__}")
    return reference(value)


def from_wire(data: Any, remote: Remote | None = None) -> Any:
    """The value `data` stands for, built from built-in types only; references go to
    `remote`. WireError for anything else."""
    try:
        return _decode(data, remote)
    except RecursionError:
        raise WireError("a value nested too deeply") from None
    except (TypeError, ValueError, ArithmeticError, KeyError, IndexError) as exc:
        raise WireError(f"a malformed value: {type(exc).__name__}") from None


_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_NAMEDTUPLES: dict[tuple[str, tuple[str, ...]], type] = {}


def _namedtuple(name: object, fields: object) -> type:
    """A namedtuple type built here (a tuple with named fields, nothing else)."""
    if not isinstance(name, str) or not isinstance(fields, list):
        raise WireError("a malformed namedtuple")
    key = (name, tuple(str(f) for f in fields))
    if key not in _NAMEDTUPLES:
        if len(_NAMEDTUPLES) >= 256:
            raise WireError("too many namedtuple types")
        from collections import namedtuple

        _NAMEDTUPLES[key] = namedtuple(name, key[1])  # ValueError for bad names
    return _NAMEDTUPLES[key]


def _decode(data: Any, remote: Remote | None) -> Any:
    kind = type(data)
    if data is None or kind in (bool, int, float, str):
        return data
    if kind is list:
        return [_decode(item, remote) for item in data]
    if kind is not dict or set(data) - {"$", "v", "id", "type", "eq", "callable", "name", "fields"}:
        raise WireError("a value that is not plain data")
    tag, body = data.get("$"), data.get("v")
    if tag == "ref":
        if remote is None:
            raise WireError("a reference where only data may be")
        return remote(data)
    if tag == "float" and body in _FLOATS:
        return _FLOATS[body]
    if tag in ("bytes", "bytearray") and type(body) is str:
        raw = body.encode("latin-1")
        return raw if tag == "bytes" else bytearray(raw)
    if tag == "decimal" and type(body) is str:
        from decimal import Decimal

        return Decimal(body)
    if type(body) is not list:
        raise WireError(f"a malformed {tag!r} value")
    if tag == "tuple":
        return tuple(_decode(item, remote) for item in body)
    if tag == "namedtuple":
        return _namedtuple(data.get("name"), data.get("fields"))(
            *(_decode(i, remote) for i in body)
        )
    if tag == "dict":
        return {_decode(k, remote): _decode(v, remote) for k, v in body}
    if tag == "set":
        return {_decode(item, remote) for item in body}
    if tag == "frozenset":
        return frozenset(_decode(item, remote) for item in body)
    if tag == "complex" and len(body) == 2:
        real, imag = (_decode(part, None) for part in body)
        if type(real) is not float or type(imag) is not float:
            raise WireError("a malformed complex value")
        return complex(real, imag)
    if tag == "fraction" and len(body) == 2 and all(type(n) is int for n in body):
        from fractions import Fraction

        return Fraction(body[0], body[1])
    raise WireError(f"an unknown value tag {tag!r}")
