# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cluster_data: what the cluster modules and the inventory read from a cluster, as plain functions over plain dicts."""

import pytest

from ansible_collections.shadeform.cloud.plugins.module_utils import cluster_data

MEMBER = dict(status="active", ip="192.0.2.1", ssh_user="shadeform", ssh_port=22)
# A cluster type as GET /clusters/types gives it: one availability object, the members' instance type (cents per member).
H100_PAIR = dict(cloud="denvr", num_instances=2, availability=dict(region="houston-usa-1", available=True),
                 cluster_type=dict(shade_instance_type="H100_sxm5x8", hourly_price=1400, configuration=dict(gpu_type="H100")))


def test_readiness_needs_every_member_active_with_an_address_the_ssh_parser_accepts():
    assert cluster_data.is_cluster_ready(dict(status="active", instances=[MEMBER, dict(MEMBER, ip="192.0.2.2")]))
    assert not cluster_data.is_cluster_ready(dict(status="active", instances=[MEMBER, dict(MEMBER, ip="-oProxyCommand=x")]))
    assert not cluster_data.is_cluster_ready(dict(status="active", instances=[MEMBER, dict(MEMBER, status="pending")]))
    assert not cluster_data.is_cluster_ready(dict(status="active", instances=[]))
    assert not cluster_data.is_cluster_ready(dict(status="creating", instances=[MEMBER]))
    assert cluster_data.failed_part(dict(status="active", instances=[MEMBER, dict(MEMBER, status="error", id="m2")]))["id"] == "m2"
    assert cluster_data.failed_part(dict(status="active", instances=[MEMBER])) is None


@pytest.mark.parametrize("text, dollars", [("$1,015.50", 1015.5), ("$15.00", 15.0), ("15", 15.0), ("soon", None),
                                           ("$-1", None), (None, None), (15, None), ("$nan", None)])
def test_the_cost_estimate_with_its_dollar_sign_is_read_as_dollars(text, dollars):
    assert cluster_data.cost_estimate_usd({"cost_estimate": text}) == dollars


def test_a_cluster_type_costs_its_members_price_times_their_number():
    assert cluster_data.cluster_type_price_usd(H100_PAIR) == 28.0
    assert cluster_data.cluster_type_price_usd(dict(H100_PAIR, num_instances=0)) is None
    assert cluster_data.cluster_type_price_usd(dict(H100_PAIR, num_instances=True)) is None
    assert cluster_data.cluster_type_price_usd(dict(H100_PAIR, cluster_type="H100_sxm5x8")) is None


def test_cluster_type_filters_compare_names_whatever_their_case_and_the_price_in_dollars():
    assert cluster_data.cluster_type_matches(H100_PAIR, cloud="DENVR", region_name="Houston-USA-1", gpu_type="h100",
                                             num_instances=2, available=True, max_hourly_price=28.0)
    assert not cluster_data.cluster_type_matches(H100_PAIR, max_hourly_price=27.99)
    assert not cluster_data.cluster_type_matches(H100_PAIR, num_instances=4)
    assert not cluster_data.cluster_type_matches(H100_PAIR, available=False)
    assert not cluster_data.cluster_type_matches(dict(H100_PAIR, availability=None), region_name="houston-usa-1")
    assert cluster_data.cluster_is_in(dict(cloud="denvr", region_info=dict(region="houston-usa-1")), "Denvr", "HOUSTON-USA-1")
    assert not cluster_data.cluster_is_in(dict(cloud="denvr", region_info=None), region_name="houston-usa-1")
