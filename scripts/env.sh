# Shared settings of the project's scripts; every value can be overridden from the environment.
# Sourced, not executed.
ODOO_SRC=${ODOO_SRC:-/opt/odoo/18.0}
RP_HOME=${RP_HOME:-/opt/refund_proof}          # venv, config, filestore: outside the repository
VENV=${VENV:-$RP_HOME/venv}
LINT_VENV=${LINT_VENV:-$RP_HOME/lint-venv}
PYTHON_BIN=${PYTHON_BIN:-python3}
PGHOST=${PGHOST:-localhost}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-odoo}
PGPASSWORD=${PGPASSWORD:-odoo}
TEST_DB=${TEST_DB:-refund_proof_test}
DEMO_DB=${DEMO_DB:-refund_proof_demo}
HTTP_PORT=${HTTP_PORT:-8069}
# Modules installed in the cached template database; refund_proof's own dependencies.
# Odoo's provider modules the bridges (refund_proof_<provider>/) build on: in the test
# database, so that the bridges are installed and tested through Odoo's real code.
PROVIDER_MODULES=${PROVIDER_MODULES:-payment_stripe,payment_adyen,payment_razorpay,payment_mollie,payment_authorize,payment_paypal}
# The other Odoo modules a bridge builds on (refund_proof_sale: sale; refund_proof_loyalty:
# loyalty).
BRIDGE_MODULES=${BRIDGE_MODULES:-sale,loyalty}
BASE_MODULES=${BASE_MODULES:-account_payment,payment_demo,$PROVIDER_MODULES,$BRIDGE_MODULES}
# wkhtmltopdf (Qt) complains on stderr without it, and Odoo logs that as a warning.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/runtime-$(id -u)}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export ODOO_SRC RP_HOME VENV PGHOST PGPORT PGUSER PGPASSWORD TEST_DB DEMO_DB HTTP_PORT

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# testkit/: the library the tests and the benchmarks share (refund_proof_testkit, not an
# Odoo addon), importable by pytest and by bench/'s scripts, from the checkout being run
# (not a path fixed in the venv, which several checkouts may share).
export PYTHONPATH="$REPO_ROOT/testkit${PYTHONPATH:+:$PYTHONPATH}"
ODOO_BIN="$ODOO_SRC/odoo-bin"
# OCA's queue_job (`make setup`: the wheel odoo-addon-queue_job) lands in the venv's
# site-packages/odoo/addons, a folder of the addons path like Odoo's own.
# 18.0.4.1.2.2 needs Odoo 18.0's `api.private` (18.0 of 2025 on); an older 18.0 tree
# (without it) gets 18.0.1.6.1, the last queue_job release that runs on it.
if grep -q '^def private' "$ODOO_SRC/odoo/api.py" 2>/dev/null; then
    QUEUE_JOB_VERSION=${QUEUE_JOB_VERSION:-18.0.4.1.2.2}
else
    QUEUE_JOB_VERSION=${QUEUE_JOB_VERSION:-18.0.1.6.1}
fi
VENV_ADDONS=$(shopt -s nullglob; d=("$VENV"/lib/python3*/site-packages/odoo/addons); echo "${d[0]:-}")
ODOO_CONF="$RP_HOME/odoo.conf"
PY="$VENV/bin/python"

say() { printf '\033[1m[refund_proof]\033[0m %s\n' "$*"; }
die() { printf '[refund_proof] ERROR: %s\n' "$*" >&2; exit 1; }

require_odoo() {
    if [ ! -f "$ODOO_SRC/odoo-bin" ] || [ ! -d "$ODOO_SRC/addons/account_payment" ]; then
        cat >&2 <<MSG
[refund_proof] ERROR: Odoo 18.0 source not found at ODOO_SRC=$ODOO_SRC

refund_proof runs (and is tested) against a real Odoo 18.0 tree, which is not
bundled with this project. Provide one, then run the command again, e.g.:

    git clone --depth 1 --branch 18.0 https://github.com/odoo/odoo.git /opt/odoo/18.0

or point ODOO_SRC at an existing Odoo 18.0 checkout:

    make setup ODOO_SRC=/path/to/odoo-18.0
MSG
        exit 2
    fi
    grep -q "version_info = (18, 0" "$ODOO_SRC/odoo/release.py" \
        || die "$ODOO_SRC is not Odoo 18.0 (see $ODOO_SRC/odoo/release.py)"
}

psql_app() { PGPASSWORD=$PGPASSWORD psql -X -q -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" "$@"; }
db_exists() { [ "$(psql_app -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$1'")" = 1 ]; }
drop_db() { psql_app -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null; rm -rf "$RP_HOME/data/filestore/$1"; }
