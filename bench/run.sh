#!/usr/bin/env bash
# make bench: the benchmarks of refund_proof (see bench/RESULTS.md). Prints one line per
# figure on stdout (progress on stderr); profiles, query logs and plans go to $BENCH_OUT.
#
#   1. proof of refund issue (render + store) vs Odoo's payment receipt     bench_report.py
#   2. verification page vs /web/health, wrk on a --workers=2 server   (here) + profile_verify.py
#   3. refund flow: queries and time per refund vs plain Odoo 18       bench_refund.py
#      and searches with 100,000 refunds in the database              bench_bulk.py
#   4. under load: refunds/s and latency, one and two servers in prefork,  bench_load.py
#      refund_proof vs plain Odoo; public pages on two servers
#   5. the load test at 1,000 requests                                   tests/refund_proof/test_load.py
#   6. the proofs' drain after a burst of refunds, mail cron vs queue     bench_batch.py
#      jobs, against the machine's limit; bulk refunds (issue 27)
#
# Databases: refund_proof_bench_{plain,proof}, clones of the cached template database (the
# dependencies, built by `make test`); plain has no refund_proof. Dropped at the end unless
# BENCH_KEEP=1. Ports: BENCH_PORT (8170) and BENCH_PORT+1 for HTTP, +10 and +11 for gevent.
# Step 4 copies refund_proof_bench_load_{plain,proof} (pristine clones) into PostgreSQL
# clusters of its own, with servers on free ports
# (testkit/refund_proof_testkit/load_site.py).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
source "$BENCH_DIR/../scripts/env.sh"
require_odoo
[ -x "$PY" ] || die "no venv at $VENV: run 'make setup' first"
command -v wrk >/dev/null || die "wrk not found: apt-get install -y wrk"

ADDONS="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$REPO_ROOT"
OUT=${BENCH_OUT:-/tmp/refund_proof_bench}
PORT=${BENCH_PORT:-8170}
DB_PLAIN=refund_proof_bench_plain
DB_PROOF=refund_proof_bench_proof
DB_LOAD_PLAIN=refund_proof_bench_load_plain
DB_LOAD_PROOF=refund_proof_bench_load_proof
WRK_ARGS=(-t2 -c8 -d10s --latency)   # bounded load: 2 threads, 8 connections, 10 s
mkdir -p "$OUT"
rm -f "$OUT"/{figures.txt,raw.txt,wrk.txt,wrk-raw.txt,steps.txt,*.log,*.out,*.sql,profile_*.txt,explain_*.txt,load-*.txt}
rm -rf "$OUT"/load-{plain,proof} "$OUT"/batch-{cron,jobs}
rm -f "$OUT"/profile_batch.{raw,log}
export BENCH_ODOO_CONF="$ODOO_CONF" BENCH_ADDONS="$ADDONS" PYTHONDONTWRITEBYTECODE=1
odoo() { "$PY" "$ODOO_BIN" -c "$ODOO_CONF" --addons-path="$ADDONS" "$@"; }
step() { printf '[bench] %s (load average %s)\n' "$*" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    | tee -a "$OUT/steps.txt" >&2; }
# Run a benchmark script: its figures to stdout (and figures.txt), the rest to its log.
bench() {
    local log=$1; shift
    if ! "$PY" "$@" >"$OUT/$log.out" 2>>"$OUT/$log.log"; then
        tail -20 "$OUT/$log.log" >&2
        die "$(basename "$1") failed, see $OUT/$log.log"
    fi
    cat "$OUT/$log.out" >>"$OUT/raw.txt"
    grep '^FIGURE ' "$OUT/$log.out" | sed 's/^FIGURE //' | tee -a "$OUT/figures.txt"
}
fig() { printf '%s\n' "$*" | tee -a "$OUT/figures.txt"; }
value() { awk -v k="$1" '$1 == k {print $3; exit}' "$OUT/figures.txt"; }

