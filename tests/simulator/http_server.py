# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The simulator's HTTP side: a standard-library server on a loopback port, routing, faults and the request log.

:class:`HttpServer` knows nothing of Shadeform; a subclass supplies ``API_ROUTES`` and ``CONTROL_ROUTES`` (tables
of :class:`Route`) and the handler methods they name.

Faults are queued with :meth:`HttpServer.inject` and consumed one per ``/v1`` request, before authentication
(they model a proxy or a rate limiter in front of the service):

  ``rate_limit(retry_after=1)``           429 with ``Retry-After`` (omitted when None)
  ``server_error(status=503, retry_after=None)``  a 5xx JSON error; ``count=3`` makes a burst
  ``slow(delay=2.0)``                     wait, then answer normally
  ``drop``                                200 headers announcing the full body, half of it, then close
  ``reset``                               close the connection (TCP reset) without any response
  ``not_json(status=200, body=None)``     an HTML proxy page
  ``json(body={}, status=200)``           any JSON value as the body, e.g. a list or ``{"instances": "x"}``
  ``status(status=403, body=None)``       any status; body is a JSON value, or a str sent as text/plain

Every kind but ``slow``, ``drop`` and ``reset`` also takes ``headers`` (a dict of extra headers).

Every ``/v1`` request is recorded as ``{"method", "path", "api_key_ok", "user_agent", "status"}`` (plus ``body``, the
parsed JSON body, for requests that carry one; ``status`` None for ``reset``); the key itself is never stored.

