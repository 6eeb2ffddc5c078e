# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults between ansible-inventory and the API: one clear message, no traceback, the key never echoed.

Every test runs the real ansible-inventory against a server on 127.0.0.1 (the API simulator, a closed
port, a local TLS server) or, for name resolution, inside a network namespace of its own, so nothing
leaves this machine.  Failures are run with ANSIBLE_INVENTORY_UNPARSED_FAILED=true, as CI would.
"""

import http.server
import json
import os
import shutil
import ssl
import stat
import subprocess
import threading
import time

import pytest

from helpers import (API_KEY, FAIL_ENV, INVENTORY_FETCH, NO_PROXY_ENV, ansible_inventory, assert_clean_failure, cache_options, cli_env,
                     cli_path, free_port, inventory_list, load_fixture, request_paths, requests_for, write_inventory)
from hostile_servers import LoopbackServer, answering, gzip_bomb, listing

pytestmark = pytest.mark.functional

EXAMPLE_NAME = "cool-gpu-server"
MIXED = load_fixture("fleet-mixed.json")["instances"]


def run_failing(path, *args, env=None, timeout=180):
    return ansible_inventory(path, "--list", *args, env=dict(FAIL_ENV, **(env or {})), timeout=timeout)


def run_ok(path, *args, env=None, timeout=180):
    result = ansible_inventory(path, "--list", *args, env=dict(NO_PROXY_ENV, **(env or {})), timeout=timeout)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def hostnames(result):
    return sorted(inventory_list(result.stdout)["_meta"]["hostvars"])


# --- Credentials and addresses -----------------------------------------------------------------------------------

def test_no_api_key_says_how_to_give_one_and_sends_nothing(shadeform_api, tmp_path):
    result = run_failing(write_inventory(tmp_path, shadeform_api), env={"SHADEFORM_API_KEY": None})
    assert_clean_failure(result, "No Shadeform API key", "SHADEFORM_API_KEY")
    assert shadeform_api.requests == []


def test_blank_api_key_counts_as_no_key(shadeform_api, tmp_path):
    result = run_failing(write_inventory(tmp_path, shadeform_api), env={"SHADEFORM_API_KEY": "   "})
    assert_clean_failure(result, "No Shadeform API key")
    assert shadeform_api.requests == []


def test_wrong_key_is_a_401_message_that_never_shows_the_key(shadeform_api, tmp_path):
    wrong_key = "wrong-key-5f1d2c9a7b"
    result = run_failing(write_inventory(tmp_path, shadeform_api), env={"SHADEFORM_API_KEY": wrong_key})
    assert_clean_failure(result, "rejected the API key (HTTP 401", "SHADEFORM_API_KEY", secrets=(wrong_key,))
    assert [request["status"] for request in shadeform_api.requests] == [401]  # a rejected key is not retried
    assert shadeform_api.requests[0]["api_key_ok"] is False


def test_403_says_access_refused_and_scrubs_a_key_echoed_by_the_server(shadeform_api, tmp_path):
    shadeform_api.inject("status", status=403, body={"message": "key %s may not list this workspace" % API_KEY})
    result = run_failing(write_inventory(tmp_path, shadeform_api))
    message = assert_clean_failure(result, "refused access (HTTP 403", "belongs to the right account")
    assert "********" in message  # the echoed key was replaced, the rest of the server's message kept
    assert len(shadeform_api.requests) == 1


def test_wrong_api_url_is_a_404_message_naming_the_url(shadeform_api, tmp_path):
    path = tmp_path / "shadeform.yml"
    path.write_text("plugin: shadeform.cloud.shadeform\napi_url: {0}/nope\n".format(shadeform_api.base_url))
    result = run_failing(str(path))
    assert_clean_failure(result, "HTTP 404", "{0}/nope/instances".format(shadeform_api.base_url), "ending in /v1")
    assert len(shadeform_api.requests) == 1


def test_nothing_listening_is_a_connection_message_after_every_attempt(tmp_path):
    url = "http://127.0.0.1:{0}/v1".format(free_port())
    path = tmp_path / "shadeform.yml"
    path.write_text("plugin: shadeform.cloud.shadeform\napi_url: {0}\nretries: 1\n".format(url))
    result = run_failing(str(path))
    assert_clean_failure(result, "Could not get {0}/instances after 2 attempts".format(url), "Connection refused", "Check api_url")


def _unshare_works():
    if not shutil.which("unshare"):
        return "unshare is not installed"
    try:
        probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "unshare --net cannot run: {0}".format(exc)
    if probe.returncode != 0:
        return "unshare --net is not permitted here (needs root or user namespaces): {0}".format(probe.stderr.strip())
    return None


def test_dns_failure_in_an_isolated_network_namespace(tmp_path):
    reason = _unshare_works()
    if reason:
        pytest.skip(reason)
    path = tmp_path / "shadeform.yml"
    path.write_text("plugin: shadeform.cloud.shadeform\napi_url: https://shadeform-api.invalid/v1\nretries: 0\ntimeout: 5\n")
    # A fresh network namespace has no interface up: the resolver fails locally and no query leaves the machine.
    result = subprocess.run(["unshare", "--net", cli_path("ansible-inventory"), "-i", str(path), "--list"],
                            env=cli_env(FAIL_ENV), capture_output=True, text=True, timeout=180, check=False)
    assert_clean_failure(result, "Could not get https://shadeform-api.invalid/v1/instances", "could not be resolved",
                         "Check api_url")


# --- TLS -------------------------------------------------------------------------------------------------------

class _FleetHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # pylint: disable=invalid-name
        body = json.dumps(listing(self.path, load_fixture("instances-example.json")["instances"])).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that reject the certificate abort the handshake; that is the point of the test


@pytest.fixture
def self_signed_server(tmp_path):
    """An HTTPS server on 127.0.0.1 with a certificate made for this test; yields (url, cert path)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed, so no certificate can be made for the TLS test")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                           "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                           "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _QuietServer(("127.0.0.1", 0), _FleetHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "https://127.0.0.1:{0}/v1".format(server.server_address[1]), cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _tls_inventory(tmp_path, url, validate_certs):
    path = tmp_path / "shadeform.yml"
    path.write_text("plugin: shadeform.cloud.shadeform\napi_url: {0}\nvalidate_certs: {1}\nretries: 2\n".format(url, validate_certs))
    return str(path)


