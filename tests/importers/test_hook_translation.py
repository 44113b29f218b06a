"""Python hooks read as Jinja expressions: small functions, then lm-eval's own hooks
checked against the real functions on rows written for these tests."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import types
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from taskseed.contract.mapping import compile_expr
from taskseed.importers.lm_eval_families import FamilyFinder
from taskseed.importers.lm_eval_hooks import Followed, HookReader, RowPlan
from taskseed.importers.py_eval import Walker
from taskseed.importers.py_module import Module
from taskseed.importers.py_values import Failed, Row, Rows, Value, render, template

# ---------------------------------------------------------------- small functions


def follow(source: str, name: str, arg: Value | None = None) -> Value:
    module = Module(Path("hooks.py"), source, lambda dotted, path: None)
    walker = Walker(module)
    func = walker.function(name)
    assert func is not None
    return walker.call(func, [arg if arg is not None else Row()], {})


def expression(source: str, name: str = "f") -> str:
    return render(follow(source, name)).text


def test_field_reads_and_string_building() -> None:
    source = 'def f(doc):\n    return f"Q: {doc[\'question\']}\\n" + doc["passage"].strip()\n'
    value = follow(source, "f")
    assert template(value) == "Q: {{ question }}\n{{ passage.strip() }}"
    row = {"question": "Why?", "passage": "  Because.  "}
    assert compile_expr(template(value))(row) == "Q: Why?\nBecause."


def test_branches_become_conditional_expressions() -> None:
    source = (
        "def f(doc):\n    if doc['label'] == 0:\n        return doc['a']\n    return doc['b']\n"
    )
    assert expression(source) == "a if label == 0 else b"


def test_constant_tables_and_loops_over_constants_are_worked_out() -> None:
    source = (
        "LETTERS = ['a', 'b']\n"
        "def f(doc):\n"
        "    text = ''\n"
        "    for letter, option in zip(LETTERS, doc['options']):\n"
        "        text += f'{letter.upper()}. {option}\\n'\n"
        "    return text + {'x': 'ex', 'y': 'why'}[doc['kind']]\n"
    )
    value = follow(source, "f")
    assert template(value) == (
        "A. {{ options[0] }}\nB. {{ options[1] }}\n{{ {'x': 'ex', 'y': 'why'}[kind] }}"
    )


def test_helper_functions_are_followed_and_mapped_over_lists() -> None:
    source = (
        "import re\n"
        "def clean(text):\n"
        "    text = text.strip()\n"
        "    text = re.sub('\\\\[.*?\\\\]', '', text)\n"
        "    return text\n"
        "def f(doc):\n"
        "    return [clean(e) for e in doc['endings']]\n"
    )
    text = expression(source)
    assert text == "endings|map('trim')|map('regex_replace', '\\\\[.*?\\\\]', '')|list"
    assert compile_expr(text)({"endings": [" a [x] ", "b"]}) == ["a ", "b"]


def test_what_cannot_be_followed_says_why() -> None:
    shuffled = (
        "import random\n"
        "def f(doc):\n"
        "    order = [0, 1]\n"
        "    random.Random(1).shuffle(order)\n"
        "    return order[0]\n"
    )
    assert follow(shuffled, "f") == Failed("a call that may change its arguments")
    loop = (
        "def f(doc):\n    out = ''\n    for x in doc['items']:\n        out += x\n    return out\n"
    )
    assert follow(loop, "f") == Failed("a loop over row data")


def test_dataset_map_and_filter() -> None:
    source = (
        "def process_docs(dataset):\n"
        "    def one(doc):\n"
        "        doc['question'] = ' '.join(doc['question'].split())\n"
        "        return doc\n"
        "    return dataset.filter(lambda d: len(d['fact']) > 0).map(one)\n"
    )
    rows = follow(source, "process_docs", Rows())
    assert isinstance(rows, Rows)
    assert [render(test).text for test in rows.keep] == ["fact|length > 0"]
    assert render(rows.row.read("question")).text == "' '.join(question.split())"


def test_nested_item_writes_are_read_back() -> None:
    source = (
        "def process_docs(dataset):\n"
        "    def one(doc):\n"
        "        for kind in ['short', 'long']:\n"
        "            doc['summaries'][kind] = doc['summaries'][kind].strip()\n"
        "        return doc\n"
        "    return dataset.map(one)\n"
        "def target(doc):\n"
        "    return doc['summaries']['long']\n"
    )
    rows = follow(source, "process_docs", Rows())
    assert isinstance(rows, Rows)
    value = follow(source, "target", rows.row)
    assert render(value).text == "summaries.long.strip()"


# ---------------------------------------------------- lm-eval's hooks, side by side

# Rows in each dataset's own format, written for these tests.
ROWS: dict[str, list[dict[str, Any]]] = {
    "hellaswag": [
        {
            "ind": 1,
            "activity_label": "Washing dishes",
            "ctx_a": "A man fills a sink with water.",
            "ctx_b": "he",
            "ctx": "A man fills a sink with water. he",
            "endings": [" adds soap [title] and scrubs.", "drinks it.", "leaves  the room. ", "x"],
            "source_id": "a",
            "split": "train",
            "split_type": "indomain",
            "label": "0",
        }
    ],
    "arc_de": [
        {
            "id": "q1",
            "instruction": "  Welches Tier   legt Eier? ",
            "option_a": "Hund",
            "option_b": " Huhn ",
            "option_c": "Katze",
            "option_d": "Pferd",
            "option_e": "",
            "answer": "B",
        }
    ],
    "paws_en": [
        {
            "id": 1,
            "sentence1": "The cat sat ( on the mat ) .",
            "sentence2": "It rested .",
            "label": 1,
        },
        {"id": 2, "sentence1": "", "sentence2": "Nothing here.", "label": 0},
    ],
    "tydiqa_goldp_en": [
        {
            "id": "english-123",
            "title": "Moon",
            "context": "The Moon orbits the Earth.",
            "question": "What orbits the Earth?",
            "answers": {"text": ["The Moon"], "answer_start": [0]},
        },
        {
            "id": "finnish-9",
            "title": "Kuu",
            "context": "Kuu kiertää maata.",
            "question": "Mikä kiertää maata?",
            "answers": {"text": ["Kuu"], "answer_start": [0]},
        },
    ],
    "norquad_p0": [
        {
            "id": "n1",
            "context": "Fjorden\nFjorden er lang.\nDen er dyp.",
            "question": "  Hvor  lang er fjorden? ",
            "answers": {"text": ["lang"], "answer_start": [10]},
        }
    ],
    "hendrycks_math_algebra": [
        {
            "problem": "What is $1+1$?",
            "level": "Level 1",
            "type": "Algebra",
            "solution": "We add: $1+1=\\boxed{2}$.",
        }
    ],
    "mutual": [
        {
            "answers": "A",
            "options": ["f : I do n't know .", "m : yes , it 's fine ."],
            "article": "m : are you ready ? f : not yet .",
            "id": "train_1",
        }
    ],
    "logiqa": [
        {
            "label": " c",
            "context": "All birds fly.",
            "question": "Which follows?",
            "options": ["one", "two", "three", "four"],
        }
    ],
    "medmcqa": [
        {
            "id": "m1",
            "question": "Which vitamin is made in skin?",
            "opa": "A",
            "opb": "B12",
            "opc": "C",
            "opd": "D",
            "cop": 3,
            "choice_type": "single",
            "exp": "",
            "subject_name": "x",
            "topic_name": "y",
        }
    ],
    "copa": [
        {
            "premise": "The man broke his toe.",
            "choice1": "He dropped a hammer on his foot.",
            "choice2": "He wore new shoes.",
            "question": "cause",
            "idx": 0,
            "label": 0,
        }
    ],
    "winogrande": [
        {
            "sentence": "The cup fell off the table because _ was too close to the edge.",
            "option1": "the cup",
            "option2": "the table",
            "answer": "1",
        }
    ],
    "mnli": [{"premise": "It rains.", "hypothesis": " The ground is wet ", "label": 0, "idx": 1}],
    "code2text_go": [
        {
            "code_tokens": ["func", "Add", "(", "a", ",", "b", ")", "{", "\n", "}"],
            "docstring_tokens": ["Add", "adds", "\n", "two", "numbers"],
        }
    ],
    "kobest_copa": [
        {
            "premise": "비가 왔다.",
            "question": "결과",
            "alternative_1": "땅이 젖었다.",
            "alternative_2": "해가 떴다.",
            "label": 0,
        }
    ],
}
KEYS = ("doc_to_text", "doc_to_target", "doc_to_choice")


# Modules some task files import for their scoring functions only. Where one is not
# installed, an empty stand-in lets the file load while it is imported (the hooks
# compared here never call it); it is removed again at once.
SCORING_ONLY = (
    "transformers",
    "transformers.data",
    "transformers.data.metrics",
    "transformers.data.metrics.squad_metrics",
)


def load_module(path: Path) -> ModuleType:
    """An lm-eval task module, imported from its file (for the comparison only)."""
    name = f"lm_eval_hook_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    stubs = [] if importlib.util.find_spec("transformers") else list(SCORING_ONLY)
    for stub in stubs:
        sys.modules[stub] = types.ModuleType(stub)
    for parent, child in itertools.pairwise(stubs):
        setattr(sys.modules[parent], child.rpartition(".")[2], sys.modules[child])
    try:
        spec.loader.exec_module(module)
    finally:
        for stub in stubs:
            del sys.modules[stub]
    return module


def real(path: Path, name: str) -> Callable[..., Any]:
    function = getattr(load_module(path), name)
    assert callable(function)
    return function


def processed(reader: HookReader, config: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """lm-eval's own process_docs over the rows (through `datasets`, as lm-eval runs it)."""
    import datasets

    found = reader.locate(config, "process_docs")
    if found is None:
        return rows
    dataset = real(*found)(datasets.Dataset.from_list(rows))
    return [dict(row) for row in dataset]


