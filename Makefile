# Developer and CI entry points. Needs python3.11 (or python3 >= 3.11), npm.
# Every Python command uses .venv/bin/python explicitly: no activation needed.

PYTHON_SYS := $(shell command -v python3.11 || command -v python3)
VENV       := .venv
PY         := $(VENV)/bin/python
PYTEST_ARGS ?= -q

.PHONY: venv node_modules test run bench clean i18n

# The virtualenv with requirements-dev.txt. Reinstalls only when a
# requirements file is newer than the stamp.
venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

# JavaScript used by the tests (ical.js, axe-core), exactly as locked.
node_modules: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

test: venv node_modules
	$(PY) -m pytest $(PYTEST_ARGS)

# The whole service on this machine: moto server, chalice local, reminder loop.
run: venv
	$(PY) scripts/run_local.py

bench: venv
	@set -e; for f in benchmarks/bench_*.py; do \
		[ -e "$$f" ] || { echo "no benchmarks/bench_*.py yet"; break; }; \
		echo "== $$f"; $(PY) "$$f"; \
	done

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Texts: extract every translatable string, merge into the Dutch catalog.
# Translate the new entries in chalicelib/locales/nl/LC_MESSAGES/messages.po;
# the app reads the .po files directly (no .mo to compile).
i18n: venv
	$(VENV)/bin/pybabel extract -F babel.cfg --no-location --sort-output -o chalicelib/locales/messages.pot .
	$(VENV)/bin/pybabel update --no-fuzzy-matching --ignore-obsolete -D messages -i chalicelib/locales/messages.pot -d chalicelib/locales -l nl
	$(VENV)/bin/pybabel extract -F babel-mail.cfg --no-location --sort-output -o chalicelib/locales/mail.pot .
	test -f chalicelib/locales/nl/LC_MESSAGES/mail.po || $(VENV)/bin/pybabel init -D mail -i chalicelib/locales/mail.pot -d chalicelib/locales -l nl
	$(VENV)/bin/pybabel update --no-fuzzy-matching --ignore-obsolete -D mail -i chalicelib/locales/mail.pot -d chalicelib/locales -l nl
