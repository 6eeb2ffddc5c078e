# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the Shadeform API simulator, over real HTTP on 127.0.0.1."""

import base64
import collections
import datetime
import http.client
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

SIMULATOR_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "simulator")
SIMULATOR_SCRIPT = os.path.join(SIMULATOR_DIR, "shadeform_simulator.py")
if SIMULATOR_DIR not in sys.path:
    sys.path.insert(0, SIMULATOR_DIR)

import api_endpoints  # noqa: E402
import fleet_data  # noqa: E402
import shadeform_simulator  # noqa: E402
from shadeform_simulator import Simulator, SimulatorError, generate_fleet, load_fleet  # noqa: E402

KEY = "unit-test-key-3f9a1c"
UA = "shadeform-simulator-tests/1.0"
DOC_NETWORKS = [ipaddress.ip_network(net) for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]


@pytest.fixture(name="sim")
def sim_fixture():
    with Simulator(api_key=KEY, instances=generate_fleet(12, seed=3)) as simulator:
        yield simulator


def call(sim, path="/v1/instances", method="GET", key=KEY, body=None, timeout=10, read=True):
    """One request on a fresh connection; returns (status, headers, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=timeout)
    headers = {"User-Agent": UA}
    if key is not None:
        headers["X-API-KEY"] = key
    if body is not None:
        body = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read() if read else None
        return response.status, response.headers, data
    finally:
        conn.close()


def call_json(sim, path="/v1/instances", method="GET", key=KEY, body=None):
    status, headers, data = call(sim, path, method, key, body)
    return status, headers, json.loads(data)


def control(sim, method, path, body=None):
    return call_json(sim, "/_sim/" + path, method, key=None, body=body)


# ---------------------------------------------------------------------------------------------------------------
# The API
# ---------------------------------------------------------------------------------------------------------------

def test_url_and_base_url(sim):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sim.base_url)
    assert sim.url == sim.base_url + "/v1"
    assert sim.port == int(sim.base_url.rsplit(":", 1)[1]) and sim.port > 0


def test_serves_fleet(sim):
    status, headers, data = call_json(sim)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert data == {"instances": generate_fleet(12, seed=3)}


def test_serves_fleet_through_urllib(sim):
    request = urllib.request.Request(sim.url + "/instances", headers={"X-API-KEY": KEY})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["instances"] == sim.instances


@pytest.mark.parametrize("key", [None, "", "wrong-key", KEY + "x", KEY[:-1]])
def test_bad_or_missing_key_gives_401(sim, key):
    status, headers, data = call_json(sim, key=key)
    assert status == 401
    assert headers["Content-Type"] == "application/json"
    assert data == {"message": "Invalid API key"}


def test_401_through_urllib(sim):
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(sim.url + "/instances", timeout=10)  # pylint: disable=consider-using-with
    assert caught.value.code == 401
    assert json.loads(caught.value.read()) == {"message": "Invalid API key"}


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1", "/v1/instances/abc/info", "/v1/instances/", "/", "/instances"])
def test_unknown_paths_give_json_404(sim, path):
    status, headers, data = call_json(sim, path)
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert "message" in data


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_wrong_method_gives_405(sim, method):
    status, headers, data = call_json(sim, method=method, body={} if method != "DELETE" else None)
    assert status == 405
    assert headers["Allow"] == "GET"
    assert "message" in data


def test_query_string_is_ignored_for_routing(sim):
    status, _headers, data = call_json(sim, "/v1/instances?foo=bar")
    assert status == 200 and len(data["instances"]) == 12
    assert sim.requests[-1]["path"] == "/v1/instances?foo=bar"


def test_keep_alive_connection_serves_several_requests(sim):
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    try:
        statuses = []
        for method in ("GET", "HEAD", "GET"):
            conn.request(method, "/v1/instances", headers={"X-API-KEY": KEY})
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        conn.close()
    assert statuses == [200, 405, 200]


def test_serves_a_large_fleet():
    fleet = generate_fleet(10000, seed=9)
    with Simulator(api_key=KEY, instances=fleet) as sim:
        # The first answer waits for the contract check of 10,000 instances.
        status, headers, data = call(sim, timeout=60)
        assert status == 200
        assert int(headers["Content-Length"]) == len(data)
        assert len(json.loads(data)["instances"]) == 10000
        assert call(sim)[2] == data


def test_body_serialized_once_per_fleet_change(sim, monkeypatch):
    calls = []
    real_dumps = json.dumps

    def counting_dumps(*args, **kwargs):
        calls.append(1)
        return real_dumps(*args, **kwargs)

    monkeypatch.setattr(api_endpoints.json, "dumps", counting_dumps)
    for _unused in range(3):
        assert call(sim)[0] == 200
    assert not calls
    sim.update_instance(sim.instances[0]["id"], name="renamed")
    calls.clear()
    bodies = [call(sim)[2] for _unused in range(3)]
    assert len(calls) == 1
    assert json.loads(bodies[0])["instances"][0]["name"] == "renamed"
    assert bodies[0] == bodies[1] == bodies[2]


# ---------------------------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------------------------

def test_rate_limit(sim):
    sim.inject("rate_limit", retry_after=7)
    status, headers, data = call_json(sim)
    assert status == 429
    assert headers["Retry-After"] == "7"
    assert "message" in data
    assert call(sim)[0] == 200


def test_rate_limit_without_retry_after(sim):
    sim.inject("rate_limit", retry_after=None)
    status, headers, _data = call(sim)
    assert status == 429
    assert "Retry-After" not in headers


def test_server_error_burst_then_recovery(sim):
    sim.inject("server_error", count=3)
    sim.inject("server_error", status=502, retry_after=2)
    results = [call(sim) for _unused in range(5)]
    assert [status for status, _h, _d in results] == [503, 503, 503, 502, 200]
    assert results[3][1]["Retry-After"] == "2"
    assert "Retry-After" not in results[0][1]
    assert json.loads(results[0][2]) == {"message": "Service Unavailable"}


def test_faults_are_consumed_in_order(sim):
    sim.inject("rate_limit")
    sim.inject("status", status=418)
    sim.inject("json", body=[])
    assert [call(sim)[0] for _unused in range(4)] == [429, 418, 200, 200]


def test_slow_exceeds_client_timeout(sim):
    sim.inject("slow", delay=30)
    with pytest.raises(TimeoutError):
        call(sim, timeout=0.2)
    assert call(sim)[0] == 200


def test_slow_still_answers(sim):
    sim.inject("slow", delay=0.2)
    started = time.monotonic()
    status, _headers, data = call_json(sim)
    assert time.monotonic() - started >= 0.2
    assert status == 200 and len(data["instances"]) == 12


def test_drop_gives_incomplete_read(sim):
    sim.inject("drop")
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    try:
        conn.request("GET", "/v1/instances", headers={"X-API-KEY": KEY})
        response = conn.getresponse()
        assert response.status == 200
        announced = int(response.headers["Content-Length"])
        with pytest.raises(http.client.IncompleteRead) as caught:
            response.read()
    finally:
        conn.close()
    assert 0 < len(caught.value.partial) < announced
    assert call(sim)[0] == 200


def test_drop_through_urllib(sim):
    sim.inject("drop")
    request = urllib.request.Request(sim.url + "/instances", headers={"X-API-KEY": KEY})
    with urllib.request.urlopen(request, timeout=10) as response:
        with pytest.raises(http.client.IncompleteRead):
            response.read()


def test_reset_closes_without_response(sim):
    sim.inject("reset")
    with pytest.raises(ConnectionResetError):
        call(sim)
    assert sim.requests[-1]["status"] is None
    assert call(sim)[0] == 200


@pytest.mark.parametrize("status", [200, 502])
def test_not_json_html_page(sim, status):
    kwargs = {} if status == 200 else {"status": status}
    sim.inject("not_json", **kwargs)
    got_status, headers, data = call(sim)
    assert got_status == status
    assert headers["Content-Type"].startswith("text/html")
    assert data.lstrip().startswith(b"<html>")
    with pytest.raises(ValueError):
        json.loads(data)


@pytest.mark.parametrize("body", [[], {}, {"instances": "x"}, {"instances": None}, "text", 42, None])
def test_json_fault_serves_any_json(sim, body):
    sim.inject("json", body=body)
    status, headers, data = call_json(sim)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert data == body


def test_json_fault_with_status(sim):
    sim.inject("json", body={"error": "x"}, status=500)
    assert call_json(sim)[0::2] == (500, {"error": "x"})


def test_status_fault(sim):
    sim.inject("status", status=403, body={"message": "Account mismatch"})
    sim.inject("status")
    sim.inject("status", status=400, body="plain text")
    assert call_json(sim)[0::2] == (403, {"message": "Account mismatch"})
    assert call_json(sim)[0::2] == (403, {"message": "Forbidden"})
    status, headers, data = call(sim)
    assert (status, data) == (400, b"plain text")
    assert headers["Content-Type"].startswith("text/plain")


def test_fault_extra_headers(sim):
    sim.inject("status", status=503, headers={"X-Proxy": "edge-1", "Retry-After": "3"})
    status, headers, _data = call(sim)
    assert status == 503
    assert (headers["X-Proxy"], headers["Retry-After"]) == ("edge-1", "3")


def test_faults_come_before_authentication(sim):
    sim.inject("rate_limit")
    assert call(sim, key=None)[0] == 429
    assert call(sim, key=None)[0] == 401


def test_faults_only_consumed_by_v1_requests(sim):
    sim.inject("server_error")
    assert call(sim, "/other")[0] == 404
    assert control(sim, "GET", "requests")[0] == 200
    assert [fault["kind"] for fault in sim.faults] == ["server_error"]
    assert call(sim, "/v1/unknown")[0] == 503
    assert sim.faults == []


def test_clear_faults(sim):
    sim.inject("server_error", count=5)
    sim.clear_faults()
    assert sim.faults == []
    assert call(sim)[0] == 200


@pytest.mark.parametrize("kind, count, params", [
    ("nonsense", 1, {}),
    ("rate_limit", 0, {}),
    ("rate_limit", True, {}),
    ("rate_limit", 1, {"delay": 1}),
    ("drop", 1, {"status": 500}),
    ("status", 1, {"status": 99}),
    ("status", 1, {"status": "500"}),
    ("slow", 1, {"delay": -1}),
    ("json", 1, {"body": object()}),
    ("json", 1, {"headers": ["X"]}),
])
def test_inject_refuses_bad_faults(sim, kind, count, params):
    with pytest.raises(SimulatorError):
        sim.inject(kind, count, **params)
    assert sim.faults == []


def test_stop_interrupts_slow_request():
    sim = Simulator(api_key=KEY).start()
    sim.inject("slow", delay=600)
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=30)
    try:
        conn.request("GET", "/v1/instances", headers={"X-API-KEY": KEY})
        # Wait (bounded) until the server holds the request, then stop while it sleeps.
        deadline = time.monotonic() + 10
        while sim.faults and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sim.faults == []
        started = time.monotonic()
        sim.stop()
        assert time.monotonic() - started < 15
        with pytest.raises(ConnectionError):
            conn.getresponse()
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------------------------
# Request log
# ---------------------------------------------------------------------------------------------------------------

def test_requests_are_recorded_without_the_key(sim):
    call(sim)
    call(sim, key="wrong-key-zzz")
    call(sim, "/v1/nope")
    call(sim, method="POST", body={})
    assert sim.requests == [
        {"method": "GET", "path": "/v1/instances", "api_key_ok": True, "user_agent": UA, "status": 200},
        {"method": "GET", "path": "/v1/instances", "api_key_ok": False, "user_agent": UA, "status": 401},
        {"method": "GET", "path": "/v1/nope", "api_key_ok": True, "user_agent": UA, "status": 404},
        {"method": "POST", "path": "/v1/instances", "api_key_ok": True, "user_agent": UA, "status": 405, "body": {}},
    ]
    dumped = json.dumps(sim.requests) + json.dumps(control(sim, "GET", "requests")[2])
    assert KEY not in dumped and "wrong-key-zzz" not in dumped


def test_requests_record_faults_and_missing_user_agent(sim):
    sim.inject("rate_limit")
    sim.inject("drop")
    call(sim)
    with pytest.raises(http.client.IncompleteRead):
        call(sim)
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    try:
        conn.putrequest("GET", "/v1/instances", skip_accept_encoding=True)
        conn.endheaders()
        conn.getresponse().read()
    finally:
        conn.close()
    assert [(entry["status"], entry["user_agent"], entry["api_key_ok"]) for entry in sim.requests] == [
        (429, UA, True), (200, UA, True), (401, None, False)]


def test_requests_returns_copies_and_clear_requests(sim):
    call(sim)
    sim.requests[0]["status"] = 999
    assert sim.requests[0]["status"] == 200
    sim.clear_requests()
    assert sim.requests == []


def test_control_requests_are_not_recorded(sim):
    control(sim, "GET", "requests")
    control(sim, "GET", "faults")
    assert sim.requests == []


# ---------------------------------------------------------------------------------------------------------------
# Fleet manipulation, in process and through the control endpoints
# ---------------------------------------------------------------------------------------------------------------

def test_instances_is_a_deep_copy(sim):
    copy = sim.instances
    copy[0]["configuration"]["gpu_type"] = "changed"
    copy.pop()
    assert len(sim.instances) == 12
    assert sim.instances[0]["configuration"]["gpu_type"] != "changed"


def test_set_instances_copies_its_input(sim):
    fleet = [{"id": "a", "name": "one", "tags": ["x"]}]
    sim.set_instances(fleet)
    fleet[0]["tags"].append("y")
    assert call_json(sim)[2] == {"instances": [{"id": "a", "name": "one", "tags": ["x"]}]}


def test_set_instances_accepts_wrapped_and_odd_lists(sim):
    sim.set_instances({"instances": [{"id": "b"}]})
    assert sim.instances == [{"id": "b"}]
    sim.set_instances([{"id": "c"}, "not-a-dict", None])
    assert call_json(sim)[2] == {"instances": [{"id": "c"}, "not-a-dict", None]}
    sim.set_instances([])
    assert call_json(sim)[2] == {"instances": []}


@pytest.mark.parametrize("bad", ["text", {"no": "instances"}, [object()]])
def test_set_instances_refuses_bad_fleets(sim, bad):
    with pytest.raises(SimulatorError):
        sim.set_instances(bad)
    assert len(sim.instances) == 12


def test_update_instance_turns_pending_into_active(sim):
    pending = next(item for item in sim.instances if item["status"] == "pending")
    updated = sim.update_instance(pending["id"], status="active", ip="127.0.0.1", ssh_port=2222)
    assert (updated["status"], updated["ip"], updated["ssh_port"]) == ("active", "127.0.0.1", 2222)
    served = {item["id"]: item for item in call_json(sim)[2]["instances"]}
    assert served[pending["id"]] == dict(pending, status="active", ip="127.0.0.1", ssh_port=2222)
    with pytest.raises(KeyError):
        sim.update_instance("no-such-id", status="active")


def test_remove_instance(sim):
    victim = sim.instances[5]["id"]
    sim.remove_instance(victim)
    ids = [item["id"] for item in call_json(sim)[2]["instances"]]
    assert len(ids) == 11 and victim not in ids
    with pytest.raises(KeyError):
        sim.remove_instance(victim)


def test_control_replace_fleet(sim):
    assert control(sim, "PUT", "instances", {"instances": [{"id": "x1"}]})[0::2] == (200, {"count": 1})
    assert sim.instances == [{"id": "x1"}]
    assert control(sim, "PUT", "instances", [{"id": "x2"}, {"id": "x3"}])[0::2] == (200, {"count": 2})
    assert sim.instances == [{"id": "x2"}, {"id": "x3"}]
    status, _headers, data = control(sim, "PUT", "instances", {"generate": 30, "seed": 4, "ip_pool": ["127.0.0.5:2200"]})
    assert (status, data) == (200, {"count": 30})
    assert sim.instances == generate_fleet(30, seed=4, ip_pool=["127.0.0.5:2200"])
    assert control(sim, "PUT", "instances", {"bad": 1})[0] == 400
    assert control(sim, "PUT", "instances", {"generate": "many"})[0] == 400
    assert len(sim.instances) == 30


def test_control_patch_instance(sim):
    target = next(item for item in sim.instances if item["status"] == "creating")
    status, _headers, data = control(sim, "PATCH", "instances/" + target["id"], {"status": "active", "ip": "127.0.0.9"})
    assert status == 200 and data["status"] == "active" and data["ip"] == "127.0.0.9"
    served = {item["id"]: item for item in call_json(sim)[2]["instances"]}
    assert served[target["id"]]["ip"] == "127.0.0.9"
    assert control(sim, "PATCH", "instances/unknown", {"status": "active"})[0] == 404
    assert control(sim, "PATCH", "instances/" + target["id"], ["not", "a", "dict"])[0] == 400


def test_unused_control_routes_are_gone(sim):
    for method, path in (("GET", "instances"), ("DELETE", "instances/x"), ("GET", "faults"), ("POST", "faults"), ("DELETE", "faults")):
        assert control(sim, method, path, {} if method == "POST" else None)[0] in (404, 405)


def test_control_request_log(sim):
    call(sim, key=None)
    status, _headers, data = control(sim, "GET", "requests")
    assert status == 200
    assert data == {"requests": [{"method": "GET", "path": "/v1/instances", "api_key_ok": False,
                                  "user_agent": UA, "status": 401}]}
    assert control(sim, "DELETE", "requests")[0] == 200
    assert sim.requests == []


def test_control_errors(sim):
    assert control(sim, "GET", "nothing")[0] == 404
    status, headers, _data = control(sim, "POST", "requests", {})
    assert status == 405 and headers["Allow"] == "DELETE, GET"
    status, _headers, data = call(sim, "/_sim/instances", "PUT", key=None)
    assert status == 400 and b"JSON body" in data
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    try:
        conn.request("PUT", "/_sim/instances", body=b"{not json", headers={"Content-Type": "application/json"})
        assert conn.getresponse().status == 400
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------------------------
# Life cycle and addresses
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::", "example.com", ""])
def test_refuses_non_loopback_hosts(host):
    with pytest.raises(SimulatorError, match="loopback"):
        Simulator(api_key=KEY, host=host)


def test_other_loopback_addresses():
    with Simulator(api_key=KEY, host="localhost") as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")
    with Simulator(api_key=KEY, host="127.0.0.2") as sim:
        assert sim.base_url.startswith("http://127.0.0.2:")


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        sim = Simulator(api_key=KEY, host="::1").start()
    except OSError:
        pytest.skip("IPv6 loopback unavailable")
    try:
        assert sim.url == f"http://[::1]:{sim.port}/v1"
        conn = http.client.HTTPConnection("::1", sim.port, timeout=10)
        conn.request("GET", "/_sim/requests")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        sim.stop()


def test_refuses_empty_api_key():
    with pytest.raises(SimulatorError):
        Simulator(api_key="")


def test_start_stop_and_restart():
    sim = Simulator(api_key=KEY)
    with pytest.raises(SimulatorError):
        sim.url  # pylint: disable=pointless-statement
    sim.start()
    port = sim.port
    assert sim.start() is sim
    assert call(sim)[0] == 200
    sim.stop()
    sim.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    with sim:
        assert call(sim)[0] == 200


def test_default_api_key_is_demo_key():
    with Simulator() as sim:
        assert call(sim, key="demo-key")[0] == 200


# ---------------------------------------------------------------------------------------------------------------
# Generated fleets
# ---------------------------------------------------------------------------------------------------------------

def test_generate_fleet_is_deterministic():
    assert generate_fleet(40, seed=11) == generate_fleet(40, seed=11)
    assert generate_fleet(40, seed=11) != generate_fleet(40, seed=12)
    assert generate_fleet(40, seed=11)[:15] == generate_fleet(15, seed=11)
    assert generate_fleet(0) == []
    with pytest.raises(SimulatorError):
        generate_fleet(-1)


def _parse_time(value):
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", value), value
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize("seed", [0, 1, 77])
def test_generated_fleet_variety(seed):
    fleet = generate_fleet(50, seed=seed)
    statuses = collections.Counter(item["status"] for item in fleet)
    assert set(statuses) == {"creating", "pending_provider", "pending", "active", "error", "deleting"}
    assert max(collections.Counter(item["name"] for item in fleet).values()) >= 2
    ids = [item["id"] for item in fleet]
    assert len(set(ids)) == len(ids)
    assert all(str(uuid.UUID(value)) == value and uuid.UUID(value).version == 4 for value in ids)
    assert len({item["cloud"] for item in fleet}) >= 6
    assert len({item["configuration"]["gpu_type"] for item in fleet}) >= 5
    assert len({item["region"] for item in fleet}) >= 8
    for item in fleet:
        if item["status"] in ("creating", "pending_provider", "pending"):
            assert item["ip"] in (None, ""), item
        if item["status"] == "active" and not item["ip"].endswith(".example.net"):
            assert any(ipaddress.ip_address(item["ip"]) in net for net in DOC_NETWORKS)
        assert isinstance(item["hourly_price"], int) and isinstance(item["cost_estimate"], str)
        float(item["cost_estimate"])
        created = _parse_time(item["created_at"])
        if item.get("active_at"):
            assert _parse_time(item["active_at"]) > created
        if item["deleted_at"] is not None:
            _parse_time(item["deleted_at"])
        config = item["configuration"]
        match = re.fullmatch(r"(?P<gpu>[A-Z0-9_]+?)(x(?P<count>\d+))?", item["shade_instance_type"])
        assert match and match["gpu"] == config["gpu_type"]
        assert int(match["count"] or 1) == config["num_gpus"]
        assert {"memory_in_gb", "storage_in_gb", "vcpus", "num_gpus", "vram_per_gpu_in_gb", "gpu_type", "interconnect",
                "gpu_manufacturer", "os"} <= set(config)
    tags = [tag for item in fleet for tag in item.get("tags") or []]
    assert any("=" in tag for tag in tags) and any("=" not in tag and ":" not in tag for tag in tags)
    assert any(item.get("tags") == [] for item in fleet) and any("tags" not in item for item in fleet)


def test_generated_fleet_has_realistic_corners():
    fleet = generate_fleet(300, seed=5)
    regions = collections.defaultdict(set)
    for item in fleet:
        regions[item["region"]].add(item["cloud"])
    assert any(len(clouds) > 1 for clouds in regions.values())
    assert {22} < {item["ssh_port"] for item in fleet}
    assert len({item["ssh_user"] for item in fleet}) >= 3
    assert {"A100_80Gx8", "H100x8", "A6000"} <= {item["shade_instance_type"] for item in fleet}
    assert {"nvidia", "amd"} == {item["configuration"]["gpu_manufacturer"] for item in fleet}
    assert any(item["ip"] is None for item in fleet) and any(item["ip"] == "" for item in fleet)
    assert any("rental_terms" not in item for item in fleet) and any("launch_configuration" not in item for item in fleet)


def test_generated_fleet_carries_fake_secrets():
    fleet = generate_fleet(50, seed=2)
    launches = [item["launch_configuration"] for item in fleet if "launch_configuration" in item]
    dockers = [launch["docker_configuration"] for launch in launches if launch["type"] == "docker"]
    scripts = [launch["script_configuration"]["base64_script"] for launch in launches if launch["type"] == "script"]
    assert dockers and scripts
    tokens = [env["value"] for docker in dockers for env in docker["envs"] if env["name"] == "HUGGING_FACE_HUB_TOKEN"]
    assert tokens and all(fleet_data.SECRET_MARKER in token for token in tokens)
    passwords = [docker["registry_credentials"]["password"] for docker in dockers if "registry_credentials" in docker]
    assert passwords and all(fleet_data.SECRET_MARKER in password for password in passwords)
    assert all(fleet_data.SECRET_MARKER in base64.b64decode(script).decode() for script in scripts)


def _contract_breaches(contract, instances):
    """What the contract says of GET /instances answering with these instances (no message: it follows it)."""
    body = json.dumps({"instances": instances}).encode("utf-8")
    return contract.check("GET", "/v1/instances", "", None, None, 200, "application/json", body, check_request=False)


@pytest.mark.parametrize("seed", [0, 5, 77])
def test_generated_and_demo_fleets_follow_the_contract(api_contract, seed):
    # A fleet that breaks the contract exempts its answers from the check (a test's hostile data): the generator's never may.
    assert _contract_breaches(api_contract, generate_fleet(300, seed=seed)) == []
    assert _contract_breaches(api_contract, load_fleet(shadeform_simulator.DEMO_FLEET_PATH)) == []


@pytest.mark.parametrize("terms, follows", [
    ({"rental_type": "commitment", "ending_at": "2025-04-01T00:00:00.000Z"}, True),
    ({"rental_type": "commitment", "hourly_price": "4.73", "ending_at": "2025-04-01T00:00:00.000Z"}, False),
    ({"rental_type": "on_demand", "hourly_price": "1.82", "ending_at": None}, True),
    ({"rental_type": "spot", "hourly_price": "0.61", "ending_at": None}, True),
    (None, True),
])
def test_the_contract_has_no_hourly_price_in_a_commitments_terms(api_contract, terms, follows):
    # The published document: rental_terms.hourly_price is absent for commitments.
    breaches = _contract_breaches(api_contract, [{"id": "a", "rental_terms": terms}])
    assert not breaches if follows else breaches


def test_generated_rental_terms_are_those_of_the_document():
    terms = [item["rental_terms"] for item in generate_fleet(300, seed=5) if item.get("rental_terms")]
    commitments = [term for term in terms if term["rental_type"] == "commitment"]
    assert commitments and all("hourly_price" not in term and term["ending_at"] for term in commitments)
    assert all(float(term["hourly_price"]) > 0 for term in terms if term["rental_type"] != "commitment")


@pytest.mark.parametrize("seed", [0, 5, 2024])
def test_generated_preemption_is_deleting_with_preempted(seed):
    # As the API shows a spot reclaim (and as Simulator.preempt plays it): deleting, status_details preempted.
    fleet = generate_fleet(300, seed=seed)
    preempted = [item for item in fleet if item["status_details"] == "preempted"]
    assert preempted and all(item["status"] == "deleting" and item["rental_terms"]["rental_type"] == "spot"
                             for item in preempted)


def test_catalogue_display_names_look_real():
    entries = [slot for item in fleet_data.generate_instance_types() for slot in item["availability"]]
    names = collections.defaultdict(set)
    for slot in entries:
        names[slot["region"]].add(slot["display_name"])
    assert names["us-central-1"] == {"US, Kansas City, MO"} and names["FIN-01"] == {"Finland, Helsinki"}
    for region, shown in names.items():
        # "US, Wichita, KS" in the published document: the country, then the city (and the state or province).
        assert len(shown) == 1 and re.fullmatch(r"[A-Z][A-Za-z]+( [A-Z][a-z]+)*(, [A-Z][A-Za-z.]+( [A-Z][a-z]+)*){1,2}",
                                                next(iter(shown))), (region, shown)
        assert region in fleet_data.REGION_DISPLAY_NAMES, region  # the table has every region of the catalogue


@pytest.mark.parametrize("region, shown", [
    ("us-north-9", "US, us-north-9"), ("eu-south-4", "Europe, eu-south-4"), ("CA-03", "Canada, CA-03"), ("mars-1", "mars-1"),
])
def test_display_name_of_a_region_not_in_the_table(region, shown):
    assert fleet_data.region_display_name(region) == shown


def test_generate_fleet_at_benchmark_scale_has_unique_ids():
    # How fast is for benchmarks/run.py to measure; here only that the benchmark's fleet is sound.
    fleet = generate_fleet(10000, seed=1)
    assert len(fleet) == 10000
    assert len({instance["id"] for instance in fleet}) == 10000


def test_ip_pool_overrides_active_addresses():
    pool = ["127.0.0.1:2201", "127.0.0.2", "tester@[::1]:2203"]
    plain = generate_fleet(40, seed=8)
    fleet = generate_fleet(40, seed=8, ip_pool=pool)
    active = [item for item in fleet if item["status"] == "active"]
    assert len(active) >= 4
    expected = [("127.0.0.1", 2201), ("127.0.0.2", 22), ("::1", 2203)]
    assert [(item["ip"], item["ssh_port"]) for item in active] == [expected[i % 3] for i in range(len(active))]
    assert active[2]["ssh_user"] == "tester"
    for before, after in zip(plain, fleet):
        if before["status"] != "active":
            assert before == after
        else:
            assert before["ssh_user"] == after["ssh_user"] or after["ssh_user"] == "tester"
    assert generate_fleet(40, seed=8, ip_pool="127.0.0.1:2201,127.0.0.2,tester@[::1]:2203") == fleet


@pytest.mark.parametrize("pool", [[], ["127.0.0.1:notaport"], ["127.0.0.1:0"], [":22"]])
def test_bad_ip_pool(pool):
    with pytest.raises(SimulatorError):
        fleet_data.apply_ip_pool([{"status": "active"}], pool)


# ---------------------------------------------------------------------------------------------------------------
# Fleet files and the demo fleet
# ---------------------------------------------------------------------------------------------------------------

def test_load_fleet_forms(tmp_path):
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"instances": [{"id": "a"}]}))
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([{"id": "b"}]))
    assert load_fleet(str(wrapped)) == [{"id": "a"}]
    assert load_fleet(str(bare)) == [{"id": "b"}]
    for content in ("{not json", '{"other": []}', '"text"'):
        broken = tmp_path / "broken.json"
        broken.write_text(content)
        with pytest.raises(SimulatorError):
            load_fleet(str(broken))


def test_demo_fleet_matches_generator():
    demo = load_fleet(shadeform_simulator.DEMO_FLEET_PATH)
    assert demo == generate_fleet(shadeform_simulator.DEMO_COUNT, seed=shadeform_simulator.DEMO_SEED)


def test_demo_fleet_content():
    demo = load_fleet(shadeform_simulator.DEMO_FLEET_PATH)
    assert 20 <= len(demo) <= 30
    assert max(collections.Counter(item["name"] for item in demo).values()) >= 2
    assert any(item["status"] in ("creating", "pending_provider", "pending") and not item["ip"] for item in demo)
    assert len({item["cloud"] for item in demo}) >= 4
    assert len({item["region"] for item in demo}) >= 4
    assert len({item["configuration"]["gpu_type"] for item in demo}) >= 4
    assert any("=" in tag for item in demo for tag in item.get("tags") or [])


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------

def _start_cli(tmp_path, *args, env=None):
    ready = tmp_path / "ready.url"
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, SIMULATOR_SCRIPT, "--port", "0", "--ready-file", str(ready), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"simulator did not start: rc={process.returncode} out={out!r} err={err!r}")
        time.sleep(0.02)
    return process, ready, ready.read_text().strip()


def _get(url, key):
    request = urllib.request.Request(url + "/instances", headers={"X-API-KEY": key})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["instances"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_start_serve_and_stop(tmp_path, signum):
    process, ready, url = _start_cli(tmp_path, "--api-key", "cli-key", "--generate", "7", "--seed", "5")
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", url)
        assert _get(url, "cli-key") == generate_fleet(7, seed=5)
        process.send_signal(signum)
        out, _err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert f"Shadeform API simulator listening on {url}\n" == out
    assert not ready.exists()


def test_cli_defaults_demo_fleet_env_key_and_ip_pool(tmp_path):
    env = dict(os.environ, SHADEFORM_SIMULATOR_API_KEY="env-key")
    process, _ready, url = _start_cli(tmp_path, "--ip-pool", "127.0.0.3:2022", "--variant", "deleted_info=bad_request",
                                      "--variant", "error_body=error", env=env)
    try:
        served = _get(url, "env-key")
        demo = load_fleet(shadeform_simulator.DEMO_FLEET_PATH)
        assert [item["id"] for item in served] == [item["id"] for item in demo]
        assert {(item["ip"], item["ssh_port"]) for item in served if item["status"] == "active"} == {("127.0.0.3", 2022)}
        request = urllib.request.Request(url + "/instances/unknown/info", headers={"X-API-KEY": "env-key"})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)  # nosec - loopback only
        assert (caught.value.code, json.loads(caught.value.read())) == (
            400, {"error_code": "INVALID_INSTANCE", "error": "Invalid instance id unknown"})
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_cli_fleet_file(tmp_path):
    fleet = tmp_path / "fleet.json"
    fleet.write_text(json.dumps([{"id": "only-one", "name": "x", "status": "active"}]))
    process, _ready, url = _start_cli(tmp_path, "--fleet", str(fleet))
    try:
        assert _get(url, "demo-key") == [{"id": "only-one", "name": "x", "status": "active"}]
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.mark.parametrize("args, message", [
    (["--host", "0.0.0.0"], "loopback"),
    (["--host", "10.1.2.3"], "loopback"),
    (["--fleet", "/nonexistent/fleet.json"], "fleet.json"),
    (["--ip-pool", "127.0.0.1:x"], "port"),
])
def test_cli_errors(args, message):
    result = subprocess.run([sys.executable, SIMULATOR_SCRIPT, *args], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "listening" not in result.stdout


def test_cli_dump(tmp_path):
    result = subprocess.run([sys.executable, SIMULATOR_SCRIPT, "--generate", "9", "--seed", "4", "--dump", "-"],
                            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == {"instances": generate_fleet(9, seed=4)}
    target = tmp_path / "fleet.json"
    subprocess.run([sys.executable, SIMULATOR_SCRIPT, "--generate", "3", "--dump", str(target)], timeout=60, check=True)
    assert load_fleet(str(target)) == generate_fleet(3)
