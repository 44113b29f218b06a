"""Split rules: which split names are training splits, and a split's name without its
slice. The compiler refuses specs that break them; the runtime refuses again whatever a
plan says, so both read the rule from here."""

from __future__ import annotations

import re

TRAINING_SPLIT = re.compile(r"^(train|training|auxiliary_train|train[_\-].+|.+[_\-]train)$")


def split_name(split: str) -> str:
    """`train[:10%]` -> `train`: the split's name without a slice."""
    return split.split("[", 1)[0].strip()


def is_training_name(split: str) -> bool:
    return bool(TRAINING_SPLIT.match(split_name(split).lower()))
