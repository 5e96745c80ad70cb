{
    "name": "Refund Proof - PayPal",
    "summary": "PayPal refunds in refund_proof: full and partial refunds of PayPal "
    "captures, idempotent requests, the ARN of card refunds by polling, refunds "
    "made in PayPal recorded once",
    "version": "18.0.1.0.0",
    "category": "Accounting/Payment Providers",
    "website": "https://github.com/refund-proof/refund_proof",
    "author": "refund_proof contributors",
    "maintainers": ["refund-proof"],
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["refund_proof", "payment_paypal"],
    "auto_install": True,
}
