# refund_proof — developer commands. Odoo's source is found through ODOO_SRC (default
# /opt/odoo/18.0); everything else is set up by `make setup`. See README.md.
SHELL := /bin/bash
export ODOO_SRC ?= /opt/odoo/18.0

.PHONY: setup test test-slow run
setup:  ## system packages, venv, PostgreSQL role, Odoo config (idempotent)
	scripts/setup.sh

test:  ## fresh test database with refund_proof, then pytest-odoo on tests/ and the log check
	scripts/test.sh $(ARGS)

test-slow:  ## the long reliability loops (20 concurrent refunds x 50 transactions) and the load test
	PYTEST_MARK=slow scripts/test.sh $(ARGS)

run:  ## demo server on http://localhost:8069 (admin / admin)
	scripts/run.sh

.PHONY: bench
bench:  ## benchmarks (bench/RESULTS.md): proof rendering, verification page, refund flow
	bash bench/run.sh

.PHONY: pot
pot:  ## export the .pot of refund_proof and of each bridge from Odoo, merge into fr.po, ro.po
	scripts/i18n.sh

.PHONY: lint
lint:  ## OCA's checks: ruff, ruff-format, pylint-odoo, oca-odoo-pre-commit-hooks, prettier
	scripts/lint.sh

.PHONY: dist
dist:  ## build the odoo-addon-refund_proof wheel into dist/
	scripts/dist.sh

.PHONY: odoo-suites
odoo-suites:  ## Odoo's own tests (payment, account_payment, providers, sale) without and with refund_proof, compared
	scripts/odoo_suites.sh $(ARGS)
