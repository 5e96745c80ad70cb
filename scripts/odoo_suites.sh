#!/usr/bin/env bash
# make odoo-suites: Odoo's own tests of the modules refund_proof builds on, run twice — on plain
# Odoo and with refund_proof and its bridges installed — then compared test by test.
#
#   scripts/odoo_suites.sh [plain] [addon] [compare]     (default: all three, in that order)
#
# Each side is a fresh database (ODOO_SUITES_DB_PREFIX_plain / _addon, demo data as Odoo's own
# runbot) installed in ONE `odoo-bin -i ... --test-tags /payment,/account_payment,...` run, the
# way Odoo runs its suites: each module's at_install tests right after that module is installed
# (so those of `payment` and the providers run before refund_proof exists, those of `sale` after
# it, which loads first), then the post_install tests of the seven modules, with every module
# of the database loaded. Only the tests of ODOO_SUITES_MODULES run (--test-tags), never
# refund_proof's. The two sides run one after the other (2 CPUs), each with its own log:
#   $ODOO_SUITES_LOGDIR/plain.log, addon.log, report.txt (and <side>.status: exit code, seconds)
# `compare` reads the two logs: per module the tests run, failed, in error and skipped on each
# side, then every test (module, file.Class, method) whose outcome differs or that ran on one
# side only, each marked with its documented rule (EXPECTED_DIFFERENCES below, README's "Odoo's
# own tests with refund_proof") or as UNEXPECTED, and the WARNING/ERROR/CRITICAL log lines
# outside the tests' own reports that one side has and not the other. Exit status: 0 when every
# difference is a documented one and every documented one occurred, 1 otherwise (or when a side
# is missing).
# The addon side takes refund_proof from the working tree, or with ODOO_SUITES_REF=<git ref>
# (e.g. HEAD) from that commit, exported under the log directory: a run of a known version
# while the working tree changes.
set -euo pipefail
source "$(dirname "$0")/env.sh"
require_odoo
[ -x "$PY" ] && "$PY" -c 'import odoo' 2>/dev/null \
    || die "no usable venv at $VENV: run 'make setup' first"
[ -f "$ODOO_CONF" ] || die "no $ODOO_CONF: run 'make setup' first"

ODOO_SUITES_MODULES=${ODOO_SUITES_MODULES:-payment,account_payment,payment_stripe,payment_adyen,payment_razorpay,payment_authorize,payment_mollie,payment_paypal,sale}
ODOO_SUITES_DB_PREFIX=${ODOO_SUITES_DB_PREFIX:-refund_proof_odoo}
ODOO_SUITES_LOGDIR=${ODOO_SUITES_LOGDIR:-$RP_HOME/logs/odoo-suites}
case "$ODOO_SUITES_DB_PREFIX" in
    refund_proof_test*|refund_proof_demo*|"$TEST_DB"*|"$DEMO_DB"*)
        die "ODOO_SUITES_DB_PREFIX=$ODOO_SUITES_DB_PREFIX would clash with the test or demo databases";;
