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
        bench bench-compile clean

# lm-eval is a test dependency only for its task YAML files (the importer's tests read
# the real files of this release); its own dependencies (torch, ...) are not needed.
LM_EVAL := lm-eval==0.4.13

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps '$(LM_EVAL)'
	touch $(STAMP)

setup: $(STAMP)

# The main job: compile the catalog and run the default selection on the embedded model.
run: setup
	$(BIN)/taskseed compile taskspecs -o out/plan.json
	$(BIN)/taskseed plan show out/plan.json

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
	for pkg in compiler runtime cli importers; do ln -sfn ../../$$pkg .typecheck/taskseed/$$pkg; done
	$(BIN)/mypy

# Rewrite the expected outputs of the golden cases in tests/golden/.
golden: setup
	$(BIN)/python -m tests.golden.regenerate

schemas: setup
	$(BIN)/taskseed schemas -o schemas

docs: setup
	$(BIN)/python -c "from taskseed.compiler.codes import markdown; open('docs/diagnostics.md', 'w').write(markdown())"

check: lint typecheck test

bench: bench-compile

# Validate and compile a catalog of about 700 subtasks, in process and as a fresh command.
bench-compile: setup
	$(BIN)/python bench/compile_bench.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
