from odoo import models


class IrBinary(models.AbstractModel):
    _inherit = "ir.binary"

    def _record_to_stream(self, record, field_name):
        """Override of `base`: the file of an issued proof of refund is served as an
        attachment (`/web/content`, from the chatter or an e-mail's link) only when it
        matches its SHA-256, as every print and download of the proof
        (`payment.refund.proof._get_verified_pdf`)."""
        if record._name == "ir.attachment" and field_name in ("raw", "datas"):
            # The visitor's access first, as ir.attachment checks it (an internal
            # user's record is in their environment; a portal's or an access
            # token's is sudo, checked by ir.binary's caller): the reads in sudo
            # mode below fill the cache that `super()` then reads as the visitor,
            # unchecked. Without this, any internal user downloaded any attachment
            # by its id (/web/content/<id>), a SEPA file's IBANs included.
            record.check("read")
        if (
            record._name == "ir.attachment"
            and field_name in ("raw", "datas")
            and record.sudo().res_model == "payment.refund"
        ):
            # In sudo mode: the proof holding the file is the server's record; the
            # visitor's access to the attachment was checked above.
            proof = (
                self.env["payment.refund.proof"]
                .sudo()
                .search([("attachment_id", "=", record.id)], limit=1)
            )
            if proof:
                proof._get_verified_pdf()
        return super()._record_to_stream(record, field_name)