The contract check: when the class attribute ``contract`` is set (the test suite sets it to a
``contract_check.ContractCheck``; the simulator itself needs only the standard library), every request routed to
an API endpoint and every answer the endpoints give (not the injected faults, which model what is in front of
the service) is checked, and each breach is kept in :attr:`HttpServer.contract_violations`.
"""

import collections
import hmac
import http
import http.server
import ipaddress
import json
import re
import socket
import socketserver
import struct
import sys
import threading

from fleet_data import SimulatorError

DEFAULT_HOST = "127.0.0.1"
REQUEST_LOG_LIMIT = 100000

# kind -> default parameters; any other parameter is refused.
FAULT_KINDS = {
    "rate_limit": {"retry_after": 1, "headers": None},
    "server_error": {"status": 503, "retry_after": None, "headers": None},
    "slow": {"delay": 2.0},
    "drop": {},
    "reset": {},
    "not_json": {"status": 200, "body": None, "headers": None},
    "json": {"body": {}, "status": 200, "headers": None},
    "status": {"status": 403, "body": None, "headers": None},
}

Route = collections.namedtuple("Route", ["method", "pattern", "handler"])


def route(method, pattern, handler):
    return Route(method, re.compile(pattern), handler)


def check_loopback(host):
    """Return the address family for ``host`` if it is a loopback address; raise SimulatorError otherwise."""
    if host == "localhost":
        return socket.AF_INET
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise SimulatorError(f"refusing to bind {host!r}: give a loopback IP address such as 127.0.0.1") from None
    if not address.is_loopback:
        raise SimulatorError(f"refusing to bind {host!r}: the simulator only listens on loopback addresses (127.0.0.0/8, ::1)")
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET


class Request:
    """One parsed request, as the route handlers see it."""

    def __init__(self, method, path, query, body, match):
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.params = match.groupdict() if match else {}

    def json(self):
        if not self.body:
            raise SimulatorError("a JSON body is required")
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise SimulatorError(f"the body is not JSON: {exc}") from exc


class Response:
    def __init__(self, status, body=b"", content_type="application/json", headers=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def json_response(status, value, headers=None):
    return Response(status, json.dumps(value).encode("utf-8"), headers=headers)


def message_response(status, message=None):
    return json_response(status, {"message": message or http.HTTPStatus(status).phrase})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, family, simulator):
        self.address_family = family
        self.simulator = simulator
        self.connections = set()
        self.aborted = set()
        self.lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind would do a reverse DNS lookup (socket.getfqdn); not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def shutdown_request(self, request):
        with self.lock:
            aborted = id(request) in self.aborted
            self.aborted.discard(id(request))
        if not aborted:
            super().shutdown_request(request)
        else:
            self.close_request(request)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)) or self.simulator.stopping:
            return
        super().handle_error(request, client_address)

    def close_connections(self):
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ShadeformSimulator/1.0"
    sys_version = ""
    timeout = 60

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.server.lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.simulator.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _dispatch(self):
        self.server.simulator._handle(self)  # pylint: disable=protected-access

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class HttpServer:
    """The loopback server, the fault queue and the request log; use as a context manager."""

    API_ROUTES = ()
    CONTROL_ROUTES = ()
    # Set by the test suite to a contract_check.ContractCheck; None outside the tests (the demo, the benchmarks).
    contract = None

    def __init__(self, api_key, host=DEFAULT_HOST, port=0, verbose=False):
        if not api_key or not isinstance(api_key, str):
            raise SimulatorError("api_key must be a non-empty string")
        self._family = check_loopback(host)
        self.host = "127.0.0.1" if host == "localhost" else host
        self._requested_port = port
        self._api_key = api_key.encode("utf-8")
        self.verbose = verbose
        self.stopping = False
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._faults = collections.deque()
        self._requests = collections.deque(maxlen=REQUEST_LOG_LIMIT)
        self._violations = []
        self._server = None
        self._thread = None

    # -- life cycle -------------------------------------------------------------------------------------------
    def start(self):
        if self._server is not None:
            return self
        self.stopping = False
        self._stop_event.clear()
        self._server = _Server((self.host, self._requested_port), self._family, self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="shadeform-simulator", daemon=True)
        self._thread.start()
        if self.contract is not None:
            self.contract.watch(self)
        return self

    def stop(self):
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping = True
        self._stop_event.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        self._thread.join(10)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def port(self):
        if self._server is None:
            raise SimulatorError("the simulator is not running")
        return self._server.server_address[1]

    @property
    def base_url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self):
        return self.base_url + "/v1"

    # -- faults, request log, contract violations ------------------------------------------------------------------
    def inject(self, kind, count=1, **params):
        """Queue ``count`` faults of ``kind`` (see FAULT_KINDS), consumed one per /v1 request."""
        if kind not in FAULT_KINDS:
            raise SimulatorError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        unknown = set(params) - set(FAULT_KINDS[kind])
        if unknown:
            raise SimulatorError(f"fault {kind!r} takes no parameter {', '.join(sorted(unknown))}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise SimulatorError("count must be a positive integer")
        fault = dict(FAULT_KINDS[kind], **params)
        status = fault.get("status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599):
            raise SimulatorError("status must be an integer between 100 and 599")
        if kind == "slow" and (not isinstance(fault["delay"], (int, float)) or fault["delay"] < 0):
            raise SimulatorError("delay must be a non-negative number")
        if fault.get("headers") is not None and not isinstance(fault["headers"], dict):
            raise SimulatorError("headers must be a dict")
        try:
            json.dumps(fault)
        except (TypeError, ValueError) as exc:
            raise SimulatorError(f"fault parameters must be JSON values: {exc}") from exc
        fault["kind"] = kind
        with self._lock:
            self._faults.extend(dict(fault) for _unused in range(count))

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    @property
    def faults(self):
        """The pending faults, next first."""
        with self._lock:
            return [dict(fault) for fault in self._faults]

    @property
    def requests(self):
        """The request log: dicts with method, path, api_key_ok, user_agent, status (and body when one was sent)."""
        with self._lock:
            return [json.loads(json.dumps(entry)) for entry in self._requests]

    def clear_requests(self):
        with self._lock:
            self._requests.clear()

    def take_contract_violations(self):
        """The contract breaches seen since the last call (each a message), and forget them."""
        with self._lock:
            violations, self._violations = self._violations, []
        return violations

    # -- request handling -----------------------------------------------------------------------------------------
    def _handle(self, handler):
        method = handler.command
        path, _sep, query = handler.path.partition("?")
        length = handler.headers.get("Content-Length")
        body = b""
        if length:
            try:
                body = handler.rfile.read(int(length))
            except ValueError:
                handler.close_connection = True
        if path == "/_sim" or path.startswith("/_sim/"):
            self._send(handler, self._control(handler, method, path, query, body), None)
            return
        key = handler.headers.get("X-API-KEY")
        record = {
            "method": method,
            "path": handler.path,
            "api_key_ok": key is not None and hmac.compare_digest(key.encode("utf-8", "replace"), self._api_key),
            "user_agent": handler.headers.get("User-Agent"),
            "status": None,
        }
        if body:
            try:
                record["body"] = json.loads(body)
            except ValueError:
                pass
        fault = None
        if path == "/v1" or path.startswith("/v1/"):
            with self._lock:
                fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault["kind"] == "slow":
            if self._stop_event.wait(fault["delay"]):
                self._abort(handler, record)
                return
            fault = None
        if fault is not None:
            self._fault(handler, fault, record)
            return
        routed = False
        if not (path == "/v1" or path.startswith("/v1/")):
            response = message_response(404)
        elif not record["api_key_ok"]:
            response = message_response(401, "Invalid API key")
        else:
            response, routed = self._route(self.API_ROUTES, method, path, query, body)
        if self.contract is not None and (routed or not record["api_key_ok"]):
            self._check_contract(method, path, query, handler, body, response, check_request=routed)
        self._send(handler, response, record)

    def _check_contract(self, method, path, query, handler, body, response, check_request):  # pylint: disable=too-many-arguments
        violations = self.contract.check(
            method, path, query, handler.headers.get("Content-Type"), body if check_request else None,
            response.status, response.content_type, response.body,
            check_request=check_request, check_response=self._answer_is_checked(path, response))
        if violations:
            with self._lock:
                self._violations.extend(violations)

    def _answer_is_checked(self, path, response):  # pylint: disable=unused-argument
        """Whether an answer must follow the contract; a subclass exempts answers built from data a test put in on purpose."""
        return True

    def _route(self, routes, method, path, query, body):
        """(response, whether a route matched the path and the method)."""
        allowed = []
        for entry in routes:
            match = entry.pattern.match(path)
            if not match:
                continue
            if entry.method == method:
                try:
                    return getattr(self, entry.handler)(Request(method, path, query, body, match)), True
                except SimulatorError as exc:
                    return self._bad_request(str(exc)), True
            allowed.append(entry.method)
        if allowed:
            response = message_response(405)
            response.headers["Allow"] = ", ".join(sorted(set(allowed)))
            return response, False
        return message_response(404), False

    def _bad_request(self, text):
        return message_response(400, text)

    def _control(self, handler, method, path, query, body):
        try:
            loopback = ipaddress.ip_address(handler.client_address[0].split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return message_response(403, "control endpoints are for loopback clients only")
        return self._route(self.CONTROL_ROUTES, method, path, query, body)[0]

    def _send(self, handler, response, record):
        if record is not None:
            record["status"] = response.status
            with self._lock:
                self._requests.append(record)
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            handler.send_header(name, str(value))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(response.body)

    def _abort(self, handler, record):
        """Close the connection with a TCP reset and no response."""
        if record is not None:
            with self._lock:
                self._requests.append(record)
        handler.close_connection = True
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with handler.server.lock:
            handler.server.aborted.add(id(handler.connection))

    def _drop_body(self):
        """The body a ``drop`` fault cuts in half (a subclass serves its largest answer)."""
        return b"{}"

    def _fault(self, handler, fault, record):
        kind = fault["kind"]
        headers = dict(fault.get("headers") or {})
        if kind == "reset":
            self._abort(handler, record)
            return
        if kind == "drop":
            body = self._drop_body()
            record["status"] = 200
            with self._lock:
                self._requests.append(record)
            handler.close_connection = True
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[:len(body) // 2])
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind in ("rate_limit", "server_error"):
            status = 429 if kind == "rate_limit" else fault["status"]
            if fault["retry_after"] is not None:
                headers["Retry-After"] = fault["retry_after"]
            response = json_response(status, {"message": http.HTTPStatus(status).phrase}, headers)
        elif kind == "not_json":
            response = Response(fault["status"], self._html_page(fault), "text/html; charset=utf-8", headers)
        elif kind == "status" and fault["body"] is None:
            response = message_response(fault["status"])
            response.headers = headers
        elif isinstance(fault["body"], str) and kind == "status":
            response = Response(fault["status"], fault["body"].encode("utf-8"), "text/plain; charset=utf-8", headers)
        else:
            response = json_response(fault["status"], fault["body"], headers)
        self._send(handler, response, record)

    @staticmethod
    def _html_page(fault):
        if fault["body"] is not None:
            return str(fault["body"]).encode("utf-8")
        status = fault["status"]
        title = "Scheduled maintenance" if status == 200 else f"{status} {http.HTTPStatus(status).phrase}"
        return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
                "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n").encode("utf-8")
