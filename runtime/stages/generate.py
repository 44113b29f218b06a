"""Stage 3, generate: similar questions for one seed (`prompts.py`, `output_schemas.py`,
`parse.py`).

The seed's prompt is rendered in the sandboxed Jinja environment and sent with a JSON
schema (grammar-constrained where the engine supports it), `per_seed` samples in one
request. A prompt that fails to render, or a request the engine does not answer, is a
reject of this stage for each sample; an answer that does not parse into an item of
the unit's format is a `parse` reject keeping the start of its text.
"""

from __future__ import annotations

from taskseed.contract.plan import PlanStep
from taskseed.contract.records import OutputRecord, SeedRecord
from taskseed.runtime import output_schemas
from taskseed.runtime.engines.base import Message
from taskseed.runtime.parse import Malformed, parse_item
from taskseed.runtime.prompts import capped, chat_request, render, request_seed
from taskseed.runtime.results import record_id
from taskseed.runtime.stages.base import Funnel, Stage, template_failure


class Generate(Stage):
    name = "generate"

    async def run(self, seed: SeedRecord, step: PlanStep, funnel: Funnel) -> list[OutputRecord]:
        unit, options = self.unit, self.context.options
        ids = [record_id(unit.id, seed.id, step.kind, str(i)) for i in range(step.per_seed)]
        try:
            messages: tuple[Message, ...] = render(
                self.context.plan, unit, step.prompt, seed=seed, item=None, n=step.per_seed
            )
        except Exception as exc:  # the template's own failure, whatever its class
            for item_id in ids:
                funnel.reject(
                    self.name, item_id, template_failure(exc), kind=step.kind, seed_id=seed.id
                )
            return []
        request = chat_request(
            messages,
            capped(step.sampling, options.max_tokens),
            request_seed(options.seed, unit.id, seed.id, step.kind),
            n=step.per_seed,
            json_schema=output_schemas.similar_question(unit.format, seed),
        )
        result = await self.context.calls.call(request, funnel.tokens, self.name)
        if isinstance(result, str):
            for item_id in ids:
                funnel.reject(self.name, item_id, result, kind=step.kind, seed_id=seed.id)
            return []
        items = []
        for index, choice in enumerate(result.choices):
            funnel.kept("generated")
            item_id = record_id(unit.id, seed.id, step.kind, str(index))
            parsed = parse_item(choice, unit.format, seed, shuffle_key=item_id)
            if isinstance(parsed, Malformed):
                self.malformed(
                    funnel, item_id, parsed, step.kind, seed.id, choice.text, stage="parse"
                )
                continue
            funnel.kept("parsed")
            self.context.progress("generate", 1)
            items.append(self.context.record(parsed, item_id, step.kind, seed.id, None))
        return items
