# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that talks HTTP to the Shadeform API: the transport under the named calls of ``api.py``.

Every failure leaves this module as a :class:`ShadeformAPIError` whose message says what failed and
what the user can do about it.  The API key is sent in a header only, to the host of ``api_url`` only:
redirects are never followed (the Shadeform API does not redirect, and a redirect would carry the key
and the body elsewhere), and an ``http://`` api_url is refused unless its host is a loopback address or
``allow_insecure_http`` says the user means it.  The key is masked in every message, in every form a server,
a proxy or a library may print it (``key_mask.py``), and every character that could drive a terminal is
escaped (:func:`escape_controls`).  An answer's body is read up to ``max_body_bytes`` after decompression, no further.

Requests that are safe to repeat are retried after HTTP 429, HTTP 5xx, timeouts and connection
errors; nothing else is, since it would fail the same way again.  Requests that create something
(``idempotent=False``) are retried only when the service cannot have acted on them: after HTTP 429,
or when no connection could be made.

Each attempt ends within ``timeout`` seconds in all, however slowly the server answers, so a run
takes at most ``(retries + 1) * timeout + retries * MAX_RETRY_DELAY`` seconds.
"""

import email.utils
import ipaddress
import json
import math
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
from ansible_collections.shadeform.cloud.plugins.module_utils.key_mask import KeyMask

DEFAULT_API_URL = "https://api.shadeform.ai/v1"
# No single wait is longer than this, not even when the server asks for more with Retry-After,
# so a run waits at most retries * MAX_RETRY_DELAY seconds in all (documented in the plugin).
MAX_RETRY_DELAY = 60
# The largest timeout and retries accepted (documented): beyond them a run would outlast any sensible bound, and
# far beyond them the clock itself overflows.
MAX_TIMEOUT = 3600
MAX_RETRIES = 100
# An answer's body is read up to this many bytes after decompression, no further (documented). 100,000 instances of
# the simulator's generated fleet take 113 MB (1.13 KB each, the largest 1.8 KB): this holds 100,000 of up to 2.6 KB.
MAX_BODY_BYTES = 256 * 1024 * 1024
USER_AGENT = "shadeform.cloud-ansible (ansible-core {0})".format(ansible_version)
# Only bodies that are not JSON (a proxy's HTML page) are cut short; the server's own explanation is shown whole
# up to EXPLANATION_LENGTH, which only a hostile server reaches.
BODY_SNIPPET_LENGTH = 200
EXPLANATION_LENGTH = 2000
# What an HTTP header value can carry on every client and proxy: visible ASCII, no spaces or control characters.
HEADER_SAFE_KEY = re.compile(r"^[\x21-\x7e]+$")
# C0 but tab and newline, DEL and C1 (U+009B is a terminal's CSI): what could move a cursor or recolour a terminal.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
LOOPBACK_NAMES = ("localhost", "localhost.")
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


def escape_controls(text):
    """``text`` with every control character but tab and newline written out visibly (``\\x1b``, ``\\u009b``).

    Whatever a server sends ends up on a terminal; this is the one escaping function of every message the collection
    writes from it, so that nothing in it can move the cursor, rewrite a line or send the terminal a command.
    """
    return CONTROL_CHARACTERS.sub(_escaped_control, str(text))


def _escaped_control(match):
    code = ord(match.group())
    return "\\x{0:02x}".format(code) if code < 0x80 else "\\u{0:04x}".format(code)


def check_number(name, value, maximum, unit="seconds", least=None, whole=False):
    """None when ``value`` is a number up to ``maximum`` (above 0, or from ``least`` when given; an integer with ``whole``),
    else the message that says so, naming the option ``name``.

    The one check of every numeric setting the collection waits on (timeout, retries, and the modules' waits): NaN, an
    infinity, a negative value or one too large for the clock never reaches a sleep or a socket.
    """
    good = not isinstance(value, bool) and isinstance(value, (int, float))
    if good and isinstance(value, float):
        good = math.isfinite(value)
    if good:
        good = (value > 0 if least is None else value >= least) and value <= maximum and (not whole or value == int(value))
    if good:
        return None
    kind = "whole number" if whole else "number"
    if unit:
        kind += " of " + unit
    if least is not None:
        wanted = "a {0} from {1} to {2}".format(kind, least, maximum)
    else:
        wanted = "a positive {0}, at most {1}".format(kind, maximum)
    return "{0} must be {1}, not {2}.".format(name, wanted, quoted_value(value))


def quoted_value(value):
    """A value (a setting's, or one the API gave) as a one-line message quotes it: Python's repr, every character a
    terminal would act on escaped, cut to 80 characters."""
    if isinstance(value, int) and abs(value) >= 10 ** 20:
        return "a number of more than 20 digits"  # repr() of the largest ones even fails
    text = escape_controls(repr(value))
    return text if len(text) <= 80 else text[:80] + "..."


class ApiTransport:
    """Requests to the Shadeform API: ``get`` and ``post`` with JSON bodies, within a deadline, retried where safe."""

    def __init__(self, api_key, api_url=DEFAULT_API_URL, timeout=30, retries=3, validate_certs=True, sleep=time.sleep,
                 allow_insecure_http=False, max_body_bytes=MAX_BODY_BYTES):
        self.api_key = api_key
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.validate_certs = validate_certs
        self.max_body_bytes = max_body_bytes
        self._sleep = sleep
        self._mask = KeyMask(api_key)
        # Checked here, raised by the first request (before any socket is opened): callers already turn
        # ShadeformAPIError into a clean failure there.
        self._configuration_error = _configuration_error(api_key, self.api_url, timeout, retries, validate_certs, allow_insecure_http)

    @property
    def configuration_error(self):
        """What is wrong with the settings (key, api_url, timeout, retries, ...), as the first request raises it, in a
        message that never shows the key; None when they are good. For a caller that must tell a setting to fix from a
        failure worth trying again (the event source), before any request."""
        return self._configuration_error

    # -- generic calls ---------------------------------------------------------------------------------------------

    def get(self, path, params=None, action=None, missing_ok=False, subject=None):
        """GET ``path`` (below api_url) and return the parsed JSON body; None on HTTP 404 when ``missing_ok``.

        ``subject`` names what an id path is about (``volume <id>``): a 404 there says that it is gone, not that api_url is
        wrong (the callers have listed the workspace with the same api_url first).
        """
        url = self._url(path, params)
        response = self._request("GET", url, action=action, missing_ok=missing_ok, subject=subject)
        if response is None:
            return None
        return self._json_body(url, response)

    def post(self, path, body=None, action=None, idempotent=True, missing_ok=False, subject=None):
        """POST a JSON body to ``path``; return the parsed JSON answer, or None when the answer is empty or not JSON.

        The API documents no body for most of its POST answers, so a non-JSON answer to a successful
        POST is not an error here; callers that need a value check it. ``subject`` as for :meth:`get`.
        """
        url = self._url(path)
        response = self._request("POST", url, body=body, action=action, idempotent=idempotent, missing_ok=missing_ok, subject=subject)
        if response is None:
            return None
        if not response.text.strip():
            return None
        try:
            return json.loads(response.text)
        except ValueError:
            return None
        except RecursionError:
            raise self._too_deep(url, response) from None

    def _too_deep(self, url, response):
        return self._error(
            "The Shadeform API at {0} answered HTTP {1} with JSON nested too deeply to read. The Shadeform API does not "
            "answer that way: check api_url and any HTTP(S)_PROXY settings.".format(url, response.status_code))

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
        except RecursionError:
            raise self._too_deep(url, response) from None
        except ValueError:
            raise self._error(
                "The Shadeform API at {0} answered HTTP {1} with a body that is not JSON (content type {2!r}, starting {3!r}). "
                "A proxy or a wrong api_url is the usual cause: check api_url and any HTTP(S)_PROXY settings.".format(
                    url, response.status_code, self._snippet(response.headers.get("Content-Type", "")), self._snippet(response.text))
            ) from None

    def _request(self, method, url, body=None, action=None, idempotent=True, missing_ok=False, subject=None):
        if self._configuration_error:
            raise self._error(self._configuration_error)
        attempts = int(self.retries) + 1  # a whole float such as 3.0 passes check_number
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
            except _BodyTooLarge:
                raise self._error(
                    "The Shadeform API at {0} answered with a body of more than {1} (counted after decompression), more than "
                    "any answer of the Shadeform API needs, so reading stopped there. Check api_url and any HTTP(S)_PROXY "
                    "settings.".format(url, _size(self.max_body_bytes))) from None
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
            except Exception as exc:  # pylint: disable=broad-except
                # What requests and urllib3 raise when the answer itself is malformed is not always one of their own
                # exceptions (a Location that is no UTF-8 raises UnicodeDecodeError): still one clear error, not retried.
                raise self._error("Could not {0} {1}: the answer could not be read ({2}). Check api_url (or SHADEFORM_API_URL) "
                                  "and any HTTP(S)_PROXY settings.".format(_verb(method), url, _root_cause(exc))) from None

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
            message = self._describe_status(url, response, body, attempt, action, subject)
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
            content = bytearray()
            # Reading the body here turns a connection dropped mid-body into an exception we retry. iter_content
            # decompresses (gzip, deflate): the count is of what it yields, so a small compressed bomb stops at the cap.
            for chunk in response.iter_content(65536):
                content += chunk
                if len(content) > self.max_body_bytes:
                    raise _BodyTooLarge()
                if time.monotonic() > deadline:
                    raise _DeadlineExceeded()
        finally:
            response.close()
        # JSON is UTF-8 (RFC 8259) and the API sends nothing else. A charset the answer names is not used: an unknown
        # one (x-bogus) or one that is no text encoding (rot13, idna) would make decoding itself fail.
        return _Answer(response.status_code, response.headers, content.decode("utf-8", errors="replace"))

    def _describe_status(self, url, response, body, attempt, action=None, subject=None):
        status = response.status_code
        detail = self._server_explanation(response, body)
        if status == 401:
            return ("The Shadeform API rejected the API key (HTTP 401{0}). Check api_key or the SHADEFORM_API_KEY "
                    "environment variable: the key may be mistyped, revoked or expired.".format(detail))
        if status == 403:
            return ("The Shadeform API refused access (HTTP 403{0}). The key was accepted but may not {1}: check that it "
                    "belongs to the right account.".format(detail, action or "list instances of this workspace"))
        if status == 404 and subject:
            return ("Shadeform {0} is gone: the API answered HTTP 404{1} for {2}, so it no longer knows that id (deleted "
                    "meanwhile, or a spot instance reclaimed). Run the task again to act on what is there now.".format(
                        subject, detail, url))
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
        target = "no Location at all"
        if location:
            location = location[:EXPLANATION_LENGTH]
            try:
                target = urljoin(url, location)
            except ValueError:  # a Location that is no URL at all, such as "http://[::1"
                target = repr(location)
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
        """Text from the server on one line, at most ``length`` characters of it (so that masking stays cheap whatever
        the server sends), the key masked and control characters escaped. Cutting before masking can leave at most
        PIECE - 1 characters of the key at the cut, which the mask does not count as the key either."""
        cut = len(text) > length
        text = " ".join(self._clean(text[:length]).split())
        return text + "..." if cut else text

    def scrub(self, text):
        """``text`` with the key masked in every form it may take (see key_mask.py)."""
        return self._mask.scrub(text)

    def _clean(self, text):
        # Masked before escaping (a form holding a control character) and after (an escape that completes a form).
        return self.scrub(escape_controls(self.scrub(text)))

    def _error(self, message, status=None, code=None):
        return ShadeformAPIError(self._clean(message), status=status, code=code)


class _Answer:
    """A complete HTTP answer: status, headers and the body as text."""

    def __init__(self, status_code, headers, text):
        self.status_code = status_code
        self.headers = headers
        self.text = text


class _DeadlineExceeded(Exception):
    """The request did not finish within the timeout."""


class _BodyTooLarge(Exception):
    """The answer's body grew past max_body_bytes."""


def _is_mistake_in_the_request(exc):
    """A request requests refuses to send as it is: sending it again cannot help."""
    return isinstance(exc, (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema, requests.exceptions.URLRequired))


def _configuration_error(api_key, api_url, timeout, retries, validate_certs, allow_insecure_http):
    """What is wrong with the client's settings, as a message that never shows the key; None when all is well."""
    if not isinstance(api_key, str) or not HEADER_SAFE_KEY.match(api_key):
        return ("The Shadeform API key holds spaces, control characters (such as a line break) or other characters an HTTP "
                "header cannot carry, so it was not sent (the key is not shown here). Copy the key again from the Shadeform "
                "console into api_key or SHADEFORM_API_KEY, without quotes or line breaks.")
    problem = _url_problem(api_url, allow_insecure_http)
    if problem:
        return problem
    problem = check_number("timeout", timeout, MAX_TIMEOUT)
    if problem:
        return problem + " Set timeout to, for example, 30."
    problem = check_number("retries", retries, MAX_RETRIES, unit=None, least=0, whole=True)
    if problem:
        return problem + " Set retries to, for example, 3."
    if not isinstance(validate_certs, bool):
        return "validate_certs must be true or false, not {0}.".format(quoted_value(validate_certs))
    if not isinstance(allow_insecure_http, bool):
        return "allow_insecure_http must be true or false, not {0}.".format(quoted_value(allow_insecure_http))
    return None


def _url_problem(api_url, allow_insecure_http):
    """What is wrong with api_url, or None: it must parse, be http(s) with a host and a valid port, and be https://
    unless its host is a loopback address or the user said ``allow_insecure_http``."""
    shown = quoted_value(api_url)
    fix = "Set api_url (or SHADEFORM_API_URL) to the API's base URL, for example {0}.".format(DEFAULT_API_URL)
    try:
        parts = urlsplit(api_url)
        # .port raises ValueError for a port that is not a number or is out of range.
        host, port = parts.hostname, parts.port
    except (TypeError, ValueError, AttributeError) as exc:
        return "api_url {0} is not a valid URL ({1}). {2}".format(shown, escape_controls(exc), fix)
    if parts.scheme.lower() not in ("http", "https") or not host or port == 0:
        return "api_url {0} is not an http:// or https:// URL with a host name. {1}".format(shown, fix)
    if parts.scheme.lower() == "http" and not _is_loopback(host) and allow_insecure_http is not True:
        return ("api_url {0} is plain http:// to a host that is not this machine: the API key would cross the network "
                "unencrypted, so nothing was sent. Use https://, or set allow_insecure_http: true if you really mean "
                "it.".format(shown))
    return None


def _is_loopback(host):
    """True for localhost and the loopback addresses (127.0.0.0/8, ::1), the only hosts plain http:// may reach by default."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _error_code(body):
    """The ``error_code`` of an error answer's body (``INSUFFICIENT_FUNDS``), or None."""
    code = body.get("error_code")
    return code.strip() if isinstance(code, str) and code.strip() else None


def _json_object(text):
    """The JSON object ``text`` holds, or an empty dict when it holds none (an error page, a list, nothing)."""
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
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
        # NaN compares false with everything, so min/max would pass it on to sleep(); an infinity is just long.
        if delay is not None and not math.isnan(delay):
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
    """The innermost exception, named, its text cut short: a library's message may quote what the server sent."""
    cause = list(_causes(exc))[-1]
    text = str(cause)[:EXPLANATION_LENGTH]
    return "{0}: {1}".format(type(cause).__name__, text) if text else type(cause).__name__


def _size(count):
    return "{0} MiB".format(count // (1024 * 1024)) if count >= 1024 * 1024 else "{0} bytes".format(count)


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
