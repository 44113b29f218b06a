"""The shipped catalog: every fixture row maps to a well-formed record, every seed split
is a training split, every family cites its data and ships fixture rows: 3 to 5 in a
fixture, or up to three for each subtask that reads it, so that every subtask's
`seeds.where` keeps rows of its own."""

from __future__ import annotations

import shutil
from collections import defaultdict
from functools import cache
from pathlib import Path

import msgspec
import pytest

from taskseed.compiler.driver import compile_paths
from taskseed.contract.mapping import compile_expr, normalize
from taskseed.contract.plan import Plan, Unit
from taskseed.contract.splits import is_training_name, split_name
from taskseed.runtime.answers import parse_number
from taskseed.runtime.filters import reject_reasons
from taskseed.runtime.prompts import render

REPO = Path(__file__).resolve().parents[2]


@cache
def catalog() -> Plan:
    result = compile_paths([REPO / "taskspecs"], root=REPO)
    assert result.plan is not None, [f"{d.code} {d.message}" for d in result.diagnostics]
    return result.plan


def units() -> list[Unit]:
    return list(catalog().units)


def kept_rows(unit: Unit) -> list[dict[str, object]]:
    assert unit.seeds.fixture is not None, f"{unit.id} has no fixture"
    rows = catalog().fixtures[unit.seeds.fixture].rows
    if unit.seeds.where is None:
        return list(rows)
    keep = compile_expr(unit.seeds.where)
    return [row for row in rows if keep(row)]


@pytest.mark.parametrize("unit", units(), ids=lambda u: u.id)
def test_fixture_rows_map_to_well_formed_records(unit: Unit) -> None:
    for row in kept_rows(unit):
        record = normalize(row, unit.mapping, unit.format, unit.task, unit.subtask)
        assert record.question.strip() and record.answer.strip()
        if unit.format.type == "multiple_choice":
            assert record.choices and len(record.choices) >= 2
            assert record.answer_index is not None
            assert record.choices[record.answer_index] == record.answer
        else:
            assert record.choices is None
        if unit.format.type == "numeric":
            assert parse_number(record.answer) is not None, record.answer
        if unit.mapping.tests is not None:
            assert record.tests, f"{unit.id}: a code seed without tests"


def test_every_family_ships_fixture_rows_that_map() -> None:
    fixtures: dict[str, set[str]] = defaultdict(set)
    readers: dict[str, int] = defaultdict(int)  # units per fixture
    mapped: dict[str, set[int]] = defaultdict(set)
    for unit in units():
        assert unit.seeds.fixture is not None, unit.id
        fixtures[unit.task].add(unit.seeds.fixture)
        readers[unit.seeds.fixture] += 1
        rows = catalog().fixtures[unit.seeds.fixture].rows
        kept = kept_rows(unit)
        mapped[unit.task].update(i for i, row in enumerate(rows) if row in kept)
    for task, keys in fixtures.items():
        for key in keys:
            count = len(catalog().fixtures[key].rows)
            most = max(5, 3 * readers[key])
            assert 3 <= count <= most, f"{task}: {count} fixture rows (3 to {most})"
        assert len(mapped[task]) >= 3, f"{task}: only {len(mapped[task])} fixture rows map"


@pytest.mark.parametrize("unit", units(), ids=lambda u: u.id)
def test_every_subtask_keeps_fixture_rows_of_its_own(unit: Unit) -> None:
    """`taskseed run taskspecs --fixtures` gives every subtask at least one seed: its
    `seeds.where` keeps at least one row of its fixture (the compiler warns, TS409)."""
    assert kept_rows(unit), f"{unit.id}: `seeds.where` keeps none of its fixture rows"


PER_CONFIG_FIXTURES = {
    *("wmt", "indicxnli", "headqa", "xnli", "paws_x", "xstorycloze", "m_arc"),
    *("indic_glue_wstp", "noropenbookqa"),
}