SERVER_PID=
stop_server() {  # SIGTERM to the master: it stops its workers and waits for them
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
cleanup() {
    stop_server
    if [ "${BENCH_KEEP:-0}" != 1 ]; then
        drop_db "$DB_PLAIN"; drop_db "$DB_PROOF"; drop_db "$DB_LOAD_PLAIN"; drop_db "$DB_LOAD_PROOF"
    fi
}
trap cleanup EXIT

start_server() {  # start_server PORT [extra odoo options]: multi-process, 2 HTTP workers
    local port=$1; shift
    # Odoo itself in the background (not through a function: $! must be its pid, so that
    # stopping it stops its workers too).
    "$PY" "$ODOO_BIN" -c "$ODOO_CONF" --addons-path="$ADDONS" -d "$DB_PROOF" \
        --http-interface=127.0.0.1 --http-port="$port" --gevent-port=$((port + 10)) \
        --workers=2 --max-cron-threads=0 \
        --logfile="$OUT/server-$port.log" --log-level=warn "$@" >/dev/null 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 60); do
        curl -fs "http://127.0.0.1:$port/web/health" >/dev/null && return 0
        sleep 0.5
    done
    die "the Odoo server on port $port did not start, see $OUT/server-$port.log"
}

clone_db() {  # clone_db SOURCE TARGET: database and filestore
    drop_db "$2"
    psql_app -d postgres -c "CREATE DATABASE \"$2\" TEMPLATE \"$1\"" >/dev/null
    if [ -d "$RP_HOME/data/filestore/$1" ]; then
        cp -a "$RP_HOME/data/filestore/$1" "$RP_HOME/data/filestore/$2"
    fi
}

# wrk_run NAME PATH: one bounded wrk run (after a 2 s warm-up), parsed into
# "NAME requests/s p50_ms p99_ms non2xx" appended to $OUT/wrk.txt.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.1f", v}'; }
wrk_run() {
    local name=$1 url="http://127.0.0.1:$PORT_NOW$2" out
    wrk -t2 -c8 -d2s "$url" >/dev/null
    out=$(wrk "${WRK_ARGS[@]}" "$url")
    printf '=== %s %s\n%s\n' "$name" "$url" "$out" >>"$OUT/wrk-raw.txt"
    echo "$name $(awk '/^Requests\/sec/ {print $2}' <<<"$out") \
$(awk '$1 == "50%" {print $2}' <<<"$out" | to_ms) $(awk '$1 == "99%" {print $2}' <<<"$out" | to_ms) \
$(awk '/Non-2xx/ {print $4}' <<<"$out")" >>"$OUT/wrk.txt"
}
# wrk_figures NAME: mean over the runs of NAME of requests/s, p50 and p99.
wrk_figures() {
    awk -v n="$1" -v label="$2" '$1 == n {r += $2; p50 += $3; p99 += $4; bad += $5; k++}
        END {printf "verify.%s_rps = %.0f req/s  # %s, mean of %d wrk runs -t2 -c8 -d10s; p50 %.1f ms, p99 %.1f ms%s\n",
             n, r / k, label, k, p50 / k, p99 / k, bad ? ", NON-2XX: " bad : ""}' "$OUT/wrk.txt"
}

step "output directory: $OUT"
# 0. Databases: plain = the template (Odoo 18 + account_payment + payment_demo, no demo data),
#    proof = the template + refund_proof.
key=$(cat "$ODOO_SRC/odoo/release.py" "$ODOO_SRC/addons/account_payment/__manifest__.py" \
      <(echo "$BASE_MODULES") | sha256sum | cut -c1-10)
TEMPLATE_DB="refund_proof_tmpl_$key"   # the same key as scripts/test.sh
db_exists "$TEMPLATE_DB" || die "no template database $TEMPLATE_DB: run 'make test' once (it builds it)"
step "databases $DB_PLAIN and $DB_PROOF from $TEMPLATE_DB"
clone_db "$TEMPLATE_DB" "$DB_PLAIN"
clone_db "$TEMPLATE_DB" "$DB_PROOF"
odoo -d "$DB_PROOF" -i refund_proof --stop-after-init --http-port=0 \
    --logfile="$OUT/install.log" --log-level=warn 2>>"$OUT/install.log" \
    || die "installing refund_proof failed, see $OUT/install.log"
