# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ApiTransport over real HTTP: the simulator, and hostile servers on loopback; only the sleep between retries is a seam.

Settings refused before anything is sent, retries and their waits, the body cap, the key masked and control
characters escaped in every message, and every odd answer one clear ShadeformAPIError.
"""

import email.utils
import sys
import time

import pytest

from ansible_collections.shadeform.cloud.plugins.doc_fragments.api import ModuleDocFragment
from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import (MAX_BODY_BYTES, MAX_RETRIES, MAX_RETRY_DELAY,
                                                                                    MAX_TIMEOUT, ApiTransport, ShadeformAPIError,
                                                                                    check_number, escape_controls, quoted_value)
from ansible_collections.shadeform.cloud.plugins.module_utils.key_mask import MASK

from functional.hostile_servers import LoopbackServer, answering, gzip_bomb, redirecting
from helpers import API_KEY, encoded_forms, free_port

QUOTED_KEY = 'Yv4Tq8Mn"Ws2\\Jd6Kp0Lx'
JSON = [("Content-Type", "application/json")]
# While a test watches, every connection this process opens is noted here (sys.audit's socket.connect event: no
# patching, nothing skipped). An audit hook cannot be removed, so it notes nothing unless watching.
CONNECTIONS = []
WATCHING = []


def _note_connections(event, args):
    if event == "socket.connect" and WATCHING:
        CONNECTIONS.append(args[1])


sys.addaudithook(_note_connections)


@pytest.fixture
def transport(shadeform_api, sleep):
    return ApiTransport(API_KEY, shadeform_api.url, timeout=5, retries=3, sleep=sleep)


def instances(transport):
    return transport.get("/instances", action="list instances")["instances"]


def test_gets_with_the_key_in_a_header(transport, shadeform_api):
    assert [instance["id"] for instance in instances(transport)] == ["d290f1ee-6c54-4b01-90e6-d701748f0851"]
    [request] = shadeform_api.requests
    assert (request["method"], request["path"], request["api_key_ok"]) == ("GET", "/v1/instances", True)
    assert request["user_agent"].startswith("shadeform.cloud-ansible")


def test_trailing_slash_in_the_url_is_fine(shadeform_api, sleep):
    assert len(instances(ApiTransport(API_KEY, shadeform_api.url + "/", sleep=sleep))) == 1


# -- retries and their waits ---------------------------------------------------------------------------------------

def test_429_waits_as_long_as_retry_after_says(transport, shadeform_api, sleep):
    shadeform_api.inject("rate_limit", count=2, retry_after="7")
    assert len(instances(transport)) == 1
    assert [call.args[0] for call in sleep.call_args_list] == [7.0, 7.0]
    assert [request["status"] for request in shadeform_api.requests] == [429, 429, 200]


def test_retry_after_as_an_http_date(transport, shadeform_api, sleep):
    shadeform_api.inject("rate_limit", retry_after=email.utils.formatdate(time.time() + 30, usegmt=True))
    instances(transport)
    [call] = sleep.call_args_list
    assert 25 <= call.args[0] <= 30


@pytest.mark.parametrize("value, wait", [
    ("86400", MAX_RETRY_DELAY), ("inf", MAX_RETRY_DELAY), ("1e400", MAX_RETRY_DELAY), ("-5", 0.0),
    ("nan", 1), ("NaN", 1), ("-inf", 0.0), ("soon", 1),
])
def test_retry_after_of_any_value_is_a_sane_wait(transport, shadeform_api, sleep, value, wait):
    # NaN used to reach time.sleep(), which raises ValueError: a traceback instead of a retry.
    shadeform_api.inject("rate_limit", retry_after=value)
    assert len(instances(transport)) == 1
    assert [call.args[0] for call in sleep.call_args_list] == [wait]


def test_a_nan_retry_after_reaches_no_real_sleep(shadeform_api):
    shadeform_api.inject("rate_limit", retry_after="nan")
    assert len(instances(ApiTransport(API_KEY, shadeform_api.url, retries=1))) == 1


def test_5xx_backs_off_exponentially_then_says_how_many_attempts(transport, shadeform_api, sleep):
    shadeform_api.inject("server_error", count=4, status=502)
    with pytest.raises(ShadeformAPIError) as error:
        instances(transport)
    assert "HTTP 502" in str(error.value)
    assert "on all 4 attempts" in str(error.value)
    assert [call.args[0] for call in sleep.call_args_list] == [1, 2, 4]
    assert len(shadeform_api.requests) == 4


def test_a_burst_shorter_than_retries_succeeds(transport, shadeform_api):
    shadeform_api.inject("server_error", count=3, status=503, retry_after="0")
    assert len(instances(transport)) == 1
    assert len(shadeform_api.requests) == 4


def test_retries_as_a_whole_float_counts_the_same(shadeform_api, sleep):
    shadeform_api.inject("server_error", count=2, status=503)
    assert len(instances(ApiTransport(API_KEY, shadeform_api.url, retries=2.0, sleep=sleep))) == 1
    assert sleep.call_count == 2


def test_retries_zero_means_one_attempt(shadeform_api, sleep):
    shadeform_api.inject("server_error", status=500)
    with pytest.raises(ShadeformAPIError, match="on all 1 attempt"):
        instances(ApiTransport(API_KEY, shadeform_api.url, retries=0, sleep=sleep))
    sleep.assert_not_called()


@pytest.mark.parametrize("kind, expected", [
    ("drop", "the connection was closed before the whole answer arrived"),
    ("reset", "Could not get http://127.0.0.1"),
])
def test_broken_connections_are_retried_then_reported(transport, shadeform_api, sleep, kind, expected):
    shadeform_api.inject(kind, count=4)
    with pytest.raises(ShadeformAPIError) as error:
        instances(transport)
    assert expected in str(error.value)
    assert "after 4 attempts" in str(error.value)
    assert sleep.call_count == 3


def test_a_dropped_connection_then_success(transport, shadeform_api):
    shadeform_api.inject("drop")
    assert len(instances(transport)) == 1


def test_timeout(shadeform_api, sleep):
    shadeform_api.inject("slow", delay=3)
    with pytest.raises(ShadeformAPIError, match="no answer within 0.5 seconds"):
        instances(ApiTransport(API_KEY, shadeform_api.url, timeout=0.5, retries=0, sleep=sleep))


def test_nothing_listening(sleep):
    port = free_port()
    with pytest.raises(ShadeformAPIError) as error:
        instances(ApiTransport(API_KEY, "http://127.0.0.1:%d/v1" % port, retries=1, sleep=sleep))
    assert "Could not get http://127.0.0.1:%d/v1/instances after 2 attempts" % port in str(error.value)
    assert "ConnectionRefusedError" in str(error.value) or "Connection refused" in str(error.value)


# -- what the server says, and how it is shown ---------------------------------------------------------------------

@pytest.mark.parametrize("status, expected", [
    (401, "rejected the API key (HTTP 401: Invalid API key). Check api_key or the SHADEFORM_API_KEY"),
    (403, "refused access (HTTP 403"),
    (404, "HTTP 404: Not Found for http://127.0.0.1"),
    (418, "answered HTTP 418"),
])
def test_client_errors_are_not_retried_and_say_what_to_do(transport, shadeform_api, sleep, status, expected):
    body = {"message": "Invalid API key"} if status == 401 else None
    shadeform_api.inject("status", status=status, body=body)
    with pytest.raises(ShadeformAPIError) as error:
        instances(transport)
    assert expected in str(error.value)
    sleep.assert_not_called()


def test_a_wrong_key_is_a_401(shadeform_api, sleep):
    with pytest.raises(ShadeformAPIError, match="rejected the API key"):
        instances(ApiTransport("wrong-key", shadeform_api.url, sleep=sleep))


@pytest.mark.parametrize("body, shown", [
    ({"message": "Invalid API key"}, ": Invalid API key"),
    ({"error": "plain text error"}, ": plain text error"),
    ({"error": {"message": "nested text"}, "error_code": "NESTED"}, ": NESTED: nested text"),
    ({"error_code": "ONLY_A_CODE"}, ": ONLY_A_CODE"),
])
def test_the_server_explanation_is_read_from_message_error_and_error_code(shadeform_api, sleep, body, shown):
    shadeform_api.inject("status", status=400, body=body)
    with pytest.raises(ShadeformAPIError, match="HTTP 400" + shown):
        instances(ApiTransport(API_KEY, shadeform_api.url, sleep=sleep))


@pytest.mark.parametrize("body, code", [
    ({"error_code": "INSUFFICIENT_FUNDS", "error": "Balance must be a minimum of $5 to launch an instance."}, "INSUFFICIENT_FUNDS"),
    ({"error_code": " OUT_OF_CAPACITY ", "message": "none left"}, "OUT_OF_CAPACITY"),
    ({"error_code": 7, "error": "odd"}, None),
    ({"error": "INSUFFICIENT_FUNDS in the text only"}, None),
])
def test_the_error_code_is_read_from_the_body_not_the_message(transport, shadeform_api, body, code):
    shadeform_api.inject("status", status=409, body=body)
    with pytest.raises(ShadeformAPIError) as error:
        transport.post("/instances/abc/delete", action="delete instance abc")
    assert (error.value.status, error.value.code) == (409, code)


def test_403_names_what_was_refused(transport, shadeform_api):
    shadeform_api.inject("status", status=403, body={"message": "Account mismatch"})
    with pytest.raises(ShadeformAPIError) as error:
        transport.post("/instances/abc/delete", action="delete instance abc")
    assert str(error.value) == ("The Shadeform API refused access (HTTP 403: Account mismatch). The key was accepted but may not "
                                "delete instance abc: check that it belongs to the right account.")


def test_not_json(transport, shadeform_api):
    shadeform_api.inject("not_json")
    with pytest.raises(ShadeformAPIError, match="with a body that is not JSON .*text/html"):
        instances(transport)


def test_query_parameters_skip_none_and_spell_booleans_as_the_api_does(transport, shadeform_api):
    transport.get("/instances/types", params={"gpu_type": "H100", "available": False, "region": None, "num_gpus": 8})
    assert shadeform_api.requests[-1]["path"] == "/v1/instances/types?gpu_type=H100&available=false&num_gpus=8"


def test_post_answers_without_a_body_are_none(transport, shadeform_api):
    assert transport.post("/sshkeys/add", {"name": "k", "public_key": "ssh-ed25519 AAAAC3Nza k"})["id"]
    key_id = transport.get("/sshkeys")["ssh_keys"][0]["id"]
    assert transport.post("/sshkeys/{0}/setdefault".format(key_id)) is None


# -- the key never shows ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_echoed_key_is_masked_in_messages(transport, shadeform_api, method):
    shadeform_api.inject("status", status=400, body={"message": "key %s is malformed" % API_KEY})
    with pytest.raises(ShadeformAPIError) as error:
        transport.get("/instances") if method == "GET" else transport.post("/instances/abc/update", {"name": "n"})
    assert API_KEY not in str(error.value)
    assert "key ******** is malformed" in str(error.value)


@pytest.mark.parametrize("form", range(len(encoded_forms("x"))))
def test_a_key_echoed_in_any_form_is_masked_whole(sleep, form):
    # The old mask left the tail after the quote and the backslash: '********"Ws2\Jd6Kp0Lx'.
    echoed = encoded_forms(QUOTED_KEY)[form]
    with LoopbackServer(answering(lambda request: (400, {"message": "bad key " + echoed + " (echoed)"}, JSON))) as api:
        with pytest.raises(ShadeformAPIError) as error:
            ApiTransport(QUOTED_KEY, api.url, sleep=sleep).get("/instances")
    assert "bad key {0} (echoed)".format(MASK) in str(error.value), str(error.value)
    assert api.requests[0]["headers"]["x-api-key"] == QUOTED_KEY


def test_a_huge_error_body_is_cut_and_masked_quickly(sleep):
    # 10 MB: the mask's window scan over all of it would take minutes; text from the server is cut before it is masked.
    body = "<html>" + ("x" * 5000 + API_KEY) * 2000 + "</html>"
    with LoopbackServer(answering(lambda request: (502, body, [("Content-Type", "text/html")]))) as api:
        started = time.monotonic()
        with pytest.raises(ShadeformAPIError) as error:
            ApiTransport(API_KEY, api.url, retries=0, sleep=sleep).get("/instances")
    assert API_KEY[:8] not in str(error.value) and "body starting" in str(error.value)
    assert len(str(error.value)) < 1000
    assert time.monotonic() - started < 30


# -- control characters never reach the terminal ------------------------------------------------------------------

def test_printable_escapes_c0_del_and_c1_visibly_and_keeps_tab_and_newline():
    assert escape_controls("a\x1b[31mb\x9b2Jc\x7fd\re\tf\ng\x00") == "a\\x1b[31mb\\u009b2Jc\\x7fd\\x0de\tf\ng\\x00"
    assert escape_controls("plain text, é and 中") == "plain text, é and 中"


def test_a_redirect_location_with_control_characters_is_shown_escaped(sleep):
    with LoopbackServer(redirecting("http://127.0.0.2/\x1b]0;owned\x07\x1b[2J")) as api:
        with pytest.raises(ShadeformAPIError) as error:
            ApiTransport(API_KEY, api.url, sleep=sleep).get("/instances")
    message = str(error.value)
    assert "\x1b" not in message and "\x07" not in message
    assert "redirecting to http://127.0.0.2/\\x1b]0;owned\\x07\\x1b[2J" in message


def test_a_redirect_location_that_is_no_utf8_is_one_clear_error(sleep):
    # requests decodes Location as UTF-8 even when it follows no redirect: a lone C1 byte raised UnicodeDecodeError.
    with LoopbackServer(redirecting("http://127.0.0.2/\x9b6n")) as api:
        with pytest.raises(ShadeformAPIError) as error:
            ApiTransport(API_KEY, api.url, sleep=sleep).get("/instances")
    assert "Could not get {0}/instances: the answer could not be read (UnicodeDecodeError: ".format(api.url) in str(error.value)
    assert api.connections == 1


@pytest.mark.parametrize("status", [400, 502])
def test_error_bodies_and_header_values_with_control_characters_are_shown_escaped(sleep, status):
    body = {"message": "bad\x1b[2J\x9b6n request"}
    with LoopbackServer(answering(lambda request: (status, body, [("Content-Type", "application/json")]))) as api:
        with pytest.raises(ShadeformAPIError) as error:
            ApiTransport(API_KEY, api.url, retries=0, sleep=sleep).get("/instances")
    assert "bad\\x1b[2J\\u009b6n request" in str(error.value), str(error.value)
    with LoopbackServer(answering(lambda request: (200, "<b>\x1b[5m", [("Content-Type", "text/html\x1b[8m")]))) as api:
        with pytest.raises(ShadeformAPIError) as error:
            ApiTransport(API_KEY, api.url, sleep=sleep).get("/instances")
    assert "text/html\\\\x1b[8m" in str(error.value) and "\x1b" not in str(error.value), str(error.value)


# -- every odd answer is one clear error ---------------------------------------------------------------------------

@pytest.mark.parametrize("charset", ["x-bogus", "rot13", "idna", "utf-16", "base64"])
def test_an_odd_charset_is_read_as_utf8(sleep, charset):
    body = {"instances": [{"id": "one", "name": "caf\u00e9"}]}
    with LoopbackServer(answering(lambda request: (200, body, [("Content-Type", "application/json; charset=" + charset)]))) as api:
        assert ApiTransport(API_KEY, api.url, sleep=sleep).get("/instances") == body


@pytest.mark.parametrize("status, method", [(200, "GET"), (200, "POST"), (400, "GET")])
def test_json_nested_without_end_is_a_clear_error(sleep, status, method):
    body = "[" * 200000 + "]" * 200000
    with LoopbackServer(answering(lambda request: (status, body, JSON))) as api:
        transport = ApiTransport(API_KEY, api.url, sleep=sleep)
        with pytest.raises(ShadeformAPIError) as error:
            transport.get("/instances") if method == "GET" else transport.post("/instances/create", {"name": "n"})
    if status == 200:
        assert "with JSON nested too deeply to read" in str(error.value)
    else:
        assert "HTTP 400, body starting '[[[[" in str(error.value)


def test_a_body_past_the_cap_after_decompression_stops_there(sleep):
    # 64 MiB of JSON in about 64 KB of gzip, read with a cap of 1 MiB: the count is of decompressed bytes.
    with LoopbackServer(gzip_bomb(64 * 1024 * 1024)) as api:
        transport = ApiTransport(API_KEY, api.url, retries=3, sleep=sleep, max_body_bytes=1024 * 1024)
        with pytest.raises(ShadeformAPIError) as error:
            transport.get("/instances")
    assert str(error.value) == (
        "The Shadeform API at {0}/instances answered with a body of more than 1 MiB (counted after decompression), more "
        "than any answer of the Shadeform API needs, so reading stopped there. Check api_url and any HTTP(S)_PROXY "
        "settings.".format(api.url))
    assert api.connections == 1  # not retried
    sleep.assert_not_called()


def test_a_body_up_to_the_cap_is_read(sleep):
    with LoopbackServer(gzip_bomb(2 * 1024 * 1024)) as api:
        answer = ApiTransport(API_KEY, api.url, sleep=sleep, max_body_bytes=3 * 1024 * 1024).get("/instances")
    assert answer == {"instances": []}


def test_the_default_cap_holds_a_fleet_of_100000_and_is_the_documented_one():
    # 100,000 instances of the simulator's generator take 113 MB (measured: 1.13 KB each, the largest 1.8 KB).
    assert MAX_BODY_BYTES >= 100000 * 2600
    assert "read up to {0} MiB".format(MAX_BODY_BYTES // (1024 * 1024)) in ModuleDocFragment.DOCUMENTATION


# -- settings refused before anything is sent ------------------------------------------------------------------------

@pytest.mark.parametrize("settings, message", [
    ({"api_key": "abc\ndef-0123456789"}, "HTTP header cannot carry"),
    ({"api_key": ""}, "HTTP header cannot carry"),
    ({"api_url": "127.0.0.1:8080/v1"}, "is not an http:// or https:// URL"),
    ({"api_url": "file:///etc/passwd"}, "is not an http:// or https:// URL"),
    ({"api_url": "http://[::1/v1"}, "api_url 'http://[::1/v1' is not a valid URL (Invalid IPv6 URL)"),
    ({"api_url": "http://127.0.0.1:99999/v1"}, "is not a valid URL (Port out of range"),
    ({"api_url": "http://127.0.0.1:port/v1"}, "is not a valid URL (Port could not be cast"),
    ({"api_url": "http://127.0.0.1:0/v1"}, "is not an http:// or https:// URL"),
    ({"timeout": 0}, "timeout must be a positive number of seconds, at most 3600, not 0."),
    ({"timeout": -1}, "timeout must be a positive number of seconds, at most 3600, not -1."),
    ({"timeout": float("nan")}, "timeout must be a positive number of seconds, at most 3600, not nan."),
    ({"timeout": float("inf")}, "timeout must be a positive number of seconds, at most 3600, not inf."),
    ({"timeout": 1e300}, "not 1e+300."),
    ({"timeout": 10 ** 300}, "timeout must be a positive number of seconds, at most 3600, not a number of more than 20 digits."),
    ({"timeout": "30"}, "timeout must be a positive number of seconds, at most 3600, not '30'."),
    ({"retries": -1}, "retries must be a whole number from 0 to 100, not -1. Set retries to, for example, 3."),
    ({"retries": 1.5}, "retries must be a whole number from 0 to 100, not 1.5."),
    ({"retries": float("inf")}, "retries must be a whole number from 0 to 100, not inf."),
    ({"retries": 10 ** 6}, "retries must be a whole number from 0 to 100, not 1000000."),
    ({"retries": True}, "retries must be a whole number from 0 to 100, not True."),
    ({"validate_certs": "ture"}, "validate_certs must be true or false"),
    ({"validate_certs": 2}, "validate_certs must be true or false"),
    ({"allow_insecure_http": "yes"}, "allow_insecure_http must be true or false"),
])
def test_bad_settings_fail_before_anything_is_sent(shadeform_api, sleep, settings, message):
    options = dict({"api_key": API_KEY, "api_url": shadeform_api.url}, **settings)
    transport = ApiTransport(options.pop("api_key"), options.pop("api_url"), sleep=sleep, **options)
    with pytest.raises(ShadeformAPIError) as error:
        instances(transport)
    assert message in str(error.value)
    assert "abc" not in str(error.value)
    assert shadeform_api.requests == []
    sleep.assert_not_called()


def test_the_largest_settings_are_accepted(shadeform_api, sleep):
    assert len(instances(ApiTransport(API_KEY, shadeform_api.url, timeout=MAX_TIMEOUT, retries=MAX_RETRIES, sleep=sleep))) == 1


@pytest.mark.parametrize("value, shown", [
    (10, None), (0.5, None), (600, None), (0, "0"), (601, "601"), (float("nan"), "nan"), (-0.0, "-0.0"), (None, "None"), ("5", "'5'"),
])
def test_check_number_is_the_one_check_of_waits(value, shown):
    problem = check_number("poll_interval", value, 600)
    if shown is None:
        assert problem is None
    else:
        assert problem == "poll_interval must be a positive number of seconds, at most 600, not {0}.".format(shown)


def test_configuration_error_tells_a_setting_to_fix_before_any_request(sleep):
    assert ApiTransport(API_KEY, "https://api.shadeform.ai/v1").configuration_error is None
    transport = ApiTransport(API_KEY, "http://192.0.2.1/v1", sleep=sleep)
    assert transport.configuration_error.startswith("api_url 'http://192.0.2.1/v1' is plain http:// to a host")
    with pytest.raises(ShadeformAPIError) as error:
        transport.get("/instances")
    assert str(error.value) == transport.configuration_error
    assert API_KEY not in ApiTransport(API_KEY + " x", "https://api.shadeform.ai/v1").configuration_error


def test_check_number_allows_zero_when_asked():
    assert check_number("wait_timeout", 0, 3600, least=0) is None
    assert check_number("count", 2.0, 10, unit=None, least=0, whole=True) is None
    assert check_number("count", 10 ** 5000, 10, unit=None, least=0, whole=True).endswith("not a number of more than 20 digits.")


# -- plain http:// only to this machine, unless the user says so ------------------------------------------------------

@pytest.fixture
def proxy(monkeypatch):
    """A recording HTTP proxy on loopback, set in the environment as requests reads it: were a request for a
    non-loopback address sent at all, it would arrive here, not on the network."""
    with LoopbackServer(answering(lambda request: (200, {"instances": []}, JSON))) as server:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "https_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", "http://{0}:{1}".format(server.host, server.port))
        monkeypatch.setenv("http_proxy", "http://{0}:{1}".format(server.host, server.port))
        yield server


@pytest.mark.parametrize("url", ["http://192.0.2.1/v1", "http://api.shadeform.ai/v1", "http://[2001:db8::1]:8080/v1",
                                 "HTTP://10.0.0.1/v1", "http://127.0.0.1.nip.io/v1", "http://localhost.example/v1"])
def test_plain_http_to_another_host_is_refused_before_any_connection(proxy, sleep, url):
    del CONNECTIONS[:]
    WATCHING.append(url)
    try:
        with pytest.raises(ShadeformAPIError) as error:
            ApiTransport(API_KEY, url, sleep=sleep).get("/instances")
    finally:
        WATCHING.remove(url)
    assert str(error.value) == (
        "api_url {0!r} is plain http:// to a host that is not this machine: the API key would cross the network unencrypted, "
        "so nothing was sent. Use https://, or set allow_insecure_http: true if you really mean it.".format(url))
    assert CONNECTIONS == [] and proxy.connections == 0


def test_allow_insecure_http_sends_plain_http_elsewhere(proxy, sleep):
    del CONNECTIONS[:]
    WATCHING.append(proxy)
    try:
        answer = ApiTransport(API_KEY, "http://192.0.2.1/v1", sleep=sleep, allow_insecure_http=True).get("/instances")
    finally:
        WATCHING.remove(proxy)
    assert answer == {"instances": []}
    assert CONNECTIONS == [(proxy.host, proxy.port)]  # the watch sees connections: its silence above means none was made
    [request] = proxy.requests
    assert request["path"] == "http://192.0.2.1/v1/instances" and request["headers"]["x-api-key"] == API_KEY


@pytest.mark.parametrize("host, bound", [("127.0.0.1", "127.0.0.1"), ("127.0.0.2", "127.0.0.2"), ("localhost", "127.0.0.1"),
                                         ("LOCALHOST", "127.0.0.1")])
def test_plain_http_to_loopback_needs_no_option(sleep, host, bound):
    with LoopbackServer(answering(lambda request: (200, {"instances": []}, JSON)), host=bound) as api:
        assert ApiTransport(API_KEY, "http://{0}:{1}/v1".format(host, api.port), sleep=sleep).get("/instances") == {"instances": []}


def test_plain_http_to_ipv6_loopback_needs_no_option(sleep):
    port = free_port()
    with pytest.raises(ShadeformAPIError) as error:
        ApiTransport(API_KEY, "http://[::1]:{0}/v1".format(port), retries=0, sleep=sleep).get("/instances")
    assert "Could not get http://[::1]:{0}/v1/instances".format(port) in str(error.value)  # tried: no refusal of the URL


def test_quoted_value_escapes_control_characters_and_cuts_long_values():
    assert quoted_value("a\x1b[31m\x9b\x7fb\n") == "'a\\x1b[31m\\x9b\\x7fb\\n'"
    assert quoted_value(None) == "None"
    long = quoted_value("x" * 500)
    assert long.endswith("...") and len(long) < 100
