"""`make bench-filters` (second half): the fused polars filter and the polars vote, each
beside a plain Python loop doing the same work over the same data, in one run.

1. Filters: a million synthetic multiple-choice rows (questions, options, answers,
   sometimes a passage), with a realistic share failing each check, run through the
   plan's fused polars expression (`filters.reason_expression`, with the structural
   checks of the catalog's `arc` unit: character bounds, option count, answer among the
   options, distinct options, `forbid`) and through a Python loop that implements the
   same checks, in the same order, with `re`. Both must give every row the same reason
   (asserted). Timed: the polars expression over a ready frame, the unit's whole path
   (`reject_reasons`: list of dicts -> frame -> reasons), and the Python loop. Then the
   unit's whole default gate (quality checks included: language identification and
   repetition run per row) over the first `QUALITY_ROWS` rows, for its cost per item.
2. Votes: 250,000 items with k = 4 sampled answers each (some abstaining, some tied),
   counted by `verify.tally` / `verify.vote_many` (one polars group-by, and in batches
   of 512 as the unit's micro-batcher sends them) beside a `collections.Counter` loop
   per item. The records must be identical (asserted).

Every figure is measured in this run; best of `REPEATS` timings.
"""

from __future__ import annotations

import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from taskseed.compiler.driver import compile_paths
from taskseed.contract.plan import PlanBounds, PlanFilters, PlanFormat
from taskseed.contract.records import Verification
from taskseed.runtime.degenerate import normalize
from taskseed.runtime.filters import checks, reason_expression, reject_reasons
from taskseed.runtime.filters import frame as filters_frame
from taskseed.runtime.verify import Ballot, tally, vote_many

REPO = Path(__file__).resolve().parent.parent
ROWS = 1_000_000
ITEMS = 250_000
K = 4
BATCH = 512
REPEATS = 3
SEED = 7
QUALITY_ROWS = 20_000
# Character bounds as the catalog's defaults had them before weighted lengths, so that
# the structural comparison keeps its four bound checks.
BOUNDS = {
    "question": PlanBounds(min=12, max=6000),
    "answer": PlanBounds(min=1, max=4000),
    "context": PlanBounds(min=40, max=12000),
    "options": PlanBounds(min=2, max=10),
}

WORDS = [
    "which",
    "gas",
    "plants",
    "take",
    "in",
    "from",
    "air",
    "water",
    "cycle",
    "energy",
    "light",
    "heat",
    "sound",
    "rock",
    "soil",
    "mineral",
    "magnet",
    "force",
    "motion",
    "friction",
    "planet",
    "moon",
    "star",
    "orbit",
    "cell",
    "organ",
    "tissue",
    "animal",
    "habitat",
    "food",
    "chain",
    "producer",
    "consumer",
    "weather",
    "climate",
    "season",
    "volcano",
    "earthquake",
    "fossil",
    "layer",
    "erosion",
    "current",
    "circuit",
    "battery",
    "metal",
    "wood",
    "plastic",
    "glass",
]


# ----------------------------------------------------------------- the data


def sentence(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:chars]


def make_rows(count: int) -> list[dict[str, Any]]:
    """Rows like parsed items; about 11% fail one check or more. Texts come from pools
    (every question is made unique by its number), so that making them is quick."""
    rng = random.Random(SEED)
    questions = [sentence(rng, rng.randint(40, 300)) for _ in range(4000)]
    long_questions = [sentence(rng, 6100) for _ in range(20)]
    passages = [sentence(rng, rng.randint(120, 600)) for _ in range(1000)]
    options = [sentence(rng, rng.randint(3, 30)) for _ in range(4000)]
    option_sets = [rng.sample(options, rng.choice((3, 4, 4, 4, 5))) for _ in range(20_000)]
    many_options = [rng.sample(options, 11) for _ in range(200)]
    rows = []
    random_ = rng.random
    for i in range(count):
        roll = random_()
        question = f"{questions[i % 4000]} (item {i})?"
        choices = option_sets[int(random_() * 20_000)]
        answer = choices[i % len(choices)]
        context: str | None = passages[i % 1000] if random_() < 0.3 else None
        if roll < 0.02:  # too short
            question = f"Why {i % 10}?"
        elif roll < 0.025:  # too long
            question = long_questions[i % 20]
        elif roll < 0.04:  # a passage that is too short
            context = "A short note."
        elif roll < 0.05:  # one option only
            choices = [answer]
        elif roll < 0.055:  # too many options
            choices = many_options[i % 200]
            answer = choices[0]
        elif roll < 0.075:  # the answer is not an option
            answer = answer + " (revised)"
        elif roll < 0.095:  # options that repeat each other, up to case and spaces
            choices = [*choices[:-1], f" {choices[0].upper()} "]
            answer = choices[0]
        elif roll < 0.105:  # refusals
            question = f"As an AI, I cannot say {question}"
        elif roll < 0.11:  # an empty answer
            answer = ""
            choices = [*choices[:-1], ""]
        rows.append(
            {
                "id": f"r{i}",
                "question": question,
                "context": context,
                "choices": choices,
                "answer": answer,
                "rationale": None,
            }
        )
    return rows


