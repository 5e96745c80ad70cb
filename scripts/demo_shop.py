"""A step of `make run`: dress the demo database as the shop *Myshop Online* and record
its payments and refunds.

scripts/run.sh runs it once refund_proof is installed with its demo data:

    odoo-bin shell -d DEMO_DB < scripts/demo_shop.py

It changes base records that other modules' tests read (the main company's name, logo
and e-mail, the admin's language, Odoo's demo payment provider), which is why it is not
refund_proof's demo data. Running it again changes nothing.
"""

import base64

from odoo.tools.misc import file_open


def dress_shop(env):
    """Dress the main company and the demo provider, then record the shop's activity.

    :param env: A superuser environment on the demo database.
    :return: Whether payments and refunds were recorded (not when they exist).
    :rtype: bool
    """
    env = env(context=dict(env.context, lang="en_US"))
    company = env.ref("base.main_company")
    with file_open("refund_proof/static/description/demo_logo.png", "rb") as logo:
        company.write(
            {
                "name": "Myshop Online",
                "logo": base64.b64encode(logo.read()),
                "website": "https://myshop.example",
                "email": "hello@myshop.example",
                "phone": "+33 1 84 88 00 00",
                # The shop's refund day (daily limits, refund window).
                "refund_tz": "Europe/Paris",
                "refund_statement_descriptor": "MYSHOP.EXAMPLE",
                "refund_support_email": "refunds@myshop.example",
                "refund_support_phone": "+33 1 84 88 00 01",
                "refund_support_url": "https://myshop.example/contact",
                "refund_policy_text": "Returns are accepted within 30 days of "
                "delivery. Refunds go back to the original payment method within 5 "
                "business days of the return's arrival.",
            }
        )
    company.partner_id.tz = "Europe/Paris"
    # --load-language makes the first loaded language the admin's, and leaves English
    # inactive (a user of an inactive language gets the first active one): keep English.
    env["res.lang"]._activate_lang("en_US")
    env.ref("base.user_admin").lang = "en_US"
    # Odoo's demo provider (payment_demo), in test mode with the company's bank journal.
    provider = env.ref("payment.payment_provider_demo")
    journal = env["account.journal"].search(
        [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
    )
    provider.write(
        {
            "state": "test",
            "journal_id": journal.id,
            "refund_statement_descriptor": "MYSHOP.EXAMPLE - via Demo",
            "refund_expected_arrival": "usually 5-10 business days for cards",
        }
    )
    provider.payment_method_ids.write({"active": True})
    recorded = env["payment.refund"]._demo_populate(provider)
    if "payment.refund.batch" in env:  # refund_proof_batch: a running bulk refund
        env["payment.refund.batch"]._demo_populate(provider)
    return recorded


if __name__ == "__main__":  # Run by `odoo-bin shell`, which provides `env`.
    dress_shop(env)  # noqa: F821
    env.cr.commit()  # noqa: F821 (odoo-bin shell rolls back what is not committed)
