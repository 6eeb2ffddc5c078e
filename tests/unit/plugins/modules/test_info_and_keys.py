# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""instance_info, instance_types_info and ssh_key against the simulator."""

import copy
import urllib.parse

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


def test_instance_types_sorted_by_price_with_the_filters_sent_to_the_api(run_module, sim):
    result = run_module(instance_types_info.main, {"gpu_type": "A6000", "num_gpus": 1, "available": True})
    assert result["rc"] == 0 and result["changed"] is False
    types = result["instance_types"]
    assert types
    prices = [t["hourly_price"] for t in types]
    assert prices == sorted(prices)
    assert all(t["configuration"]["gpu_type"] == "A6000" and t["configuration"]["num_gpus"] == 1 for t in types)
    assert all(any(slot["available"] for slot in t["availability"]) for t in types)
    [request] = [r for r in sim.requests if r["path"].startswith("/v1/instances/types")]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request["path"]).query)
    assert query == {"gpu_type": ["A6000"], "num_gpus": ["1"], "available": ["true"], "sort": ["price"]}


def test_instance_types_in_a_region_and_cloud(run_module):
    result = run_module(instance_types_info.main, {"cloud": "hyperstack", "region": "canada-1", "available": False})
    types = result["instance_types"]
    assert types
    for item in types:
        assert item["cloud"] == "hyperstack"
        assert not [slot for slot in item["availability"] if slot["region"] == "canada-1" and slot["available"]]


def test_ssh_key_add_is_idempotent_and_sets_the_default(run_module, sim):
    checked = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A}, check_mode=True, diff=True)
    assert checked["changed"] is True and sim.ssh_keys == []
    assert checked["diff"] == {"before": {}, "after": {"name": "alice", "public_key": KEY_A, "is_default": False}}

    added = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    assert added["changed"] is True and added["ssh_key"]["id"] and added["ssh_key"]["is_default"] is True  # the first key
    again = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A.rsplit(" ", 1)[0] + " other-comment"})
    assert again["changed"] is False and again["ssh_key"]["id"] == added["ssh_key"]["id"]

    bob = run_module(ssh_key.main, {"name": "bob", "public_key": KEY_B})
    assert bob["ssh_key"]["is_default"] is False
    made_default = run_module(ssh_key.main, {"name": "bob", "default": True})
    assert made_default["changed"] is True and made_default["ssh_key"]["is_default"] is True
    assert {k["name"]: k["is_default"] for k in sim.ssh_keys} == {"alice": False, "bob": True}
    assert run_module(ssh_key.main, {"name": "bob", "default": True})["changed"] is False


def test_ssh_key_with_other_material_fails_unless_forced(run_module, sim):
    run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    refused = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_B})
    assert refused["rc"] == 1 and "holds another public key" in refused["msg"] and "force: true" in refused["msg"]
    forced = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_B, "force": True})
    assert forced["changed"] is True
    assert [k["public_key"] for k in sim.ssh_keys] == [KEY_B]


def test_ssh_key_absent_and_missing_public_key(run_module, sim):
    missing = run_module(ssh_key.main, {"name": "carol"})
    assert missing["rc"] == 1 and "public_key is required to add it" in missing["msg"]
    run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    checked = run_module(ssh_key.main, {"name": "alice", "state": "absent"}, check_mode=True)
    assert checked["changed"] is True and len(sim.ssh_keys) == 1
    removed = run_module(ssh_key.main, {"name": "alice", "state": "absent"})
    assert removed["changed"] is True and sim.ssh_keys == []
    assert run_module(ssh_key.main, {"name": "alice", "state": "absent"})["changed"] is False
