# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: instance_info
short_description: List Shadeform GPU instances
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Lists the instances of a Shadeform workspace (C(GET /instances)), with the same filters as the
    P(shadeform.cloud.shadeform#inventory) inventory plugin, plus O(id) and O(name).
  - Instances that are being deleted are listed too (status C(deleting)); filter with O(statuses) to leave them out.
  - Launch secrets (docker C(envs) values, the registry password and the startup script) are replaced by C(<redacted>).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - shadeform.cloud.api
  - shadeform.cloud.wait.ignored
  - shadeform.cloud.filters
  - shadeform.cloud.attributes.info_module
options:
  id:
    description: Keep only the instance with this id.
    type: str
  name:
    description: Keep only the instances with this name (Shadeform names need not be unique).
    type: str
seealso:
  - module: shadeform.cloud.instance
  - plugin: shadeform.cloud.shadeform
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: List the active H100 instances tagged env=prod
  shadeform.cloud.instance_info:
    statuses: [active]
    gpu_types: [H100]
    tags: [env=prod]
  register: prod

- name: Show their addresses
  ansible.builtin.debug:
    msg: "{{ prod.instances | map(attribute='ip') | list }}"

- name: Fail when an instance named llm-train-01 exists twice
  shadeform.cloud.instance_info:
    name: llm-train-01
  register: named
  failed_when: named.instances | length > 1
"""

RETURN = r"""
instances:
  description:
    - The instances that pass every filter, in the API's order, with secrets redacted.
    - Each keeps the API's fields with the API's names and units (C(hourly_price) in cents per hour) and adds
      C(hourly_price_usd), what it costs in dollars per hour as a float (for a spot instance, its rental terms' rate).
  returned: success
  type: list
  elements: dict
  sample:
    - id: d290f1ee-6c54-4b01-90e6-d701748f0851
      name: cool-gpu-server
      cloud: hyperstack
      region: canada-1
      shade_instance_type: A6000
      status: active
      ip: 1.2.3.4
      ssh_user: shadeform
      ssh_port: 22
      tags: [tag1]
      hourly_price: 82
      hourly_price_usd: 0.82
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.common import (Task, api_argument_spec, has_the_given,
                                                                             run_module, wait_argument_spec)
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import (FILTER_OPTIONS, check_filter_values, matches,
                                                                                    unmatched_filter_values)


def argument_spec():
    spec = api_argument_spec()
    spec.update(wait_argument_spec())
    spec.update(
        id=dict(type="str"),
        name=dict(type="str"),
        **dict((option, dict(type="list", elements="str", default=[])) for option in FILTER_OPTIONS)
    )
    return spec


def run(module, client, result):
    task = Task(module, client, result)
    filters = dict((option, module.params[option]) for option in FILTER_OPTIONS)
    try:
        check_filter_values(filters)  # a status the API never gives (Active, runing): one error, before any request
    except ValueError as exc:
        task.fail(str(exc))
    instances = [instance for instance in client.list_instances() if isinstance(instance, dict)]
    for warning in unmatched_filter_values(instances, filters):
        module.warn(warning)
    result["instances"] = [task.instance_result(instance) for instance in instances
                           if has_the_given(instance, module.params, ("id", "name")) and matches(instance, **filters)]


def main():
    run_module(argument_spec(), run)


if __name__ == "__main__":
    main()
