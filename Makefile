# The README's two commands: `make run` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: run test bench eval venv clean-output

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(STAMP)

$(BENCH_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $@ $(STAMP) $(TEST_STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/winnow run seeds --config configs/default.yaml --output output

test: $(TEST_STAMP)
	$(BIN)/python -m pytest

# Speed and memory (synthetic corpus from the dev sets, with a hand-written datasketch baseline).
# Default sizes 10k and 100k documents; add the 1M point with: make bench BENCH_SIZES=10000,100000,1000000
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.bench

# Quality figures on ../shared/data dev sets; the README's tables are this output.
eval: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.eval

clean-output:
	find output -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
