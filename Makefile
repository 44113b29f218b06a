# taskseed: every target runs inside the local virtual environment .venv, created on
# first use. llama-cpp-python is built from source once (about 10 minutes on 2 cores);
# pip keeps the built wheel in its cache, and .venv is only rebuilt when pyproject.toml
# changes, so later runs do not build it again.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: setup run test lint format typecheck golden schemas docs check \
        bench bench-compile bench-run bench-filters bench-engines bench-scale clean

# lm-eval is a test dependency only for its task YAML files (the importer's tests read
# the real files of this release); its own dependencies (torch, ...) are not needed.
LM_EVAL := lm-eval==0.4.13

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps '$(LM_EVAL)'
	touch $(STAMP)

setup: $(STAMP)

# The main job: a real generation run on the embedded model (SmolLM2-135M-Instruct,
# llama.cpp on the CPU) over one subtask of each starter task, seeded from the tasks'
# fixture rows; writes out/ (dataset, rejects, manifest) and prints the funnel.
RUN_TASKS := arc/easy,commonsense_qa,gsm8k,kmmlu/Computer-Science,mbpp,sciq,squad,xnli/en
RUN_SEEDS := 3

run: setup
	$(BIN)/taskseed run taskspecs --fixtures --tasks '$(RUN_TASKS)' --limit-seeds $(RUN_SEEDS) -o out

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: setup
	mkdir -p .typecheck/taskseed
	for pkg in compiler contract runtime cli importers; do ln -sfn ../../$$pkg .typecheck/taskseed/$$pkg; done
	$(BIN)/mypy

# Rewrite the expected outputs of the golden cases in tests/golden/.
golden: setup
	$(BIN)/python -m tests.golden.regenerate

schemas: setup
	$(BIN)/taskseed schemas -o schemas

docs: setup
	$(BIN)/python -c "from taskseed.compiler.codes import markdown; open('docs/diagnostics.md', 'w').write(markdown())"

check: lint typecheck test

bench: bench-compile bench-run bench-filters bench-engines

# Validate and compile a catalog of about 700 subtasks, in process and as a fresh command.
bench-compile: setup
	$(BIN)/python bench/compile_bench.py

# Dedup (our MinHash and LSH beside datasketch's, recall per similarity band) and the
# fused polars filter beside a plain Python loop over the same million rows.
bench-filters: setup
	$(BIN)/python bench/dedup_bench.py
	$(BIN)/python bench/filter_bench.py

# The OpenAI-compatible client beside the official client, and engine utilization.
bench-engines: setup
	$(BIN)/python bench/engines_bench.py

# One subtask at 20,000 and 100,000 synthetic seeds through the `taskseed run` command
# on an instant in-process engine: speed, CPU, peak memory, ledger and staging size per
# item, and the cost of resuming after a SIGKILL at about 70%. Takes about 15 minutes.
bench-scale: setup
	$(BIN)/python -m bench.scale_bench

# The main job's selection through the runtime, then the same requests through
# llama-cpp-python alone, in one process: the share of raw engine speed kept.
bench-run: setup
	$(BIN)/python bench/run_bench.py --tasks '$(RUN_TASKS)' --limit-seeds $(RUN_SEEDS)

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
