"""The solution's side: run the solution, then answer the judge's requests.

Runs inside its own sandbox, started by the launcher with two pipes to the judge:
requests in, answers out. It executes the solution once, sends the names it defined
(plain data as values, modules by name, everything else as references), then serves
one request at a time: call a function, read an attribute or item, take `len`, `bool`,
`str`, `repr`, `int`, `float`, an iterator and its next item, of an object it holds.
Each answer is plain data, a reference, or the exception raised (its type's name and
text). It never sees a test or an expected value, and nothing it answers is a verdict:
whatever this process writes is only data to the judge. Its own output goes to
/dev/null.

Standard library only: the sandbox loads this module outside the taskseed package.
"""

from __future__ import annotations

import json
import os
import sys
import types

from . import wire

TYPE_CHECKING = False  # importing typing would cost every sandbox start
if TYPE_CHECKING:  # annotations only
    from collections.abc import Callable
    from typing import IO, Any

MAX_TEXT = 300
# Larger values (as JSON text) stay in this process; the judge gets a reference, which
# it can index, measure and iterate, but not compare.
MAX_VALUE = 4 * 1024 * 1024
MAX_GLOBAL = 256 * 1024


class Objects:
    """The objects the judge holds references to, by number."""

    def __init__(self) -> None:
        self.by_id: dict[int, object] = {}

    def reference(self, value: object) -> dict[str, Any]:
        number = len(self.by_id) + 1
        self.by_id[number] = value
        kind = type(value)
        return {
            "$": "ref",
            "id": number,
            "type": kind.__name__ if isinstance(kind.__name__, str) else "object",
            "eq": kind.__eq__ is not object.__eq__,
            "callable": callable(value),
        }

    def resolve(self, data: dict[str, Any]) -> object:
        number = data.get("id")
        if type(number) is not int or number not in self.by_id:
            raise wire.WireError("a reference to no object")
        return self.by_id[number]

    def value(self, value: object, limit: int = MAX_VALUE) -> Any:
        data = wire.to_wire(value, self.reference)
        if isinstance(data, (str, list, dict)):
            try:
                size = len(json.dumps(data))
            except (ValueError, RecursionError):  # `encoded` reports it
                return data
            if size > limit:
                return self.reference(value)
        return data


def text(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:
        message = ""
    return message[:MAX_TEXT]


def raised(exc: BaseException) -> dict[str, Any]:
    return {"raise": [type(exc).__name__, text(exc)]}


def exports(namespace: dict[str, Any], objects: Objects) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for name, value in namespace.items():
        if name.startswith("__") and name.endswith("__"):
            continue
        if isinstance(value, types.ModuleType):
            names[name] = {"module": value.__name__}
        else:
            names[name] = {"value": objects.value(value, MAX_GLOBAL)}
    return names


# A request's operation -> what it does to the object it names.
_UNARY: dict[str, Callable[[Any], Any]] = {
    "len": len,
    "bool": bool,
    "str": str,
    "repr": repr,
    "int": int,
    "float": float,
    "index": lambda value: value.__index__(),
    "iter": iter,
    "next": next,
}
_MUTABLE = (list, dict, set, bytearray)


def answer(request: dict[str, Any], objects: Objects) -> dict[str, Any]:
    op = request.get("op")
    target = objects.resolve(request.get("ref") or {})
    if op == "call":
        args = [wire.from_wire(a, objects.resolve) for a in request.get("args", [])]
        kwargs = {
            str(k): wire.from_wire(v, objects.resolve) for k, v in request.get("kwargs", {}).items()
        }
        result = target(*args, **kwargs)  # type: ignore[operator]
        # arguments the call may have changed in place go back to the judge's copies
        changed = {str(i): objects.value(a) for i, a in enumerate(args) if isinstance(a, _MUTABLE)}
        changed.update({k: objects.value(v) for k, v in kwargs.items() if isinstance(v, _MUTABLE)})
        return {"value": objects.value(result), "changed": changed}
    if op == "getattr":
        return {"value": objects.value(getattr(target, str(request.get("name"))))}
    if op == "getitem":
        key = wire.from_wire(request.get("key"), objects.resolve)
        return {"value": objects.value(target[key])}  # type: ignore[index]
    if op in _UNARY:
        return {"value": objects.value(_UNARY[str(op)](target))}
    raise wire.WireError(f"an unknown request {op!r}")


def encoded(message: dict[str, Any]) -> dict[str, Any]:
    """`message` if it can be written (a huge integer cannot), else the error."""
    try:
        json.dumps(message, allow_nan=False)
    except (ValueError, TypeError, RecursionError) as exc:
        return {"raise": ["ValueError", f"the answer cannot be sent: {text(exc)}"]}
    return message


def main(args: dict[str, Any], control: int) -> None:
    requests: IO[bytes] = os.fdopen(args["requests"], "rb")
    answers: IO[bytes] = os.fdopen(args["answers"], "wb")
    os.close(control)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    sys.stdin = open(os.devnull)  # noqa: SIM115

    objects = Objects()
    namespace: dict[str, Any] = {"__name__": "__solution__"}
    try:
        compiled = compile(args["code"], "<solution>", "exec")
    except (SyntaxError, ValueError) as exc:
        wire.send(answers, {"error": "compile", "raise": raised(exc)["raise"]})
        return
    try:
        exec(compiled, namespace)
    except BaseException as exc:
        wire.send(answers, {"error": "run", "raise": raised(exc)["raise"]})
        return
    wire.send(answers, encoded({"names": exports(namespace, objects)}))
    while True:
        try:
            request = wire.receive(requests)
        except EOFError:
            return
        except wire.WireError as exc:
            wire.send(answers, raised(exc))
            continue
        try:
            response = answer(request, objects)
        except BaseException as exc:
            response = raised(exc)
        wire.send(answers, encoded(response))
