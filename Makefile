# batteryzoom: the README's commands. Each one sets itself up on a fresh Debian/Ubuntu
# machine (Python >= 3.10, make, apt): .venv, the project with its extras, and the system
# packages (Xvfb + Qt 6 xcb libraries for napari, chromium for static export and browser tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.batteryzoom-installed
SHARED_DATA := $(abspath ../shared/data)
# Project-local cache unless the user chose one; the shared folder, when present, is the
# offline mirror of the data manifest.
export BATTERYZOOM_CACHE ?= $(CURDIR)/.cache/batteryzoom
ifneq ($(wildcard $(SHARED_DATA)/SHA256SUMS),)
export BATTERYZOOM_MIRROR ?= $(SHARED_DATA)
endif
# Headless defaults: napari renders on Xvfb through xcb (offscreen cannot render it).
export QT_QPA_PLATFORM ?= xcb
export PYTHONHASHSEED ?= 0
# The checkout's own code, also inside notebook kernels started by nbval and JupyterLab.
export PYTHONPATH := $(CURDIR)/toolkit$(if $(PYTHONPATH),:$(PYTHONPATH))
PYTEST_ARGS ?=
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: demo test bench lab setup system-deps python-check clean

demo: setup
	$(BIN)/batteryzoom report --dataset twin --out report

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile --timeout=900 --nbval-lax --nbval-current-env --doctest-modules tests toolkit/batteryzoom $(wildcard notebooks/*.ipynb) $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 $(ROOT_FLAG)

setup: system-deps $(STAMP)

python-check:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "batteryzoom needs Python >= 3.10; found " + sys.version.split()[0] + ". Run make with PYTHON=/path/to/python3.x")'

$(STAMP): pyproject.toml | python-check
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { echo "could not create $(VENV): install python3-venv (sudo apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,napari,gpl]'
	@touch $@

system-deps:
	@toolkit/scripts/system-deps.sh

clean:
	rm -rf .cache report .bench test-artifacts .pytest_cache
