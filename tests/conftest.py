"""pytest configuration of refund_proof's suite (run by pytest-odoo, see
scripts/test.sh).
"""

import os
import shutil
from contextlib import ExitStack
from functools import partial
from unittest.mock import patch

import pytest

# Asset bundles that the suite's HttpCase tests request many times: every real PDF
# (the report's CSS, fetched by wkhtmltopdf) and every browser test (the backend).
PREGENERATED_JS = ("web.assets_web", "web.assets_tests", "bus.websocket_worker_assets")
PREGENERATED_CSS = (
    "web.report_assets_common",
    "web.report_assets_pdf",
    "web.assets_web",
    "web.assets_web_print",
)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_cmdline_main(config):
    """Under pytest-xdist (scripts/test.sh), each worker logs into a file of its own,
    test.log -> test-gw0.log, which scripts/test.sh checks with the others: processes
    appending to one file could glue a line to another's and hide its level."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    extra = getattr(config.option, "odoo_extra", None)
    if worker and extra:
        for i, option in enumerate(extra):
            if option.startswith("logfile="):
                root, ext = os.path.splitext(option)
                extra[i] = f"{root}-{worker}{ext}"
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped test is a failed test here: the suite never silently leaves Odoo tests
    out (pytest-odoo skips HttpCase tests when --odoo-http is missing, for instance)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (
            f"skipped tests are failures in this project: {report.longrepr}"
        )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "slow: long reliability loops, run by `make test-slow` (CI runs both)",
    )
    # Babel 2.10 (pinned by Odoo 18) imports pkg_resources when extracting terms.
    config.addinivalue_line(
        "filterwarnings", "ignore:pkg_resources is deprecated as an API:UserWarning"
    )


@pytest.fixture(scope="session", autouse=True)
def prepared_test_database(load_registry):
    """Commit into the test database, once before the tests (in each pytest-xdist
    worker's copy too), what makes them faster without changing what they test:

    - the asset bundles above, generated and stored as Odoo's own test runner does
      before post-install HttpCase tests (`ir.qweb._pregenerate_assets_bundles`, here
      only the bundles these tests use). Otherwise each test generates them again
      (a test's attachments are rolled back with it): about 2 s per real PDF.
    - `report.print_delay` 0: Odoo makes wkhtmltopdf wait that long (1 s by
      default) for JavaScript, which the project's reports do not run.

    And, in this process, Odoo's list of static folders (`http.root.statics`: every
    manifest, read with `ast.literal_eval`), which Odoo builds at the first request of
    a static file: wkhtmltopdf asks for a proof's stylesheets in parallel, and CPython
    3.11.7 builds ASTs in two threads unsafely ("SystemError: AST constructor
    recursion depth mismatch", an HTTP 500 and an ERROR in Odoo's log). Built here
    first, in one thread.
    """
    import odoo
    from odoo.modules.registry import Registry

    config = odoo.tools.config
    db_name = config["db_name"]
    with ExitStack() as stack:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:
            # pytest-odoo's workers share the filestore of the test database, but
            # Odoo's test clean-up collects the files that its own database does not
            # reference: one worker would delete the files another one just wrote.
            # Each worker gets a copy of its own instead, as in a serial run.
            filestore = partial(type(config).filestore, config)
            source = filestore(db_name.removesuffix(f"-{worker}"))
            target = filestore(db_name)
            shutil.rmtree(target, ignore_errors=True)
            if os.path.isdir(source):
                shutil.copytree(source, target)
            stack.callback(shutil.rmtree, target, ignore_errors=True)
            stack.enter_context(patch.object(config, "filestore", filestore))
        registry = Registry(db_name)
        with registry.cursor() as cr:  # Committed on exit.
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            env["ir.config_parameter"].set_param("report.print_delay", "0")
            qweb = env["ir.qweb"]
            for bundle in PREGENERATED_JS:
                qweb._get_asset_bundle(bundle, css=False, js=True).js()
            for bundle in PREGENERATED_CSS:
                qweb._get_asset_bundle(bundle, css=True, js=False).css()
        odoo.http.root.statics  # noqa: B018
        yield
