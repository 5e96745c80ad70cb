{
    "name": "Refund Proof - eWallet",
    "summary": "When a refund to the card fails, the customer may choose store credit: "
    "the amount credited at once to their eWallet (Odoo's loyalty), with a proof",
    "version": "18.0.1.0.0",
    "category": "Sales",
    "website": "https://github.com/refund-proof/refund_proof",
    "author": "refund_proof contributors",
    "maintainers": ["refund-proof"],
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["refund_proof", "loyalty"],
    "data": [
        "views/payment_refund_views.xml",
    ],
    "auto_install": True,
}
