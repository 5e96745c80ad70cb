"""What the customer reaches of a refund outside its portal pages.

The portal pages (controllers/portal.py) read refunds in sudo mode after their access
check and show a few fields. Portal and public users (share users) reach the model
through JSON-RPC too: there they read only those fields (not who made, approved or
wrote the refund, its notes or its internal state), and the e-mailed link's token
opens the refund's page and reads its messages but posts nothing on it.
"""

from odoo import api, models

from ..const import INTERNAL

# The fields of a refund the portal pages show (the list, the refund's page, its
# links), which share users may read. Not those the page reads through others (in sudo
# mode): the payment (`source_transaction_id`, which portal users do not read), its
# provider's expected arrival (`expected_arrival`, from `provider_id`).
PORTAL_READABLE_FIELDS = frozenset(
    {
        "id",
        "display_name",
        "name",
        "state",
        "amount",
        "currency_id",
        "source_amount",
        "payment_method_display",
        "refund_date",
        "request_date",
        "arn",
        "arn_display",
        "arn_unavailable",
        "arn_expected",
        "verification_url",
        "access_url",
        "access_token",
        # When the customer was e-mailed another way to be paid back: the portal's
        # domain (const.PORTAL_DOMAIN) reads it.
        "payout_offer_date",
        # Harmless facts the back office's views read in their modifiers (`invisible`,
        # `readonly`) of elements open to every user: Odoo checks views against the
        # groups of the fields they depend on.
        "origin",
        "is_partial",
        "can_edit_arn",
    }
)


class PaymentRefund(models.Model):
    _inherit = "payment.refund"

    @api.model
    def _setup_base(self):
        """Override of `base`: every field of a refund but those the portal shows
        (`PORTAL_READABLE_FIELDS`) is for internal users (`groups`, unless it has
        groups of its own). Share users (portal, public) then read, search, sort,
        group by and export only those, through Odoo's own field access rules
        (`check_field_access_rights`, a read of every field, prefetching), and a field
        added later is hidden from them by itself."""
        result = super()._setup_base()
        for name, field in self._fields.items():
            if name not in PORTAL_READABLE_FIELDS and not field.groups:
                field.groups = INTERNAL
        return result

    @api.model
    def _get_thread_with_access(self, thread_id, mode="read", **kwargs):
        """Override of `portal`: the e-mailed link's token (or its signed partner
        hash) reads the refund's messages but posts nothing on it (`/mail/message/
        post`, attachment uploads): to post, only the user's own rights on the refund
        count.
        """
        if mode != "read":
            return super()._get_thread_with_access(thread_id, mode)
        return super()._get_thread_with_access(thread_id, mode, **kwargs)
