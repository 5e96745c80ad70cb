#!/usr/bin/env bash
# make setup: everything but Odoo's source. Idempotent: a second run only checks.
set -euo pipefail
source "$(dirname "$0")/env.sh"
require_odoo
mkdir -p "$RP_HOME/data"

# 1. System packages (Debian): wkhtmltopdf renders the proof in installed fonts (Lato, else
#    DejaVu; it draws web fonts as outlines: refund_proof/report/report_refund_proof_layout.xml),
#    poppler (pdftoppm, pdftotext) and zbar let tests read it back, chromium runs browser
#    tours, postgresql is the database.
declare -A need=(
    [wkhtmltopdf]=wkhtmltopdf [pdftoppm]=poppler-utils [zbarimg]="zbar-tools libzbar0"
    [chromium]=chromium [pg_ctlcluster]="postgresql postgresql-client" [msgfmt]=gettext [wrk]=wrk
)
missing=()
for cmd in "${!need[@]}"; do command -v "$cmd" >/dev/null || missing+=(${need[$cmd]}); done
for pkg in fonts-lato fonts-dejavu-core; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" xfonts-75dpi xfonts-base >/dev/null
fi

# 2. Python venv with Odoo's requirements (fixed for Python 3.11) and ours.
odoo_req="$RP_HOME/odoo-requirements.txt"
sed -e '/^python-ldap/d' -e 's/^cbor2==5\.4\.2.*/cbor2==5.6.2/' "$ODOO_SRC/requirements.txt" >"$odoo_req"
stamp=$(cat "$odoo_req" "$REPO_ROOT/requirements-dev.txt" | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.refund_proof_stamp" 2>/dev/null)" != "$stamp" ]; then
    say "creating the Python venv in $VENV (about a minute)"
    [ -x "$PY" ] || "$PYTHON_BIN" -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip 'setuptools<81' wheel 2>&1 | grep -v 'is ignored' || true
    # Some of Odoo's pinned sdists still import pkg_resources: build them against the venv's
    # setuptools<81 instead of an isolated, newer one.
    "$PY" -m pip install -q --no-build-isolation -r "$odoo_req" -r "$REPO_ROOT/requirements-dev.txt" \
        2> >(grep -v 'is ignored' >&2)
    echo "$stamp" >"$VENV/.refund_proof_stamp"
fi

# Linters in a venv of their own (OCA's hooks pin a polib that Odoo's requirements don't).
lint_stamp=$(sha256sum "$REPO_ROOT/requirements-lint.txt" | cut -c1-16)
if [ "$(cat "$LINT_VENV/.refund_proof_stamp" 2>/dev/null)" != "$lint_stamp" ]; then
    say "creating the lint venv in $LINT_VENV"
    [ -x "$LINT_VENV/bin/python" ] || "$PYTHON_BIN" -m venv "$LINT_VENV"
    "$LINT_VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
    "$LINT_VENV/bin/python" -m pip install -q -r "$REPO_ROOT/requirements-lint.txt" \
        2> >(grep -v 'is ignored' >&2)
    echo "$lint_stamp" >"$LINT_VENV/.refund_proof_stamp"
fi

# Prettier and its XML plugin (versions pinned in package.json) for `make lint`.
if [ ! -x "$RP_HOME/node/node_modules/.bin/prettier" ] \
        || ! cmp -s "$REPO_ROOT/package.json" "$RP_HOME/node/package.json"; then
    command -v npm >/dev/null || die "npm is needed for prettier (Debian package npm)"
    say "installing prettier from npm"
    mkdir -p "$RP_HOME/node" && cp "$REPO_ROOT/package.json" "$RP_HOME/node/package.json"
    (cd "$RP_HOME/node" && npm install --no-audit --no-fund --silent)
fi

# Odoo is imported from ODOO_SRC (pytest-odoo imports it): a .pth file, no copy of Odoo.
site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$ODOO_SRC" >"$site/odoo_src.pth"

# OCA's queue_job (refund_proof_batch's job queue), from its PyPI wheel (the version for
# ODOO_SRC: scripts/env.sh). --no-deps: its
# metadata asks for an `odoo` distribution that PyPI does not have (Odoo is ODOO_SRC);
# its one Python dependency, requests, is one of Odoo's requirements (checked). The
# addon lands in $site/odoo/addons/queue_job (a namespace folder, no odoo/__init__.py,
# so `import odoo` still finds ODOO_SRC), which the scripts add to the addons path.
if [ ! -d "$site/odoo_addon_queue_job-$QUEUE_JOB_VERSION.dist-info" ]; then
    say "installing OCA's queue_job $QUEUE_JOB_VERSION into $VENV"
    "$PY" -m pip install -q --no-deps "odoo-addon-queue_job==$QUEUE_JOB_VERSION" \
        2> >(grep -v 'is ignored' >&2)
fi
"$PY" -c 'import requests' 2>/dev/null || "$PY" -m pip install -q requests
[ ! -e "$site/odoo/__init__.py" ] || die "$site/odoo/__init__.py would hide ODOO_SRC's odoo"
VENV_ADDONS="$site/odoo/addons"

# 3. PostgreSQL: the system cluster, with a non-superuser role (Odoo refuses 'postgres').
if command -v pg_lsclusters >/dev/null && [ "$(id -u)" = 0 ]; then
    read -r ver name < <(pg_lsclusters -h | awk '{print $1, $2; exit}')
    if ! pg_lsclusters -h | grep -q online; then
        say "starting PostgreSQL $ver/$name"
        pg_ctlcluster "$ver" "$name" start
    fi
    if [ "$(su - postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$PGUSER'\"")" != 1 ]; then
        say "creating database role $PGUSER"
        su - postgres -c "psql -q -c \"CREATE ROLE \\\"$PGUSER\\\" LOGIN CREATEDB PASSWORD '$PGPASSWORD'\""
    fi
fi
psql_app -d postgres -tAc 'SELECT 1' >/dev/null \
    || die "cannot reach PostgreSQL as $PGUSER@$PGHOST:$PGPORT (set PGHOST/PGPORT/PGUSER/PGPASSWORD)"

# 4. Odoo configuration used by make test / make run.
cat >"$ODOO_CONF" <<CONF
[options]
addons_path = $ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$VENV_ADDONS,$REPO_ROOT
db_host = $PGHOST
db_port = $PGPORT
db_user = $PGUSER
db_password = $PGPASSWORD
data_dir = $RP_HOME/data
admin_passwd = admin

[queue_job]
# Channels of OCA's queue_job (read by its job runner when Odoo loads queue_job server-wide:
# make run). A bulk refund's payment is a job on its provider's channel; capacities stand
# for the providers' rate limits (README, "Running in production"). Each refund's proof
# (issue and e-mail) is a job on root.refund_proof.proof: its capacity is how many proofs
# render at once.
channels = root:4,root.refund_proof:4,root.refund_proof.proof:4,root.refund_proof.stripe:2,root.refund_proof.adyen:2,root.refund_proof.paypal:2,root.refund_proof.mollie:2,root.refund_proof.razorpay:2,root.refund_proof.authorize:1,root.refund_proof.demo:2
CONF
say "setup done: venv $VENV, config $ODOO_CONF, Odoo $ODOO_SRC"
