"""Issued files are immutable.

The PDF of an issued proof of refund (`payment.refund.proof.attachment_id`) and a
dispute's evidence pack as it was sent (`payment.dispute.evidence_attachment_id`) are
what the merchant gave the customer and the bank: no user rewrites or deletes them,
whatever their rights on the refund or the dispute (refund managers, administrators,
accountants alike). Only the server, in sudo mode, does (its issue path creates them;
deleting a refund or a dispute takes its attachments with it).
"""

from odoo import _, models
from odoo.exceptions import AccessError


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    # === CRUD METHODS === #

    def write(self, vals):
        """Override of `base`: issued files are written by no user."""
        self._refund_proof_check_not_issued()
        return super().write(vals)

    def unlink(self):
        """Override of `base`: issued files are deleted by no user."""
        self._refund_proof_check_not_issued()
        return super().unlink()

    # === BUSINESS METHODS === #

    def _refund_proof_get_issued(self):
        """Those of these attachments that are issued files: the PDF of an issued
        proof of refund, or a dispute's evidence pack as sent.

        :rtype: recordset of `ir.attachment`
        """
        ids = [id_ for id_ in self.ids if isinstance(id_, int)]
        if not ids:
            return self.browse()
        # In sudo mode: whoever writes the attachment, the proofs and disputes holding
        # it decide, including those the user may not read.
        proofs = (
            self.env["payment.refund.proof"]
            .sudo()
            .search([("attachment_id", "in", ids)])
        )
        disputes = (
            self.env["payment.dispute"]
            .sudo()
            .search([("evidence_attachment_id", "in", ids)])
        )
        return self.browse(
            set(proofs.attachment_id.ids) | set(disputes.evidence_attachment_id.ids)
        )

    def _refund_proof_check_not_issued(self):
        """Refuse to change these attachments if one is an issued file, unless the
        server does it (sudo mode).

        :raise AccessError: When an issued file would be written or deleted by a
            user.
        """
        if self.env.su:
            return
        issued = self._refund_proof_get_issued()
        if issued:
            raise AccessError(
                _(
                    "%(name)s is an issued document (a proof of refund or a dispute's "
                    "evidence pack as sent): it cannot be changed or deleted.",
                    name=issued[:1].sudo().name,
                )
            )
