"""Scratch databases for tests that need committed data and real concurrent cursors.

scripts/test.sh leaves a seed copy of the test database (refund_proof installed, never
connected to); a test clones it into a database of its own and drops it afterwards.
"""

import os
import uuid
from contextlib import contextmanager

import odoo
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


def demo_provider(env):
    """The demo provider, enabled (test mode) with the company's bank journal."""
    provider = env.ref("payment.payment_provider_demo")
    if provider.state != "test":
        journal = env["account.journal"].search(
            [("type", "=", "bank"), ("company_id", "=", provider.company_id.id)],
            limit=1,
        )
        provider.write({"state": "test", "journal_id": journal.id})
        provider.payment_method_ids.write({"active": True})
    return provider


def demo_setup(env):
    """Enable the demo provider with a bank journal; return (provider, refund user)."""
    provider = demo_provider(env)
    user = env["res.users"].create(
        {
            "name": "Concurrent Refunder",
            "login": f"concurrent_{uuid.uuid4().hex[:6]}",
            "refund_limit": 1_000_000,
            "groups_id": [
                odoo.Command.set(
                    [
                        env.ref("base.group_user").id,
                        env.ref("refund_proof.group_refund_user").id,
                    ]
                )
            ],
        }
    )
    return provider, user


def paid_transaction(env, provider, amount, reference):
    """A demo transaction of a new customer, confirmed by the provider's notification.

    Shared with bench/ (bench/lib.py imports it).
    """
    partner = env["res.partner"].create(
        {
            "name": f"Customer {reference}",
            "email": f"{reference.lower()}@customer.example",
        }
    )
    tx = env["payment.transaction"].create(
        {
            "provider_id": provider.id,
            "payment_method_id": provider.payment_method_ids[:1].id,
            "amount": amount,
            "currency_id": provider.company_id.currency_id.id,
            "reference": reference,
            "partner_id": partner.id,
            "operation": "online_direct",
        }
    )
    tx._handle_notification_data(
        "demo", {"reference": reference, "simulated_state": "done"}
    )
    return tx
