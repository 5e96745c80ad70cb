{
    "name": "Refund Proof - Adyen",
    "summary": "Adyen for refund_proof: ARN from refund events, failed and reversed "
    "refunds revoke their proof, disputes never become refunds, idempotent refund "
    "requests",
    "version": "18.0.1.2.0",
    "category": "Accounting/Payment Providers",
    "website": "https://github.com/refund-proof/refund_proof",
    "author": "refund_proof contributors",
    "maintainers": ["refund-proof"],
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["refund_proof", "payment_adyen"],
    "data": ["views/payment_provider_views.xml"],
    "auto_install": True,
}
