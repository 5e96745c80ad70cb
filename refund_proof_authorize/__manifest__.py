{
    "name": "Refund Proof - Authorize.Net",
    "summary": "Authorize.Net refunds in refund_proof: a refund before settlement "
    "recorded as the cancellation of the payment it is, partial refunds of settled "
    "payments, partial refunds asked before settlement held until it",
    "version": "18.0.1.0.0",
    "category": "Accounting/Payment Providers",
    "website": "https://github.com/refund-proof/refund_proof",
    "author": "refund_proof contributors",
    "maintainers": ["refund-proof"],
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["refund_proof", "payment_authorize"],
    "data": ["data/ir_cron_data.xml"],
    "auto_install": True,
}
