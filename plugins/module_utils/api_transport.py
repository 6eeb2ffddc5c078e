# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that talks HTTP to the Shadeform API: the transport under the named calls of ``api.py``.

Every failure leaves this module as a :class:`ShadeformAPIError` whose message says what failed and
what the user can do about it.  The API key is sent in a header only, to the host of ``api_url`` only:
redirects are never followed (the Shadeform API does not redirect, and a redirect would carry the key
and the body elsewhere).  The key is scrubbed from every message, in every form a server, a proxy or
a library may print it (raw, escaped, or cut short), before any message is shortened.

Requests that are safe to repeat are retried after HTTP 429, HTTP 5xx, timeouts and connection
errors; nothing else is, since it would fail the same way again.  Requests that create something
(``idempotent=False``) are retried only when the service cannot have acted on them: after HTTP 429,
or when no connection could be made.

Each attempt ends within ``timeout`` seconds in all, however slowly the server answers, so a run
takes at most ``(retries + 1) * timeout + retries * MAX_RETRY_DELAY`` seconds.
"""

import email.utils
import json
import re
import ssl
import threading
import time

from urllib.parse import quote, urlencode, urljoin, urlsplit

try:
    import requests
except ImportError:
    requests = None

from ansible.module_utils.ansible_release import __version__ as ansible_version

DEFAULT_API_URL = "https://api.shadeform.ai/v1"
# No single wait is longer than this, not even when the server asks for more with Retry-After,
# so a run waits at most retries * MAX_RETRY_DELAY seconds in all (documented in the plugin).
MAX_RETRY_DELAY = 60
USER_AGENT = "shadeform.cloud-ansible (ansible-core {0})".format(ansible_version)
# Only bodies that are not JSON (a proxy's HTML page) are cut short; the server's own explanation is shown whole
# up to EXPLANATION_LENGTH, which only a hostile server reaches.
BODY_SNIPPET_LENGTH = 200
EXPLANATION_LENGTH = 2000
MASK = "********"
# A server may echo only the start of the key: any run of the key's first characters this long is scrubbed.
SHORTEST_KEY_PREFIX = 8
# What an HTTP header value can carry on every client and proxy: visible ASCII, no spaces or control characters.
HEADER_SAFE_KEY = re.compile(r"^[\x21-\x7e]+$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
# OpenSSL's words when the other end answered the TLS handshake with something that is not TLS.
NOT_TLS_MARKERS = ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure", "RECORD_LAYER_FAILURE",
                   "packet length too long", "PACKET_LENGTH_TOO_LONG", "unknown protocol", "UNKNOWN_PROTOCOL", "http request",
                   "HTTP_REQUEST")


class ShadeformAPIError(Exception):
    """A failure of the API call, with a message meant for the user.

    ``status`` is the HTTP status of the refusal (None when no answer came); ``code`` the ``error_code`` the
    answer's body gives (such as ``INSUFFICIENT_FUNDS``), read once here so that no caller searches the message.
    """

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.status = status
        self.code = code


def requests_is_missing():
    return requests is None


def path_segment(value):
    """An id as one URL path segment: nothing in it can reach another endpoint."""
    return quote(str(value), safe="")


class ApiTransport:
    """Requests to the Shadeform API: ``get`` and ``post`` with JSON bodies, within a deadline, retried where safe."""

    def __init__(self, api_key, api_url=DEFAULT_API_URL, timeout=30, retries=3, validate_certs=True, sleep=time.sleep):
        self.api_key = api_key
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, retries)
        self.validate_certs = validate_certs
        self._sleep = sleep
        self._secret_forms = _secret_forms(api_key)
        # Checked here, raised by the first request: callers already turn ShadeformAPIError into a clean failure there.
        self._configuration_error = _configuration_error(api_key, self.api_url, timeout, validate_certs)

    # -- generic calls ---------------------------------------------------------------------------------------------

    def get(self, path, params=None, action=None, missing_ok=False):
        """GET ``path`` (below api_url) and return the parsed JSON body; None on HTTP 404 when ``missing_ok``."""
        url = self._url(path, params)
        response = self._request("GET", url, action=action, missing_ok=missing_ok)
        if response is None:
            return None
        return self._json_body(url, response)

    def post(self, path, body=None, action=None, idempotent=True, missing_ok=False):
        """POST a JSON body to ``path``; return the parsed JSON answer, or None when the answer is empty or not JSON.

        The API documents no body for most of its POST answers, so a non-JSON answer to a successful
        POST is not an error here; callers that need a value check it.
        """
        url = self._url(path)
        response = self._request("POST", url, body=body, action=action, idempotent=idempotent, missing_ok=missing_ok)
        if response is None:
            return None
        try:
            return json.loads(response.text) if response.text.strip() else None
        except ValueError:
            return None

    # -- plumbing --------------------------------------------------------------------------------------------------

    def _url(self, path, params=None):
        url = self.api_url + "/" + path.lstrip("/")
        if params:
            query = [(name, _query_value(value)) for name, value in params.items() if value is not None]
            if query:
                url += "?" + urlencode(query)
        return url

    def _json_body(self, url, response):
        try:
            return json.loads(response.text)
        except ValueError:
            raise self._error(
                "The Shadeform API at {0} answered HTTP {1} with a body that is not JSON (content type {2!r}, starting {3!r}). "
                "A proxy or a wrong api_url is the usual cause: check api_url and any HTTP(S)_PROXY settings.".format(
                    url, response.status_code, response.headers.get("Content-Type", ""), self._snippet(response.text))
            ) from None

    def _request(self, method, url, body=None, action=None, idempotent=True, missing_ok=False):
        if self._configuration_error:
            raise ShadeformAPIError(self._configuration_error)
        attempts = self.retries + 1
        headers = {"X-API-KEY": self.api_key, "Accept": "application/json", "User-Agent": USER_AGENT}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode("utf-8")
        for attempt in range(1, attempts + 1):
            try:
                response = self._attempt(method, url, headers, data)
            except requests.exceptions.SSLError as exc:
                raise self._error(self._describe_tls_failure(url, exc)) from None
            except (requests.exceptions.RequestException, _DeadlineExceeded) as exc:
                if _is_mistake_in_the_request(exc):
                    raise self._error("Could not {0} {1}: {2}. Check api_url (or SHADEFORM_API_URL).".format(
                        _verb(method), url, _root_cause(exc))) from None
                failure = self._describe_connection_failure(exc)
                may_have_acted = not idempotent and not _never_connected(exc)
                if _is_name_resolution_failure(exc) or attempt == attempts or may_have_acted:
                    raise self._error(
                        "Could not {0} {1} after {2}: {3}. Check api_url (or SHADEFORM_API_URL), your network and any "
                        "HTTP(S)_PROXY settings.{4}".format(_verb(method), url, _attempts(attempt), failure,
                                                            _not_retried(may_have_acted and attempt < attempts))
                    ) from None
                self._sleep(_backoff(attempt))
                continue

            status = response.status_code
            if 300 <= status < 400:
                raise self._error(self._describe_redirect(url, response), status=status)
            if status < 300:
                return response
            if status == 404 and missing_ok:
                return None
            retryable = status == 429 or (status >= 500 and idempotent)
            if retryable and attempt < attempts:
                self._sleep(_retry_delay(response, attempt))
                continue
            body = _json_object(response.text)
            message = self._describe_status(url, response, body, attempt, action)
            if status >= 500 and not idempotent and attempt < attempts:
                message += _not_retried(True)
            raise self._error(message, status=status, code=_error_code(body))
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, method, url, headers, data):
        """One request, answer read in full, within ``timeout`` seconds in all.

        requests' own timeout bounds each wait for a packet, not the request: a server that trickles a
        byte at a time would hold the run forever. The request runs in a daemon thread that is left
        behind when the deadline passes; its socket timeouts end it soon after, and it never holds up exit.
        """
        deadline = time.monotonic() + self.timeout
        outcome = {}
        finished = threading.Event()

        def run():
            try:
                outcome["answer"] = self._send(method, url, headers, data, deadline)
            except BaseException as exc:  # pylint: disable=broad-except
                outcome["error"] = exc
            finally:
                finished.set()

        worker = threading.Thread(target=run, name="shadeform-api-request", daemon=True)
        worker.start()
        if not finished.wait(self.timeout):
            raise _DeadlineExceeded()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["answer"]

    def _send(self, method, url, headers, data, deadline):
        response = requests.request(method, url, headers=headers, data=data, timeout=self.timeout, verify=self.validate_certs,
                                    allow_redirects=False, stream=True)
        try:
            chunks = []
            # Reading the body here turns a connection dropped mid-body into an exception we retry.
            for chunk in response.iter_content(65536):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _DeadlineExceeded()
            content = b"".join(chunks)
        finally:
            response.close()
        return _Answer(response.status_code, response.headers, content.decode(response.encoding or "utf-8", errors="replace"))

    def _describe_status(self, url, response, body, attempt, action=None):
        status = response.status_code
        detail = self._server_explanation(response, body)
        if status == 401:
            return ("The Shadeform API rejected the API key (HTTP 401{0}). Check api_key or the SHADEFORM_API_KEY "
                    "environment variable: the key may be mistyped, revoked or expired.".format(detail))
        if status == 403:
            return ("The Shadeform API refused access (HTTP 403{0}). The key was accepted but may not {1}: check that it "
                    "belongs to the right account.".format(detail, action or "list instances of this workspace"))
        if status == 404:
            return ("The Shadeform API answered HTTP 404{0} for {1}. Check api_url (or SHADEFORM_API_URL): it must be "
                    "the API's base URL ending in /v1, for example {2}.".format(detail, url, DEFAULT_API_URL))
        if status == 409 and _error_code(body) == "INSUFFICIENT_FUNDS":
            return ("The Shadeform API refused to {0} for lack of funds (HTTP 409{1}). Add credits to the workspace's "
                    "balance in the Shadeform console, then run again.".format(action or "go on", detail))
        if status == 429 or status >= 500:
            return ("The Shadeform API answered HTTP {0}{1} for {2} on all {3}. The service is rate limiting or "
                    "unavailable: try again later, or raise retries.".format(status, detail, url, _attempts(attempt)))
        return "The Shadeform API answered HTTP {0}{1} for {2}.".format(status, detail, url)

    def _describe_redirect(self, url, response):
        location = response.headers.get("Location")
        target = urljoin(url, location) if location else "no Location at all"
        return ("The Shadeform API at {0} answered HTTP {1}, redirecting to {2}. Redirects are not followed, so that the API "
                "key and request bodies only ever go to the host in api_url: set api_url (or SHADEFORM_API_URL) to the "
                "API's own address, for example {3}.".format(url, response.status_code, target, DEFAULT_API_URL))

    def _describe_tls_failure(self, url, exc):
        causes = list(_causes(exc))
        text = " ".join(str(cause) for cause in causes)
        if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in causes) or "CERTIFICATE_VERIFY_FAILED" in text:
            return ("TLS certificate verification failed for {0}: {1}. If the server uses a private certificate authority, "
                    "point the REQUESTS_CA_BUNDLE environment variable at its bundle; validate_certs: false turns "
                    "verification off (only on a network you trust).".format(url, _root_cause(exc)))
        if any(marker in text for marker in NOT_TLS_MARKERS):
            return ("The server at {0} does not speak TLS (HTTPS) on that port: {1}. Check api_url (or SHADEFORM_API_URL): "
                    "its scheme (https://) or its port is wrong.".format(url, _root_cause(exc)))
        return ("The TLS handshake with {0} failed: {1}. Check api_url (or SHADEFORM_API_URL) and any HTTPS_PROXY "
                "setting.".format(url, _root_cause(exc)))

    def _server_explanation(self, response, body):
        """The server's own words: ``message``, ``error`` (text or an object) and ``error_code`` of the body, whole; else
        the start of the answer's text."""
        if body:
            words = []
            for value in (body.get("message"), body.get("error")):
                if isinstance(value, dict):
                    value = value.get("message") or value.get("error") or value.get("detail")
                if isinstance(value, str) and value.strip() and value not in words:
                    words.append(value)
            code = _error_code(body)
            text = " ".join(words)
            if code:
                text = "{0}: {1}".format(code, text) if text else code
            if text:
                return ": " + self._plain_text(text, EXPLANATION_LENGTH)
        if response.text.strip():
            return ", body starting {0!r}".format(self._snippet(response.text))
        return ""

    def _describe_connection_failure(self, exc):
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return "connecting timed out after {0} seconds (timeout)".format(self.timeout)
        if isinstance(exc, (requests.exceptions.ReadTimeout, _DeadlineExceeded)):
            return "no answer within {0} seconds (timeout)".format(self.timeout)
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            return "the connection was closed before the whole answer arrived"
        if _is_name_resolution_failure(exc):
            return "the host name could not be resolved"
        return _root_cause(exc)

    def _snippet(self, text):
        return self._plain_text(text, BODY_SNIPPET_LENGTH)

    def _plain_text(self, text, length):
        """Text from the server on one line, the key scrubbed first so that cutting it short can never leave a piece of it."""
        text = " ".join(CONTROL_CHARACTERS.sub(" ", self.scrub(text)).split())
        if len(text) > length:
            text = text[:length] + "..."
        return text

    def scrub(self, text):
        """``text`` with the key masked in every form it may take: raw, repr-, JSON- or URL-escaped, whole or only its start."""
        for form in self._secret_forms:
            text = _mask_prefixes(text, form)
        return text

    def _error(self, message, status=None, code=None):
        return ShadeformAPIError(self.scrub(message), status=status, code=code)


