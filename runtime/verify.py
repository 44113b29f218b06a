"""Stage 5, verify: a majority vote over k sampled answers, counted by a polars group-by.

Each sampled answer is reduced to a canonical key by its format's extractor (an answer
nothing can be extracted from abstains, but still counts in k). The majority is the
most frequent key; ties go to the lexicographically smallest key (by code point, which
is also polars' UTF-8 byte order), so the vote is deterministic. An item is kept only
when the majority names its own answer and the share of the k samples that do so
reaches the threshold.

`vote_many` votes for many items in one `group_by(item, key)`; the unit feeds it
through a micro-batcher, so items that finish their verification requests at about
the same time are counted together. `vote` is the same for one item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from taskseed.contract.records import Verification


@dataclass(frozen=True, slots=True)
class Ballot:
    """One item's sampled answers (None: an abstention) and how to judge them."""

    keys: Sequence[str | None]
    k: int
    threshold: float
    names_answer: Callable[[str], bool]
    method: str


def tally(ballots: Sequence[Sequence[str | None]]) -> list[list[tuple[str, int]]]:
    """For each ballot, its (key, votes) pairs, most votes first, ties by smallest key."""
    items: list[int] = []
    keys: list[str] = []
    for index, ballot in enumerate(ballots):
        for key in ballot:
            if key is not None:
                items.append(index)
                keys.append(key)
    out: list[list[tuple[str, int]]] = [[] for _ in ballots]
    if not keys:
        return out
    counted = (
        pl.DataFrame({"item": items, "key": keys}, schema={"item": pl.UInt32, "key": pl.String})
        .group_by("item", "key")
        .agg(pl.len().alias("votes"))
        .sort(["item", "votes", "key"], descending=[False, True, False])
    )
    columns = (counted[name].to_list() for name in ("item", "key", "votes"))
    for item, key, votes in zip(*columns, strict=True):
        out[item].append((key, votes))
    return out


def vote_many(ballots: Sequence[Ballot]) -> list[tuple[Verification, bool]]:
    """The verification record of each ballot, and whether its item passes."""
    results = []
    for ballot, ranked in zip(ballots, tally([b.keys for b in ballots]), strict=True):
        majority = ranked[0][0] if ranked else None
        names = {key: ballot.names_answer(key) for key, _ in ranked}
        agreeing = sum(votes for key, votes in ranked if names[key])
        agreement = agreeing / ballot.k if ballot.k else 0.0
        passed = majority is not None and names[majority] and agreement >= ballot.threshold
        record = Verification(
            status="verified" if passed else "unverified",
            k=ballot.k,
            votes=dict(sorted(ranked)),
            majority=majority,
            agreement=round(agreement, 4),
            method=ballot.method,
        )
        results.append((record, passed))
    return results


def vote(
    keys: list[str | None],
    k: int,
    threshold: float,
    names_answer: Callable[[str], bool],
    method: str,
) -> tuple[Verification, bool]:
    """The verification record, and whether the item passes."""
    return vote_many([Ballot(keys, k, threshold, names_answer, method)])[0]