def test_language_families_read_one_fixture_per_config() -> None:
    """Where a config is a language or a language pair, each config reads rows of its
    own language: a subtask's check never passes on another config's rows."""
    by_task: dict[str, dict[str | None, set[str]]] = defaultdict(lambda: defaultdict(set))
    for unit in units():
        if unit.task in PER_CONFIG_FIXTURES:
            load = unit.seeds.config or repr(unit.seeds.data_files)
            by_task[unit.task][unit.seeds.fixture].add(load)
    assert set(by_task) == PER_CONFIG_FIXTURES
    for task, fixtures in by_task.items():
        for key, loads in fixtures.items():
            assert len(loads) == 1, f"{task}: fixture {key} is read by configs {sorted(loads)}"


@pytest.mark.parametrize("unit", units(), ids=lambda u: u.id)
def test_seed_splits_are_training_splits(unit: Unit) -> None:
    seeds = unit.seeds
    assert split_name(seeds.split) not in {split_name(s) for s in seeds.eval_splits}
    assert is_training_name(seeds.split) or seeds.training_split_reason
    assert "test" not in split_name(seeds.split).lower()
    assert split_name(seeds.split).lower() not in {"validation", "valid", "dev", "eval"}


def test_every_family_cites_its_data() -> None:
    for unit in units():
        source = unit.source
        assert source.citation.strip() and source.license.strip(), unit.id
        assert source.url and source.url.startswith("https://"), unit.id
        assert unit.seeds.dataset or unit.seeds.files, unit.id


def test_both_domains_are_covered() -> None:
    domains = defaultdict(set)
    for unit in units():
        domains[unit.domain].add(unit.task)
    assert set(domains) == {"knowledge", "reasoning"}


def test_catalog_size() -> None:
    """About 70 task families and 700 subtasks, as the method this catalog follows."""
    families: dict[str, set[str]] = defaultdict(set)
    subtasks: dict[str, int] = defaultdict(int)
    for unit in units():
        families[unit.domain].add(unit.task)
        subtasks[unit.domain] += 1
    assert sum(len(f) for f in families.values()) >= 65
    assert sum(subtasks.values()) >= 650
    assert min(len(f) for f in families.values()) >= 30
    assert min(subtasks.values()) >= 250


def test_every_seed_passes_its_subtasks_quality_filters() -> None:
    """The default checks fit every subtask: its own seeds (real items, written in the
    dataset's format) pass them. The language check is left out where the spec names
    the language: a matrix of languages shares one fixture file, whose rows are in
    whatever language they were written in."""
    failures = []
    for unit in units():
        records = [
            msgspec.structs.asdict(
                normalize(row, unit.mapping, unit.format, unit.task, unit.subtask)
            )
            for row in kept_rows(unit)
        ]
        for record, reason in zip(
            records, reject_reasons(records, unit.filters, unit.format), strict=True
        ):
            if reason is None:
                continue
            if reason.startswith("[lang]") and unit.filters.language.code_from == "spec":
                continue
            failures.append(f"{unit.id}: {reason}: {record['question'][:60]!r}")
    assert not failures, "\n".join(failures)


def test_every_subtask_knows_its_language() -> None:
    """A language from the spec, or detected from the fixture rows; none only where the
    spec turns language checks off (translation, BIG-bench's mixed matrix)."""
    unknown = [u.id for u in units() if u.filters.language.code is None]
    assert {u.split("/")[0] for u in unknown} <= {
        "wmt",
        "bigbench_generate",
        "bigbench_generate_free_form",
        "bigbench_multiple_choice",
    }
    detected = {u.id: u.filters.language.code for u in units()}
    assert detected["kmmlu/Accounting"] == "ko"
    assert detected["c3/dialog"] == "zh"
    assert detected["jsquad/default"] == "ja"
    assert detected["catalanqa/default"] == "ca"
    assert detected["norquad/default"] == "no"
    assert detected["exams/bulgarian"] == "bg"  # named by the spec, as `bulgarian`
    assert detected["xnli/fr"] == "fr"
    assert detected["arc/easy"] == "en"