esac
# The tests of Odoo that fail with refund_proof, each because of one of its documented rules:
# "<module> <file>.<Class>.<method> <outcome with refund_proof> | <the rule>". Keep README's
# "Odoo's own tests with refund_proof" in step.
EXPECTED_DIFFERENCES=$(cat <<'LIST'
payment test_payment_transaction.TestPaymentTransaction.test_refund_allowed_for_authorized_users FAIL | refunding needs refund_proof's "Refunds: User" right; Odoo's Invoicing right (billing user) alone is refused (AccessError)
account_payment test_account_payment.TestAccountPayment.test_full_amount_available_for_refund_when_refunds_are_pending FAIL | refunds in flight hold their amount: a payment's amount available for refund is what the cap leaves (refunds draft, awaiting approval, pending or done subtracted), not the amount minus the confirmed refund payments
payment_stripe test_refund_flows.TestRefundFlows.test_canceled_refund_webhook_notification_triggers_processing FAIL | Stripe refund and dispute events are refused (HTTP 403) unless signed with the provider's webhook secret; the test posts an unsigned charge.refund.updated, patching only Odoo's signature check
LIST
)
TEST_TAGS=$(printf '/%s,' ${ODOO_SUITES_MODULES//,/ }); TEST_TAGS=${TEST_TAGS%,}
mkdir -p "$ODOO_SUITES_LOGDIR"

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

run_side() {  # run_side plain|addon
    local side=$1 db="${ODOO_SUITES_DB_PREFIX}_$1" log="$ODOO_SUITES_LOGDIR/$1.log"
    local addons="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons" modules=$ODOO_SUITES_MODULES
    local src=none
    if [ "$side" = addon ]; then
        local addon_src=$REPO_ROOT
        src="working tree at $(git -C "$REPO_ROOT" rev-parse --short HEAD)"
        if git -C "$REPO_ROOT" status --porcelain -- 'refund_proof*' | grep -q .; then
            src="$src with uncommitted changes"
        fi
        if [ -n "${ODOO_SUITES_REF:-}" ]; then
            local sha; sha=$(git -C "$REPO_ROOT" rev-parse --verify "$ODOO_SUITES_REF^{commit}")
            addon_src="$ODOO_SUITES_LOGDIR/src-${sha:0:10}"
            rm -rf "$ODOO_SUITES_LOGDIR"/src-*; mkdir -p "$addon_src"
            git -C "$REPO_ROOT" archive "$sha" | tar -x -C "$addon_src"
            src="commit ${sha:0:10}"
        fi
        # refund_proof and every provider bridge beside it, named so that one that cannot
        # install fails the run (they would auto-install anyway).
        local bridges; bridges=$(shopt -s nullglob; cd "$addon_src" \
            && for d in refund_proof_*/__manifest__.py; do printf ',%s' "${d%%/*}"; done)
        addons="$addons,$addon_src"; modules="$modules,refund_proof$bridges"
    fi
    local port; port=$(free_port)
    say "$side: installing $modules into $db and running Odoo's tests $TEST_TAGS (log: $log)"
    [ "$side" = plain ] || say "addon: refund_proof from the $src"
    PGOPTIONS='-c client_min_messages=warning' drop_db "$db"
    : >"$log"
    local t0=$SECONDS rc=0
    # HttpCase tests and tours need the HTTP server: a free port of its own, as other servers
    # (make run, the test suites) may hold 8069. No cron thread: nothing runs beside the tests.
    "$PY" "$ODOO_BIN" -c "$ODOO_CONF" --addons-path="$addons" -d "$db" -i "$modules" \
        --test-tags "$TEST_TAGS" --stop-after-init --http-port="$port" --max-cron-threads=0 \
        --logfile="$log" --log-level=info || rc=$?
    local secs=$((SECONDS - t0))
    printf 'exit %s, %s s, ended %s, refund_proof: %s\n' "$rc" "$secs" "$(date -u +%FT%TZ)" "$src" \
        >"$ODOO_SUITES_LOGDIR/$side.status"
    say "$side: exit $rc after $((secs / 60)) min $((secs % 60)) s"
}

compare() {
    [ -s "$ODOO_SUITES_LOGDIR/plain.log" ] && [ -s "$ODOO_SUITES_LOGDIR/addon.log" ] \
        || die "run both sides first (scripts/odoo_suites.sh plain addon)"
    "$PY" - "$ODOO_SUITES_LOGDIR" "$ODOO_SUITES_MODULES" "$EXPECTED_DIFFERENCES" <<'PY' | tee "$ODOO_SUITES_LOGDIR/report.txt"
"""Compare Odoo's test logs of the two sides, test by test."""
import collections
import pathlib
import re
import sys

logdir = pathlib.Path(sys.argv[1])
modules = sys.argv[2].split(',')
expected = {}  # (module, file.Class, method): (outcome with the addon, rule)
for line in filter(None, sys.argv[3].splitlines()):
    test, rule = line.split(' | ', 1)
    module, path, outcome = test.split()
    file_class, _, method = path.rpartition('.')
    expected[(module, file_class, method)] = (outcome, rule)
LINE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (?P<level>[A-Z]+) (?P<db>\S+) '
                  r'(?P<logger>[\w.]+): (?P<msg>.*)$')
TEST_LOGGER = re.compile(r'^odoo\.addons\.(?P<module>\w+)\.tests\.(?P<file>[\w.]+)$')
# setUpClass/tearDownClass errors are reported on unittest's _ErrorHolder, by its description.
HOLDER = re.compile(r'^(?P<hook>\w+) \(odoo\.addons\.(?P<module>\w+)\.tests\.(?P<file>[\w.]+)\.'
                    r'(?P<cls>\w+)\)$')
SUMMARY = re.compile(r'(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database')
RANK = {'ok': 0, 'skipped': 1, 'FAIL': 2, 'ERROR': 3}


def parse(path):
    """Per test id (module, file.Class, method): (phase, outcome, first lines of the report);
    the other ERROR/CRITICAL lines; the runner's summary."""
    tests, other_errors, summary = {}, collections.Counter(), None
    phase, current = 'at_install', None
    for raw in path.read_text(errors='replace').splitlines():
        raw = raw.rstrip()
        m = LINE.match(raw)
        if not m:  # continuation of a multi-line record (traceback)
            if current is not None and len(current) < 200:
                current.append(raw)
            continue
        current = None
        level, logger, msg = m['level'], m['logger'], m['msg']
        if msg.startswith('Starting post tests'):
            phase = 'post_install'
        if s := SUMMARY.search(msg):
            summary = tuple(map(int, s.groups()))
        t = TEST_LOGGER.match(logger)
        if t and msg.startswith('Starting ') and msg.endswith(' ...'):
            cls, _, method = msg[len('Starting '):-4].rpartition('.')
            tests.setdefault((t['module'], f"{t['file']}.{cls}", method), [phase, 'ok', []])
            continue
        if t and msg.startswith('skipped '):
            cls, _, method = msg[len('skipped '):].split(' : ')[0].rpartition('.')
            key = (t['module'], f"{t['file']}.{cls}", method)
            tests.setdefault(key, [phase, 'ok', []])[1] = 'skipped'
            continue
        if level == 'ERROR' and (f := re.match(r'^(FAIL|ERROR): (.*)$', msg)):
            flavour, desc = f.groups()
            h = HOLDER.match(desc)
            if h:
                key = (h['module'], f"{h['file']}.{h['cls']}", h['hook'])
            elif t:
                desc = desc.removeprefix('Subtest ').split(' ')[0]
                cls, _, method = desc.rpartition('.')
                key = (t['module'], f"{t['file']}.{cls}", method)
            else:
                key = ('?', logger, desc)
            entry = tests.setdefault(key, [phase, 'ok', []])
            if RANK[flavour] >= RANK[entry[1]]:
                entry[1] = flavour
                entry[2] = current = [msg]
            continue
        if level in ('WARNING', 'ERROR', 'CRITICAL') and not SUMMARY.search(msg):
            # Normalise ids and numbers so that the same message on both sides compares equal.
            other_errors[f"{level} {logger}: {re.sub(r'[0-9]+', 'N', msg)[:200]}"] += 1
    return tests, other_errors, summary


sides = {}
for side in ('plain', 'addon'):
    status = logdir / f'{side}.status'
    sides[side] = parse(logdir / f'{side}.log') + (
        status.read_text().strip() if status.exists() else 'no status',)

print("Odoo's own tests, plain Odoo against Odoo with refund_proof and its bridges")
for side, (_t, _o, summary, status) in sides.items():
    print(f'  {side:5}: {status}; runner: ' + (
        '%d failed, %d error(s) of %d tests' % summary if summary else 'NO SUMMARY (run interrupted?)'))
print()
print(f"{'module':18} {'plain: run fail err skip':>26}   {'addon: run fail err skip':>26}")
for module in modules + sorted({k[0] for s in sides.values() for k in s[0]} - set(modules)):
    row = []
    for side in sides:
        outcomes = [v[1] for k, v in sides[side][0].items() if k[0] == module]
        row.append('%5d %4d %3d %4d' % (len(outcomes), outcomes.count('FAIL'),
                                         outcomes.count('ERROR'), outcomes.count('skipped')))
    print(f'{module:18} {row[0]:>26}   {row[1]:>26}')
print()

plain, addon = sides['plain'][0], sides['addon'][0]
diffs = sorted(k for k in plain.keys() | addon.keys()
               if (plain.get(k) or [None, 'not run'])[1] != (addon.get(k) or [None, 'not run'])[1])
print(f'{len(diffs)} test(s) with a different outcome')
unexpected = 0
for key in diffs:
    p, a = plain.get(key), addon.get(key)
    p_out, a_out = p[1] if p else 'not run', a[1] if a else 'not run'
    rule = expected.get(key)
    if rule and p_out == 'ok' and a_out == rule[0]:
        verdict = f'documented: {rule[1]}'
    else:
        verdict, unexpected = 'UNEXPECTED', unexpected + 1
    print(f"- {key[0]}: {key[1]}.{key[2]} [{(p or a)[0]}]: plain {p_out}, addon {a_out}\n"
          f"  {verdict}")
    for entry in (p, a):
        if entry and entry[2]:  # The report: its first lines and the end of its traceback.
            lines = entry[2] if len(entry[2]) <= 40 else entry[2][:12] + ['...'] + entry[2][-27:]
            print('    ' + '\n    '.join(lines))
gone = sorted(set(expected) - set(diffs))
for key in gone:
    print(f'- documented difference that did not occur: {key[0]}: {key[1]}.{key[2]} '
          '(update EXPECTED_DIFFERENCES and README)')
only = {side: sorted(set(sides[side][1]) - set(sides[other][1]))
        for side, other in (('plain', 'addon'), ('addon', 'plain'))}
for side, lines in only.items():
    if lines:
        print(f'\nWARNING/ERROR/CRITICAL log lines (outside test reports) only in {side}:')
        for line in lines:
            print(f'- {line} (x{sides[side][1][line]})')
print(f'\n{len(diffs) - unexpected} documented difference(s), {unexpected} unexpected, '
      f'{len(gone)} documented but not seen')
sys.exit(1 if unexpected or gone or not all(s[2] for s in sides.values()) else 0)
PY
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(plain addon compare)
status=0
for step in "${steps[@]}"; do
    case "$step" in
        plain|addon) run_side "$step";;
        compare) compare || status=$?;;
        *) die "unknown step '$step' (plain, addon, compare)";;
    esac
done
exit $status
