"""A provider's API on 127.0.0.1, for the tests of the provider bridges.

Odoo's real provider module (payment_stripe, payment_adyen, payment_razorpay) runs as in
production; only its network is replaced: `redirect(module, base_url, server)` patches
the `requests` module object that the provider module imported, so that its calls to
`base_url` reach this server instead (the path after the base is kept). The server
answers each request from a route table the test fills, with payloads read from
`tests/data/<provider>/` (one JSON file per API object, shaped as the provider's API
reference of the version named in the file), and keeps every request it received.
"""

import email
import json
import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).parent / "data"


def load(provider, name, **changes):
    """The recorded object `tests/data/<provider>/<name>.json`, without its `_doc`
    key (where it comes from), with `changes` applied to top-level keys.

    :rtype: dict
    """
    payload = json.loads((DATA / provider / f"{name}.json").read_text())
    payload.pop("_doc", None)
    payload.update(changes)
    return payload


class ProviderAPIServer:
    """Answers `(method, path regex)` routes with `(status, json)`; records requests.

    `received` lists dicts: method, path, query (dict of lists), headers (dict),
    body (raw bytes), json (decoded body when JSON), form (decoded when form-encoded,
    or the text fields of a multipart body), files (a multipart body's files: name ->
    filename, content_type, content as bytes).
    """

    def __init__(self):
        self.received = []
        self._routes = []
        self._httpd = None
        self._thread = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def route(self, method, path, answer, status=200):
        """Answer `method` requests whose path matches the regex `path` (searched
        from the start, query excluded) with `answer`: a dict, or a callable
        `(request dict, match) -> dict or (status, dict)`. The last route added wins,
        so a test can override a default."""
        self._routes.insert(0, (method.upper(), re.compile(path), answer, status))

    def start(self):
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.api = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="provider-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = None

    def requests_to(self, method, path):
        """The received requests of `method` whose path matches the regex `path`."""
        pattern = re.compile(path)
        return [
            r
            for r in self.received
            if r["method"] == method and pattern.match(r["path"])
        ]

    def _answer(self, request):
        for method, pattern, answer, status in self._routes:
            match = pattern.match(request["path"])
            if method == request["method"] and match:
                if callable(answer):
                    answer = answer(request, match)
                if isinstance(answer, tuple):
                    return answer
                return status, answer
        return 404, {"error": {"message": f"no route for {request['path']}"}}


class _Handler(BaseHTTPRequestHandler):
    def _serve(self):
        api = self.server.api
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = {
            "method": self.command,
            "path": parts.path,
            "query": parse_qs(parts.query),
            "headers": dict(self.headers.items()),
            "body": body,
            "json": None,
            "form": None,
            "files": None,
        }
        content_type = self.headers.get("Content-Type", "")
        if body and "json" in content_type:
            try:
                request["json"] = json.loads(body)
            except ValueError:
                # A form sent as JSON (Odoo's PayPal token request: PayPal "always
                # wants JSON content-type", the body is form-encoded): read as a form.
                request["form"] = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        elif body and content_type.startswith("multipart/form-data"):
            request["form"], request["files"] = _parse_multipart(content_type, body)
        elif body and "form" in content_type:
            request["form"] = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        api.received.append(request)
        status, payload = api._answer(request)
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format, *args):  # noqa: A002 - quiet: no stderr per request
        return


def _parse_multipart(content_type, body):
    """The text fields and the files of a `multipart/form-data` body (RFC 7578),
    each part's content kept byte for byte.

    :return: (form: name -> str, files: name -> dict of filename, content_type,
             content)
    """
    boundary = email.message_from_string(
        f"Content-Type: {content_type}\r\n\r\n"
    ).get_param("boundary")
    form, files = {}, {}
    for chunk in body.split(b"--" + boundary.encode())[1:-1]:
        # Each part: CRLF, its headers, an empty line, its content, CRLF.
        head, _sep, content = chunk[2:-2].partition(b"\r\n\r\n")
        part = email.message_from_bytes(head + b"\r\n\r\n")
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        if filename is None:
            form[name] = content.decode()
        else:
            files[name] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "content": content,
            }
    return form, files


@contextmanager
def redirect(requests_module, base_url, server):
    """Send the calls that the provider module makes through `requests_module` (the
    `requests` object it imported, e.g. `payment_stripe.models.payment_provider.
    requests`) to `base_url...` to `server` instead. Only `request`, `get` and `post`
    are patched, and only for URLs under `base_url`: the rest is untouched."""
    real = {name: getattr(requests_module, name) for name in ("request", "get", "post")}

    def local(url):
        return server.url + url[len(base_url) :] if url.startswith(base_url) else url

    def request(method, url, *args, **kwargs):
        return real["request"](method, local(url), *args, **kwargs)

    def get(url, *args, **kwargs):
        return real["get"](local(url), *args, **kwargs)

    def post(url, *args, **kwargs):
        return real["post"](local(url), *args, **kwargs)

    with (
        patch.object(requests_module, "request", request),
        patch.object(requests_module, "get", get),
        patch.object(requests_module, "post", post),
    ):
        yield server
