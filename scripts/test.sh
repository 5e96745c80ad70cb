#!/usr/bin/env bash
# make test: a fresh database with refund_proof installed (from a cached template holding its
# dependencies), then the top-level tests/ with pytest-odoo, then the log check. The test
# database also gets the provider bridges (refund_proof_*/) with Odoo's provider modules, and
# payment_fakepsp (tests/addons), the fake payment provider of the fault
# tests; `make run`'s demo database does not.
# Extra arguments go to pytest, e.g.  scripts/test.sh tests/refund_proof/test_refund_amounts.py -k partial
# PYTEST_MARK selects by marker: "not slow" (default, make test) or "slow" (make test-slow).
# PYTEST_WORKERS: pytest-xdist processes, each on its own copy of the test database
# (pytest-odoo makes it), whole test classes (and modules) each; default 2. For the slow
# tests too: the load test (its own servers and cluster, mostly waiting on them) runs
# beside the concurrency loops; neither asserts a timing.
set -euo pipefail
source "$(dirname "$0")/env.sh"
require_odoo
PYTEST_MARK=${PYTEST_MARK:-not slow}
PYTEST_WORKERS=${PYTEST_WORKERS:-2}
[ -x "$PY" ] && "$PY" -c 'import odoo, pytest_odoo, xdist' 2>/dev/null \
    || die "no usable venv at $VENV: run 'make setup' first"
[ -f "$ODOO_CONF" ] || die "no $ODOO_CONF: run 'make setup' first"
psql_app -d postgres -tAc 'SELECT 1' >/dev/null \
    || die "PostgreSQL is not reachable as $PGUSER@$PGHOST:$PGPORT: run 'make setup' first"

ADDONS="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$VENV_ADDONS,$REPO_ROOT,$REPO_ROOT/tests/addons"
# refund_proof, every provider bridge beside it (each auto-installs with its provider
# module; named here so that a bridge that cannot install fails the run), the fake PSP.
BRIDGES=$(shopt -s nullglob; cd "$REPO_ROOT" && for d in refund_proof_*/__manifest__.py; do
    printf ',%s' "${d%%/*}"; done)
TEST_MODULES=refund_proof$BRIDGES,payment_fakepsp
LOGDIR=${LOGDIR:-$RP_HOME/logs}
mkdir -p "$LOGDIR"
INSTALL_LOG="$LOGDIR/install.log"
TEST_LOG="$LOGDIR/test.log"  # Under xdist, each worker's: test-gw0.log, test-gw1.log...
: >"$INSTALL_LOG"; : >"$TEST_LOG"; rm -f "$LOGDIR"/test-gw*.log
odoo() { "$PY" "$ODOO_BIN" -c "$ODOO_CONF" --addons-path="$ADDONS" "$@"; }

clone_db() {  # clone_db SOURCE TARGET: database and filestore
    drop_db "$2"
    psql_app -d postgres -c "CREATE DATABASE \"$2\" TEMPLATE \"$1\"" >/dev/null
    if [ -d "$RP_HOME/data/filestore/$1" ]; then
        mkdir -p "$RP_HOME/data/filestore"
        cp -a "$RP_HOME/data/filestore/$1" "$RP_HOME/data/filestore/$2"
    fi
}

# 1. Template with the dependencies, keyed on the Odoo tree and the module list.
key=$(cat "$ODOO_SRC/odoo/release.py" "$ODOO_SRC/addons/account_payment/__manifest__.py" \
      <(echo "$BASE_MODULES") | sha256sum | cut -c1-10)
TEMPLATE_DB="refund_proof_tmpl_$key"
if ! db_exists "$TEMPLATE_DB"; then
    say "building template database $TEMPLATE_DB ($BASE_MODULES, about a minute, cached)"
    if ! odoo -d "$TEMPLATE_DB" -i "$BASE_MODULES" --without-demo=all --stop-after-init \
            --http-port=0 --logfile="$LOGDIR/template.log" --log-level=warn; then
        drop_db "$TEMPLATE_DB"; die "template build failed, see $LOGDIR/template.log"
    fi
fi

# 2. Test database: template + refund_proof and the test-only modules. The seed copy is never
#    connected to, so tests that need committed data clone it into a scratch database of
#    their own.
say "installing $TEST_MODULES into $TEST_DB"
clone_db "$TEMPLATE_DB" "$TEST_DB"
odoo -d "$TEST_DB" -i "$TEST_MODULES" --stop-after-init --http-port=0 \
    --logfile="$INSTALL_LOG" --log-level=info \
    || { tail -40 "$INSTALL_LOG"; die "installing $TEST_MODULES failed, see $INSTALL_LOG"; }
clone_db "$TEST_DB" "${TEST_DB}_seed"

# 3. The tests. HttpCase and browser tours need --odoo-http; tests/conftest.py turns a skip
#    into a failure, so nothing is silently left out.
XDIST=()
[ "$PYTEST_WORKERS" -gt 1 ] && XDIST=(-n "$PYTEST_WORKERS" --dist loadscope)
say "running pytest${XDIST:+ in $PYTEST_WORKERS processes}"
set +e
cd "$REPO_ROOT"
REFUND_PROOF_SEED_DB="${TEST_DB}_seed" "$PY" -m pytest -p no:cacheprovider "${XDIST[@]}" \
    --odoo-config="$ODOO_CONF" --odoo-database="$TEST_DB" --odoo-addons-path="$ADDONS" \
    --odoo-http --odoo-log-level=info --odoo-extra="logfile=$TEST_LOG" \
    -m "$PYTEST_MARK" "${@:-tests}"
status=$?
set -e

# 4. Warning-clean run, as OCA's CI: any WARNING/ERROR/CRITICAL line in Odoo's logs fails,
#    except lines matched by tests/log-allowlist.txt (one explained regex per line).
"$PY" "$REPO_ROOT/scripts/checklog.py" "$REPO_ROOT/tests/log-allowlist.txt" "$INSTALL_LOG" "$TEST_LOG" \
    $(shopt -s nullglob; echo "$LOGDIR"/test-gw*.log) || status=1
drop_db "${TEST_DB}_seed"
exit $status
