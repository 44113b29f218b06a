"""The majority vote: agreement, threshold, abstentions and the deterministic tie rule."""

from __future__ import annotations

from collections.abc import Callable

from taskseed.runtime.verify import Ballot, tally, vote, vote_many


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


def test_many_items_vote_in_one_group_by() -> None:
    ballots = [
        Ballot(["a", "a", "b", "a"], 4, 0.75, same("a"), "option"),  # passes
        Ballot(["b", "a", "b", "a"], 4, 0.5, same("b"), "option"),  # a tie: "a" wins, fails
        Ballot([None, None, None, None], 4, 0.25, same("a"), "option"),  # all abstain
        Ballot(["z", "z", None, "y"], 4, 0.5, same("z"), "number"),  # abstention in k
        Ballot([], 0, 0.5, same("a"), "option"),  # nothing sampled
    ]
    results = vote_many(ballots)
    assert [passed for _, passed in results] == [True, False, False, True, False]
    first, tie, silent, abstained, empty = (record for record, _ in results)
    assert first.votes == {"a": 3, "b": 1} and first.agreement == 0.75
    assert tie.majority == "a" and tie.agreement == 0.5 and tie.status == "unverified"
    assert silent.majority is None and silent.votes == {} and silent.agreement == 0.0
    assert abstained.majority == "z" and abstained.agreement == 0.5
    assert abstained.method == "number" and abstained.k == 4
    assert empty.k == 0 and empty.agreement == 0.0
    # one ballot at a time gives the same records
    for ballot, (record, passed) in zip(ballots, results, strict=True):
        assert vote(
            list(ballot.keys), ballot.k, ballot.threshold, ballot.names_answer, ballot.method
        ) == (
            record,
            passed,
        )


def test_three_way_ties_and_order_independence() -> None:
    keys: list[str | None] = ["c", "b", "a", "c", "b", "a", None]
    record, _ = vote(keys, 7, 0.2, same("a"), "option")
    assert record.majority == "a" and record.votes == {"a": 2, "b": 2, "c": 2}
    for shift in range(len(keys)):
        rotated = keys[shift:] + keys[:shift]
        assert vote(rotated, 7, 0.2, same("a"), "option")[0] == record


def test_ties_use_code_point_order() -> None:
    # "Z" < "a" < "z" < "é" by code point; polars sorts strings by UTF-8 bytes, the same
    ranked = tally([["é", "z", "a", "Z", "é", "z", "a", "Z"], ["b", "b", "c"]])
    assert [key for key, _ in ranked[0]] == ["Z", "a", "z", "é"]
    assert ranked[1] == [("b", 2), ("c", 1)]
    assert tally([[None], []]) == [[], []]


def test_agreement_counts_every_key_that_names_the_answer() -> None:
    # numeric keys that differ as strings but name the same number all agree
    record, passed = vote(["18", "18.0", "18", "17"], 4, 0.75, lambda k: float(k) == 18, "number")
    assert passed and record.majority == "18" and record.agreement == 0.75
