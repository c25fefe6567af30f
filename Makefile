# The two commands a newcomer needs: `make run` and `make test`. See README.md.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The demo services listen on the next port; demo_seed registers their URLs from these.
DEMO_PORT := $(shell echo $$(($(PORT) + 1)))
export OMADATA_PORT := $(PORT)
export OMADATA_BASE_URL ?= http://127.0.0.1:$(PORT)
export OMADATA_DEMO_PORT := $(DEMO_PORT)
export OMADATA_DEMO_BASE_URL ?= http://127.0.0.1:$(DEMO_PORT)

.PHONY: run test lint bench venv messages screenshots clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Omadata needs Python 3.11")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(BIN)/python requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.dev

## run: set up, seed the demo and start the operator, its worker, scheduler and demo services (Ctrl-C stops all)
run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py demo_seed
	$(BIN)/python manage.py demo_banner
	@# Receipts reach the log's tree within two seconds, so a proof is there at once.
	PATH="$(CURDIR)/$(BIN):$$PATH" OMADATA_LOG_MERGE_DELAY=$${OMADATA_LOG_MERGE_DELAY:-2} \
	  exec $(BIN)/python -m omadata.procfile Procfile

## test: set up and run the whole suite
test: $(VENV)/.dev
	@# The run's own var/: settings write a secret and broker folders there as they load.
	tmp=$$(mktemp -d -t omadata-test.XXXXXX) && OMADATA_VAR_DIR=$$tmp $(BIN)/pytest; \
	  status=$$?; rm -rf "$$tmp"; exit $$status

## screenshots: walk the residents' journeys in Chromium in English and save their key pages in docs/img/
screenshots: $(VENV)/.dev
	tmp=$$(mktemp -d -t omadata-shots.XXXXXX) && OMADATA_VAR_DIR=$$tmp OMADATA_SCREENSHOTS=docs/img \
	  $(BIN)/pytest tests/browser/test_journeys.py -k '[en]'; \
	  status=$$?; rm -rf "$$tmp"; exit $$status

## lint: ruff, the import layers, types, missing migrations, and Django's deployment checks with production settings
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run -v 1
	OMADATA_ENV=production DJANGO_SECRET_KEY=lint-$$(head -c 48 /dev/urandom | base64 | tr -d '/+=') \
	  ALLOWED_HOSTS=omadata.example.fi OMADATA_BASE_URL=https://omadata.example.fi \
	  DATABASE_URL=postgres://omadata@127.0.0.1:5432/omadata CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING

## bench: benchmarks, each printing its figure beside a floor measured in the same run
bench: $(VENV)/.dev
	$(BIN)/python bench/run.py

## messages: refresh the fi and sv translation catalogues, then compile them
messages: $(VENV)/.dev
	$(BIN)/python manage.py makemessages -l fi -l sv --no-obsolete --ignore '.venv/*' --ignore 'tests/*'
	$(BIN)/python manage.py compilemessages --ignore '.venv/*'

clean:
	rm -rf $(VENV) staticfiles
