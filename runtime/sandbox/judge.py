"""The judge: runs the item's tests in its own sandbox and decides the verdict.

The solution runs in another process, in another sandbox (`serve.py`). Here the tests
see the solution's names as stand-ins: plain data values as themselves, modules as the
judge's own import of the same standard module, and functions, classes and other
objects as `Remote` references whose calls travel over a pipe. Arguments go out as
plain data; results come back as plain data (or new references), decoded by
`wire.from_wire`, so every `==`, `isclose`, `set(...)`, `sorted(...)` or `not` of a test
is computed here on built-in values. The expected values never leave this process.

An object of the solution that overrides `==` cannot be compared here without asking
the solution; such a test is not run on trust: it is reported `unverifiable` with
the reason. A solution process that dies, exits, or sends anything malformed fails the
test that was talking to it, even when the test catches the exception (`Gone` is not
an `Exception`, and the link remembers it).

A test defining `check(candidate)` (HumanEval's form) is followed, when the format
names an entry point, by `check(<entry point>)` as part of that test.

The verdict is one JSON line on a private duplicate of the control channel; fd 1 and 2
are /dev/null while tests run.

Standard library only: the sandbox loads this module outside the taskseed package.
"""

from __future__ import annotations

import _ast  # the compiler's node types, without the cost of importing ast
import builtins
import contextlib
import importlib
import json
import os
import sys
import types

from . import wire

TYPE_CHECKING = False  # importing typing would cost every sandbox start
if TYPE_CHECKING:  # annotations only
    from collections.abc import Iterator
    from typing import IO, Any, NoReturn, TypeVar

    T = TypeVar("T")

MAX_TEXT = 200


class Gone(BaseException):
    """The solution's process ended, broke the protocol, or could not be reached."""


class Unverifiable(BaseException):
    """The test needs an answer only the solution's process could give."""


class SolutionExit(BaseException):
    """The solution called exit() (SystemExit) while answering a call."""


class SolutionMemoryError(BaseException):
    """The solution ran out of memory while answering a call."""


class SolutionError(Exception):
    """An exception of a type that is not built in, raised by the solution."""


# Built-in exception types a test may expect the solution to raise, by name.
_BUILTIN_ERRORS: dict[str, type[BaseException]] = {
    name: value
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, Exception) and not issubclass(value, Warning)
}


class Link:
    """The pipe pair to the solution's process, and what happened on it."""

    def __init__(self, requests: IO[bytes], answers: IO[bytes]) -> None:
        self.requests = requests
        self.answers = answers
        self.gone = ""  # why the solution's process cannot be asked any more
        self.ended = False  # because it ended (rather than broke the protocol)
        self.unverifiable = ""  # why a test could not be checked here
        self.remotes: dict[int, Remote] = {}

    def fail(self, why: str) -> NoReturn:
        self.gone = self.gone or why
        raise Gone(self.gone)

    def receive(self) -> dict[str, Any]:
        if self.gone:
            raise Gone(self.gone)
        try:
            return wire.receive(self.answers)
        except EOFError:
            self.ended = True
            self.fail("the solution's process ended")
        except (OSError, wire.WireError) as exc:
            self.fail(f"the solution's process sent a malformed answer ({exc})")

    def request(self, request: dict[str, Any]) -> dict[str, Any]:
        """The solution's answer to `request`; the exception it raised is raised here."""
        if self.gone:
            raise Gone(self.gone)
        try:
            wire.send(self.requests, request)
        except OSError:
            self.ended = True
            self.fail("the solution's process ended")
        answer = self.receive()
        if "raise" in answer:
            raise self.exception(answer["raise"])
        if "value" not in answer:
            self.fail("the solution's process sent a malformed answer")
        return answer

    def ask(self, request: dict[str, Any]) -> Any:
        return self.value(self.request(request)["value"])

    def value(self, data: Any) -> Any:
        try:
            return wire.from_wire(data, self.remote)
        except wire.WireError as exc:
            self.fail(f"the solution's process sent a malformed answer ({exc})")

    def remote(self, data: dict[str, Any]) -> Remote:
        number = data.get("id")
        if type(number) is not int:
            raise wire.WireError("a reference without a number")
        if number not in self.remotes:
            kind = data.get("type")
            self.remotes[number] = Remote(
                self,
                number,
                kind[:80] if isinstance(kind, str) else "object",
                data.get("eq") is not False,
            )
        return self.remotes[number]

    def exception(self, raised: Any) -> BaseException:
        if not (
            isinstance(raised, list)
            and len(raised) == 2
            and all(isinstance(x, str) for x in raised)
        ):
            self.fail("the solution's process sent a malformed answer")
        name, message = raised[0][:80], raised[1][:MAX_TEXT]
        if name == "SystemExit":
            return SolutionExit(message)
        if name == "MemoryError":
            return SolutionMemoryError(message)
        error = _BUILTIN_ERRORS.get(name)
        if error is not None:
            try:
                return error(message)
            except Exception:
                pass
        return SolutionError(f"{name}: {message}" if message else name)

    def refuse(self, remote: Remote, what: str) -> NoReturn:
        self.unverifiable = self.unverifiable or (
            f"it {what} an object of the solution ({remote._type}), which only the "
            "solution's process could decide"
        )
        raise Unverifiable(self.unverifiable)


