# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""instance_info, instance_types_info and ssh_key against the simulator."""

import copy
import urllib.parse

import pytest

from ansible_collections.shadeform.cloud.plugins.modules import instance_info, instance_types_info, ssh_key
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import REDACTED

from helpers import load_fixture

KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA alice@laptop"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB bob@laptop"


def fleet():
    from shadeform_simulator import generate_fleet  # pylint: disable=import-outside-toplevel

    return generate_fleet(30, seed=5)


def test_instance_info_filters_like_the_inventory(run_module, sim):
    instances = fleet()
    sim.set_instances(instances)
    everything = run_module(instance_info.main, {})
    assert everything["rc"] == 0 and everything["changed"] is False
    assert [i["id"] for i in everything["instances"]] == [i["id"] for i in instances]

    active_h100 = run_module(instance_info.main, {"statuses": ["active"], "gpu_types": ["H100"]})["instances"]
    expected = [i["id"] for i in instances if i["status"] == "active" and i["configuration"]["gpu_type"] == "H100"]
    assert expected and [i["id"] for i in active_h100] == expected

    tagged = [i for i in instances if i.get("tags")][0]
    by_tag = run_module(instance_info.main, {"tags": tagged["tags"][:1], "clouds": [tagged["cloud"]], "regions": [tagged["region"]]})
    assert tagged["id"] in [i["id"] for i in by_tag["instances"]]

    by_name = run_module(instance_info.main, {"name": instances[0]["name"]})["instances"]
    assert [i["id"] for i in by_name] == [i["id"] for i in instances if i["name"] == instances[0]["name"]]
    by_id = run_module(instance_info.main, {"id": instances[3]["id"]})["instances"]
    assert [i["id"] for i in by_id] == [instances[3]["id"]]
    assert run_module(instance_info.main, {"id": "nope"})["instances"] == []


def test_instance_info_redacts_secrets(run_module, sim):
    instances = fleet()
    sim.set_instances(instances)
    result = run_module(instance_info.main, {})
    assert "SIMULATED-SECRET" not in result["stdout"]
    launched = {i["launch_configuration"]["type"] for i in instances if "launch_configuration" in i}
    assert launched == {"docker", "script"}  # both kinds of launch secrets are in the fleet
    # Every secret replaced, everything else exactly as the API sent it.
    assert result["instances"] == [redacted_copy(instance) for instance in instances]


def redacted_copy(instance):
    """The instance with each launch secret (docker env values, registry password, script) replaced by REDACTED."""
    instance = copy.deepcopy(instance)
    launch = instance.get("launch_configuration") or {}
    docker = launch.get("docker_configuration") or {}
    for env in docker.get("envs") or []:
        env["value"] = REDACTED
    if docker.get("registry_credentials"):
        docker["registry_credentials"]["password"] = REDACTED
    if launch.get("script_configuration"):
        launch["script_configuration"]["base64_script"] = REDACTED
    return instance


def test_instance_info_works_in_check_mode_with_the_example(run_module, sim):
    sim.set_instances(load_fixture("instances-example.json")["instances"])
    result = run_module(instance_info.main, {}, check_mode=True)
    assert [i["name"] for i in result["instances"]] == ["cool-gpu-server"]


def spot_price(entry):
    return float(entry["hourly_price"])


def test_instance_types_sorted_by_price_with_the_filters_sent_to_the_api(run_module, sim):
    result = run_module(instance_types_info.main, {"gpu_type": "A6000", "num_gpus": 1, "available": True})
    assert result["rc"] == 0 and result["changed"] is False
    types = result["instance_types"]
    assert types
    prices = [t["hourly_price"] for t in types]
    assert prices == sorted(prices)
    assert all(t["configuration"]["gpu_type"] == "A6000" and t["configuration"]["num_gpus"] == 1 for t in types)
    # On-demand by default: every entry kept is an available on-demand one, priced from the type's cents.
    for item in types:
        assert item["availability"]
        for entry in item["availability"]:
            assert entry["available"] and entry["rental_type"] == "on_demand"
            assert entry["hourly_price"] == "{0:.2f}".format(item["hourly_price"] / 100.0)
    [request] = [r for r in sim.requests if r["path"].startswith("/v1/instances/types")]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request["path"]).query)
    assert query == {"gpu_type": ["A6000"], "num_gpus": ["1"], "available": ["true"], "sort": ["price"]}


