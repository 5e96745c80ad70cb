from . import payment_refund_reason
from . import payment_refund
from . import payment_transaction
from . import account_payment
