{
    "name": "Payment Provider: Fake PSP (tests)",
    "summary": "A payment provider for refund_proof's tests: real provider glue whose "
    "payment service provider is a scripted HTTP server",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "website": "https://github.com/refund-proof/refund_proof",
    "author": "refund_proof contributors",
    "maintainers": ["refund-proof"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    # refund_proof for its ARN hook (`_get_refund_arn_from_notification`).
    "depends": ["account_payment", "refund_proof"],
    "data": [
        "views/payment_provider_views.xml",
        "data/payment_provider_data.xml",
    ],
    "post_init_hook": "post_init_hook",
    "uninstall_hook": "uninstall_hook",
}
