# motiflens — two entry points: `make demo` (main job on built-in data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo demo-quick demo-real test venv bench clean

$(STAMP): pyproject.toml requirements/cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test,bench,ray]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m motiflens.demo $(DEMO_ARGS)

demo-quick: $(STAMP)
	$(PY) -m motiflens.demo --quick $(DEMO_ARGS)

demo-real: $(STAMP)
	$(PY) -m motiflens.demo --real $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
