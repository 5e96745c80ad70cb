from . import loyalty_history
from . import payment_refund