class Remote:
    """An object that lives in the solution's process. Reading it (calls, attributes,
    items, len, str, iteration) asks the solution for data; comparing it with anything
    but itself is refused unless its type compares by identity."""

    __slots__ = ("_eq", "_id", "_link", "_type")

    def __init__(self, link: Link, number: int, kind: str, eq: bool) -> None:
        self._link = link
        self._id = number
        self._type = kind
        self._eq = eq

    def _ask(self, op: str, **fields: Any) -> Any:
        return self._link.ask({"op": op, "ref": {"$": "ref", "id": self._id}, **fields})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return call(self, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key=argument(self._link, key))

    def __len__(self) -> int:
        return self._typed("len", int)

    def __bool__(self) -> bool:
        return self._typed("bool", bool)

    def __str__(self) -> str:
        return self._typed("str", str)

    def __repr__(self) -> str:
        return self._typed("repr", str)

    def __int__(self) -> int:
        return self._typed("int", int)

    def __float__(self) -> float:
        return self._typed("float", float)

    def __index__(self) -> int:
        return self._typed("index", int)

    def __iter__(self) -> Iterator[Any]:
        iterator = self._ask("iter")
        if not isinstance(iterator, Remote):
            return iter(iterator)
        return iterator

    def __next__(self) -> Any:
        return self._ask("next")

    def __contains__(self, item: Any) -> bool:
        # decided here, by iterating, never by the object's own __contains__
        return any(item is value or item == value for value in self)

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if self._eq:
            self._link.refuse(self, "compares")
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if other is self:
            return False
        if self._eq:
            self._link.refuse(self, "compares")
        return NotImplemented

    def __hash__(self) -> int:
        if self._eq:
            self._link.refuse(self, "hashes")
        return object.__hash__(self)

    def _typed(self, op: str, kind: type[T]) -> T:
        value = self._ask(op)
        if type(value) is not kind:
            self._link.fail(f"the solution's process answered {op}() with a {type(value).__name__}")
        return value


def _refused(what: str) -> Any:
    def method(self: Remote, *args: Any) -> Any:
        self._link.refuse(self, what)

    return method


for _name in ("lt", "le", "gt", "ge"):
    setattr(Remote, f"__{_name}__", _refused("orders"))
for _name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
    "and", "or", "xor", "lshift", "rshift", "divmod",
):  # fmt: skip
    setattr(Remote, f"__{_name}__", _refused("computes with"))
    setattr(Remote, f"__r{_name}__", _refused("computes with"))
for _name in ("neg", "pos", "abs", "invert", "round", "trunc", "floor", "ceil"):
    setattr(Remote, f"__{_name}__", _refused("computes with"))


def argument(link: Link, value: Any) -> Any:
    """A test's value sent to the solution: plain data, or one of its own objects."""

    def reference(value: object) -> dict[str, Any]:
        if isinstance(value, Remote) and value._link is link:
            return {"$": "ref", "id": value._id}
        link.unverifiable = link.unverifiable or (
            f"it passes a {type(value).__name__} to the solution, and only plain data "
            "and the solution's own objects can cross"
        )
        raise Unverifiable(link.unverifiable)

    return wire.to_wire(value, reference)


_MUTABLE = (list, dict, set, bytearray)