def test_every_checked_language_is_declared_by_its_spec() -> None:
    """Compiling the catalog never has to identify a language (which loads the
    identifier's model): every subtask with a language check names its language."""
    detected = sorted(
        u.id
        for u in units()
        if u.filters.language is not None
        and u.filters.language.code_from != "spec"
        and u.filters.language.code is not None
    )
    assert not detected, f"declare `language:` in these specs: {detected[:10]}"


def _language_cases() -> list[Unit]:
    """One unit per spec file and declared language (the specs' own families)."""
    seen: dict[tuple[str, str], Unit] = {}
    for unit in units():
        language = unit.filters.language
        if language is not None and language.code is not None and unit.seeds.fixture:
            seen.setdefault((unit.origin, language.code), unit)
    return [seen[k] for k in sorted(seen)]


@pytest.mark.parametrize("unit", _language_cases(), ids=lambda u: u.id)
def test_declared_languages_agree_with_the_fixture_rows(unit: Unit) -> None:
    from taskseed.contract.language import detect_language, relatives

    assert unit.filters.language is not None and unit.filters.language.code is not None
    declared = unit.filters.language.code
    records = [
        normalize(row, unit.mapping, unit.format, unit.task, unit.subtask)
        for row in kept_rows(unit)
    ]
    texts = [t for r in records for t in (r.question, r.context) if t]
    guess = detect_language(texts)
    # The identifier may abstain (exams/croatian, m_arc/hr and paws_x/zh have fixture
    # rows too short or too close to a neighbour to call); it must never contradict.
    assert guess is None or guess.code == declared or guess.code in relatives(declared), (
        f"{unit.origin} declares `{declared}` but its fixture rows read as `{guess.code}`"
    )


def test_the_judge_is_off_in_the_catalog() -> None:
    assert not any(unit.judge.enabled for unit in units())


def test_a_catalog_spec_that_turns_the_judge_on_gets_the_shared_rubric(tmp_path: Path) -> None:
    """`judge: {enabled: true}` in a catalog spec: the shared template and system text
    from `_defaults.yaml`, the rubric's defaults, and a prompt that renders for a
    fixture row with every criterion and the score range in it."""
    root = tmp_path / "taskspecs"
    root.mkdir()
    for name in ("_defaults.yaml", "_multiple_choice.yaml"):
        shutil.copy(REPO / "taskspecs" / name, root / name)
    shutil.copytree(REPO / "taskspecs/_templates", root / "_templates")
    shutil.copytree(REPO / "taskspecs/knowledge/fixtures", root / "knowledge/fixtures")
    spec = (REPO / "taskspecs/knowledge/sciq.yaml").read_text()
    (root / "knowledge/sciq.yaml").write_text(spec + "\njudge: {enabled: true}\n")
    result = compile_paths([root / "knowledge/sciq.yaml"], root=tmp_path)
    assert result.plan is not None, [f"{d.code} {d.message}" for d in result.diagnostics]
    plan = result.plan
    unit = plan.units[0]
    judge = unit.judge
    assert judge.enabled and judge.k == 3 and judge.threshold == 3.0
    assert (judge.min, judge.max) == (1, 5)
    assert judge.criteria == ["correctness", "clarity", "self_contained"]
    assert judge.prompt is not None and judge.prompt.system is not None
    assert plan.templates[judge.prompt.user].origin == "taskspecs/_templates/judge/default.j2"
    assert unit.seeds.fixture is not None
    row = plan.fixtures[unit.seeds.fixture].rows[0]
    seed = normalize(row, unit.mapping, unit.format, unit.task, unit.subtask)
    scores = {"criteria": judge.criteria, "min": judge.min, "max": judge.max}
    item = msgspec.structs.asdict(seed)
    system, user = render(plan, unit, judge.prompt, seed=seed, item=item, n=3, scores=scores)
    assert system.role == "system" and "JSON" in system.content
    assert seed.question in user.content and f"Answer: {seed.answer}" in user.content
    assert "from 1 (worst) to 5 (best)" in user.content
    for criterion in judge.criteria:
        assert f"- {criterion}: " in user.content
