{
    "name": "Refund Proof - Bulk Refunds of Sale Orders",
    "summary": "Refund Selected on sale orders: a bulk refund of the selected orders' "
    "paid payments, with its preview, approval and progress",
    "version": "18.0.1.0.0",
    "category": "Sales/Sales",
    "website": "https://github.com/refund-proof/refund_proof",
    "author": "refund_proof contributors",
    "maintainers": ["refund-proof"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "depends": ["refund_proof_batch", "refund_proof_sale"],
    "data": [
        "views/sale_order_views.xml",
    ],
    "auto_install": True,
}