def call(remote: Remote, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    link = remote._link
    request = {
        "op": "call",
        "ref": {"$": "ref", "id": remote._id},
        "args": [argument(link, a) for a in args],
        "kwargs": {str(k): argument(link, v) for k, v in kwargs.items()},
    }
    answer = link.request(request)
    if not isinstance(answer.get("changed", {}), dict):
        link.fail("the solution's process sent a malformed answer")
    # the call's changes to its list, dict, set and bytearray arguments, in place
    for key, data in answer.get("changed", {}).items():
        original = args[int(key)] if key.isdigit() and int(key) < len(args) else kwargs.get(key)
        if isinstance(original, _MUTABLE):
            update(original, link.value(data))
    return link.value(answer["value"])


def update(original: Any, new: Any) -> None:
    if not isinstance(original, type(new)):
        return
    if isinstance(original, (list, bytearray)):
        original[:] = new
    elif isinstance(original, (dict, set)):
        original.clear()
        original.update(new)


# ------------------------------------------------------------------ running the tests


def namespace(names: Any, link: Link, entry: str | None) -> tuple[dict[str, Any], set[str]]:
    """The tests' globals: the solution's names as values, modules and references; and
    the names of built-ins and standard modules the solution rebound to an object of
    its own (a test that uses one of them cannot be decided here: the solution would
    compute `set(...)`, `sorted(...)` or `math.isclose(...)` for it)."""
    found: dict[str, Any] = {"__name__": "__test__", "__builtins__": builtins}
    rebound: set[str] = set()
    if not isinstance(names, dict):
        link.fail("the solution's process sent a malformed list of names")
    for name, entry_data in names.items():
        if not isinstance(entry_data, dict):
            link.fail("the solution's process sent a malformed list of names")
        if "module" in entry_data:
            module = entry_data["module"]
            if isinstance(module, str) and module.split(".")[0] in sys.stdlib_module_names:
                with contextlib.suppress(Exception):
                    found[name] = importlib.import_module(module)
            continue
        value = link.value(entry_data.get("value"))
        standard = hasattr(builtins, name) or name in sys.stdlib_module_names
        if isinstance(value, Remote) and standard and name != entry:
            rebound.add(name)
        found[name] = value
    return found, rebound


def names_used(tree: _ast.AST) -> set[str]:
    """Every name a test's syntax tree reads or writes."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, _ast.Name):
            found.add(node.id)
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                stack.extend(item for item in value if isinstance(item, _ast.AST))
            elif isinstance(value, _ast.AST):
                stack.append(value)
    return found


def short(test: str, limit: int) -> str:
    test = " ".join(test.split())
    return test if len(test) <= limit else test[: limit - 3] + "..."


def describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = ""
    return type(exc).__name__ + (": " + text[:MAX_TEXT] if text else "")


def run(args: dict[str, Any], link: Link) -> tuple[str, str, int]:
    """(verdict, reason, tests passed)."""
    tests: list[str] = args["tests"]
    entry: str | None = args.get("entry_point")
    memory_mb = args["memory_mb"]
    limit = args["max_test_chars"]
    try:
        ready = link.receive()
    except Gone as exc:
        return "failed", f"{exc} before it defined anything", 0
    if "error" in ready:
        raised = link.exception(ready.get("raise"))
        if ready["error"] == "compile":
            return "failed", f"the solution does not compile: {describe(raised)}", 0
        if isinstance(raised, SolutionExit):
            return "failed", "the solution called exit()", 0
        if isinstance(raised, SolutionMemoryError):
            return "failed", f"memory limit ({memory_mb} MiB) exceeded by the solution", 0
        return "failed", f"the solution raised {describe(raised)}", 0
    try:
        scope, rebound = namespace(ready.get("names"), link, entry)
    except Gone as exc:
        return "failed", str(exc), 0
    if entry and not (isinstance(scope.get(entry), Remote) and callable(scope[entry])):
        return "failed", f"the solution defines no function `{entry}`", 0
    done = 0
    for number, test in enumerate(tests, 1):
        shown = short(test, limit)
        try:
            tree = compile(test, f"<test {number}>", "exec", _ast.PyCF_ONLY_AST)
            assert isinstance(tree, _ast.Module)
            compiled = compile(tree, f"<test {number}>", "exec")
        except (SyntaxError, ValueError) as exc:
            return "failed", f"test {number} does not compile: {describe(exc)}", done
        shadowed = sorted(names_used(tree) & rebound)
        if shadowed:
            return (
                "unverifiable",
                f"test {number} cannot be checked outside the solution: the solution "
                f"redefines `{shadowed[0]}`, which the test uses as the standard one: {shown}",
                done,
            )
        try:
            before = scope.get("check")
            exec(compiled, scope)
            check = scope.get("check")
            if entry and check is not before and isinstance(check, types.FunctionType):
                check(scope[entry])
        except AssertionError:
            failure = f"test {number} failed: {shown}"
        except Gone as exc:
            failure = f"test {number} failed: {exc}: {shown}"
        except Unverifiable as exc:
            return (
                "unverifiable",
                f"test {number} cannot be checked outside the solution: {exc}: {shown}",
                done,
            )
        except SolutionExit:
            failure = f"exit() called in test {number}: {shown}"
        except (SolutionMemoryError, MemoryError):
            failure = f"memory limit ({memory_mb} MiB) exceeded in test {number}: {shown}"
        except SystemExit:
            failure = f"exit() called in test {number}: {shown}"
        except BaseException as exc:
            failure = f"test {number} raised {describe(exc)}: {shown}"
        else:
            failure = ""
        # a test that swallowed the exception does not pass for it
        if link.gone and not failure:
            failure = f"test {number} failed: {link.gone}: {shown}"
        if link.unverifiable and not failure:
            return (
                "unverifiable",
                f"test {number} cannot be checked outside the solution: "
                f"{link.unverifiable}: {shown}",
                done,
            )
        if failure:
            return "failed", failure, done
        done += 1
    return "passed", f"{done} test{'' if done == 1 else 's'} passed", done


def main(args: dict[str, Any], control: int) -> None:
    report = os.fdopen(os.dup(control), "w")
    os.close(control)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    sys.stdin = open(os.devnull)  # noqa: SIM115
    link = Link(os.fdopen(args["requests"], "wb"), os.fdopen(args["answers"], "rb"))
    verdict, reason, done = run(args, link)
    report.write(
        json.dumps({"verdict": verdict, "reason": reason, "done": done, "ended": link.ended}) + "\n"
    )
    report.flush()
