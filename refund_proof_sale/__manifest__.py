{
    "name": "Refund Proof - Sales",
    "summary": "The refunds of a sale order's payments on the order: a Refunds smart "
    "button and the amount refunded in the back office, the refunds and their proofs "
    "on the customer's order page",
    "version": "18.0.1.0.0",
    "category": "Sales/Sales",
    "website": "https://github.com/refund-proof/refund_proof",
    "author": "refund_proof contributors",
    "maintainers": ["refund-proof"],
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["refund_proof", "sale"],
    "data": [
        "views/sale_order_views.xml",
        "views/sale_portal_templates.xml",
    ],
    "auto_install": True,
}
