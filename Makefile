# Two commands on a fresh machine:  make demo   |   make test
# Both create .venv and install what they need (torch as the CPU build 2.13.0).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?= -n auto

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[all]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/prover-data build-manifest demo > /dev/null   # progress and summary on stderr
	$(BIN)/prover-data stats demo                        # the report, also when already up to date

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)   # minutes to an hour; figures go to docs/benchmarks.md by hand
	for b in build_manifest validate evalsets embeddings encode embedding_tier ebm false_negatives labels sft chargpt reliability explore; do \
	  $(BIN)/python benchmarks/$$b.py || exit 1; done

clean:
	rm -rf build runs .pytest_cache
