{
    "name": "Refund Proof - Bulk Refunds",
    "summary": "Refund a selection of payments at once: a preview, one approval of the "
    "batch by another manager, then one queue job per payment through the one "
    "request path, per-provider channels, retries, progress",
    "version": "18.0.1.0.0",
    "category": "Accounting/Payment Providers",
    "website": "https://github.com/refund-proof/refund_proof",
    "author": "refund_proof contributors",
    "maintainers": ["refund-proof"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "depends": ["refund_proof", "queue_job"],
    "data": [
        "security/ir.model.access.csv",
        "security/refund_proof_batch_security.xml",
        "data/ir_sequence_data.xml",
        "data/ir_cron_data.xml",
        "data/queue_job_data.xml",
        "views/payment_refund_batch_views.xml",
        "views/payment_transaction_views.xml",
        "views/refund_proof_batch_menus.xml",
    ],
}
