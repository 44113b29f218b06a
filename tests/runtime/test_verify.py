"""The majority vote: agreement, threshold, abstentions and the deterministic tie rule."""

from __future__ import annotations

from collections.abc import Callable

from taskseed.runtime.verify import vote


def same(answer: str) -> Callable[[str], bool]:
    return lambda key: key == answer


def test_unanimous_vote_passes() -> None:
    record, passed = vote(["a", "a", "a", "a"], 4, 0.75, same("a"), "option")
    assert passed and record.agreement == 1.0 and record.majority == "a"
    assert record.status == "verified" and record.votes == {"a": 4}


def test_agreement_below_threshold_fails() -> None:
    record, passed = vote(["a", "a", "b", "c"], 4, 0.75, same("a"), "option")
    assert not passed and record.majority == "a" and record.agreement == 0.5


def test_majority_for_another_answer_fails() -> None:
    _, passed = vote(["b", "b", "b", "a"], 4, 0.25, same("a"), "option")
    assert not passed


def test_abstentions_count_in_k() -> None:
    record, passed = vote(["a", None, None, "a"], 4, 0.75, same("a"), "option")
    assert not passed and record.agreement == 0.5 and record.votes == {"a": 2}


def test_ties_break_deterministically() -> None:
    first, _ = vote(["b", "a", "b", "a"], 4, 0.5, same("a"), "option")
    second, _ = vote(["a", "b", "a", "b"], 4, 0.5, same("a"), "option")
    assert first.majority == second.majority == "a"
    record, passed = vote(["z", "y", "z", "y"], 4, 0.5, same("z"), "option")
    assert record.majority == "y" and not passed


def test_no_extractable_answer() -> None:
    record, passed = vote([None, None], 2, 0.5, same("a"), "number")
    assert not passed and record.majority is None and record.agreement == 0.0
