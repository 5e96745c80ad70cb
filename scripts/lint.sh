#!/usr/bin/env bash
# make lint: OCA's checks, installed by `make setup` from PyPI and npm (no hook repository
# is cloned): ruff, ruff-format, pylint-odoo (mandatory checks), oca-odoo-pre-commit-hooks
# (module and .po checks), prettier with the XML plugin.
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
BIN="$LINT_VENV/bin"
PRETTIER="$RP_HOME/node/node_modules/.bin/prettier"
PLUGIN="$RP_HOME/node/node_modules/@prettier/plugin-xml/src/plugin.js"
[ -x "$BIN/ruff" ] && [ -x "$PRETTIER" ] || die "lint tools missing: run 'make setup'"
status=0
run() { say "$1"; shift; "$@" || status=1; }
shopt -s nullglob
# The addon, its provider bridges (refund_proof_<provider>/), and the test-only addons of
# tests/addons (the fake payment provider).
MANIFESTS=(refund_proof/__manifest__.py refund_proof_*/__manifest__.py tests/addons/*/__manifest__.py)
BRIDGES=(refund_proof_*/)
PY_FILES=(refund_proof "${BRIDGES[@]%/}" tests testkit scripts bench)
ADDONS=("${MANIFESTS[@]%/__manifest__.py}")
run "ruff" "$BIN/ruff" check "${PY_FILES[@]}"
run "ruff format" "$BIN/ruff" format --check "${PY_FILES[@]}"
run "pylint-odoo" "$BIN/pylint" --rcfile=.pylintrc-mandatory "${ADDONS[@]}"
run "oca-checks-odoo-module" "$BIN/oca-checks-odoo-module" "${MANIFESTS[@]}"
run "oca-checks-po" "$BIN/oca-checks-po" refund_proof*/i18n/*.po
run "prettier" "$PRETTIER" --plugin="$PLUGIN" --check "refund_proof*/**/*.xml" "tests/addons/**/*.xml"
[ $status = 0 ] && say "lint clean" || say "lint FAILED"
exit $status
