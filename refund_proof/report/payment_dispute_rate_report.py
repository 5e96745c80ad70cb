from odoo import api, fields, models, tools
from odoo.osv import expression
from odoo.tools import SQL

from ..const import DISPUTE_CHARGEBACK_KINDS, DISPUTE_REASONS

# The fields of a reason line that a paid transaction does not have: a group or a
# filter on them keeps the transactions of its months, companies and providers.
REASON_FIELDS = frozenset({"card_network", "reason_code", "reason"})
# The kind of line, chosen by `read_group` itself (month lines or reason lines): a
# filter on it never changes what a group counts.
LINE_TYPE_FIELD = "line_type"
# The name under which `read_group` reads the disputes of reason-line groups.
DISPUTES_ALIAS = "refund_proof_disputes"


class PaymentDisputeRateReport(models.Model):
    """The dispute rate per month, company and provider: the chargebacks of a month
    over its paid transactions, as the card networks' monitoring programmes count
    them, against the company's warning threshold.

    Two kinds of lines: a month line per month, company and provider (its paid
    transactions, its disputes, its rate) and a reason line per network and reason
    code of its disputes. `read_group` counts from the month lines, or from the
    reason lines when a group or a filter is about reasons, whose transactions are
    then those of their months (a reason has no transactions of its own): the rate
    of any group is the sum of its disputes over the sum of its transactions.
    """

    _name = "payment.dispute.rate.report"
    _description = "Dispute Rate Report"
    _auto = False
    _rec_name = "month"
    _order = "date desc, company_id, provider_id, line_type, card_network, reason_code"

    date = fields.Date(string="Month Start", readonly=True)
    month = fields.Char(readonly=True, help="The month, as YYYY-MM.")
    line_type = fields.Selection(
        selection=[("month", "Month Total"), ("reason", "Reason")],
        string="Line",
        readonly=True,
    )
    company_id = fields.Many2one(comodel_name="res.company", readonly=True)
    provider_id = fields.Many2one(comodel_name="payment.provider", readonly=True)
    card_network = fields.Selection(
        selection="_get_card_network_selection", readonly=True
    )
    reason_code = fields.Char(readonly=True)
    reason = fields.Char(
        readonly=True,
        help="The reason code and what it means, or the provider's own reason.",
    )
    dispute_count = fields.Integer(
        string="Disputes",
        readonly=True,
        aggregator="sum",
        help="Chargebacks the bank opened in the month (a pre-arbitration stays the "
        "one chargeback it continues), whatever their outcome: what the card "
        "networks count. Inquiries are counted apart.",
    )
    inquiry_count = fields.Integer(
        string="Inquiries",
        readonly=True,
        aggregator="sum",
        help="Requests for information opened in the month: no money was taken "
        "back, and the networks' ratios do not count them.",
    )
    transaction_count = fields.Integer(
        string="Paid Transactions",
        readonly=True,
        aggregator="sum",
        help="Payments confirmed in the month (a payment captured in parts counts "
        "once), refunds and card validations excluded. On a reason line: those of "
        "its month, the reason's rate divides by them.",
    )
    dispute_rate = fields.Float(
        string="Dispute Rate (%)",
        readonly=True,
        digits=(16, 2),
        aggregator="avg",
        help="Disputes over paid transactions, in percent. Of a group: the sum of "
        "its disputes over the sum of its transactions.",
    )
    threshold = fields.Float(
        string="Warning At (%)",
        readonly=True,
        digits=(16, 2),
        aggregator=None,
        help="The company's dispute rate warning threshold (Settings).",
    )
    above_threshold = fields.Boolean(
        string="Above Warning",
        readonly=True,
        help="The month's dispute rate of this company and provider (all reasons) "
        "reached the company's warning threshold, or the month has disputes and no "
        "paid transaction.",
    )

    _depends = {
        "payment.transaction": [
            "state",
            "operation",
            "source_transaction_id",
            "company_id",
            "provider_id",
            "last_state_change",
            "create_date",
        ],
        "payment.dispute": [
            "company_id",
            "provider_id",
            "card_network",
            "reason_code",
            "provider_reason",
            "kind",
            "opened_date",
        ],
        "res.company": ["refund_tz", "dispute_rate_threshold"],
    }

    @api.model
    def _get_card_network_selection(self):
        return (
            self.env["payment.dispute"]
            ._fields["card_network"]
            ._description_selection(self.env)
        )

    # === SQL VIEW === #

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                "CREATE OR REPLACE VIEW %s AS (%s)",
                SQL.identifier(self._table),
                self._get_view_query(),
            )
        )

    @api.model
    def _get_view_query(self):
        """Month lines and reason lines. Months are cut in the company's refund time
        zone (`res.company.refund_tz`, as its refund days; UTC for a zone PostgreSQL
        does not know)."""
        labels = SQL(", ").join(
            SQL("(%s, %s, %s)", network, code, label)
            for network, codes in DISPUTE_REASONS.items()
            for code, label in codes.items()
        )
        return SQL(
            """
            WITH company_zone AS (
                SELECT company.id AS company_id,
                       COALESCE(zone.name, 'UTC') AS tz,
                       COALESCE(company.dispute_rate_threshold, 0) AS threshold
                  FROM res_company company
             LEFT JOIN pg_timezone_names zone ON zone.name = company.refund_tz
            ),
            payments AS (
                -- A payment captured in parts is one payment: its own once it is
                -- confirmed, else its first confirmed capture.
                SELECT tx.company_id,
                       tx.provider_id,
                       COALESCE(tx.last_state_change, tx.create_date) AS paid_at
                  FROM payment_transaction tx
                 WHERE tx.state = 'done'
                   AND tx.source_transaction_id IS NULL
                   AND tx.operation IS DISTINCT FROM 'refund'
                   AND tx.operation IS DISTINCT FROM 'validation'
             UNION ALL
                SELECT payment.company_id,
                       payment.provider_id,
                       MIN(COALESCE(tx.last_state_change, tx.create_date))
                  FROM payment_transaction tx
                  JOIN payment_transaction payment
                    ON payment.id = tx.source_transaction_id
                 WHERE tx.state = 'done'
                   AND payment.state != 'done'
                   AND tx.operation IS DISTINCT FROM 'refund'
                   AND tx.operation IS DISTINCT FROM 'validation'
              GROUP BY payment.id, payment.company_id, payment.provider_id
            ),
            payment_months AS (
                SELECT date_trunc(
                           'month',
                           timezone(zone.tz, payments.paid_at AT TIME ZONE 'UTC')
                       )::date AS date,
                       payments.company_id,
                       payments.provider_id,
                       COUNT(*) AS transaction_count
                  FROM payments
                  JOIN company_zone zone ON zone.company_id = payments.company_id
              GROUP BY 1, payments.company_id, payments.provider_id
            ),
            reasons AS (
                SELECT date_trunc(
                           'month',
                           timezone(zone.tz, dispute.opened_date AT TIME ZONE 'UTC')
                       )::date AS date,
                       dispute.company_id,
                       dispute.provider_id,
                       dispute.card_network,
                       NULLIF(btrim(dispute.reason_code), '') AS reason_code,
                       COALESCE(
                           label.code || ' — ' || label.label,
                           NULLIF(btrim(dispute.reason_code), ''),
                           NULLIF(btrim(dispute.provider_reason), '')
                       ) AS reason,
                       COUNT(*) FILTER (
                           WHERE dispute.kind IN %(chargebacks)s
                       ) AS dispute_count,
                       COUNT(*) FILTER (
                           WHERE dispute.kind NOT IN %(chargebacks)s
                       ) AS inquiry_count
                  FROM payment_dispute dispute
                  JOIN company_zone zone ON zone.company_id = dispute.company_id
             LEFT JOIN (VALUES %(labels)s) AS label (network, code, label)
                        ON label.network = dispute.card_network
                       AND label.code = btrim(dispute.reason_code)
              GROUP BY 1, 2, 3, 4, 5, 6
            ),
            months AS (
                SELECT COALESCE(pay.date, dis.date) AS date,
                       COALESCE(pay.company_id, dis.company_id) AS company_id,
                       COALESCE(pay.provider_id, dis.provider_id) AS provider_id,
                       COALESCE(pay.transaction_count, 0) AS transaction_count,
                       COALESCE(dis.dispute_count, 0) AS dispute_count,
                       COALESCE(dis.inquiry_count, 0) AS inquiry_count
                  FROM payment_months pay
                  FULL JOIN (
                        SELECT date, company_id, provider_id,
                               SUM(dispute_count) AS dispute_count,
                               SUM(inquiry_count) AS inquiry_count
                          FROM reasons
                      GROUP BY date, company_id, provider_id
                  ) dis
                    ON dis.date = pay.date
                   AND dis.company_id = pay.company_id
                   AND dis.provider_id = pay.provider_id
            ),
            lines AS (
                SELECT 'month' AS line_type, months.date, months.company_id,
                       months.provider_id, NULL::varchar AS card_network,
                       NULL::varchar AS reason_code, NULL::varchar AS reason,
                       months.dispute_count, months.inquiry_count,
                       months.transaction_count,
                       months.dispute_count AS month_dispute_count
                  FROM months
                 UNION ALL
                SELECT 'reason', reasons.date, reasons.company_id,
                       reasons.provider_id, reasons.card_network,
                       reasons.reason_code, reasons.reason,
                       reasons.dispute_count, reasons.inquiry_count,
                       months.transaction_count,
                       months.dispute_count
                  FROM reasons
                  JOIN months
                    ON months.date = reasons.date
                   AND months.company_id = reasons.company_id
                   AND months.provider_id = reasons.provider_id
            )
            SELECT row_number() OVER (
                       ORDER BY lines.date, lines.company_id, lines.provider_id,
                                lines.line_type, lines.card_network,
                                lines.reason_code, lines.reason
                   ) AS id,
                   lines.line_type,
                   lines.date,
                   to_char(lines.date, 'YYYY-MM') AS month,
                   lines.company_id,
                   lines.provider_id,
                   lines.card_network,
                   lines.reason_code,
                   lines.reason,
                   lines.dispute_count,
                   lines.inquiry_count,
                   lines.transaction_count,
                   lines.dispute_count * 100.0
                       / NULLIF(lines.transaction_count, 0) AS dispute_rate,
                   zone.threshold,
                   zone.threshold > 0 AND lines.month_dispute_count > 0 AND (
                       lines.transaction_count = 0
                       OR lines.month_dispute_count * 100.0 / lines.transaction_count
                          >= zone.threshold
                   ) AS above_threshold
              FROM lines
              JOIN company_zone zone ON zone.company_id = lines.company_id
            """,
            chargebacks=tuple(DISPUTE_CHARGEBACK_KINDS),
            labels=labels,
        )

    # === READ GROUP === #

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        """The rate of a group of month lines is the sum of their disputes over the
        sum of their transactions, never an average of their rates."""
        if aggregate_spec != "dispute_rate:avg":
            return super()._read_group_select(aggregate_spec, query)
        return SQL(
            "SUM(%s) * 100.0 / NULLIF(SUM(%s), 0)",
            self._field_to_sql(self._table, "dispute_count", query),
            self._field_to_sql(self._table, "transaction_count", query),
        )

    @api.model
    def read_group(
        self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True
    ):
        """What the pivot, graph and grouped list views read. A group counts month
        lines, or reason lines when it is grouped or filtered by a reason field;
        then its transactions are those of its months, companies and providers
        (found with the reason conditions taken out of the domain), and its rate is
        computed again from them."""
        groupby = [groupby] if isinstance(groupby, str) else list(groupby)
        # The groupbys of these groups (a lazy read groups by the first one only).
        specs = groupby[:1] if lazy else groupby
        domain = expression.normalize_domain(domain or [])
        by_reason = any(
            self._get_spec_field(spec) in REASON_FIELDS for spec in specs
        ) or self._domain_uses(domain, REASON_FIELDS)
        line_domain = expression.AND(
            [
                self._neutralise_domain(domain, {LINE_TYPE_FIELD}),
                [(LINE_TYPE_FIELD, "=", "reason" if by_reason else "month")],
            ]
        )
        measures = self._get_rate_measures(fields) if by_reason else {}
        if measures:
            fields = [*fields, f"{DISPUTES_ALIAS}:sum(dispute_count)"]
        groups = super().read_group(
            line_domain,
            fields,
            groupby,
            offset=offset,
            limit=limit,
            orderby=orderby,
            lazy=lazy,
        )
        if not measures:
            return groups
        transactions = self._get_month_transactions(domain, specs)
        for group in groups:
            disputes = group.pop(DISPUTES_ALIAS, 0) or 0
            count = transactions(group)
            for name, target in measures.items():
                if target == "transaction_count":
                    group[name] = count
                else:
                    group[name] = disputes * 100.0 / count if count else False
        return groups

    @api.model
    def _get_rate_measures(self, fields):
        """The measures `read_group` computes again for reason lines, by their name
        in its result: {name: "transaction_count" or "dispute_rate"}."""
        measures = {}
        for spec in fields:
            match = models.regex_field_agg.match(spec)
            if not match:
                continue
            name, _func, fname = match.groups()
            if (fname or name) in ("transaction_count", "dispute_rate"):
                measures[name] = fname or name
        return measures

    @api.model
    def _get_month_transactions(self, domain, specs):
        """The paid transactions of groups of reason lines, in one query: those of
        the month lines under the domain without its reason and line conditions,
        grouped by the groupbys that are not reason fields.

        :param list domain: The domain the groups were read with.
        :param list specs: The groupbys of the groups.
        :return: A function giving the paid transactions of a group.
        """
        month_specs = [
            spec
            for spec in specs
            if self._get_spec_field(spec) not in REASON_FIELDS | {LINE_TYPE_FIELD}
        ]
        month_domain = expression.AND(
            [
                self._neutralise_domain(domain, REASON_FIELDS | {LINE_TYPE_FIELD}),
                [(LINE_TYPE_FIELD, "=", "month")],
            ]
        )
        rows = super().read_group(
            month_domain, ["transaction_count:sum"], month_specs, lazy=False
        )
        counts = {
            self._get_group_key(row, month_specs): row["transaction_count"] or 0
            for row in rows
        }
        return lambda group: counts.get(self._get_group_key(group, month_specs), 0)

    @api.model
    def _get_group_key(self, group, specs):
        return tuple(
            value[0] if isinstance(value, (tuple, list)) else value
            for value in (group.get(spec) for spec in specs)
        )

    @api.model
    def _get_spec_field(self, spec):
        return spec.split(":")[0].split(".")[0]

    @api.model
    def _domain_uses(self, domain, field_names):
        return any(
            expression.is_leaf(token)
            and isinstance(token[0], str)
            and self._get_spec_field(token[0]) in field_names
            for token in domain
        )

    @api.model
    def _neutralise_domain(self, domain, field_names):
        """The domain with every condition on `field_names` made true: negations
        pushed into the leaves first, so that "not this reason" is not turned into
        "nothing"."""
        result = []
        tokens = expression.distribute_not(expression.normalize_domain(domain or []))
        skip = False
        for index, token in enumerate(tokens):
            if skip:
                skip = False
                continue
            if token == expression.NOT_OPERATOR and index + 1 < len(tokens):
                following = tokens[index + 1]
                if self._is_leaf_on(following, field_names):
                    result.append(expression.TRUE_LEAF)
                    skip = True
                    continue
            if self._is_leaf_on(token, field_names):
                result.append(expression.TRUE_LEAF)
            else:
                result.append(token)
        return result

    @api.model
    def _is_leaf_on(self, token, field_names):
        return (
            expression.is_leaf(token)
            and isinstance(token[0], str)
            and self._get_spec_field(token[0]) in field_names
        )
