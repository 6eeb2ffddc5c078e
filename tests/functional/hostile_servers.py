# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small real servers on loopback that misbehave on purpose: they redirect, trickle, stay silent, send a body that
decompresses without end, or only count connections. Each one records every connection and every request it read,
so a test can prove what reached it.

Any 127.0.0.0/8 address works on Linux loopback, so a "second host" is simply 127.0.0.2.
"""

import json
import socket
import threading
import time
import zlib


class LoopbackServer:
    """A TCP server on ``host`` that hands each connection to ``serve(server, connection)`` in a thread of its own."""

    def __init__(self, serve, host="127.0.0.1", port=0):
        self.host = host
        self.connections = 0
        self.requests = []
        self.sent = 0  # what a server that counts its bytes (gzip_bomb) managed to send
        self.stopped = threading.Event()
        self._serve = serve
        self._lock = threading.Lock()
        self._open = []
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self):
        return "http://{0}:{1}/v1".format(self.host, self.port)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopped.set()
        self._thread.join(10)
        self._listener.close()
        with self._lock:
            for connection in self._open:
                _close(connection)

    def _accept(self):
        while not self.stopped.is_set():
            try:
                connection, _address = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                self.connections += 1
                self._open.append(connection)
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection):
        try:
            self._serve(self, connection)
        except OSError:
            pass  # the client gave up, which is what several tests want
        finally:
            _close(connection)

    def read_request(self, connection):
        """Read one HTTP request; remember and return it as a dict (method, path, headers, body), or None."""
        connection.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _separator, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        headers = {}
        for line in lines[1:]:
            name, _separator, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        request = {"method": method, "path": path, "headers": headers, "body": body.decode("utf-8", "replace")}
        with self._lock:
            self.requests.append(request)
        return request


def _close(connection):
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    connection.close()


def http_answer(status, body=b"", headers=()):
    """The bytes of a whole HTTP/1.1 answer."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = ["HTTP/1.1 {0} X".format(status), "Content-Length: {0}".format(len(body)), "Connection: close"]
    lines += ["{0}: {1}".format(name, value) for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def answering(choose):
    """A serve function that answers each request with ``choose(request)``: (status, body, headers)."""
    def serve(server, connection):
        request = server.read_request(connection)
        if request is not None:
            connection.sendall(http_answer(*choose(request)))
    return serve


def redirecting(location, status=307):
    """Answer every request with a redirect to ``location``."""
    return answering(lambda request: (status, b"", [("Location", location)]))


def listing(path, instances, clusters=()):
    """The body of an API with ``instances`` and ``clusters`` for a GET of ``path``: ``/clusters`` the clusters (none
    unless given: the inventory asks for them by default), ``/sshkeys`` no key, any other path the instances."""
    path = path.rstrip("/")
    if path.endswith("/sshkeys"):
        return {"ssh_keys": []}
    if path.endswith("/clusters"):
        return {"clusters": list(clusters)}
    return {"instances": instances}


def fleet(instances, posts=None, clusters=()):
    """Answer GETs as ``listing`` says, POSTs with ``posts`` (status, body)."""
    def choose(request):
        if request["method"] == "POST":
            return posts or (200, {"id": "posted"}, [("Content-Type", "application/json")])
        return 200, listing(request["path"], instances, clusters), [("Content-Type", "application/json")]
    return answering(choose)


def trickling(start_with_body, interval=1.0, limit=300):
    """Read the request, then send an answer one byte per ``interval`` for up to ``limit`` bytes, never finishing.

    ``start_with_body``: send the status line and headers at once and trickle the body; else trickle from the status line.
    """
    def serve(server, connection):
        if server.read_request(connection) is None:
            return
        if start_with_body:
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            payload = b'{"instances": [' + b" " * limit
        else:
            payload = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * limit
        for byte in payload:
            if server.stopped.wait(interval):
                return
            connection.sendall(bytes([byte]))
    return serve


def silent(server, connection):
    """Accept, read the request, and never answer."""
    server.read_request(connection)
    server.stopped.wait(120)


def counting(server, connection):  # pylint: disable=unused-argument
    """Only count the connection (LoopbackServer already did) and hang up: where a misdirected SSH client would land."""
    time.sleep(0.1)


def gzip_bomb(decoded_bytes, status=200):
    """Answer with a gzip body (chunked, generated as it is sent) that decompresses to ``decoded_bytes`` bytes of a
    never-ending JSON list: about a thousandth of that on the wire. ``server.sent`` counts the compressed bytes sent."""
    def serve(server, connection):
        if server.read_request(connection) is None:
            return
        connection.sendall("HTTP/1.1 {0} X\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".format(status).encode("latin-1"))
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
        block = b" " * (1024 * 1024)
        pieces = [compressor.compress(b'{"instances": [')]
        for _block in range(decoded_bytes // len(block)):
            pieces.append(compressor.compress(block))
            data = b"".join(pieces)
            pieces = []
            if data:
                connection.sendall(b"%x\r\n%s\r\n" % (len(data), data))
                server.sent += len(data)
        data = b"".join(pieces) + compressor.compress(b"]}") + compressor.flush()
        connection.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
    return serve
