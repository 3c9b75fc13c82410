# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= annotator.db
ANNOTATOR ?= demo

.PHONY: demo test bench venv clean

venv: $(STAMP)

# Reinstall only when the project's metadata changed (or the venv is new).
# An editable install leaves the package uncompiled: compileall writes its bytecode once.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q annotator
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/annotator import demo examples/ --db $(DB)
	$(BIN)/annotator annotate demo --annotator $(ANNOTATOR) --db $(DB)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider

# Bytecode of the package compiled first (an editable install has none, and with
# PYTHONDONTWRITEBYTECODE every start would compile it again): start-up rows time our start, not that.
bench: $(STAMP)
	$(BIN)/python -m compileall -q annotator
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
