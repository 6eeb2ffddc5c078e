# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: cluster_info
short_description: List Shadeform clusters and the cluster types on offer, cheapest first
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Lists the clusters of a Shadeform workspace (C(GET /clusters)), each with its members, and the cluster types
    Shadeform offers (C(GET /clusters/types)), cheapest first, so that a play can pick one for M(shadeform.cloud.cluster).
  - A cluster type is one cloud, one region (its C(availability) is one object, not a list as for an instance type),
    a number of machines (C(num_instances)) and the machines' instance type (C(cluster_type)). Its price per hour,
    RV(cluster_types[].hourly_price_usd), is the machines' C(cluster_type.hourly_price) (cents per machine, as for any
    instance type) times C(num_instances), in dollars.
  - O(cloud) and O(region) filter both lists; the other filters apply to the cluster types. Clouds, regions and GPU types
    compare whatever their case.
  - Members' launch secrets are replaced by C(<redacted>).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - shadeform.cloud.api
  - shadeform.cloud.wait.ignored
  - shadeform.cloud.attributes.info_module
options:
  id:
    description: Keep only the cluster with this id.
    type: str
  name:
    description: Keep only the clusters with this name (Shadeform names need not be unique).
    type: str
  cloud:
    description: Keep only the clusters and cluster types of this cloud.
    type: str
  region:
    description: Keep only the clusters and cluster types of this region.
    type: str
  gpu_type:
    description: Keep only the cluster types whose machines have this GPU, for example V(H100).
    type: str
  cluster_type:
    description: Keep only the cluster types of these machines (their C(cluster_type.shade_instance_type)), for example V(H100_sxm5x8).
    type: str
  num_instances:
    description: Keep only the cluster types of this many machines.
    type: int
  available:
    description: V(true) keeps only the cluster types available now, V(false) only those that are not; not set, both.
    type: bool
  max_hourly_price:
    description: In dollars per hour for the whole cluster (not the API's cents). Keep only the cluster types that cost at most this much.
    type: float
seealso:
  - module: shadeform.cloud.cluster
"""

EXAMPLES = r"""
- name: List the clusters of the workspace and the H100 cluster types available now, cheapest first
  shadeform.cloud.cluster_info:
    gpu_type: H100
    available: true
  register: found

- name: Show the cheapest offer and the clusters that exist
  ansible.builtin.debug:
    msg:
      - "{{ found.cluster_types | first | default('no H100 cluster available') }}"
      - "{{ found.clusters | map(attribute='name') | list }}"
"""

RETURN = r"""
clusters:
  description:
    - The workspace's clusters that pass O(id), O(name), O(cloud) and O(region), in the API's order.
    - Each keeps the API's fields with the API's names and units (C(hourly_price) in cents per hour, C(cost_estimate) as
      written with a dollar sign) and adds C(hourly_price_usd) and C(cost_estimate_usd) (dollars, floats); each member
      under C(instances) is shown as M(shadeform.cloud.instance_info) shows an instance.
  returned: success
  type: list
  elements: dict
  sample:
    - id: 8eda86fe-0f36-41ed-9837-0ccf8f6e0fcb
      name: trainers
      cloud: denvr
      region_info: {region: houston-usa-1, display_name: "US, Houston, TX"}
      status: active
      hourly_price: 2800
      hourly_price_usd: 28.0
      cost_estimate: "$15.00"
      cost_estimate_usd: 15.0
      instances: [{id: d290f1ee-6c54-4b01-90e6-d701748f0851, name: trainers-0, status: active, ip: 192.0.2.10}]
cluster_types:
  description:
    - The cluster types that pass the filters, cheapest first (those without a known price last), as the API gives them,
      plus C(hourly_price_usd), the whole cluster's price in dollars per hour (a float, null when the API gives no price).
  returned: success
  type: list
  elements: dict
  sample:
    - cloud: denvr
      num_instances: 2
      availability: {region: houston-usa-1, display_name: "US, Houston, TX", available: true}
      cluster_type: {cloud: denvr, shade_instance_type: H100_sxm5x8, hourly_price: 1400, configuration: {num_gpus: 8, gpu_type: H100}}
      hourly_price_usd: 28.0
  contains:
    cloud:
      description: The cloud of the cluster type.
      type: str
      returned: success
    num_instances:
      description: How many machines a cluster of this type has.
      type: int
      returned: success
    availability:
      description: The one region of the cluster type, C(region), C(display_name) and C(available) (a boolean).
      type: dict
      returned: success
    cluster_type:
      description:
        - The machines' instance type, as M(shadeform.cloud.instance_types_info) shows one (without C(availability));
          its C(shade_instance_type) is the O(shadeform.cloud.cluster#module:cluster_type) of M(shadeform.cloud.cluster),
          its C(hourly_price) the API's cents per machine and hour.
      type: dict
      returned: success
    hourly_price_usd:
      description: The whole cluster's price in dollars per hour (a float); null when the API gives no price.
      type: float
      returned: success
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.common import Task, api_argument_spec, has_the_given, run_module, wait_argument_spec
from ansible_collections.shadeform.cloud.plugins.module_utils.cluster_data import (
    cluster_is_in, cluster_result, cluster_type_matches, cluster_type_price_usd)


def argument_spec():
    spec = api_argument_spec()
    spec.update(wait_argument_spec())
    spec.update(
        id=dict(type="str"),
        name=dict(type="str"),
        cloud=dict(type="str"),
        region=dict(type="str"),
        gpu_type=dict(type="str"),
        cluster_type=dict(type="str"),
        num_instances=dict(type="int"),
        available=dict(type="bool"),
        max_hourly_price=dict(type="float"),
    )
    return spec


def _cheapest(cluster_type):
    price = cluster_type["hourly_price_usd"]
    return (0, price) if price is not None else (1, 0)  # types without a price go last


def run(module, client, result):
    task = Task(module, client, result)
    params = module.params
    place = dict(cloud=params["cloud"], region_name=params["region"])
    result["clusters"] = [cluster_result(cluster, task.instance_result) for cluster in client.list_clusters()
                          if has_the_given(cluster, params, ("id", "name")) and cluster_is_in(cluster, **place)]
    selected = [dict(cluster_type, hourly_price_usd=cluster_type_price_usd(cluster_type)) for cluster_type in client.list_cluster_types()
                if cluster_type_matches(cluster_type, gpu_type=params["gpu_type"], shade_instance_type=params["cluster_type"],
                                        num_instances=params["num_instances"], available=params["available"],
                                        max_hourly_price=params["max_hourly_price"], **place)]
    # Cheapest first by the whole cluster's price; ties keep the API's order (sort is stable).
    selected.sort(key=_cheapest)
    result["cluster_types"] = selected


def main():
    run_module(argument_spec(), run)


if __name__ == "__main__":
    main()
