# Two entry points that work on a fresh machine and are idempotent: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synth-installed
TORCH ?= torch==2.13.0
# Where pip finds the CPU build when no local mirror serves it (PyPI's Linux torch is a CUDA build):
#   make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
# anonymeter pins numpy < 1.27 and pyarrow < 22, so its privacy attacks run in a venv of their own
# (validation/anonymeter_worker.py); synth finds it through SYNTH_ANONYMETER_PYTHON.
ANONYMETER_VERSION ?= 1.1.0
ANON_VENV ?= .venv-anonymeter
ANON_STAMP := $(ANON_VENV)/.synth-anonymeter-$(ANONYMETER_VERSION)
export SYNTH_ANONYMETER_PYTHON := $(abspath $(ANON_VENV)/bin/python)
# MOSTLY AI's TabularARGN (mostlyai-engine) is a benchmark baseline only, never a synth dependency:
# it lives in a venv of its own and runs through bench/argn_worker.py under that venv's interpreter.
# torch goes in first (CPU build, as above). mostlyai-engine also requires torchvision (<0.29: PyPI's
# 0.28.0, built against the CUDA torch) and torchaudio (<2.12, built for torch 2.11); with either
# installed next to the CPU torch, `from mostlyai import engine` fails inside transformers. The
# tabular engine uses neither, so both are removed again (pip check will name them as missing).
ARGN_VERSION ?= 2.7.3
ARGN_VENV ?= .venv-argn
ARGN_STAMP := $(ARGN_VENV)/.synth-argn-$(ARGN_VERSION)

.PHONY: bench-linked demo demo-images test test-fast lint format schema bench clean anonymeter argn

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first: a bare `torch` requirement with no torch installed would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,images]"
	touch $(STAMP)

$(ANON_VENV)/bin/python:
	$(PYTHON) -m venv $(ANON_VENV)

$(ANON_STAMP): | $(ANON_VENV)/bin/python
	$(ANON_VENV)/bin/python -m pip install --quiet "anonymeter==$(ANONYMETER_VERSION)"
	touch $(ANON_STAMP)

anonymeter: $(ANON_STAMP)

$(ARGN_VENV)/bin/python:
	$(PYTHON) -m venv $(ARGN_VENV)

$(ARGN_STAMP): | $(ARGN_VENV)/bin/python
	$(ARGN_VENV)/bin/python -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(ARGN_VENV)/bin/python -m pip install --quiet "mostlyai-engine==$(ARGN_VERSION)" pyarrow pandas
	$(ARGN_VENV)/bin/python -m pip uninstall --quiet -y torchvision torchaudio
	$(ARGN_VENV)/bin/python -c "from mostlyai import engine"
	touch $(ARGN_STAMP)

argn: $(ARGN_STAMP)

demo: $(STAMP) anonymeter
	$(BIN)/synth demo

demo-images: $(STAMP)
	$(BIN)/synth run examples/digits.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint anonymeter
	$(BIN)/python -m pytest

# everything but the tests marked slow (whole flows through Prefect's server): a few minutes
test-fast: lint anonymeter
	$(BIN)/python -m pytest -m "not slow"

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)
	$(BIN)/python -m schemas

bench: $(STAMP) anonymeter argn
	$(BIN)/python bench/tabular.py
	$(BIN)/python bench/engines.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/regenerate.py
	$(BIN)/python bench/linked.py
	$(BIN)/python bench/text.py

# linked tables and event sequences: ours vs SDV's HMA and PAR and TabularARGN with a context table
bench-linked: $(STAMP) argn
	$(BIN)/python bench/linked.py

clean:
	rm -rf out .pytest_cache .ruff_cache
