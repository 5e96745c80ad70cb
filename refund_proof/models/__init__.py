from . import payment_refund_reason
from . import payment_refund
from . import payment_transaction
from . import account_payment
from . import res_users
from . import res_company
from . import res_config_settings
