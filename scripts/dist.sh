#!/usr/bin/env bash
# make dist: build the odoo-addon-refund_proof wheel (whool backend) into dist/.
set -euo pipefail
source "$(dirname "$0")/env.sh"
[ -x "$LINT_VENV/bin/pip" ] || die "run 'make setup' first"
mkdir -p "$REPO_ROOT/dist"
rm -f "$REPO_ROOT"/dist/odoo_addon_refund_proof-*.whl
"$LINT_VENV/bin/pip" wheel -q --no-deps -w "$REPO_ROOT/dist" "$REPO_ROOT/refund_proof" \
    2> >(grep -v 'is ignored' >&2)
ls "$REPO_ROOT"/dist/odoo_addon_refund_proof-*.whl
