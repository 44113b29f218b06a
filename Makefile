# taskseed: every target runs inside the local virtual environment .venv, created on
# first use. llama-cpp-python is built from source once (about 10 minutes on 2 cores);
# pip keeps the built wheel in its cache, and .venv is only rebuilt when pyproject.toml
# changes, so later runs do not build it again.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: setup browser run report-png test lint format typecheck golden schemas docs check \
        bench bench-compile bench-run bench-filters bench-engines bench-scale clean \
        bench-quality bench-langid test-numpy1 gpu-check

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
RUN_TASKS := $(RUN_TASKS),social_iqa,triviaqa,winogrande/m,winogrande/xs
RUN_SEEDS := 3

run: setup
	$(BIN)/taskseed run taskspecs --fixtures --tasks '$(RUN_TASKS)' --limit-seeds $(RUN_SEEDS) -o out

# The report's test opens out/report.html in a real browser: Debian's headless Chromium,
# installed here when it is missing and we may (root with apt-get, as on CI machines).
CHROMIUM ?= chromium

browser:
	@if command -v '$(CHROMIUM)' >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (apt-get) for the report's browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "make test needs Chromium for the report's browser test: install the chromium" \
			"package (sudo apt-get install chromium), or set CHROMIUM=/path/to/chrome" >&2; \
		exit 1; \
	fi

# docs/report.png: the main job's report (run `make run` first), rendered by Chromium.
report-png: setup browser
	TASKSEED_CHROMIUM='$(CHROMIUM)' $(BIN)/python -m tests.runtime.browser out/report.html docs/report.png

test: setup browser
	TASKSEED_CHROMIUM='$(CHROMIUM)' $(BIN)/python -m pytest

# The suite (without the tests that run the embedded model) in a second environment with
# numpy 1.26, the numpy that tensorrt-llm 1.0 (the [trtllm] extra) requires: numba,
# polars, math-verify, llama-cpp-python and taskseed's own code must work with it. pyarrow
# is held below 26 as the extra holds it (26 needs numpy 2).
NUMPY1       := numpy==1.26.4 pyarrow<26
# py3langid 0.3+ declares numpy 2, so under numpy<2 pip takes 0.2.2, an older model. The
# language filter loads 0.4's model arrays itself, which works with numpy 1.26, so the
# environments that hold numpy below 2 install it without its requirements.
LANGID_NUMPY1 := py3langid==0.4.0
NUMPY1_VENV  := .venv-numpy1
NUMPY1_STAMP := $(NUMPY1_VENV)/.installed

$(NUMPY1_STAMP): pyproject.toml
	test -x $(NUMPY1_VENV)/bin/python || $(PYTHON) -m venv $(NUMPY1_VENV)
	$(NUMPY1_VENV)/bin/python -m pip --disable-pip-version-check install -q -e '.[dev]' $(NUMPY1:%='%')
	$(NUMPY1_VENV)/bin/python -m pip --disable-pip-version-check install -q --no-deps '$(LM_EVAL)'
	$(NUMPY1_VENV)/bin/python -m pip --disable-pip-version-check install -q --no-deps '$(LANGID_NUMPY1)'
	touch $(NUMPY1_STAMP)

test-numpy1: $(NUMPY1_STAMP)
	$(NUMPY1_VENV)/bin/python -c "import numpy; assert numpy.__version__.startswith('1.26'), numpy.__version__"
	nice -n 10 $(NUMPY1_VENV)/bin/python -m pytest -m "not model" -p no:cacheprovider

# On a machine with an NVIDIA GPU (Python 3.12, CUDA and libopenmpi-dev installed): installs
# taskseed[trtllm] (TensorRT-LLM 1.0) into .venv, then runs a few seeds of two tasks on a
# small model, in process and through trtllm-serve (started and stopped by the check), and
# exits 2 with a message where no GPU or TensorRT-LLM is found. See docs/engines.md; not CI.
GPU_CHECK_MODEL ?= TinyLlama/TinyLlama-1.1B-Chat-v1.0
TRTLLM_STAMP    := $(VENV)/.trtllm-installed

$(TRTLLM_STAMP): $(STAMP)
	$(PIP) install -q -e '.[trtllm]'
	$(PIP) install -q --no-deps '$(LANGID_NUMPY1)'
	touch $(TRTLLM_STAMP)

gpu-check: $(TRTLLM_STAMP)
	$(BIN)/python bench/gpu_check.py --model '$(GPU_CHECK_MODEL)' $(GPU_CHECK_ARGS)

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

bench: bench-compile bench-run bench-filters bench-engines bench-quality bench-langid

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

# The quality gate against the hand-labelled audit set in bench/quality/: precision and
# recall per check and for the whole gate, and the funnel before and after.
bench-quality: setup
	$(BIN)/python bench/quality_bench.py

# Language identifiers on short texts in the catalog's languages (accuracy, speed); the
# other libraries are installed for this target only (`langid-bench` extra).
bench-langid: setup
	$(PIP) install -q -e '.[dev,langid-bench]'
	$(BIN)/python bench/langid_bench.py
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
	rm -rf $(VENV) $(NUMPY1_VENV) out .pytest_cache .mypy_cache .ruff_cache
