# Fresh-clone entry points. Each target builds .venv on first use: torch==2.13.0 first
# (a CPU wheel; an unpinned torch would pull a multi-GB CUDA build), then skvae.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

.PHONY: demo test lint docs bench-quality bench-speed clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,dask,onnx]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python -m skvae

test: $(BIN)/.installed
	$(BIN)/python -m pytest

# Detection (ADBench, ../shared/datasets/adbench: classical and embedding sets, choose
# and confirm parts, 3 seeds, plus the wide and large sets) against IsolationForest,
# PyOD's MCD, KNN, ECOD and VAE, PCA reconstruction and the FactorAnalysis/PCA
# likelihoods; compression against PCA at n_components 2 and 5; the issue-11 TARGETS
# block. 1 thread; writes benchmarks/results/. A smoke run: benchmarks/adbench.py --quick
bench-quality: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/adbench.py --robustness

# Fit and scoring time against a hand-written torch loop and PyOD (ratios measured in
# one run, with PASS/FAIL against the targets); writes benchmarks/results/speed.md.
bench-speed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/speed.py

lint: $(BIN)/.installed
	$(BIN)/ruff check skvae tests examples benchmarks
	$(BIN)/ruff format --check skvae tests examples benchmarks

# The documentation: Sphinx with warnings as errors; sphinx-gallery runs every
# examples/plot_*.py. Output: docs/_build/html/index.html.
$(BIN)/.docs-installed: $(BIN)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@

docs: $(BIN)/.docs-installed
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info
	rm -rf docs/_build docs/auto_examples docs/generated docs/gen_modules docs/sg_execution_times.rst
