{
    "name": "Refund Proof - Razorpay",
    "summary": "Razorpay refunds in refund_proof: bank reference (ARN, RRN) from "
    "webhooks and by polling, failures after processing, disputes logged, "
    "idempotent refund requests",
    "version": "18.0.1.2.0",
    "category": "Accounting/Payment Providers",
    "website": "https://github.com/refund-proof/refund_proof",
    "author": "refund_proof contributors",
    "maintainers": ["refund-proof"],
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["refund_proof", "payment_razorpay"],
    "data": ["views/payment_provider_views.xml"],
    "auto_install": True,
}
