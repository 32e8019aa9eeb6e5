# OpenMDMR: a new user's two commands are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install lock run test test-sqlite test-postgres lint format bench clean

# Installs exactly what requirements.lock pins, each file checked against its hash; then the
# project itself (editable, building its two optional C extensions). pyproject.toml keeps the
# ranges; `make lock` pins them again.
$(STAMP): requirements.lock pyproject.toml setup.py meters/reads/interfaces/_cmepscan.c meters/reads/_cruns.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## make run: set up, load demo data on the embedded default (SQLite, eager Celery), serve.
## DEBUG stays off: a 404 or 500 shows the portal's own page, never Django's debug page with
## every URL pattern (WhiteNoise serves the static files either way).
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

## make test: the whole suite on SQLite, then the storage/task suite on a throwaway PostgreSQL.
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m portal.testing.pgserver -- $(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

test-sqlite: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres: install
	$(BIN)/python -m portal.testing.pgserver -- $(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

## make lint: ruff (rules and format), then mypy with django-stubs on the services, selectors
## and numpy maths (the files listed in pyproject.toml's [tool.mypy]).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make lock: pin every dependency of pyproject.toml's ranges, with hashes, in requirements.lock.
lock:
	test -x $(BIN)/pip-compile || $(BIN)/python -m pip install --quiet "pip-tools>=7.4,<8"
	$(BIN)/pip-compile --quiet --generate-hashes --extra dev --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles var/*.sqlite3*
