{
    "name": "Refund Proof - Mollie",
    "summary": "Mollie refunds in refund_proof: full and partial refunds from Odoo, "
    "idempotent requests, refunds read from Mollie's API on its webhook, refunds "
    "made in Mollie's dashboard recorded once",
    "version": "18.0.1.0.0",
    "category": "Accounting/Payment Providers",
    "website": "https://github.com/refund-proof/refund_proof",
    "author": "refund_proof contributors",
    "maintainers": ["refund-proof"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "depends": ["refund_proof", "payment_mollie"],
    "data": ["data/ir_cron_data.xml"],
    "auto_install": True,
}
