{
    "name": "Refund Proof - Stripe",
    "summary": "Stripe refunds for Refund Proof: ARNs by webhook and by polling, "
    "idempotent refund requests, signed events only, disputes never taken for "
    "refunds, the charge's statement descriptor on the proof",
    "version": "18.0.1.2.0",
    "category": "Accounting/Payment Providers",
    "website": "https://github.com/refund-proof/refund_proof",
    "author": "refund_proof contributors",
    "maintainers": ["refund-proof"],
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["refund_proof", "payment_stripe"],
    "data": ["views/payment_provider_views.xml"],
    "demo": ["demo/refund_proof_stripe_demo.xml"],
    "auto_install": True,
}
