"""Sampling for requests the tests build by hand (the runtime takes it from the plan)."""

from __future__ import annotations

from typing import Any

from taskseed.runtime.engines.base import Sampling


def TEST_SAMPLING(**overrides: Any) -> Sampling:
    return Sampling(**{"temperature": 0.7, "top_p": 1.0, "max_tokens": 256, **overrides})
