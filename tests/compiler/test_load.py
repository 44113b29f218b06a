"""Phase 1: positions survive loading, 1-based, for keys, values and list items."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.load import load_file
from taskseed.compiler.nodes import MapNode, ScalarNode, SeqNode, lookup, to_plain
from tests.conftest import CATALOG


def load(tmp_path: Path, text: str) -> tuple[MapNode | None, Diagnostics]:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    diagnostics = Diagnostics()
    return load_file(path, diagnostics, {}), diagnostics


def test_spans_of_keys_values_and_items(tmp_path: Path) -> None:
    root, diags = load(tmp_path, "a: 1\nb:\n  c: 'quoted'\n  d: [x, yy]\n")
    assert root is not None and not diags.items
    entry = root.entries["a"]
    assert (entry.key_span.line, entry.key_span.col) == (1, 1)
    assert (entry.value.span.line, entry.value.span.col) == (1, 4)
    c = lookup(root, ("b", "c"))
    assert isinstance(c, ScalarNode) and c.style == "single"
    assert (c.span.line, c.span.col, c.span.end_col) == (3, 6, 14)
    d = lookup(root, ("b", "d"))
    assert isinstance(d, SeqNode)
    assert [(i.span.line, i.span.col, i.span.end_col) for i in d.items] == [(4, 7, 8), (4, 10, 12)]
    assert to_plain(root) == {"a": 1, "b": {"c": "quoted", "d": ["x", "yy"]}}


def test_block_scalar_body_position(tmp_path: Path) -> None:
    root, _ = load(tmp_path, "p:\n  q: |\n\n    first\n    second\n")
    assert root is not None
    node = lookup(root, ("p", "q"))
    assert isinstance(node, ScalarNode)
    assert node.style == "literal"
    assert (node.body_line, node.body_col) == (4, 5)


def test_scalar_types_are_plain_python(tmp_path: Path) -> None:
    root, _ = load(tmp_path, "i: 3\nf: 0.5\nb: true\nn: null\ns: yes\nd: 2024-01-02\n")
    assert root is not None
    values = to_plain(root)
    assert values == {"i": 3, "f": 0.5, "b": True, "n": None, "s": "yes", "d": "2024-01-02"}
    assert type(values["i"]) is int and type(values["b"]) is bool


def test_comment_is_not_part_of_the_span(tmp_path: Path) -> None:
    root, _ = load(tmp_path, "key: value   # note\n")
    assert root is not None
    span = root.entries["key"].value.span
    assert (span.col, span.end_col) == (6, 11)


def test_errors_are_diagnostics_not_exceptions(tmp_path: Path) -> None:
    for text, code in [
        ("a: [1, 2\n", "TS100"),
        ("a: 1\na: 2\n", "TS103"),
        ("- 1\n- 2\n", "TS102"),
        ("", "TS102"),
        ("? [1]\n: x\n", "TS105"),
        ("a: !tag x\n", "TS201"),
    ]:
        _, diags = load(tmp_path, text)
        assert [d.code for d in diags] == [code], text


def test_unreadable_file(tmp_path: Path) -> None:
    diagnostics = Diagnostics()
    assert load_file(tmp_path / "absent.yaml", diagnostics, {}) is None
    assert [d.code for d in diagnostics] == ["TS101"]
    (tmp_path / "latin.yaml").write_bytes(b"a: 1\nb: \xc3\xa9 \xff\n")
    assert load_file(tmp_path / "latin.yaml", diagnostics, {}) is None
    assert [d.code for d in diagnostics] == ["TS101", "TS106"]
    span = diagnostics.items[1].span
    assert span is not None and (span.line, span.col) == (2, 6)  # after "b: é "


def test_merge_keys_and_anchors(tmp_path: Path) -> None:
    root, diags = load(tmp_path, "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n")
    assert root is not None and not diags.items
    assert to_plain(root)["use"] == {"y": 3, "x": 1}


def test_core_schema_numbers(tmp_path: Path) -> None:
    root, _ = load(tmp_path, "h: 0x1F\no: 0o17\nneg: -4\ninf: .inf\nexp: 1e3\nstr: '12'\n")
    assert root is not None
    assert to_plain(root) == {
        "h": 31,
        "o": 15,
        "neg": -4,
        "inf": float("inf"),
        "exp": 1000.0,
        "str": "12",
    }


def test_duplicate_key_keeps_the_first_and_points_at_both(tmp_path: Path) -> None:
    root, diags = load(tmp_path, "a: 1\nb: 2\na: 3\n")
    assert root is not None and to_plain(root) == {"a": 1, "b": 2}
    (diag,) = diags.items
    assert diag.code == "TS103" and (diag.span.line, diag.span.col) == (3, 1)
    assert list(diag.notes) == ["first set at 1:1"]


def test_fast_and_pure_parsers_give_the_same_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """libyaml (the default) and ruamel's pure-Python parser agree on every span."""
    from taskseed.compiler import load as load_module

    specs = sorted(p for p in CATALOG.rglob("*.yaml") if "fixtures" not in p.parts)
    assert len(specs) > 10

    def load_all() -> list[object]:
        return [load_file(spec, Diagnostics(), {}) for spec in specs]

    fast = load_all()
    monkeypatch.setattr(load_module, "_CParser", None)
    assert load_all() == fast


def test_columns_count_characters_not_bytes(tmp_path: Path) -> None:
    root, _ = load(tmp_path, "a: 日本語 # note\nb: ['é', ü]\n")
    assert root is not None
    span = root.entries["a"].value.span
    assert (span.col, span.end_col) == (4, 7)
    items = lookup(root, ("b",))
    assert isinstance(items, SeqNode)
    assert [(i.span.col, i.span.end_col) for i in items.items] == [(5, 8), (10, 11)]
