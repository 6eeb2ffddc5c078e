# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The simulator's lifecycle endpoints: create -> creating -> pending -> active, delete -> deleting -> gone, types, SSH keys."""

import json
import time
import urllib.error
import urllib.request

import pytest

from shadeform_simulator import Simulator, SimulatorError, filter_instance_types, generate_instance_types

KEY = "lifecycle-key"


def call(sim, path, body=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(sim.url + path, data=data, method=method or ("POST" if data is not None else "GET"),
                                     headers={"X-API-KEY": KEY, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # nosec - loopback only
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for(sim, instance_id, status, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, info = call(sim, f"/instances/{instance_id}/info")
        if (status is None and code == 404) or (code == 200 and info["status"] == status):
            return info
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} never reached {status}")


def launchable(sim):
    item = filter_instance_types(sim._instance_types, "available=true&sort=price")[0]  # pylint: disable=protected-access
    region = next(slot["region"] for slot in item["availability"] if slot["available"])
    return {"cloud": item["cloud"], "region": region, "shade_instance_type": item["shade_instance_type"], "shade_cloud": True,
            "name": "n1", "tags": ["t"], "envs": [{"name": "A", "value": "secret"}]}


@pytest.fixture
def sim():
    with Simulator(api_key=KEY, ip_pool="u@127.0.0.9:2201,127.0.0.10:2202", creating_delay=0.2, pending_delay=0.2,
                   deleting_delay=0.2) as simulator:
        yield simulator


def test_an_instance_goes_creating_pending_active_and_gets_pool_addresses(sim):
    code, answer = call(sim, "/instances/create", launchable(sim))
    assert code == 200
    first = answer["id"]
    info = call(sim, f"/instances/{first}/info")[1]
    assert info["status"] == "creating" and not info["ip"]
    assert info["envs"] == [{"name": "A", "value": "secret"}] and info["volume_ids"] == []
    assert wait_for(sim, first, "pending")
    active = wait_for(sim, first, "active")
    assert (active["ip"], active["ssh_port"], active["ssh_user"]) == ("127.0.0.9", 2201, "u")
    # The list does not show the info-only fields.
    assert "envs" not in sim.instances[0]
    second = call(sim, "/instances/create", dict(launchable(sim), name="n2"))[1]["id"]
    assert (wait_for(sim, second, "active")["ip"], sim.instances[1]["ssh_port"]) == ("127.0.0.10", 2202)


def test_update_restart_delete(sim):
    instance_id = call(sim, "/instances/create", launchable(sim))[1]["id"]
    assert call(sim, f"/instances/{instance_id}/restart", {})[0] == 409  # not active yet
    wait_for(sim, instance_id, "active")
    assert call(sim, f"/instances/{instance_id}/update", {"name": "renamed", "tags": ["x"]}) == (200, None)
    assert (sim.instances[0]["name"], sim.instances[0]["tags"]) == ("renamed", ["x"])
    assert call(sim, f"/instances/{instance_id}/update", {"cloud": "aws"})[0] == 400
    assert call(sim, f"/instances/{instance_id}/restart", {}) == (200, None)
    assert sim.instances[0]["status"] == "pending"
    wait_for(sim, instance_id, "active")
    assert call(sim, f"/instances/{instance_id}/delete", {}) == (200, None)
    assert sim.instances[0]["status"] == "deleting"
    assert call(sim, f"/instances/{instance_id}/delete", {})[0] == 409
    wait_for(sim, instance_id, None)
    assert sim.instances == []
    assert call(sim, f"/instances/{instance_id}/info") == (404, {"message": "Instance not found"})


@pytest.mark.parametrize("change, message", [
    ({"name": ""}, "name is required"),
    ({"shade_cloud": None}, "shade_cloud is required"),
    ({"shade_instance_type": "NOPE"}, "is not offered"),
    ({"region": "nowhere"}, "is not available in nowhere"),
    ({"tags": "x"}, "tags must be a list of strings"),
    ({"color": "red"}, "unknown fields: color"),
    ({"ssh_key_id": "unknown"}, "unknown ssh_key_id"),
])
def test_create_validates(sim, change, message):
    code, answer = call(sim, "/instances/create", dict(launchable(sim), **change))
    assert code == 400 and message in answer["message"]
    assert sim.instances == []


def test_launch_error(sim):
    sim.launch_error = "out_of_capacity"
    instance_id = call(sim, "/instances/create", launchable(sim))[1]["id"]
    info = wait_for(sim, instance_id, "error")
    assert info["status_details"] == "out_of_capacity"


def test_types_filters_and_sort():
    types = generate_instance_types()
    assert types == generate_instance_types()
    cheap = filter_instance_types(types, "gpu_type=H100&num_gpus=8&sort=price")
    assert cheap and [t["hourly_price"] for t in cheap] == sorted(t["hourly_price"] for t in cheap)
    assert all(t["configuration"]["num_gpus"] == 8 for t in cheap)
    available = filter_instance_types(types, "region=canada-1&available=true")
    assert available and all(any(s["region"] == "canada-1" and s["available"] for s in t["availability"]) for t in available)
    with pytest.raises(SimulatorError):
        filter_instance_types(types, "sort=name")
    with pytest.raises(SimulatorError):
        filter_instance_types(types, "available=maybe")


def test_ssh_keys(sim):
    assert call(sim, "/sshkeys") == (200, {"ssh_keys": []})
    assert call(sim, "/sshkeys/add", {"name": "k", "public_key": "not a key"})[0] == 400
    first = call(sim, "/sshkeys/add", {"name": "a", "public_key": "ssh-ed25519 AAAAC3Nza a@b"})[1]["id"]
    second = call(sim, "/sshkeys/add", {"name": "b", "public_key": "ssh-rsa AAAAB3Nza"})[1]["id"]
    assert [k["is_default"] for k in call(sim, "/sshkeys")[1]["ssh_keys"]] == [True, False]
    assert call(sim, f"/sshkeys/{second}/setdefault", {}) == (200, None)
    assert call(sim, f"/sshkeys/{second}/info")[1]["is_default"] is True
    assert call(sim, f"/sshkeys/{first}/delete", {}) == (200, None)
    assert call(sim, f"/sshkeys/{first}/info")[0] == 404
    assert [k["name"] for k in sim.ssh_keys] == ["b"]


def test_negative_delays_are_refused():
    with pytest.raises(SimulatorError, match="creating_delay"):
        Simulator(api_key=KEY, creating_delay=-1)
