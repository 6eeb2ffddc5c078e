# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/offers.py: offers priced in dollars as hourly_price_usd, filtered on os and deployment type."""

import pytest

from ansible_collections.shadeform.cloud.plugins.module_utils.offers import offers

TYPES = [
    dict(cloud="lambdalabs", shade_instance_type="H100", hourly_price=249, deployment_type="vm",
         configuration=dict(gpu_type="H100", num_gpus=1, os_options=["ubuntu22.04_cuda12.2_shade_os"]),
         availability=[dict(region="us-east-1", available=True, rental_type="on_demand"),
                       dict(region="us-east-1", available=True, rental_type="spot", hourly_price="1.10")]),
    dict(cloud="massedcompute", shade_instance_type="H100", hourly_price=230, deployment_type="container",
         configuration=dict(gpu_type="H100", num_gpus=1, os_options=["ubuntu24.04_cuda12.4"]),
         availability=[dict(region="us-central-1", available=True, rental_type="on_demand")]),
    dict(cloud="crusoe", shade_instance_type="H100", hourly_price=260, deployment_type="baremetal",
         configuration=dict(gpu_type="H100", num_gpus=1),  # no os_options: no OS can be asked of it
         availability=[dict(region="us-east-1", available=True, rental_type="on_demand")]),
]


def test_offers_give_dollars_as_hourly_price_usd_cheapest_first():
    found, why_empty = offers(TYPES)
    assert why_empty is None
    assert [(o["cloud"], o["hourly_price_usd"]) for o in found] == [("massedcompute", 2.3), ("lambdalabs", 2.49), ("crusoe", 2.6)]
    assert all("hourly_price" not in o for o in found)
    spot = offers(TYPES, rental_type="spot")[0]
    assert [(o["cloud"], o["hourly_price_usd"]) for o in spot] == [("lambdalabs", 1.1)]


@pytest.mark.parametrize("kwargs, clouds, why_empty", [
    (dict(os_name="ubuntu22.04_cuda12.2_shade_os"), ["lambdalabs"], None),
    (dict(os_name="ubuntu24.04_cuda12.4"), ["massedcompute"], None),
    (dict(os_name="windows"), [], "os windows"),
    (dict(deployment_types=["vm", "baremetal"]), ["lambdalabs", "crusoe"], None),
    (dict(deployment_types=["container"], os_name="ubuntu22.04_cuda12.2_shade_os"), [], "deployment_types container"),
])
def test_offers_filter_on_os_and_deployment_type(kwargs, clouds, why_empty):
    found, why = offers(TYPES, **kwargs)
    assert [o["cloud"] for o in found] == clouds and why == why_empty
