"""The one state machine of refund_proof's records: refunds and disputes.

A record's state changes through `_set_state` only, from its creation on: it refuses a
transition the model's `_state_transitions` does not allow, writes the state with the
values of the transition (`_get_transition_values`) under the sentinel no client can
send (`const.TRANSITION`), then runs the transition's side effects, the one home of
them (`_on_state_change`, also run when a record is created, from no state). Who
decided travels as an argument, never in the context.
"""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..const import TRANSITION, TRANSITION_KEY


class RefundProofStateMixin(models.AbstractModel):
    _name = "refund_proof.state.mixin"
    _description = "Refund Proof State Machine"

    # {state: the states it may go to}; each model gives its own (const.py).
    _state_transitions = {}

    state_date = fields.Datetime(
        string="State Since",
        groups="base.group_user",
        readonly=True,
        copy=False,
        default=fields.Datetime.now,
        help="When the record entered its current state.",
    )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        """Override of `models`: a creation is the first transition (from no state),
        whose side effects the hub runs as for any other."""
        records = super().create(vals_list)
        for record in records:
            record._on_state_change(False)
        return records

    # === BUSINESS METHODS === #

    def _is_server_transition(self):
        """Whether this environment writes as the state machine (`_set_state`,
        `_write_server_values`): a context value no RPC or HTTP client can send.

        :rtype: bool
        """
        return self.env.context.get(TRANSITION_KEY) is TRANSITION

    def _write_server_values(self, values):
        """Write `values` as the state machine: the fields the model's `write` keeps
        for it (its state, and what each model names)."""
        return self.with_context(**{TRANSITION_KEY: TRANSITION}).write(values)

    def _get_state_label(self, state=None):
        """The label of `state` (default: the record's), in the user's language.

        :rtype: str
        """
        return dict(self._fields["state"]._description_selection(self.env))[
            state or self.state
        ]

    def _set_state(self, target, decided_by=None, **values):
        """The one path of a state change: refuse a transition the model does not
        allow, write the new state with the transition's values and `values`, then
        run its side effects. Server side only: the callers checked the user's right.

        :param str target: The new state.
        :param recordset decided_by: The `res.users` who decided the change, when a
            person did (not a provider, a cron or the request path).
        :param dict values: Other fields written with it; they win over the
            transition's own values.
        """
        now = fields.Datetime.now()
        for record in self:
            previous = record.state
            if previous == target:
                if values:
                    record._write_server_values(values)
                continue
            if target not in self._state_transitions[previous]:
                raise UserError(
                    _(
                        "%(name)s cannot go from %(from)s to %(to)s.",
                        name=record.display_name,
                        **{
                            "from": record._get_state_label(),
                            "to": record._get_state_label(target),
                        },
                    )
                )
            record._write_server_values(
                {
                    "state": target,
                    "state_date": now,
                    **record._get_transition_values(previous, target, now),
                    **values,
                }
            )
            record._on_state_change(previous, decided_by=decided_by)

    def _get_transition_values(self, previous, target, now):
        """The values a transition from `previous` to `target` writes with the state.

        Note: self.ensure_one()

        :rtype: dict
        """
        self.ensure_one()
        return {}

    def _on_state_change(self, previous, decided_by=None):
        """The side effects of a transition from `previous` (False: the record was
        just created) to the current state.

        Note: self.ensure_one()

        :param str previous: The former state, or False.
        :param recordset decided_by: See `_set_state`.
        """
        self.ensure_one()
