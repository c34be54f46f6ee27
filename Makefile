# Everything runs in a virtual environment that this Makefile creates on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install lint test test-slow demo bench sweep clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

# Lint and types first (ruff: E,F,B,UP,I,RUF; mypy on the packages), then the tests.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

demo: $(STAMP)
	$(PY) -m experiments.demo

bench: $(STAMP)
	$(PY) -m experiments.bench_env

sweep: $(STAMP)
	$(PY) -m experiments.sweep_defaults

clean:
	rm -rf $(VENV) build *.egg-info