@pytest.mark.parametrize("task", sorted(ROWS))
def test_translations_give_what_lm_evals_functions_give(task: str, finder: FamilyFinder) -> None:
    found = finder.index().find(task)
    assert found is not None and found.kind == "task"
    config = found.configs[0]
    reader = HookReader(finder.root)
    rows = ROWS[task]
    plan = reader.rows(config)
    compared = 0
    if plan is not None:
        assert isinstance(plan, RowPlan), plan
        where = plan.where()
        kept = [r for r in rows if where is None or compile_expr(where)(r)]
        expected = processed(reader, config, rows)
        assert len(kept) == len(expected)
        for raw, done in zip(kept, expected, strict=True):
            for name, value in plan.row.fields.items():
                if name in done and not isinstance(value, Failed):
                    assert compile_expr(render(value).text)(raw) == done[name], (name, raw)
                    compared += 1
        rows = kept
    for key in KEYS:
        location = reader.locate(config, key)
        if location is None:
            continue
        followed = reader.value(config, key, plan.row if plan is not None else Row())
        if not isinstance(followed, Followed):
            continue  # left to finish by hand; test_coverage checks that it says why
        function = real(*location)
        for raw, doc in zip(
            rows, processed(reader, config, ROWS[task]) if plan else rows, strict=False
        ):
            want = function(doc)
            if key == "doc_to_text" and isinstance(want, str):
                got = compile_expr(template(followed.value))(raw)
            else:
                got = compile_expr(render(followed.value).text)(raw)
            assert got == want, (key, raw)
            compared += 1
    assert compared > 0
