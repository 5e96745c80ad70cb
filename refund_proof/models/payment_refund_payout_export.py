"""A SEPA credit transfer file of payouts, as exported for the merchant's bank.

`payment.refund.action_export_sepa` creates one per export, in sudo mode: the file
(an attachment of this record's `file`) holds the IBANs of every transfer of the
selection, so the record and its attachment are readable by refund managers only
(its access rules; an attachment's access follows the record it is attached to),
never by refund users who read the refunds, nor in the refunds' chatter.
"""

from odoo import fields, models


class PaymentRefundPayoutExport(models.Model):
    _name = "payment.refund.payout.export"
    _description = "SEPA Credit Transfer File of Payouts"
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(string="File Name", required=True, readonly=True)
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, readonly=True, index=True
    )
    file = fields.Binary(
        attachment=True,
        readonly=True,
        help="The pain.001.001.03 file given to the bank, validated against its "
        "schema when exported.",
    )
    refund_ids = fields.One2many(
        comodel_name="payment.refund",
        inverse_name="payout_export_id",
        string="Transfers",
        readonly=True,
    )