def test_tls_failure_with_validate_certs_says_how_to_trust_the_server(self_signed_server, tmp_path):
    url, _cert = self_signed_server
    result = run_failing(_tls_inventory(tmp_path, url, "true"))
    assert_clean_failure(result, "TLS certificate verification failed for {0}/instances".format(url), "REQUESTS_CA_BUNDLE", "validate_certs")


def test_tls_server_is_fine_once_its_certificate_is_trusted_or_not_checked(self_signed_server, tmp_path):
    """The control for the test above: the same server works, so the failure there was the certificate."""
    url, cert = self_signed_server
    assert hostnames(run_ok(_tls_inventory(tmp_path, url, "true"), env={"REQUESTS_CA_BUNDLE": cert})) == [EXAMPLE_NAME]
    assert hostnames(run_ok(_tls_inventory(tmp_path, url, "false"))) == [EXAMPLE_NAME]


# --- Timeouts and broken connections -----------------------------------------------------------------------------

def test_timeout_says_no_answer_within_the_timeout(shadeform_api, tmp_path):
    shadeform_api.inject("slow", delay=6.0)
    result = run_failing(write_inventory(tmp_path, shadeform_api, "timeout: 1\nretries: 0\n"))
    assert_clean_failure(result, "after 1 attempt", "no answer within 1 seconds (timeout)")


def test_one_slow_answer_is_retried_and_the_inventory_is_built(shadeform_api, tmp_path):
    shadeform_api.inject("slow", delay=6.0)
    result = run_ok(write_inventory(tmp_path, shadeform_api, "timeout: 1\nretries: 1\n"))
    assert hostnames(result) == [EXAMPLE_NAME]


@pytest.mark.parametrize("kind, phrase", [
    ("drop", "the connection was closed before the whole answer arrived"),
    ("reset", "Connection"),
])
def test_connection_broken_mid_answer_fails_cleanly_without_retries(shadeform_api, tmp_path, kind, phrase):
    shadeform_api.inject(kind)
    result = run_failing(write_inventory(tmp_path, shadeform_api, "retries: 0\n"))
    assert_clean_failure(result, "Could not get {0}/instances after 1 attempt".format(shadeform_api.url), phrase)
    assert request_paths(shadeform_api) == ["/v1/instances"]


@pytest.mark.parametrize("kind", ["drop", "reset"])
def test_connection_broken_once_is_retried_and_nothing_is_lost(shadeform_api, tmp_path, kind):
    shadeform_api.set_instances(MIXED)
    shadeform_api.inject(kind)
    result = run_ok(write_inventory(tmp_path, shadeform_api, "retries: 1\n"))
    hostvars = inventory_list(result.stdout)["_meta"]["hostvars"]
    assert sorted(variables["shadeform_id"] for variables in hostvars.values()) == sorted(instance["id"] for instance in MIXED)
    assert len(requests_for(shadeform_api)) == 2


# --- Rate limits and server errors -------------------------------------------------------------------------------

