import hashlib
import logging
from datetime import timedelta

from odoo import _, fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)


class PaymentRefundProof(models.Model):
    """A proof of refund as issued: the PDF sent or downloaded, with its SHA-256, so
    that a reader can check that their PDF is one the merchant issued. Its file
    (`attachment_id`) is written and deleted by no user (`ir.attachment`), and every
    print and download checks it against the SHA-256 first (`_get_verified_pdf`)."""

    _name = "payment.refund.proof"
    _description = "Issued Proof of Refund"
    _order = "id desc"

    refund_id = fields.Many2one(
        comodel_name="payment.refund",
        required=True,
        ondelete="cascade",
        index=True,
    )
    company_id = fields.Many2one(related="refund_id.company_id", store=True)
    # Indexed: every user's write or deletion of an attachment looks it up here.
    attachment_id = fields.Many2one(
        comodel_name="ir.attachment", required=True, ondelete="cascade", index=True
    )
    sha256 = fields.Char(string="SHA-256", required=True, index=True)
    arn = fields.Char(string="ARN at Issue", readonly=True)
    download_ids = fields.One2many(
        comodel_name="payment.refund.proof.download",
        inverse_name="proof_id",
        string="Portal Downloads",
        readonly=True,
    )
    download_count = fields.Integer(
        string="Downloads", compute="_compute_download_count"
    )
    arn_unavailable = fields.Boolean(
        string="No ARN at Issue",
        readonly=True,
        help="The proof says that no ARN will come (the payment was reversed before "
        "it settled).",
    )

    _sql_constraints = [
        (
            "refund_sha256_uniq",
            "unique (refund_id, sha256)",
            "This proof was already stored.",
        ),
    ]

    def _compute_download_count(self):
        counts = dict(
            self.env["payment.refund.proof.download"]
            .sudo()
            ._read_group([("proof_id", "in", self.ids)], ["proof_id"], ["__count"])
        )
        for proof in self:
            proof.download_count = counts.get(proof, 0)

    def _log_download(self, user):
        """Record a download of this proof from the portal by `user` (the evidence
        pack of a dispute lists them): signed in as the refund's customer, or through
        the link of its e-mails (anyone holding it). One line per proof, channel and
        ten minutes: reloading the page does not count again. In sudo mode: the
        visitor reads the proof and writes nothing else; this line is the server's own
        log of it.

        :param recordset user: The `res.users` downloading (the public user through
            the link).
        """
        self.ensure_one()
        customer = self.sudo().refund_id.partner_id.commercial_partner_id
        channel = (
            "customer"
            if not user._is_public()
            and user.partner_id.commercial_partner_id == customer
            else "link"
        )
        Download = self.env["payment.refund.proof.download"].sudo()
        now = fields.Datetime.now()
        if Download.search_count(
            [
                ("proof_id", "=", self.id),
                ("channel", "=", channel),
                ("download_date", ">", now - timedelta(minutes=10)),
            ],
            limit=1,
        ):
            return
        Download.create({"proof_id": self.id, "channel": channel})

    def _get_verified_pdf(self):
        """The issued PDF, as served by every print and download: checked against the
        SHA-256 it was issued with, so that a file changed under Odoo (in the
        filestore or the database) is never served as the merchant's proof.

        Note: self.ensure_one()

        :return: The PDF's bytes.
        :rtype: bytes
        :raise UserError: When the stored bytes do not match the SHA-256.
        """
        self.ensure_one()
        # In sudo mode: the caller checked that the reader may read the refund; the file
        # and its fingerprint are the server's.
        proof = self.sudo()
        pdf = proof.attachment_id.raw or b""
        if hashlib.sha256(pdf).hexdigest() != proof.sha256:
            _logger.error(
                "Proof of refund %s (payment.refund.proof %s): the stored file of "
                "ir.attachment %s does not match the SHA-256 it was issued with; "
                "not served. Restore the issued file from a backup.",
                proof.refund_id.name,
                proof.id,
                proof.attachment_id.id,
            )
            raise UserError(
                _(
                    "The proof of refund %(name)s cannot be served: its stored file "
                    "does not match its fingerprint (it was changed after it was "
                    "issued). The administrator must restore the issued file.",
                    name=proof.refund_id.name,
                )
            )
        return pdf

    def _store(self, refund, pdf):
        """Store `pdf` as an issued proof of `refund` (once per distinct content)."""
        if not pdf or not pdf.startswith(b"%PDF"):
            # wkhtmltopdf exiting with code 1 is not fatal to Odoo and may leave no PDF.
            raise UserError(
                _(
                    "The proof of refund %(name)s could not be rendered as a PDF. "
                    "Please try again later.",
                    name=refund.name,
                )
            )
        digest = hashlib.sha256(pdf).hexdigest()
        existing = self.sudo().search(
            [("refund_id", "=", refund.id), ("sha256", "=", digest)]
        )
        if existing:
            return existing
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": f"{refund._get_report_base_filename()}.pdf",
                    "raw": pdf,
                    "mimetype": "application/pdf",
                    "res_model": refund._name,
                    "res_id": refund.id,
                }
            )
        )
        return self.sudo().create(
            {
                "refund_id": refund.id,
                "attachment_id": attachment.id,
                "sha256": digest,
                "arn": refund.arn,
                "arn_unavailable": refund.arn_unavailable,
            }
        )


class PaymentRefundProofDownload(models.Model):
    """A download of an issued proof by its customer, from the portal."""

    _name = "payment.refund.proof.download"
    _description = "Download of a Proof of Refund"
    _order = "id"
    _log_access = False

    proof_id = fields.Many2one(
        comodel_name="payment.refund.proof",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(related="proof_id.company_id", store=True)
    download_date = fields.Datetime(
        string="Downloaded On",
        required=True,
        readonly=True,
        default=fields.Datetime.now,
    )
    channel = fields.Selection(
        selection=[
            ("customer", "By the customer, signed in"),
            ("link", "Through the e-mailed link"),
        ],
        required=True,
        readonly=True,
        default="link",
    )