# The load step's sources, before the other steps add their data.
clone_db "$TEMPLATE_DB" "$DB_LOAD_PLAIN"
clone_db "$DB_PROOF" "$DB_LOAD_PROOF"

# 1. Proof rendering. The server serves the report CSS to wkhtmltopdf (report.url).
PORT_NOW=$PORT
start_server "$PORT"
step "demo data: 20 paid transactions, payments and done refunds"
VERIFY_PATH=$("$PY" "$BENCH_DIR/setup_data.py" "$DB_PROOF" "http://127.0.0.1:$PORT" \
    2>>"$OUT/setup.log" | awk '/^VERIFY_PATH/ {print $2}')
[ -n "$VERIFY_PATH" ] || die "no verification path, see $OUT/setup.log"
step "1. proof of refund vs payment receipt (about 90 s)"
bench report "$BENCH_DIR/bench_report.py" "$DB_PROOF" "$OUT/profile_report.txt"

# 2. Verification page vs /web/health on the same server (-d DB, --workers=2), alternated.
step "2. verification page vs /web/health, wrk ${WRK_ARGS[*]}"
curl -fs -o /dev/null "http://127.0.0.1:$PORT$VERIFY_PATH" || die "verification page not 200"
wrk_run health /web/health
wrk_run verify "$VERIFY_PATH"
wrk_run verify "$VERIFY_PATH"
wrk_run health /web/health
wrk_run login /web/login
wrk_figures health "/web/health" | tee -a "$OUT/figures.txt"
wrk_figures verify "verification page" | tee -a "$OUT/figures.txt"
wrk_figures login "Odoo's /web/login page, for scale" | tee -a "$OUT/figures.txt"
h=$(value verify.health_rps); v=$(value verify.verify_rps)
fig "verify.ratio = $(awk -v v="$v" -v h="$h" 'BEGIN {printf "%.2f", v / h}') x  # verification / health throughput; target >= 0.8: $(awk -v v="$v" -v h="$h" 'BEGIN {print (v / h >= 0.8) ? "MET" : "MISSED"}')"
stop_server
# The same pair on a server with --db-filter (Odoo then lists the databases for every
# request without a session cookie): another common configuration.
PORT_NOW=$((PORT + 1))
start_server "$PORT_NOW" --db-filter="^$DB_PROOF\$"
wrk_run health_dbfilter /web/health
wrk_run verify_dbfilter "$VERIFY_PATH"
wrk_figures health_dbfilter "/web/health, server with --db-filter" | tee -a "$OUT/figures.txt"
wrk_figures verify_dbfilter "verification page, server with --db-filter" | tee -a "$OUT/figures.txt"
h=$(value verify.health_dbfilter_rps); v=$(value verify.verify_dbfilter_rps)
fig "verify.ratio_dbfilter = $(awk -v v="$v" -v h="$h" 'BEGIN {printf "%.2f", v / h}') x  # with --db-filter; target >= 0.8: $(awk -v v="$v" -v h="$h" 'BEGIN {print (v / h >= 0.8) ? "MET" : "MISSED"}')"
stop_server
step "2b. one request in process: time, queries and profile (about 30 s)"
bench verify "$BENCH_DIR/profile_verify.py" "$DB_PROOF" "$VERIFY_PATH" "$OUT/profile_verify.txt"

