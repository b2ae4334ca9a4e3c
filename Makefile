# Two commands a newcomer needs:
#   make run   — set up (venv + requirements) and start the dashboard on the embedded demo
#   make test  — set up (venv + dev requirements + Chromium) and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test setup setup-dev browser demo-data demo clean-cache

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
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
	$(PY) -m ebsdlib demo --data-only

run: setup
	$(PY) -m streamlit run dashboard/Home.py --server.port $(PORT)

# kikuchipy/orix compile numba functions into a shared cache on first import: do it once, in one
# process, before tests start processes in parallel.
test: setup-dev browser
	$(PY) -c "import kikuchipy, orix.quaternion"
	$(PY) -m pytest -q

# Rebuild the whole demo (data sets, both runs, evaluation, UMAP, phase maps) from nothing.
demo: setup
	$(PY) -m ebsdlib demo --force

clean-cache:
	rm -rf artifacts/cache
