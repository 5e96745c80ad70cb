"""pytest configuration of refund_proof's suite (run by pytest-odoo, see
scripts/test.sh).
"""

import pytest


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
