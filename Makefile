# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint venv clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/causalmmm-jax demo --out demo_output

# two xdist workers (one per core of the 2-core CI machine); tests that share a fitted fixture
# stay on one worker (tests/conftest.py groups them). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2

# ruff and mypy on the package (configured in pyproject.toml); .ci/run runs it before the tests
lint: $(STAMP)
	$(BIN)/ruff check causalmmm_jax
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) demo_output .pytest_cache
