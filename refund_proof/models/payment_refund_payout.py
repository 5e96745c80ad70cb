"""When the refund to the card fails: the customer chooses another way to be paid back.

A refund manager offers it on a failed refund (`action_offer_payout`, an e-mail with
the link of the portal's choice page); the customer's choice (`_request_payout`, from
controllers/payout.py after the access check) makes a new refund of the failed one's
amount through the one request path (`payment.transaction._request_refund`), linked
to it (`replaced_refund_id`). A bank transfer to an account the customer typed always
waits for a manager's approval (`_get_approval_reasons`). The IBAN is kept on the new
refund for refund managers only, and shown masked everywhere else.

The ways offered are `_get_payout_methods` (the core: bank transfer); a bridge adds its
own there and makes its refund in `_refund_proof_request_payout` (refund_proof_loyalty:
store credit on the customer's eWallet). The page's posts go through
`_post_payout_choice`, which refuses them once too many were refused
(PAYOUT_REFUSAL_LIMIT per PAYOUT_REFUSAL_WINDOW, counted on the refund's row: every
worker sees the same count).

An approved transfer is pending until it is paid: refund managers export a selection
of them as one SEPA credit transfer file for the merchant's bank
(`action_export_sepa`, pain.001.001.03 built and validated by `sepaxml`), then
confirm each transfer with the bank's reference (`action_confirm_transfer`). The
proof and the customer's e-mail then say how the money came back
(`_get_payout_proof_line`).
"""

import re

from sepaxml import SepaTransfer
from sepaxml.validation import ValidationError as SepaValidationError
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumValidationError

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..const import (
    GROUP_MANAGER,
    PAYOUT_REFUSAL_LIMIT,
    PAYOUT_REFUSAL_WINDOW,
    SEPA_NON_EEA_COUNTRIES,
)
from ..db_tools import superuser_savepoint
from ..utils import mask_iban

PAYOUT_OFFER_TEMPLATE = "refund_proof.mail_template_refund_payout_offer"
# The SEPA credit transfer message the export writes, and its one currency.
SEPA_SCHEMA = "pain.001.001.03"
SEPA_CURRENCY = "EUR"


