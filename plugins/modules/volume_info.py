# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: volume_info
short_description: List Shadeform storage volumes, and where volumes can be made
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Lists the volumes of a Shadeform workspace (C(GET /volumes)), optionally only those with an O(id), O(name), cloud or region.
  - With O(types=true), also lists where volumes can be created and their price (C(GET /volumes/types)).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - shadeform.cloud.api
  - shadeform.cloud.wait.ignored
  - shadeform.cloud.attributes.info_module
options:
  id:
    description: Keep only the volume with this id.
    type: str
  name:
    description: Keep only the volumes with this name (names need not be unique).
    type: str
  cloud:
    description: Keep only the volumes (and volume types) of this cloud.
    type: str
  region:
    description: Keep only the volumes (and volume types) of this region.
    type: str
  types:
    description: Also return RV(volume_types).
    type: bool
    default: false
seealso:
  - module: shadeform.cloud.volume
"""

EXAMPLES = r"""
- name: Where can a volume be made, and is the model cache mounted?
  shadeform.cloud.volume_info:
    name: model-cache
    types: true
  register: volumes

- name: Show who uses it
  ansible.builtin.debug:
    msg: "{{ volumes.volumes | map(attribute='mounted_by') | list }}"
"""

RETURN = r"""
volumes:
  description: The volumes that pass the filters, in the API's order.
  returned: success
  type: list
  elements: dict
  sample:
    - id: 5e1c3f0a-6b1d-4b8e-9a53-0c9c7d0e2f11
      name: model-cache
      cloud: hyperstack
      region: canada-1
      size_in_gb: 200
      mounted_by: d290f1ee-6c54-4b01-90e6-d701748f0851
volume_types:
  description:
    - Where volumes can be created (C(cloud), C(region)), C(supports_multi_mount), C(fixed_size) and
      C(price_per_gb_per_hour) (dollars, a decimal string, as the API gives it).
    - C(price_per_gb_per_hour_usd) is the same price as a number (a float), null when the API gives none.
  returned: when O(types=true)
  type: list
  elements: dict
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.common import api_argument_spec, has_the_given, run_module, wait_argument_spec
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import finite_number

FILTERS = ("id", "name", "cloud", "region")


def argument_spec():
    spec = api_argument_spec()
    spec.update(wait_argument_spec())
    spec.update(
        id=dict(type="str"),
        name=dict(type="str"),
        cloud=dict(type="str"),
        region=dict(type="str"),
        types=dict(type="bool", default=False),
    )
    return spec


def run(module, client, result):
    result["volumes"] = [volume for volume in client.list_volumes() if has_the_given(volume, module.params, FILTERS)]
    if module.params["types"]:
        result["volume_types"] = [dict(kind, price_per_gb_per_hour_usd=finite_number(kind.get("price_per_gb_per_hour")))
                                  for kind in client.list_volume_types() if has_the_given(kind, module.params, ("cloud", "region"))]


def main():
    run_module(argument_spec(), run)


if __name__ == "__main__":
    main()
