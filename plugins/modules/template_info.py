# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: template_info
short_description: List Shadeform launch templates
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Lists the workspace's own launch templates (C(GET /templates)), or Shadeform's featured ones (O(featured=true)).
  - Secrets (C(envs) values, the registry password, the startup script) are replaced by C(<redacted>).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - shadeform.cloud.api
  - shadeform.cloud.wait.ignored
  - shadeform.cloud.attributes.info_module
options:
  id:
    description: Keep only the template with this id.
    type: str
  name:
    description: Keep only the templates with this name.
    type: str
  featured:
    description: List Shadeform's featured templates instead of the workspace's own.
    type: bool
    default: false
seealso:
  - module: shadeform.cloud.template
"""

EXAMPLES = r"""
- name: Find the template named vllm-mistral
  shadeform.cloud.template_info:
    name: vllm-mistral
  register: found

- name: List the featured templates
  shadeform.cloud.template_info:
    featured: true
  register: featured
"""

RETURN = r"""
templates:
  description: The templates that pass the filters, secrets redacted.
  returned: success
  type: list
  elements: dict
  sample:
    - id: 3f2a9c1e-0b7d-4e55-8f0a-1c2d3e4f5a6b
      name: vllm-mistral
      public: false
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.common import api_argument_spec, has_the_given, run_module, wait_argument_spec
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import redact_secrets


def argument_spec():
    spec = api_argument_spec()
    spec.update(wait_argument_spec())
    spec.update(
        id=dict(type="str"),
        name=dict(type="str"),
        featured=dict(type="bool", default=False),
    )
    return spec


def run(module, client, result):
    result["templates"] = [
        redact_secrets(template) for template in client.list_templates(featured=module.params["featured"])
        if has_the_given(template, module.params, ("id", "name"))
    ]


def main():
    run_module(argument_spec(), run)


if __name__ == "__main__":
    main()
