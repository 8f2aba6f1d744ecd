# thaw: `make demo` runs the quickstart on the bundled data; `make test` runs the test suite;
# `make bench` compares thaw with the same training written plainly in PyTorch (bench/).
#
# libtorch comes from the PyPI wheel torch==2.11.0, installed once into a venv outside the
# repo ($(TORCH_VENV)) and reused. A user's own LIBTORCH (a libtorch 2.11.0 folder) wins.

SHELL := /bin/bash
TORCH_VERSION := 2.11.0
TORCH_VENV ?= $(HOME)/.cache/thaw/torch-$(TORCH_VERSION)
PYTHON ?= python3

ifdef LIBTORCH
TORCH_ENV := LIBTORCH=$(LIBTORCH)
TORCH_STAMP :=
else
TORCH_ENV := LIBTORCH_USE_PYTORCH=1 PATH="$(TORCH_VENV)/bin:$$PATH"
TORCH_STAMP := $(TORCH_VENV)/.installed
endif
CARGO := $(TORCH_ENV) cargo

.PHONY: demo test build libtorch lint bench clean-reports

demo: build
	./target/release/thaw run experiments/quickstart.yaml

build: $(TORCH_STAMP)
	$(CARGO) build --release

test: $(TORCH_STAMP)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test --release

libtorch: $(TORCH_STAMP)

# bench/run.sh: the grid bench/grid.yaml with thaw, then bench/reference.py on the same trials,
# then the side-by-side table. BENCH_DEVICE=cuda, BENCH_THREADS=N, BENCH_OUT=DIR, THAW_BIN=...
# and PYTHON=... (a python with torch 2.11; default the libtorch venv's) are passed through.
THAW_BIN ?= $(or $(CARGO_TARGET_DIR),target)/release/thaw
BENCH_PYTHON := $(if $(filter file,$(origin PYTHON)),$(TORCH_VENV)/bin/python,$(PYTHON))

bench: build
	THAW_BIN="$(THAW_BIN)" PYTHON="$(BENCH_PYTHON)" bash bench/run.sh

$(TORCH_VENV)/.installed:
	@echo "Installing torch==$(TORCH_VERSION) (libtorch for tch) into $(TORCH_VENV); about 4.6 GB, once."
	$(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/pip install --quiet --disable-pip-version-check torch==$(TORCH_VERSION)
	$(TORCH_VENV)/bin/python -c "import torch; assert torch.__version__.startswith('$(TORCH_VERSION)'), torch.__version__"
	touch $@
