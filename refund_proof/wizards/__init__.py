from . import payment_refund_credit_note_choice
from . import payment_refund_request
from . import payment_refund_wizard
from . import payment_refund_reject
from . import payment_refund_credit_note