# 3. Refund flow, then 100,000 refunds.
step "3. refund flow: 50 refunds of one transaction, plain Odoo and refund_proof"
bench refund "$BENCH_DIR/bench_refund.py" "$DB_PLAIN" plain 50 "$OUT/queries_plain.sql"
bench refund "$BENCH_DIR/bench_refund.py" "$DB_PROOF" proof 50 "$OUT/queries_proof.sql"
bench refund "$BENCH_DIR/bench_refund.py" "$DB_PROOF" proof_user 50 "$OUT/queries_proof_user.sql"
step "3b. 100,000 refunds in the database (about 40 s)"
bench bulk "$BENCH_DIR/bench_bulk.py" "$DB_PROOF" "$OUT/explain_bulk.txt"
bench refund "$BENCH_DIR/bench_refund.py" "$DB_PROOF" proof_100k 10
for k in 10 50; do
    p=$(value "refund.plain.queries_k$k"); r=$(value "refund.proof.queries_k$k")
    fig "refund.queries_ratio_k$k = $(awk -v r="$r" -v p="$p" 'BEGIN {printf "%.2f", r / p}') x  # refund_proof $r / plain $p queries; target <= 1.5: $(awk -v r="$r" -v p="$p" 'BEGIN {print (r / p <= 1.5) ? "MET" : "MISSED"}')"
done
p=$(value refund.plain.ms_median); r=$(value refund.proof.ms_median)
fig "refund.time_ratio = $(awk -v r="$r" -v p="$p" 'BEGIN {printf "%.2f", r / p}') x  # median time per refund, refund_proof $r ms / plain $p ms (no target)"
a=$(value refund.proof.queries_k10); b=$(value refund.proof.queries_k50); c=$(value refund.proof_100k.queries_k10)
fig "refund.queries_constant = $a / $b / $c queries  # k=10, k=50, k=10 with 100,000 refunds in the database: $([ "$a" = "$b" ] && [ "$a" = "$c" ] && echo MET || echo MISSED)"

# 4. Under load: two load sites (plain, proof), each two servers --workers=4 on a private
#    PostgreSQL, refunds over JSON-RPC at 1 / 10 / 50 in flight, then wrk on the pages.
step "4. under load: refund_proof vs plain Odoo, one and two servers in prefork (about 10 min)"
bench load "$BENCH_DIR/bench_load.py" --plain "$DB_LOAD_PLAIN" --proof "$DB_LOAD_PROOF" --out "$OUT"

# 5. The load test's scenarios (tests/refund_proof/test_load.py, make test-slow runs them
#    at 200 requests and a bulk refund of 300) at full scale: 1,000 requests, 50 in flight,
#    then the faults, then a bulk refund of 1,000 payments; pass/fail, with the request mix
#    and the time each scenario took.
step "5. the load test at 1,000 requests, 50 in flight, its faults, a bulk refund of 1,000 (about 30 min)"
if LOAD_REQUESTS=1000 LOAD_IN_FLIGHT=50 LOAD_BATCH_LINES=1000 PYTEST_MARK=slow PYTEST_WORKERS=1 \
        LOGDIR="$OUT/load_test_logs" "$REPO_ROOT/scripts/test.sh" tests/refund_proof/test_load.py \
        --durations=10 -rA >"$OUT/load_test.txt" 2>&1; then
    verdict=PASSED
else
    verdict=FAILED
fi
fig "load.full_scale = $verdict  # 1,000 requests, 50 in flight; $(grep -m1 'requests, ' "$OUT/load_test.txt" | tr -d '\n'); $(grep -m1 'bulk refund of ' "$OUT/load_test.txt" | tr -d '\n'); details in $OUT/load_test.txt"
# 6. Issue 27: the proofs' drain after a burst of 1,000 refunds, today's mail cron vs one
#    queue job per proof (refund_proof_batch), against the machine's limit (CPUs / CPU
#    seconds of one proof issue, measured in the same run); bulk refunds through the fake
#    PSP (100 ms a call), CPU per refund against single refunds, two servers and one. Its
#    own sources (the template + refund_proof / refund_proof_batch, and the fake PSP), its
#    own sites. BENCH_BATCH_N, BENCH_BATCH_CRON_N, ... scale it (see the script).
step "6. proofs' drain and bulk refunds (about 45 min at 1,000 on a quiet machine, an estimate)"
bench batch "$BENCH_DIR/bench_batch.py" --out "$OUT"
step "done; details in $OUT"