def test_429_bursts_are_retried_then_succeed(shadeform_api, tmp_path):
    shadeform_api.inject("rate_limit", count=2, retry_after=0)
    result = run_ok(write_inventory(tmp_path, shadeform_api, "retries: 3\n"))
    assert hostnames(result) == [EXAMPLE_NAME]
    assert [request["status"] for request in requests_for(shadeform_api)] == [429, 429, 200]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_bursts_are_retried_then_succeed(shadeform_api, tmp_path, status):
    shadeform_api.inject("server_error", count=3, status=status, retry_after=0)
    result = run_ok(write_inventory(tmp_path, shadeform_api, "retries: 3\n"))
    assert hostnames(result) == [EXAMPLE_NAME]
    assert [request["status"] for request in requests_for(shadeform_api)] == [status] * 3 + [200]


def test_5xx_longer_than_the_retries_says_how_many_attempts_were_made(shadeform_api, tmp_path):
    shadeform_api.inject("server_error", count=5, status=503, retry_after=0)
    result = run_failing(write_inventory(tmp_path, shadeform_api, "retries: 2\n"))
    assert_clean_failure(result, "HTTP 503", "on all 3 attempts", "raise retries")
    assert [request["status"] for request in shadeform_api.requests] == [503] * 3


def test_429_longer_than_the_retries_says_how_many_attempts_were_made(shadeform_api, tmp_path):
    shadeform_api.inject("rate_limit", count=4, retry_after=0)
    result = run_failing(write_inventory(tmp_path, shadeform_api, "retries: 1\n"))
    assert_clean_failure(result, "HTTP 429", "on all 2 attempts")
    assert [request["status"] for request in shadeform_api.requests] == [429, 429]


def test_retries_zero_makes_exactly_one_attempt(shadeform_api, tmp_path):
    shadeform_api.inject("server_error", count=1, status=502, retry_after=0)
    result = run_failing(write_inventory(tmp_path, shadeform_api, "retries: 0\n"))
    assert_clean_failure(result, "HTTP 502", "on all 1 attempt")
    assert len(shadeform_api.requests) == 1


def test_retry_after_one_second_is_honoured(shadeform_api, tmp_path):
    shadeform_api.inject("rate_limit", count=1, retry_after=1)
    path = write_inventory(tmp_path, shadeform_api, "retries: 1\n")
    started = time.monotonic()
    result = run_ok(path)
    elapsed = time.monotonic() - started
    assert hostnames(result) == [EXAMPLE_NAME]
    assert [request["status"] for request in requests_for(shadeform_api)] == [429, 200]
    assert elapsed >= 1.0  # the wait the server asked for was made (no upper bound: the machine is shared)


# --- Bodies that are not the API's ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, params, phrases", [
    ("not_json", {}, ["body that is not JSON", "text/html", "HTTP(S)_PROXY"]),
    ("not_json", {"status": 502}, ["HTTP 502"]),
    ("json", {"body": [{"id": "x"}]}, ["JSON that is not an object (got a list)"]),
    ("json", {"body": "instances"}, ["JSON that is not an object (got a string)"]),
    ("json", {"body": {"items": []}}, ["without an 'instances' list"]),
    ("json", {"body": {"instances": "none"}}, ["'instances' as a string, not a list"]),
    ("json", {"body": {"instances": {"id": "x"}}}, ["'instances' as an object, not a list"]),
])
def test_bodies_that_are_not_an_instance_list_give_one_clear_message(shadeform_api, tmp_path, kind, params, phrases):
    shadeform_api.inject(kind, count=5, **params)
    result = run_failing(write_inventory(tmp_path, shadeform_api, "retries: 0\n"))
    assert_clean_failure(result, *phrases)


def test_html_proxy_page_with_200_is_not_retried_and_names_the_page(shadeform_api, tmp_path):
    shadeform_api.inject("not_json", count=5)
    result = run_failing(write_inventory(tmp_path, shadeform_api, "retries: 3\n"))
    assert_clean_failure(result, "HTTP 200", "starting '<html>")
    assert len(shadeform_api.requests) == 1


@pytest.mark.parametrize("retry_after", ["nan", "-1"])
def test_any_retry_after_is_a_sane_wait(shadeform_api, tmp_path, retry_after):
    # Retry-After: nan used to reach time.sleep(), a ValueError traceback; -1 is no wait.
    shadeform_api.inject("rate_limit", retry_after=retry_after)
    result = run_ok(write_inventory(tmp_path, shadeform_api, "retries: 1\n"))
    assert hostnames(result) == [EXAMPLE_NAME]
    assert [request["status"] for request in requests_for(shadeform_api)] == [429, 200]


