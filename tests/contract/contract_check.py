# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check requests to the simulator, and its answers, against the project's contract of the Shadeform API.

The contract is ``shadeform-api.openapi.yaml`` beside this file; openapi-core validates against it.  The simulator
calls :meth:`ContractCheck.check` for every request routed to an API endpoint (``http_server.HttpServer.contract``);
tests/conftest.py installs one ContractCheck for the whole run and fails a test whose requests or answers broke it.
"""

import os
import threading
import weakref

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

CONTRACT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shadeform-api.openapi.yaml")
# The host in the contract's servers list; the simulator's paths start with /v1 as the real ones do.
HOST_URL = "https://api.shadeform.ai"
API_KEY_HEADER = "X-API-KEY"


class ContractCheck:
    """Validates one request and its answer; remembers the simulators it watches."""

    def __init__(self, path=CONTRACT_PATH):
        self.openapi = OpenAPI.from_file_path(path)
        self._simulators = weakref.WeakSet()
        self._lock = threading.Lock()
        self._cache = {}

    def watch(self, simulator):
        with self._lock:
            self._simulators.add(simulator)

    def take_violations(self):
        """Every breach recorded by the watched simulators since the last call."""
        with self._lock:
            simulators = list(self._simulators)
        violations = []
        for simulator in simulators:
            violations.extend(simulator.take_contract_violations())
        return violations

    def check(self, method, path, query, content_type, body, status, answer_type, answer,  # pylint: disable=too-many-arguments
              check_request=True, check_response=True):
        """Return a list of messages, one per breach: the request (when asked) and the answer (when asked)."""
        request = MockRequest(HOST_URL, method.lower(), path, args=_query_args(query),
                              headers={API_KEY_HEADER: "checked-by-the-simulator"},
                              data=body or None, content_type=(content_type or "application/json").lower())
        where = "{0} {1}{2}".format(method, path, "?" + query if query else "")
        violations = []
        if check_request:
            violations.extend("request {0}: {1}".format(where, error) for error in self._errors(self.openapi.validate_request, request))
        if check_response:
            key = (method, path, query, status, answer)
            if key not in self._cache:
                response = MockResponse(answer or b"", status_code=status, content_type=(answer_type or "").split(";")[0].lower())
                self._cache.clear() if len(self._cache) > 256 else None  # pylint: disable=expression-not-assigned
                self._cache[key] = ["answer {0} (HTTP {1}): {2}".format(where, status, error)
                                    for error in self._errors(self.openapi.validate_response, request, response)]
            violations.extend(self._cache[key])
        return violations

    def valid_instances(self, body):
        """Whether a fleet a test put in (the body of GET /instances) follows the contract.

        When it does not, its answers are exempt: a test serving hostile data does so on purpose.  The result is
        cached with the answer's own check, so a large fleet is validated once.
        """
        return not self.check("GET", "/v1/instances", "", None, None, 200, "application/json", body, check_request=False)

    @staticmethod
    def _errors(validate, *args):
        try:
            validate(*args)
        except Exception as exc:  # pylint: disable=broad-except  # openapi-core raises several unrelated classes
            return [_describe(exc)]
        return []


def _query_args(query):
    from urllib.parse import parse_qsl  # pylint: disable=import-outside-toplevel

    return dict(parse_qsl(query or "", keep_blank_values=True))


def _describe(exc):
    """The error and the schema errors openapi-core keeps in __cause__ and schema_errors."""
    parts = [str(exc)]
    cause = exc.__cause__
    while cause is not None:
        details = getattr(cause, "schema_errors", None)
        if details:
            parts.extend("{0} at {1}".format(error.message, "/".join(str(p) for p in error.path) or "the top") for error in details)
            break
        parts.append(str(cause))
        cause = cause.__cause__
    return ": ".join(parts)
