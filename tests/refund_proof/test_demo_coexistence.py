"""refund_proof's demo data next to Odoo's HR apps: Odoo's own tests still pass.

Odoo's `TestHrLeaveMandatoryDays` (hr_holidays) and `TestHolidaysOvertime`
(hr_holidays_attendance, installed with hr_holidays and hr_attendance) create users with
the logins `user` and `manager`; a module whose demo data takes such a login makes them
error on every database with demo data. This test builds such a database (a cached
template with the dependencies and their demo data, then refund_proof with its demo) and
runs those two classes in an Odoo process of their own.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from unittest import TestCase

import odoo
from odoo.sql_db import db_connect
from odoo.tools import SQL, config

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import checklog  # noqa: E402

ODOO_SRC = os.path.dirname(os.path.dirname(os.path.abspath(odoo.__file__)))
# refund_proof's dependencies and the test's HR apps; hr_holidays_attendance comes with
# hr_holidays and hr_attendance (auto_install), payment_demo as in `make run`.
DEPENDENCIES = ("account_payment", "payment_demo", "hr_holidays", "hr_attendance")
ODOO_TESTS = (
    "/hr_holidays:TestHrLeaveMandatoryDays",
    "/hr_holidays_attendance:TestHolidaysOvertime",
)
DEMO_LOGINS = ["refund_proof_customer", "refund_proof_manager", "refund_proof_support"]
STATS = re.compile(r"odoo\.tests\.stats: (\w+): (\d+) tests ")
SUMMARY = re.compile(
    r"odoo\.tests\.result: (\d+) failed, (\d+) error\(s\) of (\d+) tests "
    r"when loading database"
)


def _execute(query):
    with db_connect("postgres").cursor() as cr:
        cr._cnx.autocommit = True
        cr.execute(query)
        return cr.fetchall() if cr.description else None


def _db_exists(name):
    return bool(_execute(SQL("SELECT 1 FROM pg_database WHERE datname = %s", name)))


def _filestore(name):
    """The filestore directory of database `name`. Not `config.filestore(name)`: in a
    pytest-xdist worker, pytest-odoo makes that answer the test database's filestore
    whatever the name (its copies share it), and dropping a clone would delete it."""
    return os.path.join(config["data_dir"], "filestore", name)


def _drop_db(name):
    _execute(SQL("DROP DATABASE IF EXISTS %s WITH (FORCE)", SQL.identifier(name)))
    shutil.rmtree(_filestore(name), ignore_errors=True)


def _clone_db(source, target):
    _drop_db(target)
    _execute(
        SQL(
            "CREATE DATABASE %s TEMPLATE %s",
            SQL.identifier(target),
            SQL.identifier(source),
        )
    )
    if os.path.isdir(_filestore(source)):
        shutil.copytree(_filestore(source), _filestore(target))


def _demo_logins(database):
    """refund_proof's demo users in `database` (none when demo data is not loaded)."""
    with db_connect(database).cursor() as cr:
        cr.execute(
            SQL(
                "SELECT u.login FROM res_users u JOIN ir_model_data d"
                " ON d.model = 'res.users' AND d.res_id = u.id"
                " AND d.module = 'refund_proof' ORDER BY u.login"
            )
        )
        return [login for (login,) in cr.fetchall()]


def _template_name():
    """The template's name, keyed on the Odoo tree, the modules and the data
    directory (the template's filestore lives there)."""
    digest = hashlib.sha256()
    paths = [os.path.join(ODOO_SRC, "odoo", "release.py")] + [
        os.path.join(ODOO_SRC, "addons", module, "__manifest__.py")
        for module in (*DEPENDENCIES, "hr_holidays_attendance")
    ]
    for path in paths:
        with open(path, "rb") as f:
            digest.update(f.read())
    digest.update(",".join(DEPENDENCIES).encode())
    digest.update(config["data_dir"].encode())
    return f"refund_proof_hrtmpl_{digest.hexdigest()[:10]}"


class TestDemoCoexistence(TestCase):
    def _odoo(self, database, logfile, *args):
        """Run odoo-bin on `database`, logging into `logfile` (emptied first, Odoo
        appends); return its exit code."""
        open(logfile, "w").close()
        return subprocess.run(
            [
                sys.executable,
                os.path.join(ODOO_SRC, "odoo-bin"),
                "-c",
                config.rcfile,
                "--addons-path",
                config["addons_path"],
                "-d",
                database,
                "--http-port=0",
                "--max-cron-threads=0",
                "--stop-after-init",
                f"--logfile={logfile}",
                *args,
            ],
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=1800,
        ).returncode

    def test_odoo_hr_tests_pass_with_refund_proof_demo_data(self):
        """Odoo's hr_holidays tests that create `manager` pass next to our demo."""
        logdir = os.path.dirname(config["logfile"] or "") or os.getcwd()
        template = _template_name()
        if not _db_exists(template):
            log = os.path.join(logdir, "coexistence-template.log")
            code = self._odoo(template, log, "-i", ",".join(DEPENDENCIES))
            if code:
                _drop_db(template)
                self.fail(f"building {template} failed, see {log}")
        database = f"{config['db_name']}_coexistence"
        try:
            _clone_db(template, database)
            install_log = os.path.join(logdir, "coexistence-install.log")
            self.assertEqual(
                self._odoo(database, install_log, "-i", "refund_proof"),
                0,
                f"installing refund_proof with demo data failed, see {install_log}",
            )
            # Installing refund_proof with its demo data logs no warning.
            self.assertEqual(
                checklog.main(
                    os.path.join(REPO, "tests", "log-allowlist.txt"), install_log
                ),
                0,
                install_log,
            )
            # With its demo data: the users whose logins Odoo's tests must not meet.
            self.assertEqual(_demo_logins(database), DEMO_LOGINS)
            test_log = os.path.join(logdir, "coexistence-odoo-tests.log")
            code = self._odoo(database, test_log, "--test-tags", ",".join(ODOO_TESTS))
            with open(test_log, encoding="utf-8", errors="replace") as f:
                log = f.read()
        finally:
            _drop_db(database)
        summaries = SUMMARY.findall(log)
        self.assertEqual(len(summaries), 1, f"no test summary in {test_log}")
        failed, errors, run = map(int, summaries[0])
        self.assertEqual(
            (failed, errors, code), (0, 0, 0), f"Odoo's tests failed, see {test_log}"
        )
        # Both classes ran: neither passes by being left out.
        self.assertGreater(run, 0, f"Odoo ran none of {ODOO_TESTS}, see {test_log}")
        self.assertEqual(
            {module for module, count in STATS.findall(log) if int(count)},
            {"hr_holidays", "hr_holidays_attendance"},
            test_log,
        )
        # Their run is warning-clean too.
        self.assertEqual(
            checklog.main(os.path.join(REPO, "tests", "log-allowlist.txt"), test_log),
            0,
            test_log,
        )