# --------------------------------------------------- the same checks in Python


Check = tuple[str, Callable[[dict[str, Any]], bool]]


def python_checks(filters: PlanFilters, fmt: PlanFormat) -> list[Check]:
    """filters.checks() as plain Python predicates (true for rows that pass), in order."""
    out: list[Check] = []

    def size_of(name: str) -> Callable[[dict[str, Any]], int | None]:
        if name == "options":
            return lambda row: None if row["choices"] is None else len(row["choices"])
        return lambda row: None if row.get(name) is None else len(row[name])

    for name, bounds in filters.bounds.items():
        size = size_of(name)
        what = "[options] options" if name == "options" else f"[chars] characters in `{name}`"
        code, _, what = what.partition(" ")
        if bounds.min is not None:
            low = bounds.min
            out.append(
                (
                    f"{code} fewer than {low} {what}",
                    lambda row, s=size, low=low: (n := s(row)) is None or n >= low,
                )
            )
        if bounds.max is not None:
            high = bounds.max
            out.append(
                (
                    f"{code} more than {high} {what}",
                    lambda row, s=size, high=high: (n := s(row)) is None or n <= high,
                )
            )
    if fmt.type == "multiple_choice":
        if filters.answer_in_options:
            out.append(
                (
                    "[answer-options] answer is not among the options",
                    lambda row: row["choices"] is not None and row["answer"] in row["choices"],
                )
            )
        if filters.distinct_options:

            def distinct(row: dict[str, Any]) -> bool:
                choices = row["choices"]
                if choices is None:
                    return True
                return len({normalize(c) for c in choices}) == len(choices)

            out.append(("[duplicate-options] options repeat each other", distinct))
    for name, patterns in filters.require.items():
        for pattern in patterns:
            out.append(
                (f"[require] `{name}` does not match {pattern!r}", matcher(name, pattern, True))
            )
    for name, patterns in filters.forbid.items():
        for pattern in patterns:
            found = matcher(name, pattern, False)
            out.append(
                (
                    f"[forbid] `{name}` matches forbidden {pattern!r}",
                    lambda row, f=found: not f(row),
                )
            )
    return out


def matcher(name: str, pattern: str, every: bool) -> Callable[[dict[str, Any]], bool]:
    regex = re.compile(pattern)
    if name == "choices":

        def over_choices(row: dict[str, Any]) -> bool:
            values = row["choices"]
            if values is None:
                return not every
            hits = (regex.search(v) is not None for v in values)
            return all(hits) if every else any(hits)

        return over_choices

    def over_field(row: dict[str, Any]) -> bool:
        value = row.get(name)
        return (not every) if value is None else regex.search(value) is not None

    return over_field


def python_reasons(rows: Sequence[dict[str, Any]], pairs: list[Check]) -> list[str | None]:
    out: list[str | None] = []
    for row in rows:
        reason = None
        for text, passes in pairs:
            if not passes(row):
                reason = text
                break
        out.append(reason)
    return out


# ---------------------------------------------------------------- the votes


def make_ballots(count: int) -> tuple[list[list[str | None]], list[str]]:
    rng = random.Random(SEED + 1)
    options = [f"option text {i}" for i in range(40)]
    ballots: list[list[str | None]] = []
    answers = []
    for _ in range(count):
        mine = rng.sample(options, 4)
        answer = mine[0]
        weights = (0.7, 0.1, 0.1, 0.1) if rng.random() < 0.8 else (0.25, 0.25, 0.25, 0.25)
        keys: list[str | None] = []
        for _ in range(K):
            keys.append(None if rng.random() < 0.05 else rng.choices(mine, weights)[0])
        ballots.append(keys)
        answers.append(answer)
    return ballots, answers


def counter_vote(
    keys: list[str | None], k: int, threshold: float, answer: str, method: str
) -> tuple[Verification, bool]:
    """The vote as a Counter loop (the previous implementation), for comparison."""
    counts = Counter(key for key in keys if key is not None)
    majority = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] if counts else None
    agreeing = sum(count for key, count in counts.items() if key == answer)
    agreement = agreeing / k if k else 0.0
    passed = majority is not None and majority == answer and agreement >= threshold
    record = Verification(
        status="verified" if passed else "unverified",
        k=k,
        votes=dict(sorted(counts.items())),
        majority=majority,
        agreement=round(agreement, 4),
        method=method,
    )
    return record, passed


