# The two set-up commands of the README: `make run` and `make test`. Everything they need is installed
# or checked here, with a message naming what to install when it cannot be installed automatically.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: run test bench system venv translations migrate demo clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required: apt-get install python3.11 python3.11-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(DEV_STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(DEV_STAMP)

venv: $(DEV_STAMP)

system:
	@scripts/system-packages.sh

translations: venv
	@$(BIN)/pybabel compile -d review/translations

migrate: venv translations
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask demo

run: system demo
	@echo "Serving on http://127.0.0.1:5000 (demo logins in README.md)"
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# The whole suite in parallel (one PostgreSQL database per xdist worker); the date tests run within it with the
# clock moved 400 days back, not at all, and forth (tests/conftest.py). PYTEST_ARGS narrows a run to what it names.
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider
test: system venv translations
ifeq ($(strip $(PYTEST_ARGS)),)
	$(PYTEST) -n auto
else
	$(PYTEST) $(PYTEST_ARGS)
endif

bench: venv
	@for script in bench/assign.py bench/case_entry.py bench/import.py bench/ledger.py bench/pdf.py bench/settlement.py; do echo "== $$script"; (cd bench && ../$(BIN)/python $$(basename $$script)) || exit 1; done

clean:
	rm -rf $(VENV) instance
