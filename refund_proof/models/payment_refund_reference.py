"""The refund's reference at the provider: the ARN that arrives by itself, and the
idempotency key that makes a second request for the same refund harmless.

Provider-neutral: a bridge addon (`refund_proof_<provider>`) tells whether its provider
can be asked (`payment.provider._refund_proof_can_fetch_reference`), asks it
(`payment.transaction._refund_proof_fetch_reference`), reads references from its events
and sends the key; this file decides when to ask, records what comes back and stops.
"""

import logging
from datetime import timedelta

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..const import REFERENCE_FETCH_DELAYS, REFERENCE_FETCH_GIVE_UP_DAYS

_logger = logging.getLogger(__name__)


class PaymentRefund(models.Model):
    _inherit = "payment.refund"

    arn_unavailable = fields.Boolean(
        string="No ARN Will Come",
        readonly=True,
        copy=False,
        tracking=True,
        help="The provider reported that this refund has no ARN: the payment was "
        "reversed before it settled, so the customer's statement shows the charge "
        "disappearing instead of a credit.",
    )
    arn_expected = fields.Boolean(
        string="ARN Expected",
        compute="_compute_arn_expected",
        help="Whether an ARN may still come for this refund: not for a provider that "
        "gives none (Mollie), whose refunds show as a credit from the statement "
        "descriptor.",
    )
    reference_fetch_count = fields.Integer(
        string="Reference Checks", groups="base.group_user", readonly=True, copy=False
    )
    reference_next_fetch = fields.Datetime(
        string="Next Reference Check",
        groups="base.group_user",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="When the provider will next be asked for the refund's ARN.",
    )
    reference_fetch_stopped = fields.Boolean(
        string="Reference Checks Stopped",
        groups="base.group_user",
        readonly=True,
        copy=False,
        help="The provider gave no ARN in the time it usually takes: it is no longer "
        "asked, and the refund managers were told to look for it in its dashboard.",
    )
    provider_attempt = fields.Integer(
        string="Request Number",
        groups="base.group_user",
        readonly=True,
        copy=False,
        default=1,
        help="The number of the request to the provider that the idempotency key "
        "names: it grows when a retry follows a refusal, and stays the same when the "
        "outcome of the last request was unknown, so that the provider answers a "
        "retry with the refund it may already have made.",
    )
    provider_attempt_reusable = fields.Boolean(
        string="Same Request on Retry",
        groups="base.group_user",
        readonly=True,
        copy=False,
        help="The last request's outcome was never known (a manager found it not "
        "made): a retry sends it again under the same idempotency key.",
    )

    # === COMPUTE METHODS === #

    @api.depends("provider_id", "origin", "arn", "arn_unavailable")
    def _compute_arn_expected(self):
        for refund in self:
            refund.arn_expected = bool(
                not refund.arn
                and not refund.arn_unavailable
                and refund.origin != "manual"
                and refund.provider_id
                # In sudo mode: the provider is configuration, the answer a fact of
                # the refund shown to whoever reads it (the portal's customer).
                and refund.provider_id.sudo()._refund_proof_gives_arn()
            )

    # === BUSINESS METHODS - IDEMPOTENCY === #

    def _get_idempotency_key(self):
        """The key of the current request of this refund to its provider: the same
        for every send of one request, another for the next request after a refusal.

        Derived from the database, the refund and its request number, so that two
        databases (a copy for tests, a restored backup) never share one.

        Note: self.ensure_one()

        :rtype: str
        """
        self.ensure_one()
        # In sudo mode: the database's identity is a system parameter.
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return f"refund_proof-{uuid[:8]}-{self.id}-{self.sudo().provider_attempt}"

    def _get_next_attempt_values(self):
        """The request number of a retry: the same after an unknown outcome (the
        provider answers with the refund it may have made), the next after a refusal.

        Note: self.ensure_one()
        """
        self.ensure_one()
        if self.provider_attempt_reusable:
            return {"provider_attempt_reusable": False}
        return {"provider_attempt": self.provider_attempt + 1}

    # === BUSINESS METHODS - REFERENCES === #

    def _record_reference(self, reference=None, unavailable=False):
        """Record what the provider said of the refund's reference (from its event or
        from `_refund_proof_fetch_reference`). Server side: bridges call it in sudo
        mode after checking the event's signature.

        :param str reference: The ARN (23 digits, Luhn-valid) or bank reference.
        :param bool unavailable: The provider says no ARN will come (reversal).
        :return: Whether the refund changed.
        :rtype: bool
        """
        changed = False
        for refund in self:
            if reference and not refund.arn:
                try:
                    with self.env.cr.savepoint():
                        refund._set_reference(reference)
                except (UserError, ValidationError) as error:
                    # Invalid, or the refund failed or was cancelled meanwhile.
                    _logger.info(
                        "Refund %s: ignored the reference %r of the provider: %s",
                        refund.name,
                        reference,
                        error,
                    )
                    continue
                refund.write({"reference_next_fetch": False, "arn_unavailable": False})
                changed = True
            elif unavailable and not refund.arn and not refund.arn_unavailable:
                refund.write({"arn_unavailable": True, "reference_next_fetch": False})
                refund.message_post(
                    body=_(
                        "The provider reports that no ARN will come: the payment was "
                        "reversed before it settled."
                    )
                )
                if refund.state == "done":
                    refund.proof_pending = True  # A new version says so.
                    refund._trigger_mail_cron()
                changed = True
        return changed

    def _schedule_reference_fetch(self, now=None):
        """Plan the next question to the provider, with back-off
        (`REFERENCE_FETCH_DELAYS`, then the last delay; the first one after the
        refund itself, the others after the previous question), or stop asking
        `REFERENCE_FETCH_GIVE_UP_DAYS` after the refund and tell the managers."""
        now = now or fields.Datetime.now()
        for refund in self:
            since = refund.refund_date or refund.request_date or now
            if now - since >= timedelta(days=REFERENCE_FETCH_GIVE_UP_DAYS):
                refund.write(
                    {"reference_fetch_stopped": True, "reference_next_fetch": False}
                )
                if not refund.reference_fetch_count:
                    continue  # Older than this module's questions: nobody to tell.
                refund._notify_back_office(
                    _(
                        "Refund %(name)s: the provider gave no ARN in %(days)s days. "
                        "Look for it in the provider's dashboard and record it.",
                        name=refund.name,
                        days=REFERENCE_FETCH_GIVE_UP_DAYS,
                    ),
                    requester=False,
                    mail=False,
                )
                continue
            index = min(refund.reference_fetch_count, len(REFERENCE_FETCH_DELAYS) - 1)
            start = since if not refund.reference_fetch_count else now
            refund.reference_next_fetch = start + REFERENCE_FETCH_DELAYS[index]

    def _fetch_reference(self):
        """Ask the provider for the reference of this refund (its last attempt),
        record the answer, and plan the next question when there is none.

        Note: self.ensure_one()
        """
        self.ensure_one()
        attempt = self.transaction_ids.filtered("provider_reference").sorted("id")[-1:]
        answer = None
        if attempt:
            try:
                with self.env.cr.savepoint():
                    answer = attempt._refund_proof_fetch_reference()
            except psycopg2.Error:
                raise
            except Exception as error:  # noqa: BLE001 - the provider may be down
                _logger.info("Refund %s: reference not fetched: %s", self.name, error)
        self.reference_fetch_count += 1
        answer = answer or {}
        if not self._record_reference(
            answer.get("reference"), unavailable=answer.get("unavailable")
        ):
            self._schedule_reference_fetch()

    @api.model
    def _cron_fetch_refund_references(self, limit=100):
        """Ask the providers for the ARNs they have not reported yet, refunds due
        first, one refund per transaction as the other crons of this module."""
        now = fields.Datetime.now()
        refunds = self.sudo().search(
            [
                ("state", "in", ("pending", "done")),
                ("arn", "=", False),
                ("arn_unavailable", "=", False),
                ("reference_fetch_stopped", "=", False),
                ("origin", "!=", "manual"),
                "|",
                ("reference_next_fetch", "=", False),
                ("reference_next_fetch", "<=", now),
            ],
            order="reference_next_fetch asc nulls first, id",
            limit=limit,
        )
        # The domain above is the rule of which refunds lack a reference; the
        # provider's bridge says whether it can be asked.
        for refund in refunds.filtered(
            lambda r: r.provider_id._refund_proof_can_fetch_reference()
        ):
            if not refund.reference_next_fetch and refund.reference_fetch_count == 0:
                # The first question waits for the first delay after the refund (not
                # after this pass, which may come much later): the provider's own
                # event usually brings the reference, or says when it will.
                refund._schedule_reference_fetch(now=now)
            if refund.reference_next_fetch and refund.reference_next_fetch <= now:
                refund._fetch_reference()
            if not self.env.registry.in_test_mode():
                self.env.cr.commit()  # pylint: disable=invalid-commit
