#!/usr/bin/env bash
# make pot: export refund_proof/i18n/refund_proof.pot from Odoo (a fresh database with the
# module installed), and merge it into the fr and ro catalogues with msgmerge when present.
set -euo pipefail
source "$(dirname "$0")/env.sh"
require_odoo
ADDONS="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$VENV_ADDONS,$REPO_ROOT"
DB="${TEST_DB}_i18n"
# refund_proof and each provider bridge beside it (refund_proof_<provider>/), with the
# provider modules they build on.
shopt -s nullglob
MODULES=(refund_proof)
for manifest in "$REPO_ROOT"/refund_proof_*/__manifest__.py; do
    MODULES+=("$(basename "$(dirname "$manifest")")")
done
drop_db "$DB"
"$PY" "$ODOO_BIN" -c "$ODOO_CONF" --addons-path="$ADDONS" -d "$DB" \
    -i "$(IFS=,; echo "${MODULES[*]}")" \
    --without-demo=all --stop-after-init --http-port=0 --log-level=warn
for module in "${MODULES[@]}"; do
    POT="$REPO_ROOT/$module/i18n/$module.pot"
    mkdir -p "$(dirname "$POT")"
    "$PY" "$ODOO_BIN" -c "$ODOO_CONF" --addons-path="$ADDONS" -d "$DB" --modules="$module" \
        --i18n-export="$POT" --stop-after-init --http-port=0 --log-level=warn
    for po in "$REPO_ROOT/$module"/i18n/*.po; do
        if command -v msgmerge >/dev/null; then
            msgmerge --quiet --update --no-fuzzy-matching --backup=none "$po" "$POT"
        fi
    done
    say "exported $POT ($(grep -c '^msgid ' "$POT") strings)"
done
drop_db "$DB"
# OCA's po formatting (wrapping at 78, translations equal to their source cleared).
[ -x "$LINT_VENV/bin/oca-checks-po" ] && "$LINT_VENV/bin/oca-checks-po" --fix "$REPO_ROOT"/refund_proof*/i18n/*.po >/dev/null || true
