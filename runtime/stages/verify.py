"""Stage 5, verify: a majority vote over k sampled answers (`verify.py`, `answers.py`),
or, for code, the item's tests run against its answer (`code_check.py`).

Answers are extracted per answer format; the votes of many items are counted together
by one polars group-by (micro-batched). An item is kept only when the majority names
its answer at or above the threshold. A code item without tests, one whose tests the
sandbox could not run or the judge could not decide, and a free-form item are kept
"unverified", the reason in the verification's method; they count as `verified` (kept
by this stage) and again as `unverified`. A prompt that fails to render, or a request
the engine does not answer, is a reject of this stage.
"""

from __future__ import annotations

import sys

import msgspec

from taskseed.contract.records import OutputRecord, Verification
from taskseed.runtime import output_schemas
from taskseed.runtime.answers import answer_key, same_answer
from taskseed.runtime.batcher import MicroBatcher
from taskseed.runtime.code_check import CodeResult, code_text, run_tests
from taskseed.runtime.parse import Malformed, parse_fields
from taskseed.runtime.prompts import capped, chat_request, item_dict, render, request_seed
from taskseed.runtime.stages.base import Funnel, Slice, Stage, UnitContext, template_failure
from taskseed.runtime.verify import Ballot, vote_many


class Verify(Stage):
    name = "verify"

    def __init__(self, context: UnitContext) -> None:
        super().__init__(context)
        self.votes: MicroBatcher[Ballot, tuple[Verification, bool]] = MicroBatcher(vote_many)

    async def run(self, item: OutputRecord, current: Slice) -> OutputRecord | None:
        unit, spec, funnel = self.unit, self.unit.verify, current.funnel
        fmt = unit.format
        if spec.enabled and fmt.type == "code":
            return await self.verify_code(item, funnel)
        if not spec.enabled or spec.prompt is None or fmt.type in ("code", "free_form"):
            reason = "disabled" if not spec.enabled else f"no {fmt.type} extractor"
            return kept_unverified(funnel, item, reason)
        seed = current.seeds[item.seed_id]
        try:
            messages = render(
                self.context.plan, unit, spec.prompt, seed=seed, item=item_dict(item), n=spec.k
            )
        except Exception as exc:  # the template's own failure, whatever its class
            self.drop(funnel, item, template_failure(exc))
            return None
        options = self.context.options
        request = chat_request(
            messages,
            capped(spec.sampling, options.max_tokens),
            request_seed(options.seed, unit.id, item.id, "verify"),
            n=spec.k,
            json_schema=output_schemas.verify_answer(fmt, item),
        )
        result = await self.context.calls.call(request, funnel.tokens, self.name)
        if isinstance(result, str):
            funnel.reject(self.name, item.id, result, kind=item.kind, seed_id=item.seed_id)
            return None
        keys = []
        for choice in result.choices:
            fields = parse_fields(choice, ("answer",))
            keys.append(
                None
                if isinstance(fields, Malformed)
                else answer_key(fields["answer"], fmt, item.choices)
            )
        ballot = Ballot(
            keys,
            spec.k,
            spec.threshold,
            lambda key: same_answer(key, item.answer, fmt, item.choices),
            spec.extractor,
        )
        [(record, passed)] = await self.votes.submit([ballot])
        if not passed:
            self.drop(
                funnel,
                item,
                f"majority {record.majority!r} with agreement {record.agreement:.2f} "
                f"(threshold {spec.threshold}) does not confirm the answer {item.answer!r}",
                msgspec.structs.asdict(record),
            )
            return None
        funnel.kept("verified")
        self.context.progress("verify", 1)
        return msgspec.structs.replace(item, verification=record)

    async def verify_code(self, item: OutputRecord, funnel: Funnel) -> OutputRecord | None:
        """A code item: its tests, run against its answer; no tests, no verification."""
        if not runs_code(self.context, item):
            language = self.unit.format.language
            why = "no tests" if not item.tests else f"no test runner for {language}"
            return kept_unverified(funnel, item, why)
        assert item.tests is not None
        result = await run_code(self.context, item.answer, item.tests)
        if result.status in UNCHECKED:
            # The sandbox could not run the tests, or the judge could not decide them
            # without trusting the solution: the item is kept, marked as not verified.
            tell_once(result)
            return kept_unverified(funnel, item, unchecked(result))
        if not result.passed:
            self.drop(funnel, item, f"the solution fails its tests: {result.reason}")
            return None
        funnel.kept("verified")
        self.context.progress("verify", 1)
        return msgspec.structs.replace(item, verification=tests_passed(result))


UNCHECKED = ("unavailable", "unverifiable")


def kept_unverified(funnel: Funnel, item: OutputRecord, why: str) -> OutputRecord:
    """An item verification passes on without a vote or tests; `why` says so on it."""
    funnel.kept("verified")
    funnel.kept("unverified")
    verification = Verification(status="unverified", k=0, method=why)
    return msgspec.structs.replace(item, verification=verification)


_told: set[str] = set()


def unchecked(result: CodeResult) -> str:
    """The verification method of an item whose tests could not be run or decided."""
    if result.status == "unavailable":
        return f"tests not run: {result.reason}"
    return f"tests unverifiable: {result.reason}"


def tell_once(result: CodeResult) -> None:
    """Say on stderr, once per status in a process, why code items stay unverified."""
    if result.status in _told:
        return
    _told.add(result.status)
    print(
        f"taskseed: note: code items are kept unverified ({unchecked(result)}); "
        "the manifest counts them as unverified",
        file=sys.stderr,
    )


def runs_code(context: UnitContext, item: OutputRecord) -> bool:
    """Whether the item's tests can be run: it has some, and they are Python."""
    language = context.unit.format.language.lower()
    return bool(item.tests) and language in ("python", "python3", "py")


async def run_code(context: UnitContext, answer: str, tests: list[str]) -> CodeResult:
    fmt = context.unit.format
    return await run_tests(
        code_text(answer), tests, timeout_s=fmt.timeout_s, entry_point=fmt.entry_point
    )


def tests_passed(result: CodeResult) -> Verification:
    return Verification(
        status="verified",
        k=result.tests,
        votes={"passed": result.passed_tests},
        agreement=1.0,
        method="tests",
    )
