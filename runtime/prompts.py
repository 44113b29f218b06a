"""Render chat requests from a plan's templates.

Templates run in the compiler's sandboxed environment with the variables the compiler
checked them against: `seed`, `item`, `task`, `vars`, `format` and `n`.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

import msgspec
from jinja2 import Template

from taskseed.contract.jinja_env import environment
from taskseed.contract.plan import Plan, PlanPrompt, PlanSampling, Unit
from taskseed.contract.records import ItemFields, SeedRecord, record_dict
from taskseed.runtime.engines.base import ChatRequest, Message, Sampling


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    return environment().from_string(source)


def item_dict(
    item: ItemFields, kind: str | None = None, seed_id: str | None = None
) -> dict[str, Any]:
    values = msgspec.structs.asdict(item)
    values.setdefault("kind", kind)
    values.setdefault("seed_id", seed_id)
    return values


def task_context(unit: Unit) -> dict[str, Any]:
    return {
        "id": unit.id,
        "name": unit.task,
        "subtask": unit.subtask,
        "title": unit.title,
        "domain": unit.domain,
        "vars": unit.vars,
    }


def request_seed(run_seed: int, *parts: str) -> int:
    """A sampling seed derived from the run's --seed and what the request is for."""
    digest = hashlib.sha256("|".join((str(run_seed), *parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**31)


def capped(spec: PlanSampling, max_tokens: int | None) -> PlanSampling:
    """The sampling parameters with max_tokens capped (for quick runs and tests)."""
    if max_tokens is None or spec.max_tokens <= max_tokens:
        return spec
    return msgspec.structs.replace(spec, max_tokens=max_tokens)


def sampling(spec: PlanSampling, seed: int) -> Sampling:
    return Sampling(
        temperature=spec.temperature,
        top_p=spec.top_p,
        max_tokens=spec.max_tokens,
        stop=tuple(spec.stop),
        seed=spec.seed if spec.seed is not None else seed,
    )


def render(
    plan: Plan,
    unit: Unit,
    prompt: PlanPrompt,
    *,
    seed: SeedRecord,
    item: dict[str, Any] | None,
    n: int,
    scores: dict[str, Any] | None = None,
) -> tuple[Message, ...]:
    context = {
        "seed": record_dict(seed),
        "item": item,
        "task": task_context(unit),
        "vars": unit.vars,
        "format": msgspec.structs.asdict(unit.format),
        "n": n,
    }
    if scores is not None:  # the judge's score schema
        context["scores"] = scores
    messages = []
    if prompt.system is not None:
        text = _compiled(plan.templates[prompt.system].text).render(context).strip()
        messages.append(Message("system", text))
    user = _compiled(plan.templates[prompt.user].text).render(context).strip()
    messages.append(Message("user", user))
    return tuple(messages)


def chat_request(
    messages: tuple[Message, ...],
    spec: PlanSampling,
    seed: int,
    *,
    n: int = 1,
    json_schema: dict[str, Any] | None = None,
) -> ChatRequest:
    return ChatRequest(
        messages=messages, sampling=sampling(spec, seed), n=n, json_schema=json_schema
    )
