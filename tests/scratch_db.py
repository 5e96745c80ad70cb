"""Scratch databases for tests that need committed data and real concurrent cursors.

scripts/test.sh leaves a seed copy of the test database (refund_proof installed, never
connected to); a test clones it into a database of its own and drops it afterwards.
"""

import os
import uuid
from contextlib import contextmanager

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.sql_db import close_db, db_connect
from odoo.tools import SQL, config


def seed_db_name():
    name = os.environ.get("REFUND_PROOF_SEED_DB")
    if not name:
        raise RuntimeError(
            "REFUND_PROOF_SEED_DB is not set: run the suite with `make test` "
            "(scripts/test.sh prepares the seed database)."
        )
    return name


@contextmanager
def scratch_registry():
    """Yield the registry of a fresh clone of the seed database, dropped on exit."""
    name = f"refund_proof_scratch_{uuid.uuid4().hex[:10]}"
    seed = seed_db_name()
    with db_connect("postgres").cursor() as cr:
        cr._cnx.autocommit = True
        cr.execute(
            SQL(
                "CREATE DATABASE %s TEMPLATE %s",
                SQL.identifier(name),
                SQL.identifier(seed),
            )
        )
    try:
        # Loaded with test mode off: in test mode, loading a registry runs every
        # installed module's at_install tests.
        test_enable = config["test_enable"]
        config["test_enable"] = False
        try:
            registry = Registry.new(name)
        finally:
            config["test_enable"] = test_enable
        yield registry
    finally:
        Registry.delete(name)
        close_db(name)
        with db_connect("postgres").cursor() as cr:
            cr._cnx.autocommit = True
            cr.execute(
                SQL("DROP DATABASE IF EXISTS %s WITH (FORCE)", SQL.identifier(name))
            )


@contextmanager
def committed_env(registry, uid=SUPERUSER_ID, context=None):
    """An environment on its own cursor, committed on success."""
    with registry.cursor() as cr:
        yield api.Environment(cr, uid, context or {})
