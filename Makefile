# Two commands a newcomer needs:
#   make run   — set up (venv + pinned requirements + ebsdlib, editable) and start the dashboard on the embedded demo
#   make test  — set up (the same + test tools + Debian's Chromium), lint, and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# pip byte-compiles the environment at install (94 s on two cores): kept, because with
# PYTHONDONTWRITEBYTECODE set (as on this CI machine) nothing is compiled later and every process
# would compile torch's sources again at import (7 s instead of 2 s per `import torch`).
PIP := $(PY) -m pip install --disable-pip-version-check -q
PORT ?= 8501

.PHONY: run test lint setup setup-dev browser demo-data demo clean-cache device-check

# requirements*.txt hold the exact pins of a reproducible install; pyproject.toml the package
# with its compatible ranges. ebsdlib is installed editable, so `ebsdlib …` and
# `python -m ebsdlib …` run from any folder and launched jobs find the same code.
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) -r requirements-dev.txt -e '.[test]'
	touch $@

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

# Debian's Chromium drives the browser tests (Playwright's own browser download does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# The simulated data sets behind the committed demo runs (pattern galleries, phase-map pixels);
# deterministic, rebuilt only when missing. The dashboard also starts this by itself on first
# start, in the background, and shows its progress in the sidebar.
demo-data: setup
	$(VENV)/bin/ebsdlib demo --data-only

run: setup
	$(PY) -m streamlit run dashboard/Home.py --server.port $(PORT)

# Lint and format check first: a finding fails the build before any test runs.
lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# kikuchipy/orix/diffsims, PyEBSDIndex and UMAP compile numba kernels into a shared cache on first
# use: do it once, in one process, before pytest starts one worker per core (xdist; each test
# folder, and the quick benchmarks' tests, run in one worker: see tests/conftest.py).
test: lint browser
	$(PY) tests/warm_numba.py
	$(PY) -m pytest -q -n auto --dist loadgroup

# Rebuild the whole demo (data sets, the three networks and two indexing runs, evaluation, UMAP, phase maps) from nothing.
demo: setup
	$(VENV)/bin/ebsdlib demo --force

# On a GPU machine: the CUDA tests, bench speed --device cuda and a short stream-training run,
# under 8 minutes; logs, JSON and summary.json/summary.md under $(DEVICE_CHECK_OUT).
DEVICE_CHECK_OUT ?= artifacts/device-check
device-check: setup-dev
	$(PY) -m ebsdlib.device_check --out $(DEVICE_CHECK_OUT) --budget-s 480

clean-cache:
	rm -rf artifacts/cache
