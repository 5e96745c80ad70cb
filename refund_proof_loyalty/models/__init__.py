from . import payment_refund
