#!/usr/bin/env bash
# make run: an Odoo server on localhost:$HTTP_PORT with refund_proof and its demo data.
# Log in as admin / admin. RESET=1 rebuilds the demo database.
set -euo pipefail
source "$(dirname "$0")/env.sh"
require_odoo
[ -x "$PY" ] || die "no venv at $VENV: run 'make setup' first"
ADDONS="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$REPO_ROOT"
odoo() { "$PY" "$ODOO_BIN" -c "$ODOO_CONF" --addons-path="$ADDONS" "$@"; }
[ "${RESET:-0}" = 1 ] && drop_db "$DEMO_DB"
if ! db_exists "$DEMO_DB"; then
    say "creating demo database $DEMO_DB (a few minutes, once)"
    odoo -d "$DEMO_DB" -i refund_proof,payment_demo --load-language=fr_FR,ro_RO \
        --stop-after-init --http-port="$HTTP_PORT" \
        || { drop_db "$DEMO_DB"; die "demo database creation failed"; }
else
    odoo -d "$DEMO_DB" -u refund_proof --stop-after-init --http-port="$HTTP_PORT"
fi
say "serving http://localhost:$HTTP_PORT  (login admin / password admin)"
exec "$PY" "$ODOO_BIN" -c "$ODOO_CONF" --addons-path="$ADDONS" -d "$DEMO_DB" \
    --db-filter="^$DEMO_DB\$" --http-port="$HTTP_PORT" "$@"
