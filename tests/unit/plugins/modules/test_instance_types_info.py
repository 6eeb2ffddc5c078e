# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""instance_types_info against the simulator: sorting, the filters sent to the API, prices in the API's units and in dollars,
the os and deployment filters."""

import urllib.parse

import pytest

from ansible_collections.shadeform.cloud.plugins.modules import instance_types_info


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


CONFIGURATION = dict(vcpus=8, memory_in_gb=64, storage_in_gb=512, num_gpus=1, gpu_type="A6000", interconnect="pcie",
                     vram_per_gpu_in_gb=48, gpu_manufacturer="nvidia")
CATALOGUE = [
    dict(cloud="lambdalabs", shade_instance_type="A6000", cloud_instance_type="gpu_1x_a6000", hourly_price=82, deployment_type="vm",
         configuration=dict(CONFIGURATION, os_options=["ubuntu22.04_cuda12.2_shade_os"]),
         availability=[dict(region="us-east-1", available=True, display_name="US, Virginia", rental_type="on_demand"),
                       dict(region="us-east-1", available=True, display_name="US, Virginia", rental_type="spot", hourly_price="0.41")]),
    dict(cloud="massedcompute", shade_instance_type="A6000", cloud_instance_type="a6000-container", hourly_price=75,
         deployment_type="container", configuration=dict(CONFIGURATION, os_options=["ubuntu24.04_cuda12.4"]),
         availability=[dict(region="us-central-1", available=True, display_name="US, Kansas City, MO", rental_type="on_demand")]),
]


# The tests below run on this catalogue (the sim fixture of conftest.py takes it as its parameter).
CATALOGUE_ONLY = pytest.mark.parametrize("sim", [CATALOGUE], indirect=True)


@CATALOGUE_ONLY
def test_prices_keep_the_apis_units_and_add_dollars_as_usd(run_module):
    result = run_module(instance_types_info.main, dict(rental_type="any", available=True))
    assert result["rc"] == 0, result
    by_cloud = dict((t["cloud"], t) for t in result["instance_types"])
    lambdalabs = by_cloud["lambdalabs"]
    assert (lambdalabs["hourly_price"], lambdalabs["hourly_price_usd"]) == (82, 0.82)  # cents, as the API gives it; dollars
    assert [(e["rental_type"], e["hourly_price"], e["hourly_price_usd"]) for e in lambdalabs["availability"]] == [
        ("on_demand", "0.82", 0.82), ("spot", "0.41", 0.41)]


@CATALOGUE_ONLY
def test_max_hourly_price_usd_is_dollars(run_module):
    cheap = run_module(instance_types_info.main, dict(rental_type="any", max_hourly_price_usd=0.5))
    assert cheap["rc"] == 0, cheap
    assert [(t["cloud"], [e["rental_type"] for e in t["availability"]]) for t in cheap["instance_types"]] == [("lambdalabs", ["spot"])]


@CATALOGUE_ONLY
@pytest.mark.parametrize("args, clouds", [
    (dict(os="ubuntu24.04_cuda12.4"), ["massedcompute"]),
    (dict(os="ubuntu22.04_cuda12.2_shade_os"), ["lambdalabs"]),
    (dict(os="windows"), []),
    (dict(deployment_types=["vm"]), ["lambdalabs"]),
    (dict(deployment_types=["container", "baremetal"]), ["massedcompute"]),
    (dict(deployment_types=["vm"], os="ubuntu24.04_cuda12.4"), []),
])
def test_os_and_deployment_types_filter_the_types(run_module, args, clouds):
    result = run_module(instance_types_info.main, args)
    assert result["rc"] == 0, result
    assert sorted(t["cloud"] for t in result["instance_types"]) == clouds


@CATALOGUE_ONLY
def test_an_unknown_deployment_type_is_one_clear_error(run_module, sim):
    result = run_module(instance_types_info.main, dict(deployment_types=["kubernetes"]))
    assert result["rc"] == 1 and "deployment_types" in result["msg"] and "vm" in result["msg"], result
    assert sim.requests == []
