"""Stage 6, enrich: `answer_enriched` (a reasoning trace whose final answer must agree
with the verified one; for code, a solution that must pass the item's tests, and
becomes the record's answer) and `context_enriched` (background knowledge or a
passage), for verified items or for the seed itself (`from: seed`). The unit then
filters and decontaminates the enriched items again.

A prompt that fails to render, or a request the engine does not answer, is one reject
for the input item; an answer that does not parse or does not agree is a reject for
that sample.
"""

from __future__ import annotations

import msgspec

from taskseed.contract.plan import PlanStep
from taskseed.contract.records import OutputRecord
from taskseed.runtime import output_schemas
from taskseed.runtime.answers import answer_key, same_answer
from taskseed.runtime.parse import Malformed, parse_fields
from taskseed.runtime.prompts import capped, chat_request, item_dict, render, request_seed
from taskseed.runtime.results import record_id
from taskseed.runtime.stages.base import Slice, Stage, template_failure
from taskseed.runtime.stages.verify import UNCHECKED, run_code, runs_code, tests_passed


class Enrich(Stage):
    name = "enrich"

    async def run(self, step: PlanStep, item: OutputRecord, current: Slice) -> list[OutputRecord]:
        unit, fmt, funnel = self.unit, self.unit.format, current.funnel
        options = self.context.options
        seed = current.seeds[item.seed_id]
        failed_id = record_id(unit.id, item.id, step.kind)
        try:
            messages = render(
                self.context.plan,
                unit,
                step.prompt,
                seed=seed,
                item=item_dict(item),
                n=step.per_seed,
            )
        except Exception as exc:  # the template's own failure, whatever its class
            reason = template_failure(exc)
            funnel.reject(self.name, failed_id, reason, kind=step.kind, seed_id=item.seed_id)
            return []
        schema = (
            output_schemas.answer_enriched(fmt, item)
            if step.kind == "answer_enriched"
            else output_schemas.context_enriched()
        )
        request = chat_request(
            messages,
            capped(step.sampling, options.max_tokens),
            request_seed(options.seed, unit.id, item.id, step.kind),
            n=step.per_seed,
            json_schema=schema,
        )
        result = await self.context.calls.call(request, funnel.tokens, self.name)
        if isinstance(result, str):
            funnel.reject(self.name, failed_id, result, kind=step.kind, seed_id=item.seed_id)
            return []
        out = []
        for index, choice in enumerate(result.choices):
            item_id = record_id(unit.id, item.id, step.kind, str(index))
            names = ("rationale", "answer") if step.kind == "answer_enriched" else ("context",)
            fields = parse_fields(choice, names)
            if isinstance(fields, Malformed):
                self.malformed(funnel, item_id, fields, step.kind, item.seed_id, choice.text)
                continue
            if step.kind == "answer_enriched":
                key = answer_key(fields["answer"], fmt, item.choices)
                extractable = fmt.type not in ("code", "free_form")
                if extractable and (
                    key is None or not same_answer(key, item.answer, fmt, item.choices)
                ):
                    funnel.reject(
                        self.name,
                        item_id,
                        f"the explanation ends at {fields['answer']!r}, not at the "
                        f"verified answer {item.answer!r}",
                        kind=step.kind,
                        seed_id=item.seed_id,
                    )
                    continue
                enriched = msgspec.structs.replace(item, rationale=fields["rationale"])
                if fmt.type == "code" and runs_code(self.context, item):
                    # The explanation comes with its own solution: it must pass the
                    # item's tests too, and is the answer the explanation belongs to.
                    assert item.tests is not None
                    tested = await run_code(self.context, fields["answer"], item.tests)
                    if tested.status in UNCHECKED:
                        funnel.reject(
                            self.name,
                            item_id,
                            "the explanation's solution could not be checked: " + tested.reason,
                            kind=step.kind,
                            seed_id=item.seed_id,
                        )
                        continue
                    if not tested.passed:
                        funnel.reject(
                            self.name,
                            item_id,
                            f"the explanation's solution fails the item's tests: {tested.reason}",
                            kind=step.kind,
                            seed_id=item.seed_id,
                        )
                        continue
                    enriched = msgspec.structs.replace(
                        enriched, answer=fields["answer"], verification=tests_passed(tested)
                    )
            else:
                context = fields["context"]
                if item.context:
                    context = f"{context}\n\n{item.context}"
                enriched = msgspec.structs.replace(item, context=context)
            out.append(
                msgspec.structs.replace(enriched, id=item_id, kind=step.kind, parent_id=item.id)
            )
        return out
