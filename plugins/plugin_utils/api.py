# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place on the controller that talks HTTP to the Shadeform API.

Every failure leaves this module as a :class:`ShadeformAPIError` whose message says what failed and
what the user can do about it.  The API key is sent in a header only; it is scrubbed from every
message in case a server or a proxy echoes it back.
"""

import email.utils
import json
import time

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
BODY_SNIPPET_LENGTH = 80


class ShadeformAPIError(Exception):
    """A failure of the API call, with a message meant for the user."""


def requests_is_missing():
    return requests is None


class ShadeformClient:
    """A small client for the read-only calls the inventory needs."""

    def __init__(self, api_key, api_url=DEFAULT_API_URL, timeout=30, retries=3, validate_certs=True, sleep=time.sleep):
        self.api_key = api_key
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, retries)
        self.validate_certs = validate_certs
        self._sleep = sleep

    def list_instances(self):
        """Return the raw instance list of ``GET /instances``; every element is still untrusted data."""
        url = self.api_url + "/instances"
        body = self._get_json(url)
        if not isinstance(body, dict):
            raise ShadeformAPIError(
                "The Shadeform API at {0} answered with JSON that is not an object (got {1}). "
                "Check that api_url points at the Shadeform API, for example {2}.".format(url, _json_type(body), DEFAULT_API_URL)
            )
        if "instances" not in body:
            raise ShadeformAPIError(
                "The Shadeform API at {0} answered without an 'instances' list. "
                "Check that api_url points at the Shadeform API, for example {1}.".format(url, DEFAULT_API_URL)
            )
        instances = body["instances"]
        if instances is None:
            return []
        if not isinstance(instances, list):
            raise ShadeformAPIError(
                "The Shadeform API at {0} answered with 'instances' as {1}, not a list. "
                "Check that api_url points at the Shadeform API, for example {2}.".format(url, _json_type(instances), DEFAULT_API_URL)
            )
        return instances

    def _get_json(self, url):
        response = self._get_with_retries(url)
        try:
            return json.loads(response.text)
        except ValueError:
            raise ShadeformAPIError(
                "The Shadeform API at {0} answered HTTP {1} with a body that is not JSON (content type {2!r}, starting {3!r}). "
                "A proxy or a wrong api_url is the usual cause: check api_url and any HTTP(S)_PROXY settings.".format(
                    url, response.status_code, response.headers.get("Content-Type", ""), self._snippet(response.text))
            ) from None

    def _get_with_retries(self, url):
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = requests.get(
                    url,
                    headers={"X-API-KEY": self.api_key, "Accept": "application/json", "User-Agent": USER_AGENT},
                    timeout=self.timeout,
                    verify=self.validate_certs,
                )
                # Reading the body here turns a connection dropped mid-body into an exception we retry.
                response.content  # pylint: disable=pointless-statement
            except requests.exceptions.SSLError as exc:
                raise ShadeformAPIError(
                    "TLS verification failed for {0}: {1}. If the server uses a private certificate authority, point the "
                    "REQUESTS_CA_BUNDLE environment variable at its bundle; validate_certs: false turns verification off "
                    "(only on a network you trust).".format(url, self._scrub(_root_cause(exc)))
                ) from None
            except requests.exceptions.RequestException as exc:
                failure = self._describe_connection_failure(exc)
                if _is_name_resolution_failure(exc) or attempt == attempts:
                    raise ShadeformAPIError(
                        "Could not get {0} after {1}: {2}. Check api_url (or SHADEFORM_API_URL), your network and any "
                        "HTTP(S)_PROXY settings.".format(url, _attempts(attempt), failure)
                    ) from None
                self._sleep(_backoff(attempt))
                continue

            status = response.status_code
            if status < 400:
                return response
            if (status == 429 or status >= 500) and attempt < attempts:
                self._sleep(_retry_delay(response, attempt))
                continue
            raise ShadeformAPIError(self._describe_status(url, response, attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _describe_status(self, url, response, attempt):
        status = response.status_code
        detail = self._server_message(response)
        if status == 401:
            return ("The Shadeform API rejected the API key (HTTP 401{0}). Check api_key or the SHADEFORM_API_KEY "
                    "environment variable: the key may be mistyped, revoked or expired.".format(detail))
        if status == 403:
            return ("The Shadeform API refused access (HTTP 403{0}). The key was accepted but may not list instances "
                    "of this workspace: check that it belongs to the right account.".format(detail))
        if status == 404:
            return ("The Shadeform API answered HTTP 404{0} for {1}. Check api_url (or SHADEFORM_API_URL): it must be "
                    "the API's base URL ending in /v1, for example {2}.".format(detail, url, DEFAULT_API_URL))
        if status == 429 or status >= 500:
            return ("The Shadeform API answered HTTP {0}{1} for {2} on all {3}. The service is rate limiting or "
                    "unavailable: try again later, or raise retries.".format(status, detail, url, _attempts(attempt)))
        return "The Shadeform API answered HTTP {0}{1} for {2}.".format(status, detail, url)

    def _server_message(self, response):
        try:
            body = json.loads(response.text)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return ": " + self._snippet(body["message"])
        if response.text.strip():
            return ", body starting {0!r}".format(self._snippet(response.text))
        return ""

    def _describe_connection_failure(self, exc):
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return "connecting timed out after {0} seconds (timeout)".format(self.timeout)
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return "no answer within {0} seconds (timeout)".format(self.timeout)
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            return "the connection was closed before the whole answer arrived"
        if _is_name_resolution_failure(exc):
            return "the host name could not be resolved"
        return self._scrub(_root_cause(exc))

    def _snippet(self, text):
        text = " ".join(text.split())
        if len(text) > BODY_SNIPPET_LENGTH:
            text = text[:BODY_SNIPPET_LENGTH] + "..."
        return self._scrub(text)

    def _scrub(self, text):
        if self.api_key:
            text = text.replace(self.api_key, "********")
        return text


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


def _root_cause(exc):
    cause = list(_causes(exc))[-1]
    return "{0}: {1}".format(type(cause).__name__, cause) if str(cause) else type(cause).__name__


def _json_type(value):
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
