# The README's two commands: `make run` and `make test`. Everything else is a helper.
# The first Python 3.11+ that actually runs (version managers leave shims that fail).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do $$p -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint fmt bench messages screenshots clean

# Browser libraries come from npm at install time (package-lock.json pins them) and are served
# from the app's static files; nothing of them is in the repository.
VENDOR := fedicity/web/static/vendor

$(STAMP): pyproject.toml package-lock.json
	@test -n "$(PYTHON)" || { echo "fedicity needs Python 3.11 or newer on PATH"; exit 1; }
	@command -v npm >/dev/null || { echo "fedicity needs npm to fetch Leaflet, the map library: install Node.js and npm (Debian: apt-get install npm)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	npm ci --silent
	rm -rf $(VENDOR)/leaflet && mkdir -p $(VENDOR)/leaflet
	cp -R node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.js.map \
		node_modules/leaflet/dist/leaflet.css node_modules/leaflet/dist/images \
		node_modules/leaflet/LICENSE $(VENDOR)/leaflet/
	@touch $(STAMP)

## Run a demo instance on http://localhost:8000 with an embedded PostgreSQL (Ctrl-C stops both).
# The local demo serves Montreuil (INSEE 93048) and federates with peers on loopback, so it allows
# private addresses; each default gives way to the variable when it is set.
DEMO_ENV = FEDICITY_TERRITORY_LEVEL=$${FEDICITY_TERRITORY_LEVEL:-commune} \
	FEDICITY_TERRITORY_CODE=$${FEDICITY_TERRITORY_CODE:-93048} \
	FEDICITY_ALLOW_PRIVATE_ADDRESSES=$${FEDICITY_ALLOW_PRIVATE_ADDRESSES:-true}
run: $(STAMP)
	$(DEMO_ENV) $(BIN)/fedicity demo
	$(DEMO_ENV) exec $(BIN)/fedicity run

## Lint, type-check and run the whole test suite against a real PostgreSQL.
test: $(STAMP) lint
	$(BIN)/pytest

## Phone (390x844) and desktop (1280x900) screenshots of the main pages, in screenshots/.
screenshots: $(STAMP)
	FEDICITY_SCREENSHOTS_DIR=$(CURDIR)/screenshots $(BIN)/pytest -q tests/browser/test_screenshots.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Refresh the message catalog after changing UI strings (then translate fr/messages.po).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k lazy -k gettext --no-location --omit-header -o $(VENV)/messages.pot .
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d fedicity/web/translations --no-fuzzy-matching --width 100

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache node_modules $(VENDOR)
