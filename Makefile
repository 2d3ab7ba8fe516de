# Maat: `make demo` and `make test` bootstrap .venv from the hash-locked requirements.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.maat-installed
LOCK   := requirements/lock.txt

.PHONY: install demo test lint typecheck unit lock sbom clean

NATIVE := $(wildcard src/native/*.c src/native/*.h)

# The C extension (src/native) is built by the editable install; editing it rebuilds it.
$(STAMP): pyproject.toml $(LOCK) $(NATIVE)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Maat needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@$(BIN)/python -c 'from maat.native import NATIVE; print("maat: C hot paths", "built" if NATIVE else "not built (no C compiler or Python headers: apt-get install gcc python3-dev); the Python paths run, slower")'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/maat demo

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit -q

test: lint typecheck
	$(BIN)/pytest

# Re-resolve the lock after changing dependencies in pyproject.toml.
lock: install
	$(BIN)/pip-compile --quiet --generate-hashes --extra dev --extra sigstore --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links -o $(LOCK) pyproject.toml requirements/build.in
	$(BIN)/python tools/lock_to_sbom.py $(LOCK) sbom/maat.cdx.json

# Maat's own SBOM, from the lock (its own scanner reads it: `maat scan sbom sbom/maat.cdx.json`).
sbom: install
	$(BIN)/python tools/lock_to_sbom.py $(LOCK) sbom/maat.cdx.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build src/*.egg-info
