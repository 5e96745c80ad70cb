"""What refund_proof_authorize knows of Authorize.Net."""

from datetime import timedelta

# Authorize.Net settles the captured payments of an account once a day, at the
# account's Transaction Cut-Off Time (set in the merchant interface, 3:00 PM Pacific
# by default; the API does not give it): a payment submitted is settled within a day.
SETTLEMENT_DELAY = timedelta(hours=24)