def test_instance_types_spot_cheapest_first_by_the_spot_price(run_module, sim):
    types = run_module(instance_types_info.main, {"available": True, "rental_type": "spot"})["instance_types"]
    assert types
    entries = [entry for item in types for entry in item["availability"]]
    assert entries and all(entry["rental_type"] == "spot" and entry["available"] for entry in entries)
    cheapest = [min(spot_price(entry) for entry in item["availability"]) for item in types]
    assert cheapest == sorted(cheapest)
    # The spot order differs from the on-demand one somewhere, or the test would not tell them apart.
    assert [t["hourly_price"] for t in types] != sorted(t["hourly_price"] for t in types)
    # A type that offers spot lists each region twice in the API; only the spot entries are kept here.
    catalogue = {(t["cloud"], t["shade_instance_type"]): t for t in sim.instance_types}
    raw = catalogue[(types[0]["cloud"], types[0]["shade_instance_type"])]
    assert len(raw["availability"]) > len(types[0]["availability"])


def test_instance_types_max_hourly_price_in_dollars(run_module):
    limit = 1.0
    types = run_module(instance_types_info.main, {"rental_type": "any", "max_hourly_price": limit})["instance_types"]
    assert types
    assert all(float(entry["hourly_price"]) <= limit for item in types for entry in item["availability"])
    everything = run_module(instance_types_info.main, {"rental_type": "any"})["instance_types"]
    assert len(everything) > len(types)
    assert any(float(entry["hourly_price"]) > limit for item in everything for entry in item["availability"])


def test_instance_types_in_a_region_and_cloud(run_module):
    result = run_module(instance_types_info.main, {"cloud": "hyperstack", "region": "canada-1", "available": False})
    types = result["instance_types"]
    assert types
    for item in types:
        assert item["cloud"] == "hyperstack"
        assert [slot["region"] for slot in item["availability"]] == ["canada-1"]
        assert not [slot for slot in item["availability"] if slot["available"]]


def managed(sim):
    return sim.ssh_keys[0]


def test_ssh_key_add_is_idempotent_and_never_assumes_the_default(run_module, sim):
    checked = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A}, check_mode=True, diff=True)
    assert checked["changed"] is True and len(sim.ssh_keys) == 1
    assert checked["diff"] == {"before": {}, "after": {"name": "alice", "public_key": KEY_A, "is_default": False}}

    added = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    assert added["changed"] is True and added["ssh_key"]["id"] and added["ssh_key"]["is_default"] is False
    again = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A.rsplit(" ", 1)[0] + " other-comment"})
    assert again["changed"] is False and again["ssh_key"]["id"] == added["ssh_key"]["id"]

    bob = run_module(ssh_key.main, {"name": "bob", "public_key": KEY_B})
    assert bob["ssh_key"]["is_default"] is False
    made_default = run_module(ssh_key.main, {"name": "bob", "default": True})
    assert made_default["changed"] is True and made_default["ssh_key"]["is_default"] is True
    assert {k["name"]: k["is_default"] for k in sim.ssh_keys} == {"shadeform-managed-key": False, "alice": False, "bob": True}
    assert run_module(ssh_key.main, {"name": "bob", "default": True})["changed"] is False
    assert [r["path"].rsplit("/", 1)[-1] for r in sim.requests if r["method"] == "POST"] == ["add", "add", "setdefault"]


def test_ssh_key_reports_what_the_api_did_when_it_makes_the_first_key_default(run_module, sim):
    sim.set_variants(first_key_default=True)
    added = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    assert added["ssh_key"]["is_default"] is True
    assert not [r for r in sim.requests if r["path"].endswith("/setdefault")]


def test_ssh_key_with_other_material_fails_unless_forced(run_module, sim):
    run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    refused = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_B})
    assert refused["rc"] == 1 and "holds another public key" in refused["msg"] and "force: true" in refused["msg"]
    forced = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_B, "force": True})
    assert forced["changed"] is True
    assert [k["public_key"] for k in sim.ssh_keys][1:] == [KEY_B]


def test_ssh_key_absent_and_missing_public_key(run_module, sim):
    missing = run_module(ssh_key.main, {"name": "carol"})
    assert missing["rc"] == 1 and "public_key is required to add it" in missing["msg"]
    run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    checked = run_module(ssh_key.main, {"name": "alice", "state": "absent"}, check_mode=True)
    assert checked["changed"] is True and len(sim.ssh_keys) == 2
    removed = run_module(ssh_key.main, {"name": "alice", "state": "absent"})
    assert removed["changed"] is True and [k["name"] for k in sim.ssh_keys] == ["shadeform-managed-key"]
    assert run_module(ssh_key.main, {"name": "alice", "state": "absent"})["changed"] is False