class PaymentRefund(models.Model):
    _inherit = "payment.refund"

    # Written by the request path only (`_prepare_payout_values`), never by users
    # (not in USER_EDITABLE_FIELDS).
    replaced_refund_id = fields.Many2one(
        comodel_name="payment.refund",
        string="Replaces",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
        help="The failed refund whose amount this refund pays back another way, as "
        "the customer chose.",
    )
    replacement_refund_ids = fields.One2many(
        comodel_name="payment.refund",
        inverse_name="replaced_refund_id",
        string="Replaced By",
        readonly=True,
    )
    payout_offer_date = fields.Datetime(
        string="Other Way Offered On",
        readonly=True,
        copy=False,
        help="When the customer was last offered to choose another way to be paid "
        "back; each offer is answered once.",
    )
    payout_account_holder = fields.Char(
        string="Account Holder", readonly=True, copy=False
    )
    payout_iban = fields.Char(
        string="IBAN",
        groups=GROUP_MANAGER,
        readonly=True,
        copy=False,
        help="The account the customer gave for the bank transfer, as typed once "
        "validated; shown whole to refund managers only.",
    )
    payout_iban_display = fields.Char(
        string="Paid To",
        compute="_compute_payout_iban_display",
        store=True,
        help="The payout's IBAN, masked: what everyone but refund managers sees.",
    )
    payout_bic = fields.Char(string="BIC", readonly=True, copy=False)
    # Written by `_count_refused_payout` only, in SQL on the locked row: the choice
    # page's rate limit, shared by every worker.
    payout_refused_count = fields.Integer(
        string="Refused Choices",
        readonly=True,
        copy=False,
        help="How many of the customer's posts of the choice page were refused since "
        "the first of the current window (`payout_refused_since`).",
    )
    payout_refused_since = fields.Datetime(
        string="Refused Choices Since", readonly=True, copy=False
    )
    # Written by `action_export_sepa` only, in sudo mode.
    payout_export_date = fields.Datetime(
        string="Exported On",
        readonly=True,
        copy=False,
        help="When this bank transfer was exported in a SEPA credit transfer file for "
        "the merchant's bank; a transfer is exported once.",
    )
    payout_export_id = fields.Many2one(
        comodel_name="payment.refund.payout.export",
        string="SEPA File",
        groups=GROUP_MANAGER,
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
        help="The SEPA credit transfer file this transfer was exported in (it holds "
        "the IBANs of every transfer of the selection): refund managers only.",
    )

    # === COMPUTE METHODS === #

    @api.depends("payout_iban")
    def _compute_payout_iban_display(self):
        # In sudo mode: the IBAN is for refund managers; its mask is for everyone.
        for refund in self:
            iban = refund.sudo().payout_iban
            refund.payout_iban_display = iban and mask_iban(iban)

    # === ACTION METHODS === #

    def action_confirm_transfer(self, reference):
        """A refund manager confirms that the bank transfer of an approved payout
        left the merchant's bank, with the bank's reference: the refund is done (its
        proof and the customer's e-mail follow, with the reference). Until then an
        approved transfer is pending (`_execute`): nothing says it is refunded.

        :param str reference: The bank's reference of the transfer (8 to 30 letters
            and digits).
        """
        if not self._is_refund_manager():
            raise AccessError(
                _("Only a refund manager can confirm that a transfer was made.")
            )
        self.check_access("read")
        if not (reference or "").strip():
            raise UserError(_("Give the bank's reference of the transfer."))
        self._lock_for_decision()
        for refund in self:
            if not (refund._is_transfer_payout() and refund.state == "pending"):
                raise UserError(
                    _(
                        "%(name)s is not an approved bank transfer waiting for its "
                        "confirmation.",
                        name=refund.name,
                    )
                )
        # In sudo mode: the manager's right was checked above.
        for refund in self.sudo():
            refund._set_reference(reference)  # Validated (`_check_arn`).
            refund.message_post(
                body=_(
                    "Transfer confirmed by %(user)s (bank reference %(reference)s).",
                    user=self.env.user.name,
                    reference=refund.arn_display,
                )
            )
            refund._set_state("done", decided_by=self.env.user)
        return True

    def _is_payout_by(self, method):
        """Whether this refund pays back a failed refund by `method` (a code of
        `_get_payout_methods`), as its customer chose: not a manual refund recorded
        as paid that way outside Odoo.

        Note: self.ensure_one()
        """
        self.ensure_one()
        return bool(
            self.replaced_refund_id
            and self.origin == "manual"
            and self.manual_method == method
        )

    def _is_transfer_payout(self):
        """Whether this refund is a bank transfer the customer chose after a failed
        refund (paid by the merchant's bank, confirmed by a manager).

        Note: self.ensure_one()
        """
        return self._is_payout_by("bank_transfer")

    def _execute(self):
        """Override of `payment.refund`: an approved bank transfer to the customer's
        account is not paid by approving it: it waits, pending, for a manager to
        confirm the transfer with the bank's reference (`action_confirm_transfer`)."""
        transfers = self.filtered(lambda refund: refund._is_transfer_payout())
        for refund in transfers:
            refund._set_state("pending")
            refund.message_post(
                body=_(
                    "Approved: make the bank transfer to %(account)s, then confirm it "
                    "with the bank's reference.",
                    account=refund.payout_iban_display,
                )
            )
        return super(PaymentRefund, self - transfers)._execute()

    def action_export_sepa(self):
        """Export these approved bank transfers (pending, `_is_transfer_payout`) as
        one SEPA credit transfer file (pain.001.001.03, validated against the
        schema `sepaxml` ships) for the merchant's bank to pay: the refund's number
        is each transfer's end-to-end id, the company's bank journal's account pays.
        Refund managers only; a transfer is exported once.

        The file is stored as the attachment of a `payment.refund.payout.export`
        (each exported refund's `payout_export_id`), a record of refund managers
        only: an attachment's access follows its record's, so refund users and the
        chatter never get the IBANs in it (a field's groups would not protect an
        attachment read by id). Each refund's chatter gets a note naming the file.

        :return: An action downloading the file.
        :rtype: dict
        :raise UserError: if the selection cannot be paid in one SEPA file (state,
            currency, companies, the company's bank account); nothing is written.
        """
        if not self._is_refund_manager():
            raise AccessError(
                _("Only refund managers can export bank transfers to pay.")
            )
        self.check_access("read")
        if not self:
            raise UserError(_("Select the approved bank transfers to export."))
        # Two exports of the same transfers would pay them twice: the second waits
        # for the first, then sees its export date.
        self._lock_for_decision()
        self.invalidate_recordset()
        # In sudo mode: the manager's right was checked above; the file needs the
        # payouts' IBANs and the company's bank journal, and the export's date, file
        # and note are the server's to write.
        refunds = self.sudo()
        refunds._check_sepa_exportable()
        company = refunds.company_id
        debtor = refunds._get_sepa_debtor_account(company)
        xml = refunds._build_sepa_credit_transfer(company, debtor)
        attachment = refunds._store_sepa_export(xml)
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "download",
        }

    def action_offer_payout(self):
        """Offer the customers of these failed refunds to choose another way to be
        paid back: an e-mail in their language with the link of the choice page.
        Refund managers only; each failed refund is offered while it is not
        replaced."""
        if not self._is_refund_manager():
            raise AccessError(
                _("Only refund managers can offer another way to be paid back.")
            )
        self.check_access("read")
        self._lock_for_decision()
        self.invalidate_recordset()
        for refund in self:
            refund._check_payout_offerable()
        # In sudo mode: the manager's right was checked above; the offer's date is
        # the server's to write.
        self.sudo()._offer_payout()
        return True

    # === BUSINESS METHODS === #

    def _check_payout_offerable(self):
        """Raise unless another way to be paid back may be offered on this refund:
        it failed, its customer has an e-mail address, and nothing replaces it yet
        (a replacement cancelled or failed does not count).

        Note: self.ensure_one()
        """
        self.ensure_one()
        if self.state != "failed":
            raise UserError(
                _(
                    "%(name)s did not fail: another way to be paid back is offered "
                    "on failed refunds only.",
                    name=self.name,
                )
            )
        live = self.replacement_refund_ids.filtered(
            lambda r: r.state not in ("failed", "cancelled")
        )
        if live:
            raise UserError(
                _(
                    "%(name)s is already replaced by %(replacement)s.",
                    name=self.name,
                    replacement=", ".join(live.mapped("name")),
                )
            )
        if not self.partner_id.email:
            raise UserError(
                _(
                    "%(customer)s has no e-mail address: the offer cannot be sent.",
                    customer=self.partner_id.display_name,
                )
            )

    def _check_sepa_exportable(self):
        """Raise unless these refunds can be paid together in one SEPA credit
        transfer file: approved bank transfers waiting for their payment, not
        exported yet, in euros, of one company.

        :raise UserError: naming the refund that cannot be exported, and why.
        """
        for refund in self:
            if not (refund._is_transfer_payout() and refund.state == "pending"):
                raise UserError(
                    _(
                        "%(name)s is not an approved bank transfer waiting to be "
                        "paid: only those can be exported in a SEPA file.",
                        name=refund.name,
                    )
                )
            if refund.payout_export_date:
                raise UserError(
                    _(
                        "%(name)s was already exported on %(date)s (%(file)s): a "
                        "second file would pay it twice.",
                        name=refund.name,
                        date=fields.Datetime.to_string(refund.payout_export_date),
                        file=refund.payout_export_id.name,
                    )
                )
            if refund.currency_id.name != SEPA_CURRENCY:
                raise UserError(
                    _(
                        "%(name)s is in %(currency)s: a SEPA credit transfer pays "
                        "euros only.",
                        name=refund.name,
                        currency=refund.currency_id.name,
                    )
                )
        if len(self.company_id) > 1:
            raise UserError(
                _(
                    "The selected transfers belong to several companies "
                    "(%(companies)s): export each company's transfers apart.",
                    companies=", ".join(self.company_id.mapped("name")),
                )
            )

    @api.model
    def _get_sepa_debtor_account(self, company):
        """The bank account that pays the company's SEPA transfers: the account of
        its first bank journal (by sequence) that has one.

        :param recordset company: The `res.company` paying.
        :return: The account, its IBAN checked.
        :rtype: recordset of `res.partner.bank`
        :raise UserError: if the company has no bank journal with an account, or
            its number is not an IBAN, or its bank's BIC is not valid.
        """
        journal = (
            self.env["account.journal"]
            .sudo()
            .search(
                [
                    ("type", "=", "bank"),
                    ("company_id", "=", company.id),
                    ("bank_account_id", "!=", False),
                ],
                order="sequence, id",
                limit=1,
            )
        )
        account = journal.bank_account_id
        if not account:
            raise UserError(
                _(
                    "%(company)s has no bank journal with a bank account: set the "
                    "account the transfers are paid from on its bank journal "
                    "(Accounting > Configuration > Journals).",
                    company=company.name,
                )
            )
        if not stdnum_iban.is_valid(account.acc_number or ""):
            raise UserError(
                _(
                    "The bank account of the journal %(journal)s is not an IBAN: a "
                    "SEPA credit transfer is paid from an IBAN.",
                    journal=journal.name,
                )
            )
        if account.bank_bic and not stdnum_bic.is_valid(account.bank_bic):
            raise UserError(
                _(
                    "The BIC of the bank of the journal %(journal)s is not valid.",
                    journal=journal.name,
                )
            )
        return account

    def _build_sepa_credit_transfer(self, company, debtor):
        """The SEPA credit transfer file paying these refunds (pain.001.001.03), built
        by `sepaxml` and validated against the schema it ships.

        :param recordset company: The `res.company` paying.
        :param recordset debtor: Its `res.partner.bank` (`_get_sepa_debtor_account`).
        :return: The XML document.
        :rtype: bytes
        :raise UserError: if the file does not validate against the schema.
        """
        config = {
            "name": company.name,
            "IBAN": stdnum_iban.compact(debtor.acc_number),
            "batch": True,
            "currency": SEPA_CURRENCY,
        }
        if debtor.bank_bic:
            config["BIC"] = stdnum_bic.compact(debtor.bank_bic)
        sepa = SepaTransfer(config, schema=SEPA_SCHEMA)
        execution_date = fields.Date.context_today(self)
        for refund in self:
            currency = refund.currency_id
            payment = {
                "name": refund.payout_account_holder,
                "IBAN": refund.payout_iban,
                # In cents: the library wants an integer of the smallest unit.
                "amount": round(
                    currency.round(refund.amount) * 10**currency.decimal_places
                ),
                "execution_date": execution_date,
                "description": _(
                    "Refund %(name)s, payment %(reference)s",
                    name=refund.name,
                    reference=refund.source_transaction_id.reference,
                ),
                "endtoend_id": refund.name,
            }
            if refund.payout_bic:
                payment["BIC"] = refund.payout_bic
            sepa.add_payment(payment)
        try:
            return sepa.export(validate=True)
        except SepaValidationError as error:
            raise UserError(
                _(
                    "The SEPA file does not validate against the %(schema)s schema: "
                    "%(error)s",
                    schema=SEPA_SCHEMA,
                    error=getattr(error.__cause__, "reason", None) or error,
                )
            ) from None

    def _store_sepa_export(self, xml):
        """Store an exported SEPA file (`payment.refund.payout.export`, refund
        managers only) for these refunds, date their export and note it in their
        chatter, without the IBAN.

        :param bytes xml: The file (`_build_sepa_credit_transfer`).
        :return: The file's attachment, to download.
        :rtype: recordset of `ir.attachment`
        """
        now = fields.Datetime.now()
        company = self.company_id
        filename = f"SEPA-{company.id}-{now.strftime('%Y%m%d-%H%M%S')}.xml"
        export = self.env["payment.refund.payout.export"].create(
            {"name": filename, "company_id": company.id}
        )
        # The attachment of the export's `file`, named after the file to download.
        attachment = self.env["ir.attachment"].create(
            {
                "name": filename,
                "res_model": export._name,
                "res_id": export.id,
                "res_field": "file",
                "raw": xml,
                "mimetype": "application/xml",
            }
        )
        self.write({"payout_export_date": now, "payout_export_id": export.id})
        total = sum(self.mapped("amount"))
        for refund in self:
            refund.message_post(
                body=_(
                    "Exported by %(user)s in the SEPA credit transfer file %(file)s "
                    "(%(count)s transfers, %(total)s in all). Once the bank has paid "
                    "it, confirm the transfer with the bank's reference.",
                    user=self.env.user.name,
                    file=filename,
                    count=len(self),
                    total=refund._format_amount(total),
                ),
                subtype_xmlid="mail.mt_note",
            )
        return attachment

    def _check_replacement(self):
        """Raise if deciding this refund again (retry, approval) would send out the
        amount of a failed refund twice: a failed refund that a live refund replaces
        is not retried, and a replacement is not approved once the refund it
        replaces is no longer failed (the provider's late answer). Called by
        `payment.transaction._check_refund_request` under the payment's lock.

        Note: self.ensure_one()
        """
        self.ensure_one()
        # In sudo mode: the link is the server's, whoever decides.
        refund = self.sudo()
        live = refund.replacement_refund_ids.filtered(
            lambda r: r.state not in ("failed", "cancelled")
        )
        if live:
            raise UserError(
                _(
                    "%(name)s is replaced by %(replacement)s, which the customer "
                    "chose: it cannot be sent again.",
                    name=refund.name,
                    replacement=", ".join(live.mapped("name")),
                )
            )
        failed = refund.replaced_refund_id
        if failed and failed.state != "failed":
            raise UserError(
                _(
                    "%(name)s replaces %(failed)s, which is %(state)s now: the "
                    "customer is no longer owed this amount by another way.",
                    name=refund.name,
                    failed=failed.name,
                    state=failed._get_state_label(),
                )
            )

    def _offer_payout(self):
        """Make the offer: the refund's access token, the offer's date, the
        customer's e-mail. Called once the offer is decided (`action_offer_payout`,
        or the company's setting when a refund fails)."""
        for refund in self:
            refund._portal_ensure_token()
            refund.payout_offer_date = fields.Datetime.now()
            refund._send_payout_mail(PAYOUT_OFFER_TEMPLATE)

    def _send_payout_mail(self, template_xmlid):
        """Post an e-mail of the offer (the offer itself, a reminder) to the
        customer, in the chatter; queued in Odoo's mail queue, sent after the commit.

        Note: self.ensure_one()

        :param str template_xmlid: The `mail.template`'s xml id.
        """
        self.ensure_one()
        template = self.env.ref(template_xmlid, raise_if_not_found=False)
        if not template:
            return
        self.with_context(mail_notify_force_send=False).message_post_with_source(
            template,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            email_layout_xmlid="mail.mail_notification_light",
        )

    def _get_payout_url(self):
        """The choice page's link, with the refund's access token.

        Note: self.ensure_one()
        """
        self.ensure_one()
        return self.get_base_url() + self.get_portal_url(suffix="/payout")

    def _get_payout_choice(self):
        """The refund that answered the current offer, if any: one choice per offer.

        Note: self.ensure_one()
        """
        self.ensure_one()
        if not self.payout_offer_date:
            return self.browse()
        return self.replacement_refund_ids.filtered(
            lambda r: r.request_date >= self.payout_offer_date
        )[:1]

    @api.model
    def _validate_payout_account(self, holder, iban, bic=None):
        """The bank account a customer typed, checked and normalised: the IBAN's
        country format and check digits (python-stdnum), the BIC's format when given.

        The BIC is required when the IBAN's country is in the SEPA schemes but outside
        the EEA (const.SEPA_NON_EEA_COUNTRIES).

        :return: {"holder": str, "iban": str (compact), "bic": str or False}
        :rtype: dict
        :raise UserError: with a sentence for the customer; the IBAN is never
            repeated in it (nothing of it in logs).
        """
        holder = " ".join((holder or "").split())
        if not holder:
            raise UserError(_("Please give the name of the account holder."))
        try:
            iban = stdnum_iban.validate(iban or "")
        except StdnumValidationError:
            raise UserError(
                _(
                    "This IBAN is not valid: please check its country code, its "
                    "length and its digits."
                )
            ) from None
        bic = (bic or "").strip()
        if bic:
            try:
                bic = stdnum_bic.validate(bic)
            except StdnumValidationError:
                raise UserError(
                    _("This BIC is not valid: it has 8 or 11 letters and digits.")
                ) from None
        elif iban[:2] in SEPA_NON_EEA_COUNTRIES:
            # A SEPA transfer outside the EEA needs the beneficiary bank's BIC
            # (const.SEPA_NON_EEA_COUNTRIES).
            raise UserError(
                _(
                    "Please give the BIC of your bank: a transfer to an account in "
                    "this country needs it. It is on your bank statement, or your "
                    "bank can give it to you."
                )
            )
        return {"holder": holder, "iban": iban, "bic": bic or False}

    def _get_payout_methods(self):
        """The ways the customer may choose to be paid back the amount of this failed
        refund, in the order the choice page shows them. The core offers a bank
        transfer; a bridge adds its own when it can pay by it (calling super()), and
        makes its refund in `_refund_proof_request_payout`.

        Note: self.ensure_one()

        :return: (code, label) pairs; the codes are values of `manual_method`.
        :rtype: list[tuple[str, str]]
        """
        self.ensure_one()
        return [("bank_transfer", _("Bank transfer"))]

    def _request_payout(self, method, holder=None, iban=None, bic=None):
        """The customer's answer to the offer: a new refund of this failed refund's
        amount, paid by `method`, through the one request path. Called by the
        portal's choice page in sudo mode (`_post_payout_choice`), after its access
        check (the refund's access token).

        A bank transfer (`holder`, `iban`, `bic`) then waits for a manager's
        approval; any other method of `_get_payout_methods` is its bridge's, made by
        `_refund_proof_request_payout(method)` once the offer is checked here (under
        this refund's lock, not chosen yet).

        Note: self.ensure_one()

        :param str method: A code of `_get_payout_methods`.
        :return: The new refund (to_approve for a bank transfer).
        :rtype: recordset of `payment.refund`
        :raise UserError: a sentence for the customer; nothing is created.
        """
        self.ensure_one()
        if method not in dict(self._get_payout_methods()):
            raise UserError(
                _("Please choose one of the ways to be paid back shown on the page.")
            )
        account = None
        if method == "bank_transfer":
            account = self._validate_payout_account(holder, iban, bic)
        # One choice per offer: a second post waits for the first's lock, then sees
        # its refund.
        self._lock_for_decision()
        self.invalidate_recordset()
        if self.state != "failed" or not self.payout_offer_date:
            raise UserError(_("This refund has no other way to be paid back on offer."))
        if self._get_payout_choice():
            raise UserError(
                _(
                    "You already chose how to be paid back for this refund: we are "
                    "processing it."
                )
            )
        if method != "bank_transfer":
            return self._refund_proof_request_payout(method)
        refund = self.source_transaction_id._request_refund(
            amount_to_refund=self.amount,
            reason=self.reason_id,
            manual=True,
            manual_method="bank_transfer",
            replaced_refund=self,
            payout_account=account,
        ).with_env(self.env)  # As the caller (sudo mode): the server's notes below.
        masked = mask_iban(account["iban"])
        self.message_post(
            body=_(
                "The customer chose a bank transfer to %(account)s instead: "
                "%(refund)s awaits a manager's approval.",
                account=masked,
                refund=refund.name,
            ),
            subtype_xmlid="mail.mt_note",
        )
        refund.message_post(
            body=_(
                "Replaces the failed refund %(failed)s: a bank transfer to "
                "%(account)s, chosen by the customer.",
                failed=self.name,
                account=masked,
            ),
            subtype_xmlid="mail.mt_note",
        )
        return refund

    def _refund_proof_request_payout(self, method, **values):
        """Hook for bridges: pay this failed refund's amount back by `method`, a code
        the bridge added to `_get_payout_methods`, with a new refund made through the
        one request path (`payment.transaction._request_refund(...,
        replaced_refund=self)`). Called by `_request_payout` in sudo mode, under this
        refund's lock, once the offer is checked (failed, offered, not chosen). A
        bridge answers for its own method and calls super() for the others; the
        default refuses.

        Note: self.ensure_one()

        :param str method: The customer's choice.
        :param dict values: What the customer typed for it, if anything.
        :return: The new refund.
        :rtype: recordset of `payment.refund`
        :raise UserError: a sentence for the customer; nothing is created.
        """
        self.ensure_one()
        raise UserError(
            _("Please choose one of the ways to be paid back shown on the page.")
        )

    def _post_payout_choice(self, method, holder=None, iban=None, bic=None):
        """One post of the choice page (controllers/payout.py, in sudo mode after its
        access check): the rate limit, then `_request_payout` in a savepoint (nothing
        of a refused choice is kept but its count).

        Note: self.ensure_one()

        :return: ``{"refund": the new refund or an empty recordset, "error": the
                 sentence for the customer or False, "status": the HTTP status}``
        :rtype: dict
        """
        self.ensure_one()
        # Posts on one refund wait for each other here: the count read below is the
        # last one committed (a stale snapshot fails and the request is retried).
        self._lock_for_decision()
        self.invalidate_recordset(["payout_refused_count", "payout_refused_since"])
        if self._is_payout_rate_limited():
            return {
                "refund": self.browse(),
                "error": _(
                    "Too many attempts: please wait an hour before trying again, "
                    "or answer the e-mail we sent you."
                ),
                "status": 429,
            }
        try:
            with superuser_savepoint(self.env):
                refund = self._request_payout(method, holder=holder, iban=iban, bic=bic)
        except UserError as error:
            self.env.invalidate_all()
            self._count_refused_payout()
            return {
                "refund": self.browse(),
                "error": error.args[0],
                "status": 409 if self._get_payout_choice() else 400,
            }
        return {"refund": refund, "error": False, "status": 200}

    def _get_payout_refusal_window_start(self):
        return fields.Datetime.now() - PAYOUT_REFUSAL_WINDOW

    def _is_payout_rate_limited(self):
        """Whether the choice page refuses this refund's posts for now: too many
        were refused within the window.

        Note: self.ensure_one()
        """
        self.ensure_one()
        return bool(
            self.payout_refused_since
            and self.payout_refused_since >= self._get_payout_refusal_window_start()
            and self.payout_refused_count >= PAYOUT_REFUSAL_LIMIT
        )

    def _count_refused_payout(self):
        """Count one refused post of the choice page, starting a new window when the
        last one ended. In SQL, one statement on the refund's row (locked by
        `_post_payout_choice`): the count is the database's, whichever worker answers.

        Note: self.ensure_one()
        """
        self.ensure_one()
        self.flush_recordset(["payout_refused_count", "payout_refused_since"])
        self.env.cr.execute(
            SQL(
                """UPDATE payment_refund
                      SET payout_refused_count = CASE
                              WHEN payout_refused_since >= %(start)s
                              THEN COALESCE(payout_refused_count, 0) + 1 ELSE 1 END,
                          payout_refused_since = CASE
                              WHEN payout_refused_since >= %(start)s
                              THEN payout_refused_since ELSE %(now)s END
                    WHERE id = %(id)s""",
                start=self._get_payout_refusal_window_start(),
                now=fields.Datetime.now(),
                id=self.id,
            )
        )
        self.invalidate_recordset(["payout_refused_count", "payout_refused_since"])

    @api.model
    def _prepare_payout_values(self, replaced_refund=None, payout_account=None):
        """The values of a refund that replaces a failed one (`_request_refund`):
        the link, and the account of the transfer. No user requested it: the
        customer chose it on the portal.

        :rtype: dict
        """
        values = {}
        if replaced_refund:
            values["replaced_refund_id"] = replaced_refund.id
            values["requested_by_id"] = False
        if payout_account:
            values.update(
                payout_account_holder=payout_account["holder"],
                payout_iban=payout_account["iban"],
                payout_bic=payout_account["bic"],
            )
        return values

    def _get_pending_alert_message(self, days):
        """Override of `payment.refund`: an approved bank transfer waits for the
        transfer's confirmation by a refund manager, not for the provider."""
        if not self._is_transfer_payout():
            return super()._get_pending_alert_message(days)
        return _(
            "Refund %(name)s has been pending for %(days)s days, waiting for the bank "
            "transfer's confirmation: check that the merchant's bank paid it, then "
            "confirm the transfer with the bank's reference.",
            name=self.name,
            days=days,
        )

    def _get_payout_failure_words(self):
        """Why this failed refund failed, in plain words for the customer: the
        provider's message, its code (`expired_or_canceled_card`) spelt as words.

        Note: self.ensure_one()

        :rtype: str
        """
        self.ensure_one()
        # In sudo mode: the provider's message is internal; its words are the
        # customer's own refund's facts, on their proof and e-mail.
        message = " ".join((self.sudo().failure_message or "").split())
        if re.fullmatch(r"[A-Za-z0-9_]+", message):
            message = message.replace("_", " ").lower()
        return message or _("the bank refused it")

    def _get_payout_proof_line(self):
        """How the money of this refund came back, when it did not go back the
        usual way (to the payment's card or account through its provider): one
        plain-text paragraph that the proof of refund and the customer's "refunded"
        e-mail print after the refund's summary (escaped by their templates).

        A bank transfer the customer chose after a failed card refund, once a
        refund manager confirmed it (`action_confirm_transfer`), says where it was
        paid (the IBAN masked, `mask_iban`), when, with the bank's reference, and
        which refund failed and why::

            Paid by bank transfer to FR76 •••• •••• 1234 on <date>, bank reference
            <reference>. Replaces refund <name> to <card>, which failed: <why>.

        To override: another way of paying back (a bridge's store credit) returns its
        own paragraph for its refunds and `super()`'s for the others.

        It names the customer's bank account and the failed refund's reason: it is
        for the customer's documents only, never for the public verification page.

        Note: self.ensure_one()

        :return: The paragraph, in the context's language; "" for ordinary refunds
            and for transfers not confirmed yet.
        :rtype: str
        """
        self.ensure_one()
        if not (self._is_transfer_payout() and self.state == "done" and self.arn):
            return ""
        # In sudo mode: the proof states the refund's facts whoever renders it (the
        # IBAN is read to be masked).
        refund = self.sudo()
        paid = _(
            "Paid by bank transfer to %(account)s on %(date)s, bank reference "
            "%(reference)s.",
            account=mask_iban(refund.payout_iban),
            date=self._format_proof_datetime(refund.refund_date),
            reference=refund.arn_display,
        )
        return f"{paid} {refund._get_payout_replaced_words()}"

    def _get_payout_replaced_words(self):
        """The sentence of a payout's proof naming the failed refund it replaces and
        why it failed, for every way of paying back (`_get_payout_proof_line`).

        Note: self.ensure_one()

        :rtype: str
        """
        self.ensure_one()
        failed = self.sudo().replaced_refund_id
        return _(
            "Replaces refund %(name)s to %(card)s, which failed: %(why)s.",
            name=failed.name,
            card=failed.payment_method_display,
            why=failed._get_payout_failure_words(),
        )
