"""Stage 5b, judge (optional, `judge.enabled`): an LLM judge scores each verified
similar question by the spec's rubric, k samples in one request (`judging.py`).

Each sample gives every criterion an integer score in the schema's range and a short
verdict; a sample that does not abstains. The item is kept when the mean score over
its criteria and usable samples reaches the threshold, with the judgement on its
record; otherwise it is a reject whose reason gives the means (`[judge] mean score
2.33 below threshold 3.0 (...)`), or says that no sample was usable. A prompt that
fails to render, or a request the engine does not answer, is a reject of this stage.
Kept items count as `judged`; a unit whose judge is off never reaches this stage.
"""

from __future__ import annotations

import msgspec

from taskseed.contract.records import OutputRecord
from taskseed.runtime import output_schemas
from taskseed.runtime.judging import judge, parse_scoring
from taskseed.runtime.prompts import capped, chat_request, item_dict, render, request_seed
from taskseed.runtime.stages.base import Slice, Stage, template_failure


class Judge(Stage):
    name = "judge"

    async def run(self, item: OutputRecord, current: Slice) -> OutputRecord | None:
        spec, funnel = self.unit.judge, current.funnel
        assert spec.enabled and spec.prompt is not None and spec.sampling is not None
        scores = {"criteria": list(spec.criteria), "min": spec.min, "max": spec.max}
        try:
            messages = render(
                self.context.plan,
                self.unit,
                spec.prompt,
                seed=current.seeds[item.seed_id],
                item=item_dict(item),
                n=spec.k,
                scores=scores,
            )
        except Exception as exc:  # the template's own failure, whatever its class
            self.drop(funnel, item, template_failure(exc))
            return None
        options = self.context.options
        request = chat_request(
            messages,
            capped(spec.sampling, options.max_tokens),
            request_seed(options.seed, self.unit.id, item.id, "judge"),
            n=spec.k,
            json_schema=output_schemas.judge_scores(spec.criteria, spec.min, spec.max),
        )
        result = await self.context.calls.call(request, funnel.tokens, self.name)
        if isinstance(result, str):
            funnel.reject(self.name, item.id, result, kind=item.kind, seed_id=item.seed_id)
            return None
        samples = [
            parse_scoring(choice, spec.criteria, spec.min, spec.max) for choice in result.choices
        ]
        outcome = judge(samples, spec.criteria, spec.k, spec.threshold)
        judged = msgspec.structs.replace(item, judgement=outcome.judgement)
        if not outcome.passed:
            self.drop(funnel, judged, outcome.reason)
            return None
        funnel.kept("judged")
        self.context.progress("judge", 1)
        return judged
