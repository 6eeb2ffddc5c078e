# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cluster_info against the simulator."""

import pytest

from ansible_collections.shadeform.cloud.plugins.modules import cluster, cluster_info


def whole_price(cluster_type):
    return cluster_type["cluster_type"]["hourly_price"] * cluster_type["num_instances"] / 100


def test_cluster_types_come_cheapest_first_with_the_whole_clusters_price(run_module, sim):
    found = run_module(cluster_info.main, {})
    assert found["rc"] == 0 and found["clusters"] == []
    types = found["cluster_types"]
    assert len(types) == len(sim.cluster_types)
    prices = [t["hourly_price_usd"] for t in types]
    assert prices == sorted(prices) and prices != [whole_price(t) for t in sim.cluster_types]  # the API's order is not by price
    assert all(t["hourly_price_usd"] == pytest.approx(whole_price(t)) for t in types)
    assert all(isinstance(t["availability"], dict) for t in types)


@pytest.mark.parametrize("options", [
    {"gpu_type": "h100"},
    {"num_instances": 4},
    {"available": True},
    {"available": False, "cloud": "Crusoe"},
    {"cluster_type": "A100_80Gx8", "region": "US-EAST-1"},
    {"max_hourly_price": 60.0},
])
def test_cluster_type_filters(run_module, sim, options):
    def passes(t):
        member = t["cluster_type"]
        return all((
            options.get("gpu_type", "").lower() in ("", member["configuration"]["gpu_type"].lower()),
            options.get("num_instances", t["num_instances"]) == t["num_instances"],
            options.get("available", t["availability"]["available"]) == t["availability"]["available"],
            options.get("cloud", t["cloud"]).lower() == t["cloud"],
            options.get("region", t["availability"]["region"]).lower() == t["availability"]["region"].lower(),
            options.get("cluster_type", member["shade_instance_type"]) == member["shade_instance_type"],
            whole_price(t) <= options.get("max_hourly_price", float("inf")),
        ))
    expected = sorted((t["cloud"], t["availability"]["region"], t["num_instances"], t["cluster_type"]["shade_instance_type"])
                      for t in sim.cluster_types if passes(t))
    found = run_module(cluster_info.main, options)["cluster_types"]
    assert expected and sorted((t["cloud"], t["availability"]["region"], t["num_instances"], t["cluster_type"]["shade_instance_type"])
                               for t in found) == expected


def test_the_workspaces_clusters_with_their_members_filtered_by_name_and_place(run_module, sim):
    offer = next(t for t in sim.cluster_types if t["availability"]["available"])
    options = dict(cloud=offer["cloud"], region=offer["availability"]["region"], num_instances=offer["num_instances"],
                   cluster_type=offer["cluster_type"]["shade_instance_type"], wait=False)
    for name in ("a", "b"):
        assert run_module(cluster.main, dict(options, name=name))["rc"] == 0
    everything = run_module(cluster_info.main, {})["clusters"]
    assert [c["name"] for c in everything] == ["a", "b"]
    assert all(len(c["instances"]) == offer["num_instances"] and "hourly_price_usd" in c["instances"][0] for c in everything)
    assert [c["name"] for c in run_module(cluster_info.main, {"name": "b"})["clusters"]] == ["b"]
    assert [c["name"] for c in run_module(cluster_info.main, {"cloud": offer["cloud"].upper()})["clusters"]] == ["a", "b"]
    assert run_module(cluster_info.main, {"region": "nowhere-1"})["clusters"] == []
