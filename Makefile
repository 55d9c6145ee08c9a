# kehu: `make run` to try it, `make test` to check it. Needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-$(shell cat requirements/*.txt | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test suite lint types unit browser assets messages migrations-check clean

$(STAMP): requirements/base.txt requirements/dev.txt requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/dev.txt -c requirements/constraints.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	mkdir -p var
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py load_demo
	DEBUG=1 $(PY) manage.py pool_sweep --schedule
	DEBUG=1 $(PY) manage.py insights_score --schedule
	DEBUG=1 $(PY) manage.py quality_snapshot --schedule
	@# The task worker runs beside the server and stops with it.
	DEBUG=1 $(PY) manage.py db_worker --interval 2 & \
	  trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	  DEBUG=1 $(PY) manage.py runserver --noreload $(HOST):$(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	SECRET_KEY=types $(BIN)/mypy kehu bench conftest.py

migrations-check: $(STAMP)
	mkdir -p var/static
	SECRET_KEY=check $(PY) manage.py makemigrations --check --dry-run
	SECRET_KEY=check $(PY) manage.py check

unit: $(STAMP)
	SECRET_KEY=kehu-test-only $(BIN)/pytest -n 2 -m "not browser"

browser: $(STAMP)
	SECRET_KEY=kehu-test-only $(BIN)/pytest -m browser

# The whole check: lint, types, migrations, the suite (browser tests included when
# Chromium is installed; .ci/run installs it).
test: lint types migrations-check suite

suite: $(STAMP)
	mkdir -p var/static
	SECRET_KEY=kehu-test-only $(BIN)/pytest -n 2

assets:
	npm ci --no-audit --no-fund
	mkdir -p kehu/static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js kehu/static/vendor/
	cp node_modules/echarts/dist/echarts.min.js kehu/static/vendor/
	cp node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/swagger-ui-bundle.js kehu/static/vendor/
	@# Source maps are not shipped: drop the comments that point at them (collectstatic
	@# would otherwise fail to hash the missing files).
	sed -i '/sourceMappingURL=/d' kehu/static/vendor/*

# Needs GNU gettext; the compiled .mo files are committed so that `make run` does not.
messages: $(STAMP)
	SECRET_KEY=m $(PY) manage.py makemessages -l en --ignore=.venv --ignore=node_modules --ignore=bench
	SECRET_KEY=m $(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var
