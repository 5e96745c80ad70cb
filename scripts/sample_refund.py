"""Create a sample paid demo transaction and a done refund with an ARN in the current
database, and print its id and verification URL. Run with `odoo shell`:

    $VENV/bin/python $ODOO_SRC/odoo-bin shell -c $RP_HOME/odoo.conf -d refund_proof_demo
    \
        --addons-path=... < scripts/sample_refund.py
"""

env = env  # noqa: F821 - provided by `odoo shell`
company = env.company
company.write(
    {
        "refund_statement_descriptor": company.refund_statement_descriptor
        or "MYSHOP.EXAMPLE",
        "refund_support_email": company.refund_support_email or "help@myshop.example",
        "refund_support_url": company.refund_support_url
        or "https://myshop.example/contact",
    }
)
provider = env.ref("payment.payment_provider_demo")
journal = env["account.journal"].search(
    [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
)
provider.write({"state": "test", "journal_id": journal.id})
partner = env["res.partner"].search([("email", "!=", False)], limit=1)
reference = env["payment.transaction"]._compute_reference("demo", prefix="SAMPLE")
tx = env["payment.transaction"].create(
    {
        "provider_id": provider.id,
        "payment_method_id": provider.payment_method_ids[:1].id,
        "amount": 129.90,
        "currency_id": company.currency_id.id,
        "reference": reference,
        "partner_id": partner.id,
        "operation": "online_direct",
    }
)
tx._handle_notification_data(
    "demo", {"reference": reference, "simulated_state": "done"}
)
refund = tx._request_refund(
    amount_to_refund=49.90,
    reason=env.ref("refund_proof.reason_product_returned"),
    arn="74612345678901234567893",
)
env.cr.commit()
print(f"REFUND {refund.id} {refund.name} {refund.state} {refund.verification_url}")
