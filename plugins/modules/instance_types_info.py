# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: instance_types_info
short_description: List the Shadeform instance types, cheapest first
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Lists the instance types Shadeform offers (C(GET /instances/types)), filtered by the API, sorted by hourly price,
    cheapest first, so that a play can pick the cheapest available type for a GPU.
  - Each type tells in which regions of its cloud it is available right now (C(availability)).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - shadeform.cloud.api
attributes:
  check_mode:
    support: full
  diff_mode:
    support: N/A
  platform:
    platforms: all
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
      - V(true) keeps only the types available now (in O(region) when it is given); V(false) only those that are not.
        Not set, the availability does not matter.
    type: bool
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
    region: "{{ (cheapest.availability | selectattr('available') | first).region }}"
"""

RETURN = r"""
instance_types:
  description: The instance types that pass the filters, cheapest (lowest C(hourly_price)) first.
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
      description: Price in cents per hour.
      type: int
      returned: always
    availability:
      description: One item per region, with C(region), C(available) (a boolean) and C(display_name).
      type: list
      elements: dict
      returned: always
  sample:
    - cloud: lambdalabs
      shade_instance_type: A6000
      cloud_instance_type: gpu_1x_a6000
      hourly_price: 82
      configuration: {num_gpus: 1, gpu_type: A6000, vram_per_gpu_in_gb: 48, vcpus: 6, memory_in_gb: 46}
      availability:
        - {region: us-east-1, available: true, display_name: US-EAST-1}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformAPIError
from ansible_collections.shadeform.cloud.plugins.module_utils.common import api_argument_spec, client_from_module

FILTERS = ("cloud", "region", "gpu_type", "num_gpus", "shade_instance_type", "available")


def _price(instance_type):
    price = instance_type.get("hourly_price")
    if isinstance(price, (int, float)) and not isinstance(price, bool):
        return (0, price)
    return (1, 0)  # types without a price go last


def main():
    spec = api_argument_spec()
    spec.update(
        cloud=dict(type="str"),
        region=dict(type="str"),
        gpu_type=dict(type="str"),
        num_gpus=dict(type="int"),
        shade_instance_type=dict(type="str"),
        available=dict(type="bool"),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    client = client_from_module(module)
    params = dict((name, module.params[name]) for name in FILTERS)
    params["sort"] = "price"
    try:
        types = client.list_instance_types(params)
    except ShadeformAPIError as exc:
        module.fail_json(msg=str(exc))
    # The API sorts too; sorting again keeps "cheapest first" true whatever it does.
    types = sorted((item for item in types if isinstance(item, dict)), key=_price)
    module.exit_json(changed=False, instance_types=types)


if __name__ == "__main__":
    main()
