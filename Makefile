# The README's two commands: `make run` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test venv clean-output

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/winnow run seeds --config configs/default.yaml --output output

test: $(TEST_STAMP)
	$(BIN)/python -m pytest

clean-output:
	find output -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
