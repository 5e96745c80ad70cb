from odoo import api, models


class ReportRefundProof(models.AbstractModel):
    _name = "report.refund_proof.report_refund_proof"
    _description = "Proof of Refund"

    @api.model
    def _get_report_values(self, docids, data=None):
        docs = self.env["payment.refund"].browse(docids)
        docs.check_access("read")
        docs._check_proof_available()
        # In sudo mode: a proof states facts of records its reader may not read (the
        # invoice, the card's last digits, the provider's descriptor); the reader's
        # access to the refunds was checked above.
        return {"doc_ids": docids, "doc_model": "payment.refund", "docs": docs.sudo()}


class ReportDisputeEvidence(models.AbstractModel):
    _name = "report.refund_proof.report_dispute_evidence"
    _description = "Dispute Evidence"

    @api.model
    def _get_report_values(self, docids, data=None):
        docs = self.env["payment.dispute"].browse(docids)
        docs.check_access("read")
        # In sudo mode: the pack states facts of records its reader may not read (the
        # mail queue, the proofs' downloads, the payment's card); the reader's access
        # to the disputes was checked above.
        docs_sudo = docs.sudo()
        # A done refund's proof (its fingerprint and verification page) is part of the
        # evidence: issued now if the mail cron has not issued it yet.
        for refund in docs_sudo.refund_ids.filtered(lambda r: r.state == "done"):
            refund._ensure_proof()
        return {"doc_ids": docids, "doc_model": "payment.dispute", "docs": docs_sudo}
