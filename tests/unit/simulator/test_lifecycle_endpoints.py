# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The simulator's API endpoints, as the API notes describe them, and each variant of what they leave undocumented.

Every request here is checked against the contract by the autouse ``api_contract`` fixture; the tests that send a
request breaking it on purpose take the violations themselves (``broke_contract``).
"""

import json
import time
import urllib.error
import urllib.request

import pytest

from shadeform_simulator import Simulator, SimulatorError, filter_instance_types, generate_instance_types

KEY = "lifecycle-key"


def answer(request):
    """(status, parsed body or None) of one request."""
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # nosec - loopback only
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def call(sim, path, body=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    return answer(urllib.request.Request(sim.url + path, data=data, method=method or ("POST" if data is not None else "GET"),
                                         headers={"X-API-KEY": KEY, "Content-Type": "application/json"}))


def post(sim, path):
    """A POST without a body, as the client sends delete, restart and setdefault."""
    return answer(urllib.request.Request(sim.url + path, data=b"", method="POST", headers={"X-API-KEY": KEY}))


def broke_contract(sim):
    """The contract violations the test caused on purpose; there must be some."""
    violations = sim.take_contract_violations()
    assert violations
    return violations


def wait_for(sim, instance_id, status, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = [item for item in sim.instances if item["id"] == instance_id]
        if (status is None and not listed) or (listed and listed[0]["status"] == status):
            return listed[0] if listed else None
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} never reached {status}")


def offer(sim, rental_type="on_demand"):
    """(type, entry) of the cheapest available offer of this rental type."""
    for item in filter_instance_types(sim.instance_types, "available=true&sort=price"):
        for entry in item["availability"]:
            if entry["rental_type"] == rental_type:
                return item, entry
    raise AssertionError(f"no {rental_type} offer")


def launchable(sim, rental_type="on_demand", **extra):
    item, entry = offer(sim, rental_type)
    body = {"cloud": item["cloud"], "region": entry["region"], "shade_instance_type": item["shade_instance_type"], "shade_cloud": True,
            "name": "n1", "tags": ["t"], "envs": [{"name": "A", "value": "secret"}]}
    if rental_type != "on_demand":
        body["rental_type"] = rental_type
    body.update(extra)
    return body


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
    assert "os" not in info and "template_id" not in info
    assert info["rental_terms"]["rental_type"] == "on_demand"
    assert wait_for(sim, first, "pending")
    active = wait_for(sim, first, "active")
    assert (active["ip"], active["ssh_port"], active["ssh_user"]) == ("127.0.0.9", 2201, "u")
    # The list does not show the info-only fields.
    assert "envs" not in sim.instances[0]
    second = call(sim, "/instances/create", dict(launchable(sim), name="n2"))[1]["id"]
    assert (wait_for(sim, second, "active")["ip"], sim.instances[1]["ssh_port"]) == ("127.0.0.10", 2202)


def test_update_clears_with_null_restart_stays_active_delete(sim):
    instance_id = call(sim, "/instances/create", launchable(sim, auto_delete={"spend_threshold": "3.14"}))[1]["id"]
    assert post(sim, f"/instances/{instance_id}/restart")[0] == 409  # not active yet
    wait_for(sim, instance_id, "active")
    assert call(sim, f"/instances/{instance_id}/update", {"name": "renamed", "tags": ["x"]}) == (200, None)
    assert (sim.instances[0]["name"], sim.instances[0]["tags"]) == ("renamed", ["x"])
    assert call(sim, f"/instances/{instance_id}/info")[1]["auto_delete"] == {"spend_threshold": "3.14"}
    assert call(sim, f"/instances/{instance_id}/update", {"auto_delete": None}) == (200, None)
    assert call(sim, f"/instances/{instance_id}/info")[1]["auto_delete"] is None
    assert call(sim, f"/instances/{instance_id}/update", {"cloud": "aws"})[0] == 400
    broke_contract(sim)
    assert post(sim, f"/instances/{instance_id}/restart") == (200, None)
    assert sim.instances[0]["status"] == "active"  # the real service stays active through a restart
    assert post(sim, f"/instances/{instance_id}/delete") == (200, None)
    assert sim.instances[0]["status"] == "deleting"
    assert post(sim, f"/instances/{instance_id}/delete")[0] == 409
    wait_for(sim, instance_id, None)
    assert sim.instances == []
    assert call(sim, f"/instances/{instance_id}/info") == (404, {"message": "Instance not found"})


# The service refuses these; the contract rules out all but the three whose fields are well formed.
@pytest.mark.parametrize("change, message", [
    ({"name": ""}, "name is required"),
    ({"shade_cloud": None}, "shade_cloud is required"),
    ({"shade_instance_type": "NOPE"}, "is not offered"),
    ({"region": "nowhere"}, "is not available as on_demand in nowhere"),
    ({"tags": "x"}, "tags must be a list of strings"),
    ({"color": "red"}, "unknown fields: color"),
    ({"ssh_key_id": "unknown"}, "unknown ssh_key_id"),
    ({"rental_type": "reserved"}, "rental_type must be"),
    ({"volume_mount": {"auto": "yes"}}, "volume_mount must be"),
    ({"volume_ids": ["a", "b"]}, "exactly one volume"),
    ({"launch_configuration": {"type": "docker", "docker_configuration": {"image": "x"},
                               "script_configuration": {"base64_script": "eA=="}}}, "needs docker_configuration and no"),
    ({"launch_configuration": {"type": "script"}}, "needs script_configuration"),
])
def test_create_validates(sim, change, message):
    code, answer = call(sim, "/instances/create", dict(launchable(sim), **change))
    assert code == 400 and message in answer["message"]
    assert sim.instances == []
    well_formed = ("is not offered", "is not available", "unknown ssh_key_id")
    assert bool(sim.take_contract_violations()) is not message.startswith(well_formed)


def test_spot_needs_a_spot_entry_and_shade_cloud(sim):
    body = launchable(sim, "spot")
    code, answer = call(sim, "/instances/create", dict(body, shade_cloud=False))
    assert code == 400 and "spot instances need shade_cloud: true" in answer["message"]
    instance_id = call(sim, "/instances/create", body)[1]["id"]
    _item, entry = offer(sim, "spot")
    listed = wait_for(sim, instance_id, "active")
    assert listed["rental_terms"] == {"rental_type": "spot", "hourly_price": entry["hourly_price"], "ending_at": None}
    assert listed["hourly_price"] == round(float(entry["hourly_price"]) * 100)
    unavailable = next((item, e) for item in sim.instance_types for e in item["availability"]
                       if e["rental_type"] == "spot" and not e["available"])
    code, answer = call(sim, "/instances/create", dict(body, cloud=unavailable[0]["cloud"], region=unavailable[1]["region"],
                                                       shade_instance_type=unavailable[0]["shade_instance_type"]))
    assert code == 400 and "is not available as spot" in answer["message"]


def test_preempted_spot_instances_show_as_deleting_then_go(sim):
    instance_id = call(sim, "/instances/create", launchable(sim, "spot"))[1]["id"]
    wait_for(sim, instance_id, "active")
    sim.preempt(instance_id)
    assert (sim.instances[0]["status"], sim.instances[0]["status_details"]) == ("deleting", "preempted")
    wait_for(sim, instance_id, None)


def test_catalogue_lists_spot_twice_and_available_filters_entries():
    types = generate_instance_types()
    assert types == generate_instance_types()
    spot = [t for t in types if any(e["rental_type"] == "spot" for e in t["availability"])]
    assert spot
    for item in spot:
        regions = [e["region"] for e in item["availability"]]
        assert all(regions.count(region) == 2 for region in regions)
        assert all(("hourly_price" in e) == (e["rental_type"] == "spot") for e in item["availability"])
    assert any(len({e["available"] for e in t["availability"] if e["region"] == region}) == 2
               for t in spot for region in {e["region"] for e in t["availability"]})
    available = filter_instance_types(types, "available=true")
    assert available and all(e["available"] for t in available for e in t["availability"])
    cheap = filter_instance_types(types, "gpu_type=H100&num_gpus=8&sort=price")
    assert cheap and [t["hourly_price"] for t in cheap] == sorted(t["hourly_price"] for t in cheap)
    with pytest.raises(SimulatorError):
        filter_instance_types(types, "sort=name")
    with pytest.raises(SimulatorError):
        filter_instance_types(types, "available=maybe")


def test_capacity_faults_per_offer(sim):
    body = launchable(sim)
    sim.set_capacity(body["cloud"], body["region"], body["shade_instance_type"], "refuse")
    code, answer = call(sim, "/instances/create", body)
    assert code == 409 and "Out of capacity" in answer["message"]
    sim.set_capacity(body["cloud"], body["region"], body["shade_instance_type"], "error", rental_type="on_demand")
    failed = call(sim, "/instances/create", body)[1]["id"]
    assert wait_for(sim, failed, "error")["status_details"] == "out_of_capacity"
    sim.clear_capacity()
    sim.set_capacity(body["cloud"], body["region"], body["shade_instance_type"], "never_ready")
    stuck = call(sim, "/instances/create", dict(body, name="stuck"))[1]["id"]
    assert wait_for(sim, stuck, "pending_provider")
    time.sleep(0.5)
    assert [i["status"] for i in sim.instances if i["id"] == stuck] == ["pending_provider"]
    with pytest.raises(SimulatorError):
        sim.set_capacity("a", "b", "c", "sometimes")
    with pytest.raises(SimulatorError):
        sim.set_capacity("a", "b", "c", "refuse", after=-1)


def test_capacity_that_runs_out_after_some_launches(sim):
    body = launchable(sim)
    sim.set_capacity(body["cloud"], body["region"], body["shade_instance_type"], "refuse", after=2)
    assert [call(sim, "/instances/create", dict(body, name=str(n)))[0] for n in range(4)] == [200, 200, 409, 409]


def test_insufficient_funds_answers_with_error_code(sim):
    sim.balance_low = True
    code, answer = call(sim, "/instances/create", launchable(sim))
    assert code == 409 and answer["error_code"] == "INSUFFICIENT_FUNDS" and "Add credits" in answer["error"]


@pytest.mark.parametrize("variant, expected", [
    ("message", {"message": "Instance not found"}),
    ("error", {"error_code": "NOT_FOUND", "error": "Instance not found"}),
    ("error_object", {"error_code": "NOT_FOUND", "error": {"message": "Instance not found"}}),
])
def test_error_body_variants(sim, variant, expected):
    sim.set_variants(error_body=variant)
    assert call(sim, "/instances/unknown/info") == (404, expected)


@pytest.mark.parametrize("variant, expected_code, expected_status", [
    ("not_found", 404, None), ("bad_request", 400, None), ("status_deleted", 200, "deleted")])
def test_deleted_info_variants(sim, variant, expected_code, expected_status):
    sim.set_variants(deleted_info=variant)
    instance_id = call(sim, "/instances/create", launchable(sim))[1]["id"]
    wait_for(sim, instance_id, "active")
    post(sim, f"/instances/{instance_id}/delete")
    wait_for(sim, instance_id, None)
    code, answer = call(sim, f"/instances/{instance_id}/info")
    assert code == expected_code
    assert (answer.get("status") if code == 200 else None) == expected_status


def test_delete_before_active_variant(sim):
    sim.set_variants(delete_before_active="refused")
    instance_id = call(sim, "/instances/create", launchable(sim))[1]["id"]
    assert post(sim, f"/instances/{instance_id}/delete")[0] == 409
    wait_for(sim, instance_id, "active")
    assert post(sim, f"/instances/{instance_id}/delete") == (200, None)


def test_tags_update_variants(sim):
    instance_id = call(sim, "/instances/create", launchable(sim))[1]["id"]
    call(sim, f"/instances/{instance_id}/update", {"tags": ["a"]})
    assert sim.instances[0]["tags"] == ["a"]
    sim.set_variants(tags_update="merge")
    call(sim, f"/instances/{instance_id}/update", {"tags": ["b"]})
    assert sim.instances[0]["tags"] == ["a", "b"]


def test_unknown_variants_are_refused(sim):
    with pytest.raises(SimulatorError, match="unknown variant"):
        sim.set_variants(colour="red")
    with pytest.raises(SimulatorError, match="one of"):
        sim.set_variants(deleted_info="maybe")


def test_managed_key_carries_its_private_half_and_no_key_becomes_default_by_itself(sim):
    keys = call(sim, "/sshkeys")[1]["ssh_keys"]
    assert len(keys) == 1 and keys[0]["is_default"] and "PRIVATE KEY" in keys[0]["private_key"]
    managed = keys[0]["id"]
    assert "PRIVATE KEY" in call(sim, f"/sshkeys/{managed}/info")[1]["private_key"]
    assert call(sim, "/sshkeys/add", {"name": "k", "public_key": "not a key"})[0] == 400
    first = call(sim, "/sshkeys/add", {"name": "a", "public_key": "ssh-ed25519 AAAAC3Nza a@b"})[1]["id"]
    second = call(sim, "/sshkeys/add", {"name": "b", "public_key": "ssh-rsa AAAAB3Nza"})[1]["id"]
    listed = {k["id"]: k for k in call(sim, "/sshkeys")[1]["ssh_keys"]}
    assert [listed[k]["is_default"] for k in (managed, first, second)] == [True, False, False]
    assert "private_key" not in listed[first]
    assert post(sim, f"/sshkeys/{second}/setdefault") == (200, None)
    assert call(sim, f"/sshkeys/{second}/info")[1]["is_default"] is True
    assert post(sim, f"/sshkeys/{first}/delete") == (200, None)
    assert call(sim, f"/sshkeys/{first}/info")[0] == 404
    assert [k["name"] for k in sim.ssh_keys] == ["shadeform-managed-key", "b"]


@pytest.mark.parametrize("status", [400, 409])
def test_managed_default_and_used_keys_refuse_deletion(sim, status):
    sim.set_variants(key_delete_refusal=status, error_body="error")
    managed = sim.ssh_keys[0]["id"]
    used = call(sim, "/sshkeys/add", {"name": "used", "public_key": "ssh-ed25519 AAAAC3Nza u"})[1]["id"]
    default = call(sim, "/sshkeys/add", {"name": "default", "public_key": "ssh-ed25519 AAAAC3Nzb d"})[1]["id"]
    post(sim, f"/sshkeys/{default}/setdefault")
    call(sim, "/instances/create", launchable(sim, ssh_key_id=used))
    for key_id, reason in ((managed, "Shadeform-managed"), (default, "default key"), (used, "in use by instance")):
        code, answer = post(sim, f"/sshkeys/{key_id}/delete")
        assert code == status and reason in answer["error"] and answer["error_code"] == "SSH_KEY_IN_USE"
    assert len(sim.ssh_keys) == 3


def test_key_variants_first_default_and_empty_private_key():
    with Simulator(api_key=KEY, variants={"first_key_default": True, "uploaded_private_key": "empty"}) as sim:
        first = call(sim, "/sshkeys/add", {"name": "a", "public_key": "ssh-ed25519 AAAAC3Nza a"})[1]["id"]
        info = call(sim, f"/sshkeys/{first}/info")[1]
        assert info["is_default"] is True and info["private_key"] == ""
        second = call(sim, "/sshkeys/add", {"name": "b", "public_key": "ssh-ed25519 AAAAC3Nzb b"})[1]["id"]
        assert call(sim, f"/sshkeys/{second}/info")[1]["is_default"] is False


def test_volumes_mount_on_create_refuse_deletion_while_mounted(sim):
    assert call(sim, "/volumes/types")[1]["volume_types"]
    body = launchable(sim)
    code, answer = call(sim, "/volumes/create", {"cloud": "nowhere", "region": "x", "size_in_gb": 10, "name": "v"})
    assert code == 400 and "volumes cannot be made" in answer["message"]
    elsewhere = call(sim, "/volumes/create", {"cloud": "hyperstack", "region": "canada-1", "size_in_gb": 10, "name": "v0"})[1]["id"]
    if (body["cloud"], body["region"]) != ("hyperstack", "canada-1"):
        code, answer = call(sim, "/instances/create", dict(body, volume_ids=[elsewhere]))
        assert code == 400 and "not where the instance is" in answer["message"]
    item = next(t for t in filter_instance_types(sim.instance_types, "cloud=hyperstack&available=true")
                if any(e["region"] == "canada-1" and e["rental_type"] == "on_demand" for e in t["availability"]))
    instance_id = call(sim, "/instances/create", dict(body, cloud="hyperstack", region="canada-1",
                                                      shade_instance_type=item["shade_instance_type"],
                                                      volume_ids=[elsewhere], volume_mount={"auto": True}))[1]["id"]
    info = call(sim, f"/instances/{instance_id}/info")[1]
    assert info["volume_ids"] == [elsewhere] and info["volume_mount"] == {"auto": True}
    assert call(sim, f"/volumes/{elsewhere}/info")[1]["mounted_by"] == instance_id
    code, answer = post(sim, f"/volumes/{elsewhere}/delete")
    assert code == 409 and instance_id in answer["message"]
    wait_for(sim, instance_id, "active")
    post(sim, f"/instances/{instance_id}/delete")
    wait_for(sim, instance_id, None)
    assert call(sim, f"/volumes/{elsewhere}/info")[1]["mounted_by"] is None
    assert post(sim, f"/volumes/{elsewhere}/delete") == (200, None)
    assert call(sim, "/volumes")[1] == {"volumes": []}


def test_templates(sim):
    assert call(sim, "/templates/featured")[1]["templates"]
    template_id = call(sim, "/templates/save", {"name": "vllm", "tags": ["a"], "networking": {"ufw_rules": [
        {"rule": "allow", "port": "8000:8999", "proto": "tcp"}]}})[1]["id"]
    assert call(sim, f"/templates/{template_id}/info")[1]["name"] == "vllm"
    assert call(sim, f"/templates/{template_id}/update", {"name": "vllm2"}) == (200, None)
    assert [t["name"] for t in call(sim, "/templates")[1]["templates"]] == ["vllm2"]
    instance_id = call(sim, "/instances/create", launchable(sim, template_id=template_id))[1]["id"]
    assert "template_id" not in call(sim, f"/instances/{instance_id}/info")[1]
    assert post(sim, f"/templates/{template_id}/delete") == (200, None)
    assert call(sim, f"/templates/{template_id}/info")[0] == 404
    assert call(sim, "/templates/save", {"description": "no name"})[0] == 400
    broke_contract(sim)


def test_fleet_file_variants_and_command_line(tmp_path):
    from shadeform_simulator import _parse_variants, load_fleet_file  # pylint: disable=import-outside-toplevel

    path = tmp_path / "fleet.json"
    path.write_text(json.dumps({"instances": [], "variants": {"deleted_info": "status_deleted"}}))
    assert load_fleet_file(str(path)) == ([], {"deleted_info": "status_deleted"})
    assert _parse_variants(["first_key_default=True", "key_delete_refusal=409"]) == {"first_key_default": True,
                                                                                     "key_delete_refusal": 409}
    with pytest.raises(SimulatorError):
        _parse_variants(["deleted_info=sometimes"])


def test_negative_delays_are_refused():
    with pytest.raises(SimulatorError, match="creating_delay"):
        Simulator(api_key=KEY, creating_delay=-1)