def counter_tally(ballots: list[list[str | None]]) -> list[list[tuple[str, int]]]:
    out = []
    for keys in ballots:
        counts = Counter(key for key in keys if key is not None)
        out.append(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return out


# ---------------------------------------------------------------- timing


def best(fn: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>13,.0f}/s  ({seconds:6.3f} s)"


def main() -> int:
    result = compile_paths([REPO / "taskspecs/reasoning/arc.yaml"], root=REPO)
    assert result.plan is not None, [d.message for d in result.diagnostics]
    unit = result.plan.units[0]
    fmt = unit.format
    filters = PlanFilters(
        bounds=BOUNDS,
        answer_in_options=unit.filters.answer_in_options,
        distinct_options=unit.filters.distinct_options,
        require=unit.filters.require,
        forbid=unit.filters.forbid,
    )
    pairs = checks(filters, fmt)
    print(f"filter bench: {ROWS:,} rows, the filters of {unit.id} ({len(pairs)} checks):")
    for text, _ in pairs:
        print(f"  - {text}")

    start = time.perf_counter()
    rows = make_rows(ROWS)
    print(f"data: made in {time.perf_counter() - start:.1f} s")
    frame_s, frame = best(lambda: filters_frame(rows), repeats=1)

    expression = reason_expression(pairs).alias("reason")
    polars_s, polars_out = best(lambda: frame.select(expression)["reason"].to_list())
    path_s, path_out = best(lambda: reject_reasons(rows, filters, fmt), repeats=1)
    loop = python_checks(filters, fmt)
    python_s, python_out = best(lambda: python_reasons(rows, loop), repeats=1)

    assert polars_out == python_out, "polars and Python disagree"
    assert path_out == python_out, "reject_reasons and Python disagree"
    failing = Counter(r for r in python_out if r is not None)
    print(f"rows failing a check: {sum(failing.values()):,} ({sum(failing.values()) / ROWS:.1%})")
    for reason, count in failing.most_common():
        print(f"  {count:>8,}  {reason}")
    print("identical reasons from polars and Python: yes (asserted, every row)")
    print(f"polars fused expression (frame ready)  {rate(ROWS, polars_s)}")
    print(f"  building that frame from the dicts   {rate(ROWS, frame_s)}")
    print(f"polars reject_reasons (dicts -> frame) {rate(ROWS, path_s)}")
    print(f"python loop over the same dicts        {rate(ROWS, python_s)}")
    print(
        f"ratio: fused expression {python_s / polars_s:.1f}x the Python loop; "
        f"reject_reasons, frame building included, {python_s / path_s:.1f}x"
    )

    sample = rows[:QUALITY_ROWS]
    gate_s, gated = best(lambda: reject_reasons(sample, unit.filters, fmt), repeats=1)
    refused = Counter(r.split("]")[0] + "]" for r in gated if r is not None)
    print(
        f"the unit's whole default gate ({len(checks(unit.filters, fmt))} checks, language "
        f"and repetition included) {rate(len(sample), gate_s)}"
    )
    print(f"  refused by code: {dict(sorted(refused.items()))}")

    ballots, answers = make_ballots(ITEMS)
    votes = ITEMS * K
    print(f"\nvote bench: {ITEMS:,} items x k={K} ({votes:,} votes, ~5% abstaining)")
    tally_s, tallied = best(lambda: tally(ballots))
    counter_tally_s, counted = best(lambda: counter_tally(ballots))
    assert tallied == counted, "polars tally and Counter disagree"
    ballot_objects = [
        Ballot(keys, K, 0.75, (lambda key, a=answer: key == a), "option")
        for keys, answer in zip(ballots, answers, strict=True)
    ]
    many_s, many = best(lambda: vote_many(ballot_objects))
    batched_s, batched = best(
        lambda: [
            r for i in range(0, ITEMS, BATCH) for r in vote_many(ballot_objects[i : i + BATCH])
        ]
    )
    loop_s, looped = best(
        lambda: [
            counter_vote(keys, K, 0.75, answer, "option")
            for keys, answer in zip(ballots, answers, strict=True)
        ]
    )
    assert many == looped and batched == looped, "polars vote and Counter vote disagree"
    ties = sum(1 for r in counted if len(r) > 1 and r[0][1] == r[1][1])
    passed = sum(1 for _, ok in looped if ok)
    print(f"items with a tie for the majority: {ties:,}; items passing: {passed:,}")
    print("identical records from polars and Counter: yes (asserted, every item)")
    print(f"polars group-by tally, one frame      {rate(votes, tally_s)}")
    print(f"Counter tally loop                    {rate(votes, counter_tally_s)}")
    print(f"polars vote_many, one group-by        {rate(votes, many_s)}")
    print(f"polars vote_many, batches of {BATCH}      {rate(votes, batched_s)}")
    print(f"Counter vote loop (previous vote)     {rate(votes, loop_s)}")
    print(
        f"ratio: tally {counter_tally_s / tally_s:.1f}x, vote_many {loop_s / many_s:.1f}x, "
        f"batched {loop_s / batched_s:.1f}x the Counter loops"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
