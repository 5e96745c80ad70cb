"""The customer's side of issue 26's choice page, as a browser does it: open the
e-mailed link, read the form's CSRF token, post the choice. For HttpCase tests."""

import re
from urllib.parse import parse_qs, urlsplit

IBAN_FR = "FR76 3000 6000 0112 3456 7890 189"


def offer_link(mail):
    """The choice page's path and query in an offer e-mail (`mail.mail`); the test
    server has a base URL of its own."""
    match = re.search(
        r'href="[^"]*?(/my/refunds/\d+/payout\?access_token=[^"]+)"', mail.body_html
    )
    assert match, "the offer e-mail carries the choice page's link"
    return match.group(1).replace("&amp;", "&")


def form_csrf(case, link):
    """Open the choice page at `link` (from the e-mail); return its form's CSRF
    token."""
    page = case.url_open(link)
    case.assertEqual(page.status_code, 200, "the e-mailed link opens the choice page")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    case.assertTrue(csrf, "the choice page has a form with its CSRF token")
    return csrf.group(1)


def post_choice(case, link, csrf=None, **values):
    """POST `values` to the choice page at `link` with the link's access token and
    the CSRF token of its form (`csrf`, else read from the page now); return the
    response."""
    url = urlsplit(link)
    data = {
        "csrf_token": csrf or form_csrf(case, link),
        "access_token": parse_qs(url.query).get("access_token", [""])[0],
        "method": "bank_transfer",
        "holder": "Norbert Buyer",
        "iban": IBAN_FR,
        "bic": "",
        **values,
    }
    return case.url_open(url.path, data=data)
