"""Demo-provider payments, for the tests and the benchmarks (bench/lib.py): the demo
provider enabled with a bank journal, a refund user, and paid transactions confirmed
by the provider's own notification flow. On any environment: a scratch database's
committed one (tests/scratch_db.py) as a benchmark's.
"""

import uuid

import odoo


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
    """A demo transaction of a new customer, confirmed by the provider's
    notification."""
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
