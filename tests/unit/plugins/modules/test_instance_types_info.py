# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""instance_types_info against the simulator: prices in the API's units and in dollars, the os and deployment filters.

(Sorting and the API-side filters are tested in test_info_and_keys.py.)
"""

import pytest

from ansible_collections.shadeform.cloud.plugins.modules.instance_types_info import main

from helpers import API_KEY

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


@pytest.fixture
def sim():
    """Overrides the modules' simulator (run_module uses it): the two types above."""
    from shadeform_simulator import Simulator  # pylint: disable=import-outside-toplevel

    with Simulator(api_key=API_KEY, instance_types=CATALOGUE) as simulator:
        yield simulator


def test_prices_keep_the_apis_units_and_add_dollars_as_usd(run_module):
    result = run_module(main, dict(rental_type="any", available=True))
    assert result["rc"] == 0, result
    by_cloud = dict((t["cloud"], t) for t in result["instance_types"])
    lambdalabs = by_cloud["lambdalabs"]
    assert (lambdalabs["hourly_price"], lambdalabs["hourly_price_usd"]) == (82, 0.82)  # cents, as the API gives it; dollars
    assert [(e["rental_type"], e["hourly_price"], e["hourly_price_usd"]) for e in lambdalabs["availability"]] == [
        ("on_demand", "0.82", 0.82), ("spot", "0.41", 0.41)]


def test_max_hourly_price_usd_is_dollars(run_module):
    cheap = run_module(main, dict(rental_type="any", max_hourly_price_usd=0.5))
    assert cheap["rc"] == 0, cheap
    assert [(t["cloud"], [e["rental_type"] for e in t["availability"]]) for t in cheap["instance_types"]] == [("lambdalabs", ["spot"])]


@pytest.mark.parametrize("args, clouds", [
    (dict(os="ubuntu24.04_cuda12.4"), ["massedcompute"]),
    (dict(os="ubuntu22.04_cuda12.2_shade_os"), ["lambdalabs"]),
    (dict(os="windows"), []),
    (dict(deployment_types=["vm"]), ["lambdalabs"]),
    (dict(deployment_types=["container", "baremetal"]), ["massedcompute"]),
    (dict(deployment_types=["vm"], os="ubuntu24.04_cuda12.4"), []),
])
def test_os_and_deployment_types_filter_the_types(run_module, args, clouds):
    result = run_module(main, args)
    assert result["rc"] == 0, result
    assert sorted(t["cloud"] for t in result["instance_types"]) == clouds


def test_an_unknown_deployment_type_is_one_clear_error(run_module, sim):
    result = run_module(main, dict(deployment_types=["kubernetes"]))
    assert result["rc"] == 1 and "deployment_types" in result["msg"] and "vm" in result["msg"], result
    assert sim.requests == []
