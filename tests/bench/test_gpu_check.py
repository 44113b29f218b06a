"""`make gpu-check` (bench/gpu_check.py), checked here without a GPU.

What can run here does: argument parsing, the trtllm-serve command line and config it
builds, its assertions on completions that pass and that fail, its exit when TensorRT-LLM
or a GPU is missing, and the whole check end to end through the `serve` route against
taskseed's fake server made to refuse n > 1 as trtllm-serve 1.0 does, and through the
`inprocess` route against the stand-in `tensorrt_llm` of the contract tests.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import gpu_check
from taskseed.runtime.engines.base import Choice, Completion
from tests.runtime.engines import trtllm_contract as contract
from tests.runtime.engines.servers import fake_server
from tests.runtime.engines.trtllm_fake import installed


def completion(*texts: str, tokens: int = 4) -> Completion:
    return Completion(
        choices=tuple(Choice(text=t, completion_tokens=tokens) for t in texts),
        completion_tokens=tokens * len(texts),
    )


def test_defaults_and_argument_errors() -> None:
    args = gpu_check.parse_args([])
    assert args.routes == ("inprocess", "serve") and args.k == 5 and args.seeds == 3
    assert args.model == "TinyLlama/TinyLlama-1.1B-Chat-v1.0" and args.pipeline is True
    assert gpu_check.parse_args(["--routes", "serve", "--no-pipeline"]).routes == ("serve",)
    for bad in (["--routes", "vllm"], ["--k", "1"], ["--temperature", "0"], ["--seeds", "9"]):
        with pytest.raises(SystemExit):
            gpu_check.parse_args(bad)


def test_the_requests_cover_two_tasks_with_schemas_and_seeds() -> None:
    requests = gpu_check.build_requests(seeds=3, k=4, temperature=0.8, max_tokens=64, seed=7)
    assert len(requests) == 6 and all(r.n == 4 for r in requests)
    assert [r.sampling.seed for r in requests] == [7, 8, 9, 7, 8, 9]
    assert {json.dumps(r.json_schema["properties"]["answer"]) for r in requests[3:]} == {
        '{"type": "integer"}'
    }
    assert all("enum" in r.json_schema["properties"]["answer"] for r in requests[:3])
    moved = gpu_check.reseeded(requests, 1000)
    assert [r.sampling.seed for r in moved] == [1007, 1008, 1009, 1007, 1008, 1009]
    assert [r.messages for r in moved] == [r.messages for r in requests]


def test_the_serve_command_and_config_follow_the_recipe(tmp_path: Path) -> None:
    args = gpu_check.parse_args(["--model", "org/Small"])
    command = gpu_check.serve_command(args, 8123, tmp_path / "c.yaml")
    assert command[:2] == ["trtllm-serve", "org/Small"]
    pairs = dict(zip(command[2::2], command[3::2], strict=True))
    assert pairs == {
        "--backend": "pytorch",
        "--host": "127.0.0.1",
        "--port": "8123",
        "--max_batch_size": "256",
        "--kv_cache_free_gpu_memory_fraction": "0.8",
        "--extra_llm_api_options": str(tmp_path / "c.yaml"),
    }
    config = gpu_check.serve_config("xgrammar")
    assert set(config) <= contract.TORCH_LLM_KWARGS  # trtllm-serve takes LLM arguments
    assert contract.BACKEND_BEHAVIOUR["pytorch"]["sampling"].items() <= config.items()
    text = gpu_check.serve_config_text(config)
    assert text == 'guided_decoding_backend: "xgrammar"\nenable_trtllm_sampler: true\n'


def test_the_recipe_in_the_docs_enables_the_sampler() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "engines.md").read_text()
    block = docs.split("cat > trtllm-serve.yaml <<'EOF'\n", 1)[1].split("EOF", 1)[0]
    keys = {line.split(":")[0] for line in block.splitlines() if line.strip()}
    assert keys == set(gpu_check.serve_config("xgrammar"))


def test_samples_that_differ_pass_and_copies_fail() -> None:
    varied = [completion("a", "b", "a"), completion("c", "d", "e")]
    assert gpu_check.check_samples_differ(varied, 3).ok
    copies = [completion("a", "a", "a"), completion("b", "b", "b")]
    result = gpu_check.check_samples_differ(copies, 3)
    assert not result.ok and "0/2" in result.detail
    assert not gpu_check.check_samples_differ([completion("a", "b")], 3).ok  # too few samples


def test_reproducibility_and_reseeding() -> None:
    first = [completion("a", "b"), completion("c", "d")]
    assert gpu_check.check_reproducible(first, [completion("a", "b"), completion("c", "d")]).ok
    changed = gpu_check.check_reproducible(first, [completion("a", "b"), completion("c", "x")])
    assert not changed.ok and "[1]" in changed.detail
    assert gpu_check.check_reseeded(first, [completion("x", "b"), completion("c", "y")]).ok
    assert not gpu_check.check_reseeded(first, first).ok


def test_json_answers_are_checked_against_their_schema() -> None:
    [choice, arithmetic] = [
        gpu_check.build_requests(seeds=1, k=2, temperature=0.8, max_tokens=64, seed=1)[i]
        for i in (0, 1)
    ]
    options = choice.json_schema["properties"]["answer"]["enum"]
    good = json.dumps({"reasoning": "roots drink", "answer": options[0]})
    assert gpu_check.check_json([choice], [completion(good, good)]).ok
    for text, why in (
        ("not json", "not JSON"),
        (json.dumps({"reasoning": "r", "answer": "a leaf"}), "not one of the options"),
        (json.dumps({"answer": options[0]}), "no `reasoning`"),
    ):
        result = gpu_check.check_json([choice], [completion(good, text)])
        assert not result.ok and why in result.detail, result.detail
    number = json.dumps({"reasoning": "7*12-30", "answer": 54})
    assert gpu_check.check_json([arithmetic], [completion(number)]).ok
    text = json.dumps({"reasoning": "r", "answer": "54"})
    assert "not an integer" in gpu_check.check_json([arithmetic], [completion(text)]).detail


def test_tokens_per_second() -> None:
    assert gpu_check.tokens_per_second([completion("a", "b", tokens=10)], 2.0) == 10.0


def test_without_tensorrt_llm_or_a_gpu_it_says_what_is_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt_llm", None)
    monkeypatch.setattr(gpu_check, "gpus", lambda: [])
    assert gpu_check.main(["--no-pipeline"]) == gpu_check.EXIT_MISSING
    err = capsys.readouterr().err
    assert "no NVIDIA GPU found" in err
    assert "TensorRT-LLM is not installed" in err or "needs TensorRT-LLM" in err
    assert "Traceback" not in err


def test_a_server_given_by_url_needs_nothing_local() -> None:
    args = gpu_check.parse_args(["--routes", "serve", "--base-url", "http://127.0.0.1:9/v1"])
    assert gpu_check.environment_problems(args) == []


def test_the_serve_route_end_to_end_against_a_server_that_refuses_n(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with fake_server("--refuse-n") as url:
        code = gpu_check.main(["--routes", "serve", "--base-url", url, "--model", "fake"])
    out = capsys.readouterr().out
    assert code == gpu_check.EXIT_OK, out
    assert "'split_n': True" in out  # learned from trtllm-serve 1.0's HTTP 400
    assert "generated tokens per second" in out
    assert "[serve] taskseed run (two tasks)" in out
    assert " 0 failed" in out


def test_the_inprocess_route_end_to_end_against_the_contract(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gpu_check, "gpus", lambda: ["GPU 0: stand-in"])

    def schema_answer(prompt: str, params: Any, draws: list[Any]) -> list[dict[str, Any]]:
        schema = json.loads(params.guided_decoding.json)
        answer = schema["properties"]["answer"]
        value = answer["enum"][0] if "enum" in answer else 54
        return [
            {"text": json.dumps({"reasoning": f"draw {d}", "answer": value}), "token_ids": [1] * 9}
            for d in draws
        ]

    with installed() as state:
        state.script = schema_answer
        code = gpu_check.main(["--routes", "inprocess", "--no-pipeline"])
    out = capsys.readouterr().out
    assert code == gpu_check.EXIT_OK, out
    assert "'enable_trtllm_sampler': True" in out and "5 passed, 0 failed" in out


def test_a_failing_check_fails_the_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copies instead of samples (what the issue found) make the check fail, loudly."""
    monkeypatch.setattr(gpu_check, "gpus", lambda: ["GPU 0: stand-in"])
    with installed() as state:
        state.script = lambda prompt, params, draws: [
            {"text": '{"reasoning": "same", "answer": 1}', "token_ids": [1]} for _ in draws
        ]
        code = gpu_check.main(["--routes", "inprocess", "--no-pipeline"])
    out = capsys.readouterr().out
    assert code == gpu_check.EXIT_FAILED
    assert "FAIL [inprocess] k samples differ" in out


def test_pipeline_command_per_route() -> None:
    args = argparse.Namespace(model="m", served_model=None, seeds=2, seed=7)
    serve = gpu_check.pipeline_command("serve", args, "http://h/v1", Path("/tmp/o"))
    assert serve[serve.index("--engine") + 1] == "openai"
    assert serve[serve.index("--guided") + 1] == "trtllm"
    inprocess = gpu_check.pipeline_command("inprocess", args, None, Path("/tmp/o"))
    assert inprocess[inprocess.index("--engine") + 1] == "trtllm"
    assert inprocess[inprocess.index("--tasks") + 1] == gpu_check.PIPELINE_TASKS
