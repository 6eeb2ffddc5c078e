# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: instance_types_info
short_description: List the Shadeform instance types, cheapest first
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Lists the instance types Shadeform offers (C(GET /instances/types)), filtered, sorted by hourly price, cheapest
    first, so that a play can pick the cheapest available type for a GPU.
  - Each type tells in which regions of its cloud it is offered (C(availability)), one entry per region and rental type;
    a type that offers spot lists a region twice, and the two entries can differ in availability. The module keeps the
    entries of the O(rental_type) asked for (on-demand by default), gives each its price in dollars, and drops the types
    left without an entry. The types are sorted cheapest first by the price of those entries.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - shadeform.cloud.api
  - shadeform.cloud.wait.ignored
  - shadeform.cloud.attributes.info_module
options:
  cloud:
    description: Only types of this cloud, for example V(hyperstack).
    type: str
  region:
    description: Only types offered in this region.
    type: str
  gpu_type:
    description: Only types with this GPU, for example V(A6000) or V(H100).
    type: str
  num_gpus:
    description: Only types with this many GPUs.
    type: int
  shade_instance_type:
    description: Only this Shadeform instance type, for example V(H100x8).
    type: str
  available:
    description:
      - V(true) keeps only the entries available now (in O(region) when it is given); V(false) only those that are not.
        Not set, the availability does not matter.
    type: bool
  rental_type:
    description:
      - Keep the availability entries of this rental type. V(spot) instances are cheaper but can be reclaimed at any
        time; V(any) keeps both.
    type: str
    choices: [on_demand, spot, any]
    default: on_demand
  max_hourly_price:
    description:
      - In dollars per hour (not the API's cents). Keep only the entries that cost at most this much, for example V(1.5).
    type: float
    aliases: [max_hourly_price_usd]
  os:
    description:
      - Keep only the types that offer this operating system image (one of their C(configuration.os_options)), for
        example V(ubuntu22.04_cuda12.2_shade_os).
    type: str
  deployment_types:
    description:
      - Keep only the types deployed this way (their C(deployment_type)), for example V([vm]). All kinds when not given.
    type: list
    elements: str
    choices: [vm, container, baremetal]
seealso:
  - module: shadeform.cloud.instance
"""

EXAMPLES = r"""
- name: Find the cheapest available single A6000
  shadeform.cloud.instance_types_info:
    gpu_type: A6000
    num_gpus: 1
    available: true
  register: types

- name: Launch it where it is available
  vars:
    cheapest: "{{ types.instance_types | first }}"
  shadeform.cloud.instance:
    name: notebook-01
    cloud: "{{ cheapest.cloud }}"
    shade_instance_type: "{{ cheapest.shade_instance_type }}"
    region: "{{ cheapest.availability[0].region }}"

- name: Find spot H100s at 2 dollars an hour or less
  shadeform.cloud.instance_types_info:
    gpu_type: H100
    available: true
    rental_type: spot
    max_hourly_price: 2.0
  register: spot_types
"""

RETURN = r"""
instance_types:
  description: The instance types with at least one entry that passes the filters, cheapest first.
  returned: success
  type: list
  elements: dict
  contains:
    cloud:
      description: The cloud offering the type.
      type: str
      returned: always
    shade_instance_type:
      description: Shadeform's name of the type, for the O(shadeform.cloud.instance#module:shade_instance_type) option.
      type: str
      returned: always
    cloud_instance_type:
      description: The cloud's name of the type.
      type: str
      returned: always
    configuration:
      description: GPUs, memory, storage, vCPUs and the operating systems on offer (C(os_options)).
      type: dict
      returned: always
    hourly_price:
      description: On-demand price in cents per hour, as the API gives it.
      type: int
      returned: always
    hourly_price_usd:
      description: The same on-demand price in dollars per hour (a float); null when the API gives no price.
      type: float
      returned: always
    deployment_type:
      description: How the type is deployed, V(vm), V(container) or V(baremetal).
      type: str
      returned: when the API gives it
    availability:
      description:
        - The entries that pass the filters, each with C(region), C(available) (a boolean), C(display_name),
          C(rental_type), C(hourly_price) (dollars per hour for that rental type, a decimal in a string, as the API gives
          it on spot entries) and C(hourly_price_usd) (the same dollars as a float).
      type: list
      elements: dict
      returned: always
  sample:
    - cloud: lambdalabs
      shade_instance_type: A6000
      cloud_instance_type: gpu_1x_a6000
      hourly_price: 82
      hourly_price_usd: 0.82
      deployment_type: vm
      configuration: {num_gpus: 1, gpu_type: A6000, vram_per_gpu_in_gb: 48, vcpus: 6, memory_in_gb: 46}
      availability:
        - {region: us-east-1, available: true, display_name: "US, Ashburn, VA", rental_type: on_demand, hourly_price: "0.82", hourly_price_usd: 0.82}
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.common import api_argument_spec, run_module, wait_argument_spec
from ansible_collections.shadeform.cloud.plugins.module_utils.offers import DEPLOYMENT_TYPES, entry_price, offers_os

API_FILTERS = ("cloud", "region", "gpu_type", "num_gpus", "shade_instance_type", "available")


def argument_spec():
    spec = api_argument_spec()
    spec.update(wait_argument_spec())
    spec.update(
        cloud=dict(type="str"),
        region=dict(type="str"),
        gpu_type=dict(type="str"),
        num_gpus=dict(type="int"),
        shade_instance_type=dict(type="str"),
        available=dict(type="bool"),
        rental_type=dict(type="str", default="on_demand", choices=["on_demand", "spot", "any"]),
        max_hourly_price=dict(type="float", aliases=["max_hourly_price_usd"]),
        os=dict(type="str"),
        deployment_types=dict(type="list", elements="str", choices=list(DEPLOYMENT_TYPES)),
    )
    return spec


def priced_entries(instance_type, params):
    """The type's availability entries that fit the options, each with its rental type and its price in dollars."""
    entries = []
    for entry in instance_type.get("availability") or []:
        if not isinstance(entry, dict):
            continue
        rental_type = entry.get("rental_type") or "on_demand"
        if params["rental_type"] != "any" and rental_type != params["rental_type"]:
            continue
        if params["region"] and entry.get("region") != params["region"]:
            continue
        if params["available"] is not None and bool(entry.get("available")) != params["available"]:
            continue
        price = entry_price(instance_type, entry)
        if params["max_hourly_price"] is not None and (price is None or price > params["max_hourly_price"]):
            continue
        entries.append(dict(entry, rental_type=rental_type, hourly_price=None if price is None else "{0:.2f}".format(price),
                            hourly_price_usd=price))
    return entries


def _cheapest(instance_type):
    prices = [entry_price(instance_type, entry) for entry in instance_type["availability"]]
    prices = [price for price in prices if price is not None]
    return (0, min(prices)) if prices else (1, 0)  # types without a price go last


def run(module, client, result):
    params = module.params
    query = dict((name, params[name]) for name in API_FILTERS)
    query["sort"] = "price"
    selected = []
    for instance_type in client.list_instance_types(query):
        if not isinstance(instance_type, dict) or not offers_os(instance_type, params["os"]):
            continue
        if params["deployment_types"] and instance_type.get("deployment_type") not in params["deployment_types"]:
            continue
        entries = priced_entries(instance_type, params)
        if entries:
            cents = instance_type.get("hourly_price")
            usd = cents / 100.0 if isinstance(cents, (int, float)) and not isinstance(cents, bool) and cents >= 0 else None
            selected.append(dict(instance_type, availability=entries, hourly_price_usd=usd))
    # Cheapest first by the price of the rental type asked for; the API's own sort knows only the on-demand price.
    selected.sort(key=_cheapest)
    result["instance_types"] = selected


def main():
    run_module(argument_spec(), run)


if __name__ == "__main__":
    main()