def test_json_nested_without_end_is_one_clear_message(tmp_path):
    # 200,000 levels deep: RecursionError, a traceback, before.
    body = "[" * 200000 + "]" * 200000
    with LoopbackServer(answering(lambda request: (200, body, [("Content-Type", "application/json")]))) as api:
        result = run_failing(write_inventory(tmp_path, api))
    assert_clean_failure(result, "answered HTTP 200 with JSON nested too deeply to read")


def test_an_unknown_charset_is_read_as_utf8(tmp_path):
    instances = load_fixture("instances-example.json")["instances"]
    with LoopbackServer(answering(lambda request: (200, listing(request["path"], instances),
                                                   [("Content-Type", "application/json; charset=x-bogus")]))) as api:
        result = run_ok(write_inventory(tmp_path, api))
    assert hostnames(result) == [EXAMPLE_NAME]


def test_a_gzip_bomb_stops_at_the_documented_cap(tmp_path):
    # 300 MiB of JSON in about 300 KB of gzip: a 600 KB one took ansible-inventory to 1.9 GB before.
    with LoopbackServer(gzip_bomb(300 * 1024 * 1024)) as api:
        result = run_failing(write_inventory(tmp_path, api), timeout=300)
    assert_clean_failure(result, "answered with a body of more than 256 MiB (counted after decompression)")
    assert api.connections == 1


# --- Missing Python library --------------------------------------------------------------------------------------

def test_missing_requests_library_gives_the_usual_message(shadeform_api, tmp_path):
    fake = tmp_path / "no-requests" / "requests"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named requests (hidden by the test)')\n")
    pythonpath = os.pathsep.join(filter(None, [str(fake.parent), os.environ.get("PYTHONPATH")]))
    result = run_failing(write_inventory(tmp_path, shadeform_api), env={"PYTHONPATH": pythonpath})
    assert_clean_failure(result, "Failed to import the required Python library (requests)")
    assert shadeform_api.requests == []


# --- Cache -------------------------------------------------------------------------------------------------------

def _cache_entries(tmp_path):
    directory = tmp_path / "cache"
    return [directory / name for name in os.listdir(str(directory))]


# Each kind of damage an entry can have. ansible-core 2.19+ wraps entries as {"__payload__": "<json>"}: garbage
# inside the wrapper too.
CACHE_GARBAGE = [
    "{not json at all", "", "[1, 2, 3]", '"a string"', '{"format": 99, "instances": "x"}', "\x00\xff binary",
    '{"__payload__": "{not json"}', '{"__payload__": 5}', '{"__payload__": "[1, 2, 3]"}',
]


def test_corrupted_cache_entry_leads_to_a_fresh_fetch_not_a_crash(shadeform_api, tmp_path):
    # One inventory file and cache for every kind of damage: each damaged entry must be fetched again and
    # rewritten exactly as the first good run wrote it (so the next run can use it, which the last run checks).
    shadeform_api.set_instances(MIXED)
    path = write_inventory(tmp_path, shadeform_api, cache_options(tmp_path))
    first = run_ok(path)
    assert request_paths(shadeform_api) == INVENTORY_FETCH
    (entry,) = _cache_entries(tmp_path)
    good = json.loads(entry.read_text())

    for fetches, garbage in enumerate(CACHE_GARBAGE, start=2):
        entry.write_text(garbage, encoding="utf-8", errors="surrogateescape")
        second = run_ok(path)
        assert request_paths(shadeform_api) == INVENTORY_FETCH * fetches, garbage  # fetched again instead of using (or dying on) it
        assert inventory_list(second.stdout) == inventory_list(first.stdout), garbage
        assert "Traceback" not in second.stderr, garbage
        (entry,) = _cache_entries(tmp_path)  # rewritten with good data, for the owner only
        assert stat.S_IMODE(os.stat(str(entry)).st_mode) == 0o600, garbage
        assert json.loads(entry.read_text()) == good, garbage

    run_ok(path)
    assert request_paths(shadeform_api) == INVENTORY_FETCH * (1 + len(CACHE_GARBAGE))  # and the rewritten entry used again


def test_cache_file_is_private_and_holds_neither_key_nor_secrets(shadeform_api, tmp_path):
    shadeform_api.set_instances(MIXED)
    run_ok(write_inventory(tmp_path, shadeform_api, cache_options(tmp_path)))
    (entry,) = _cache_entries(tmp_path)
    assert stat.S_IMODE(os.stat(str(entry)).st_mode) == 0o600
    content = entry.read_text()
    assert "notebook" in content
    for secret in (API_KEY, "hf_secret_", "registry-pass-"):
        assert secret not in content
