# Developer and CI entry points. Needs python3.11 (or python3 >= 3.11), npm.
# Every Python command uses .venv/bin/python explicitly: no activation needed.

PYTHON_SYS := $(shell command -v python3.11 || command -v python3)
VENV       := .venv
PY         := $(VENV)/bin/python
PYTEST_ARGS ?= -q

.PHONY: venv catalogs node_modules checkov test test-fast run bench clean package deploy i18n fuzz load

# The virtualenv with requirements-dev.txt, and the compiled catalogs.
# Reinstalls only when a requirements file is newer than the stamp.
venv: $(VENV)/.installed catalogs

$(VENV)/.installed: requirements.txt requirements-run.txt requirements-dev.txt
	@$(PYTHON_SYS) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed; $(PYTHON_SYS) is $$($(PYTHON_SYS) --version)"; exit 1; }
	$(PY) -c 'import sys, pip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || $(PYTHON_SYS) -m venv --clear $(VENV)
	$(PY) -m pip install -r requirements-dev.txt
	touch $(VENV)/.installed-run $@

# What `make run` needs, and no test tool (requirements-run.txt, which
# requirements-dev.txt includes): its own stamp, so that a fresh machine's
# first `make run` does not install playwright, schemathesis, sympy, ...
# `make venv` (test, test-fast) installs the rest on top.
$(VENV)/.installed-run: requirements.txt requirements-run.txt
	@$(PYTHON_SYS) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed; $(PYTHON_SYS) is $$($(PYTHON_SYS) --version)"; exit 1; }
	$(PY) -c 'import sys, pip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || $(PYTHON_SYS) -m venv --clear $(VENV)
	$(PY) -m pip install -r requirements-run.txt
	touch $@

# The Dutch catalogs compiled (.po -> .mo), which chalicelib/i18n.py reads with
# the standard library's gettext. Not in git; rebuilt when a .po is newer.
# (scripts/package.py compiles them into deployment.zip by itself.)
CATALOGS := $(patsubst %.po,%.mo,$(wildcard chalicelib/locales/*/LC_MESSAGES/*.po))
catalogs: $(CATALOGS)

chalicelib/locales/%.mo: chalicelib/locales/%.po | $(VENV)/.installed-run
	$(VENV)/bin/pybabel compile -l $(word 3,$(subst /, ,$@)) -i $< -o $@.tmp && mv $@.tmp $@

# JavaScript used by the tests (ical.js, axe-core), exactly as locked.
node_modules: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# checkov (the IaC scanner the package test runs) in a virtualenv of its own:
# its dependencies clash with requirements-dev.txt's pins.
CHECKOV := .local/checkov
checkov: $(CHECKOV)/.installed

$(CHECKOV)/.installed: requirements-checkov.txt
	$(PYTHON_SYS) -m venv --clear $(CHECKOV)
	$(CHECKOV)/bin/pip install -q -r requirements-checkov.txt
	touch $@

# Every test, on JOBS pytest-xdist workers (CI: 2 cores). --dist loadgroup: the
# tests sharing the live server or the package build stay on one worker
# (tests/plugins/tiers.py). JOBS=0: in one process.
JOBS ?= 2
XDIST = $(if $(filter 0,$(JOBS)),,-n $(JOBS) --dist loadgroup)

test: venv node_modules checkov
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

# The quick tiers only, in parallel: no browser, fuzzing, load, moto scaling,
# live servers or package build (marker live, tests/plugins/tiers.py).
test-fast: venv node_modules
	$(PY) -m pytest $(XDIST) -m "not live" $(PYTEST_ARGS)

# The whole service on this machine: moto server, chalice local, reminder loop.
# Installs only what they need (requirements-run.txt), not the test tools.
run: $(VENV)/.installed-run catalogs
	$(PY) scripts/run_local.py

bench: venv
	@set -e; for f in benchmarks/bench_*.py; do \
		[ -e "$$f" ] || { echo "no benchmarks/bench_*.py yet"; break; }; \
		echo "== $$f"; $(PY) "$$f"; \
	done

# schemathesis against a throwaway chalice local + moto: every operation of
# /openapi.json, FUZZ_EXAMPLES per operation (the suite runs 4). docs/testing.md.
FUZZ_EXAMPLES ?= 100
fuzz: venv
	$(PY) scripts/fuzz.py --max-examples $(FUZZ_EXAMPLES)

# The load test alone, with its figures printed (it also runs in make test).
load: venv
	$(PY) -m pytest -q -s tests/live/test_load.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Texts: extract every translatable string, merge into the Dutch catalog.
# Translate the new entries in chalicelib/locales/nl/LC_MESSAGES/messages.po;
# `make catalogs` (a part of venv, test and run) compiles them.
i18n: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg --no-location --sort-output -o chalicelib/locales/messages.pot .
	$(VENV)/bin/pybabel update --no-fuzzy-matching --ignore-obsolete -D messages -i chalicelib/locales/messages.pot -d chalicelib/locales -l nl
	$(VENV)/bin/pybabel extract -F babel-mail.cfg --no-location --sort-output -o chalicelib/locales/mail.pot .
	test -f chalicelib/locales/nl/LC_MESSAGES/mail.po || $(VENV)/bin/pybabel init -D mail -i chalicelib/locales/mail.pot -d chalicelib/locales -l nl
	$(VENV)/bin/pybabel update --no-fuzzy-matching --ignore-obsolete -D mail -i chalicelib/locales/mail.pot -d chalicelib/locales -l nl

# Deployment (docs/operations.md, "Deploying from scratch"). STAGE is dev or prod.
STAGE ?= dev
STACK ?= sro-events-$(STAGE)
# Every aws command names the region: an operator's default (AWS_DEFAULT_REGION,
# ~/.aws/config) must not put a stage elsewhere. DEPLOY_BUCKET must be in it.
REGION ?= eu-west-1

# dist/$(STAGE)/sam.json and deployment.zip: chalice package merged with
# infra/template.json, then slimmed. Needs no AWS credentials.
package: venv
	AWS_DEFAULT_REGION=$(REGION) $(PY) scripts/package.py $(STAGE)

# ALARM_TOPIC: an SNS topic ARN the stack's alarms notify (optional).
# Upload and deploy with the AWS CLI and the operator's credentials (not run
# in CI). DEPLOY_BUCKET: an S3 bucket in REGION for the code and the template:
# `cloudformation deploy` refuses a template over 51,200 bytes unless it goes
# through S3 (the packaged one is larger), so deploy names the bucket too.
deploy: package
	@test -n "$(DEPLOY_BUCKET)" || { echo "set DEPLOY_BUCKET=<s3 bucket for the code>"; exit 2; }
	aws cloudformation package --region $(REGION) --template-file dist/$(STAGE)/sam.json \
		--s3-bucket $(DEPLOY_BUCKET) --s3-prefix $(STACK) --use-json \
		--output-template-file dist/$(STAGE)/packaged.json
	aws cloudformation deploy --region $(REGION) --template-file dist/$(STAGE)/packaged.json \
		--s3-bucket $(DEPLOY_BUCKET) --s3-prefix $(STACK) \
		--stack-name $(STACK) --parameter-overrides Stage=$(STAGE) $(if $(ALARM_TOPIC),AlarmTopicArn=$(ALARM_TOPIC)) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset
	aws cloudformation describe-stacks --region $(REGION) --stack-name $(STACK) --query "Stacks[0].Outputs" --output table