class _Answer:
    """A complete HTTP answer: status, headers and the body as text."""

    def __init__(self, status_code, headers, text):
        self.status_code = status_code
        self.headers = headers
        self.text = text


class _DeadlineExceeded(Exception):
    """The request did not finish within the timeout."""


def _is_mistake_in_the_request(exc):
    """A request requests refuses to send as it is: sending it again cannot help."""
    return isinstance(exc, (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema, requests.exceptions.URLRequired))


def _configuration_error(api_key, api_url, timeout, validate_certs):
    """What is wrong with the client's settings, as a message that never shows the key; None when all is well."""
    if not isinstance(api_key, str) or not HEADER_SAFE_KEY.match(api_key):
        return ("The Shadeform API key holds spaces, control characters (such as a line break) or other characters an HTTP "
                "header cannot carry, so it was not sent (the key is not shown here). Copy the key again from the Shadeform "
                "console into api_key or SHADEFORM_API_KEY, without quotes or line breaks.")
    parts = urlsplit(api_url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ("api_url {0!r} is not an http:// or https:// URL with a host name. Set api_url (or SHADEFORM_API_URL) to "
                "the API's base URL, for example {1}.".format(api_url, DEFAULT_API_URL))
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        return "timeout must be a positive number of seconds, not {0!r}: set timeout to, for example, 30.".format(timeout)
    if not isinstance(validate_certs, bool):
        return "validate_certs must be true or false, not {0!r}.".format(validate_certs)
    return None


def _secret_forms(api_key):
    """The key as it may appear in text, longest first: raw, repr()-, JSON- and URL-escaped."""
    if not isinstance(api_key, str) or not api_key:
        return ()
    forms = {api_key, repr(api_key)[1:-1], json.dumps(api_key)[1:-1], json.dumps(api_key, ensure_ascii=False)[1:-1],
             quote(api_key, safe="")}
    return tuple(sorted((form for form in forms if form), key=len, reverse=True))


def _mask_prefixes(text, form):
    """Mask every run of ``form``'s first characters (at least SHORTEST_KEY_PREFIX of them, or all of a shorter key)."""
    head = form[:SHORTEST_KEY_PREFIX]
    pieces = []
    position = 0
    start = text.find(head)
    while start >= 0:
        end = start + len(head)
        while end < len(text) and end - start < len(form) and text[end] == form[end - start]:
            end += 1
        pieces.append(text[position:start])
        pieces.append(MASK)
        position = end
        start = text.find(head, position)
    pieces.append(text[position:])
    return "".join(pieces)


def _error_code(body):
    """The ``error_code`` of an error answer's body (``INSUFFICIENT_FUNDS``), or None."""
    code = body.get("error_code")
    return code.strip() if isinstance(code, str) and code.strip() else None


def _json_object(text):
    """The JSON object ``text`` holds, or an empty dict when it holds none (an error page, a list, nothing)."""
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _verb(method):
    return "get" if method == "GET" else "{0} to".format(method)


def _not_retried(applies):
    if not applies:
        return ""
    return (" The request was not sent again because the service may have acted on it already: check whether it "
            "took effect before trying again.")


def _query_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _attempts(count):
    return "1 attempt" if count == 1 else "{0} attempts".format(count)


def _backoff(attempt):
    return min(2 ** (attempt - 1), MAX_RETRY_DELAY)


def _retry_delay(response, attempt):
    """Honour Retry-After (seconds or an HTTP date), else back off exponentially; never above MAX_RETRY_DELAY."""
    value = response.headers.get("Retry-After", "").strip()
    if value:
        try:
            delay = float(value)
        except ValueError:
            try:
                delay = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, IndexError, OverflowError):
                delay = None
        if delay is not None:
            return min(max(delay, 0.0), MAX_RETRY_DELAY)
    return _backoff(attempt)


def _causes(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        reason = getattr(exc, "reason", None)
        if isinstance(reason, BaseException):
            exc = reason
        elif exc.args and isinstance(exc.args[0], BaseException):
            exc = exc.args[0]
        else:
            exc = exc.__cause__ or exc.__context__


def _is_name_resolution_failure(exc):
    return any(type(cause).__name__ in ("NameResolutionError", "gaierror") for cause in _causes(exc))


def _never_connected(exc):
    """True when the request cannot have reached the service: no connection was ever made."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    return any(type(cause).__name__ in ("NewConnectionError", "ConnectionRefusedError", "NameResolutionError", "gaierror")
               for cause in _causes(exc))


def _root_cause(exc):
    cause = list(_causes(exc))[-1]
    return "{0}: {1}".format(type(cause).__name__, cause) if str(cause) else type(cause).__name__


def json_type(value):
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return "an object"
