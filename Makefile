# sparkles-lite: `make demo` and `make test` are all a newcomer needs; both build .venv on first use.
PYTHON ?= python3
VENV ?= .venv
TORCH_VERSION ?= 2.13.0
# Where torch comes from. Empty: pip's own index, which on Linux gives the CUDA build (GBs). On a
# machine without an NVIDIA GPU: make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
KERNEL ?= sparkles-lite
# One notebook or several: `make notebooks NB=notebooks/00_tour.ipynb`; default all.
NB ?=
PYTEST_FLAGS ?= -q -rfEs --durations=10

PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: venv demo test sync notebooks clean-notebooks kernel

venv: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: left to the resolver, a later package could pull a newer torch.
# The stamp makes re-runs on an existing .venv instant; editing pyproject.toml reinstalls.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (sparkles-lite)"
	touch $@

# Re-register the Jupyter kernel only (e.g. after moving the checkout).
kernel: $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (sparkles-lite)"

demo: $(STAMP)
	$(PY) -m sparkles_lite demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_FLAGS)

# Bring every notebook and its paired script (jupytext.toml) in step: the file saved last gives the
# inputs, the .ipynb keeps its outputs; then derive the student exercises from their solution scripts.
sync: $(STAMP)
	$(PY) tools/sync_notebooks.py

# Re-execute notebooks in place (lite mode, their default parameters) so committed outputs match the code.
# Exercise solutions too: make notebooks NB="exercises/solutions/*.ipynb"
notebooks: $(STAMP)
	$(PY) tools/run_notebooks.py --kernel $(KERNEL) $(NB)

# Student copies (headings + code, no outputs) into build/student/.
clean-notebooks: $(STAMP)
	$(PY) tools/clean_notebooks.py --out build/student $(NB)
