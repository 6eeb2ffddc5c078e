# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""instance_info against the simulator: the filters, redaction, prices in both units."""

import copy

from ansible_collections.shadeform.cloud.plugins.modules import instance_info
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import REDACTED

from helpers import load_fixture


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
    # Every secret replaced, everything else exactly as the API sent it (and the price in dollars added beside it).
    assert [dict((k, v) for k, v in item.items() if k != "hourly_price_usd") for item in result["instances"]] == [
        redacted_copy(instance) for instance in instances]


def test_instance_info_keeps_the_api_cents_and_adds_dollars_the_spot_rate_for_spot(run_module, sim):
    on_demand, spot = fleet()[:2]
    on_demand = dict(on_demand, id="on-demand", hourly_price=182, rental_terms={"rental_type": "on_demand", "hourly_price": "1.82"})
    spot = dict(spot, id="spot", hourly_price=182, rental_terms={"rental_type": "spot", "hourly_price": "0.61", "ending_at": None})
    sim.set_instances([on_demand, spot])
    shown = dict((item["id"], item) for item in run_module(instance_info.main, {})["instances"])
    assert shown["on-demand"]["hourly_price"] == 182 and shown["on-demand"]["hourly_price_usd"] == 1.82
    # A spot instance costs its rental terms' rate, not the top-level (on-demand) cents.
    assert shown["spot"]["hourly_price"] == 182 and shown["spot"]["hourly_price_usd"] == 0.61


def four_instances():
    """Two on lambdalabs, two elsewhere; two H100 (the API's spelling), an A100 and an A6000."""
    instances = copy.deepcopy(fleet()[:4])
    for instance, cloud, gpu_type in zip(instances, ("lambdalabs", "lambdalabs", "hyperstack", "datacrunch"),
                                         ("H100", "A100", "H100", "A6000")):
        instance["cloud"] = cloud
        instance["configuration"]["gpu_type"] = gpu_type
    return instances


def test_instance_info_refuses_a_status_the_api_never_gives_naming_the_closest(run_module, sim, warned):
    sim.set_instances(four_instances())
    result = run_module(instance_info.main, {"statuses": ["runing"]})
    assert result["rc"] == 1 and result["failed"] is True and "instances" not in result
    assert result["msg"] == ("statuses holds a value that the Shadeform API never gives ('runing': did you mean 'active'?). "
                             "The statuses are: creating, pending_provider, pending, active, error, deleting.")
    assert not warned and sim.requests == []  # refused before asking the API anything


def test_instance_info_compares_clouds_and_gpu_types_whatever_the_case(run_module, sim, warned):
    instances = four_instances()
    sim.set_instances(instances)

    def ids(args):
        result = run_module(instance_info.main, args)
        assert result["rc"] == 0, result
        return [item["id"] for item in result["instances"]]

    assert ids({"clouds": ["LambdaLabs"]}) == [instances[0]["id"], instances[1]["id"]]
    assert ids({"gpu_types": ["h100"]}) == [instances[0]["id"], instances[2]["id"]]
    assert ids({"clouds": ["LAMBDALABS"], "gpu_types": ["h100", "a6000"]}) == [instances[0]["id"]]
    assert not warned


def test_instance_info_warns_once_about_a_filter_value_matching_no_instance(run_module, sim, warned):
    instances = four_instances()
    sim.set_instances(instances)
    result = run_module(instance_info.main, {"gpu_types": ["h100", "B300"]})
    assert result["rc"] == 0 and [item["id"] for item in result["instances"]] == [instances[0]["id"], instances[2]["id"]]
    assert warned == ["gpu_types: 'B300' matches no Shadeform instance; the instances have 'A100', 'A6000', 'H100'."]


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
