#!/usr/bin/env bash
# make run: an Odoo server on localhost:$HTTP_PORT with refund_proof and its demo data.
# Log in as admin / admin (demo users: see README.md). RESET=1 rebuilds the database.
set -euo pipefail
source "$(dirname "$0")/env.sh"
require_odoo
[ -x "$PY" ] || die "no venv at $VENV: run 'make setup' first"
ADDONS="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$VENV_ADDONS,$REPO_ROOT"
odoo() { "$PY" "$ODOO_BIN" -c "$ODOO_CONF" --addons-path="$ADDONS" "$@"; }
odoo_shell() { "$PY" "$ODOO_BIN" shell -c "$ODOO_CONF" --addons-path="$ADDONS" "$@"; }
[ "${RESET:-0}" = 1 ] && drop_db "$DEMO_DB"
if ! db_exists "$DEMO_DB"; then
    say "creating demo database $DEMO_DB (a few minutes, once)"
    # refund_proof's demo data holds its users and customers. Dressing the shop changes
    # base records (main company, admin, Odoo's demo provider), so it is a step of
    # make run, and so are the payments and refunds, which need the dressed provider.
    # payment_stripe brings refund_proof_stripe and its demo: a Stripe refund whose ARN
    # arrived by itself (recorded events replayed, no network).
    if ! odoo -d "$DEMO_DB" -i refund_proof,refund_proof_batch,payment_demo,payment_stripe \
            --load-language=fr_FR,ro_RO \
            --stop-after-init --http-port="$HTTP_PORT" \
        || ! odoo_shell -d "$DEMO_DB" <"$REPO_ROOT/scripts/demo_shop.py"; then
        drop_db "$DEMO_DB"; die "demo database creation failed"
    fi
else
    odoo -d "$DEMO_DB" -i refund_proof_batch -u refund_proof --stop-after-init \
        --http-port="$HTTP_PORT"
fi
say "serving http://localhost:$HTTP_PORT  (login admin / password admin)"
# queue_job server-wide: its job runner runs the bulk refunds' jobs, on the channels of
# odoo.conf's [queue_job] section (make setup).
exec "$PY" "$ODOO_BIN" -c "$ODOO_CONF" --addons-path="$ADDONS" -d "$DEMO_DB" \
    --db-filter="^$DEMO_DB\$" --http-port="$HTTP_PORT" --load=web,queue_job "$@"
