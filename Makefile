# Two commands from a fresh clone (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE ?= data/sample
# CPU PyTorch wheel pinned for machines without a GPU; `make TORCH=torch` for any other.
TORCH ?= torch==2.13.0

.PHONY: setup demo test lint sample bench clean

$(BIN)/imrkit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

setup: $(BIN)/imrkit

sample: setup
	$(BIN)/imrkit make-sample $(SAMPLE)

# The main job on the embedded sample data.
demo: setup
	$(BIN)/imrkit demo --data $(SAMPLE) --out runs/demo

# The JupyterLab browser test needs the system chromium (.ci/run installs it); without it
# pytest skips that test and its summary (-ra) says why.
# The suite takes 6-11 minutes. Unbuffered, so a log shows every test as it ends (piped, pytest
# -q flushed rarely: a CI log once stopped 40 tests before the hang). TEST_LIMIT_S bounds the
# whole run, exit included (pytest-timeout bounds each test, not a hang at interpreter exit):
# SIGINT first, so pytest prints where it stood, SIGKILL a minute later.
TEST_LIMIT_S ?= 2400
test: setup
	$(BIN)/ruff check imrkit tests
	@command -v chromium >/dev/null 2>&1 || echo "make test: no chromium on PATH, the JupyterLab browser test will be SKIPPED (apt-get install chromium)"
	PYTHONUNBUFFERED=1 timeout --foreground --signal=INT --kill-after=60 $(TEST_LIMIT_S) \
		$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check imrkit tests
	$(BIN)/ruff format --check imrkit tests

bench: setup
	$(BIN)/imrkit bench loader
	$(BIN)/imrkit bench model
	$(BIN)/imrkit bench pmsp

clean:
	rm -rf $(VENV) runs .pytest_cache
