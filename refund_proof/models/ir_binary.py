from odoo import models


class IrBinary(models.AbstractModel):
    _inherit = "ir.binary"

    def _record_to_stream(self, record, field_name):
        """Override of `base`: the file of an issued proof of refund is served as an
        attachment (`/web/content`, from the chatter or an e-mail's link) only when it
        matches its SHA-256, as every print and download of the proof
        (`payment.refund.proof._get_verified_pdf`)."""
        if (
            record._name == "ir.attachment"
            and field_name in ("raw", "datas")
            and record.sudo().res_model == "payment.refund"
        ):
            # In sudo mode: the proof holding the file is the server's record; the
            # visitor's access to the attachment is checked by ir.binary's caller.
            proof = (
                self.env["payment.refund.proof"]
                .sudo()
                .search([("attachment_id", "=", record.id)], limit=1)
            )
            if proof:
                proof._get_verified_pdf()
        return super()._record_to_stream(record, field_name)