def launch_with_key(sim, key_id):
    from shadeform_simulator import filter_instance_types  # pylint: disable=import-outside-toplevel

    item = filter_instance_types(sim.instance_types, "available=true&sort=price")[0]
    region = next(e["region"] for e in item["availability"] if e["rental_type"] == "on_demand")
    return {"cloud": item["cloud"], "region": region, "shade_instance_type": item["shade_instance_type"], "shade_cloud": True,
            "name": "uses-key", "ssh_key_id": key_id}


def post_paths(sim):
    return [r["path"] for r in sim.requests if r["method"] == "POST"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_ssh_key_refuses_to_delete_managed_default_and_used_keys_before_calling(run_module, sim, check_mode):
    sim.set_variants(key_delete_refusal=409, error_body="error")
    run_module(ssh_key.main, {"name": "default-key", "public_key": KEY_A, "default": True})
    used = run_module(ssh_key.main, {"name": "used-key", "public_key": KEY_B})["ssh_key"]
    sim.clear_requests()
    import json  # pylint: disable=import-outside-toplevel
    import urllib.request  # pylint: disable=import-outside-toplevel
    from helpers import API_KEY  # pylint: disable=import-outside-toplevel
    request = urllib.request.Request(sim.url + "/instances/create", data=json.dumps(launch_with_key(sim, used["id"])).encode(),
                                     headers={"X-API-KEY": API_KEY, "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()  # nosec - loopback only
    for name, reason in (("shadeform-managed-key", "it is the Shadeform-managed key"),
                         ("default-key", "it is the workspace's default key"),
                         ("used-key", "instances use it")):
        result = run_module(ssh_key.main, {"name": name, "state": "absent"}, check_mode=check_mode)
        assert result["rc"] == 1 and "cannot be deleted: " + reason in result["msg"], result
        assert "PRIVATE KEY" not in result["stdout"]
    forced = run_module(ssh_key.main, {"name": "used-key", "public_key": KEY_A.replace("AAAA alice", "BBBB alice"), "force": True},
                        check_mode=check_mode)
    assert forced["rc"] == 1 and "cannot be replaced: instances use it" in forced["msg"]
    assert [p for p in post_paths(sim) if p.endswith("/delete")] == []
    assert len(sim.ssh_keys) == 3


def test_ssh_key_never_returns_the_private_key_and_saves_it_to_a_private_file(run_module, sim, tmp_path):
    listed = run_module(ssh_key.main, {"name": "shadeform-managed-key"})
    assert listed["rc"] == 0 and listed["changed"] is False
    assert "private_key" not in listed["ssh_key"] and "PRIVATE KEY" not in listed["stdout"]
    target = tmp_path / "managed_key"
    checked = run_module(ssh_key.main, {"private_key_path": str(target)}, check_mode=True)
    assert checked["changed"] is True and not target.exists()
    saved = run_module(ssh_key.main, {"private_key_path": str(target)})
    assert saved["rc"] == 0 and saved["changed"] is True, saved
    assert "PRIVATE KEY" not in saved["stdout"] and "SIMULATED-SECRET" not in saved["stdout"]
    assert target.read_text() == managed(sim)["private_key"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["managed_key"]  # no temporary file left behind
    assert run_module(ssh_key.main, {"private_key_path": str(target)})["changed"] is False
    target.chmod(0o644)
    assert run_module(ssh_key.main, {"private_key_path": str(target)})["changed"] is True
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    wrong = run_module(ssh_key.main, {"name": "someone-else", "private_key_path": str(target)})
    assert wrong["rc"] == 1 and "is not the Shadeform-managed key" in wrong["msg"]


def test_ssh_key_file_is_created_private_whatever_the_umask(run_module, sim, tmp_path, monkeypatch):
    import os  # pylint: disable=import-outside-toplevel

    modes = []
    real_open = os.open

    def watching_open(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT:
            modes.append(mode)
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", watching_open)
    previous = os.umask(0)
    try:
        result = run_module(ssh_key.main, {"private_key_path": str(tmp_path / "key")})
    finally:
        os.umask(previous)
    assert result["changed"] is True
    assert modes and all(mode & 0o077 == 0 for mode in modes)


def test_uploaded_keys_with_an_empty_private_key_are_not_taken_for_the_managed_one(run_module, sim, tmp_path):
    sim.set_variants(uploaded_private_key="empty")
    run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    assert [k.get("private_key") for k in sim.ssh_keys][1:] == [""]
    saved = run_module(ssh_key.main, {"private_key_path": str(tmp_path / "key")})
    assert saved["rc"] == 0 and saved["ssh_key"]["name"] == "shadeform-managed-key"
    removed = run_module(ssh_key.main, {"name": "alice", "state": "absent"})
    assert removed["rc"] == 0 and removed["changed"] is True
