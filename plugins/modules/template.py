# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: template
short_description: Save, update and delete Shadeform launch templates
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Makes sure a launch template of the workspace exists with the given settings (O(state=present)), or is gone
    (O(state=absent)). Instances launch from one with O(shadeform.cloud.instance#module:template_id).
  - "Idempotent: a template is found by O(id), or else by O(name); when several carry O(name), the module fails and lists
    their ids. An existing template is updated when a given option differs; options not given keep their value."
  - The values of O(envs) and of the container's C(envs), the registry password and the startup script are secrets;
    they are sent to Shadeform but replaced by C(<redacted>) in the output.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - shadeform.cloud.api
  - shadeform.cloud.wait.ignored
  - shadeform.cloud.launch
  - shadeform.cloud.attributes
options:
  state:
    description: V(present) saves or updates the template; V(absent) deletes it when it exists.
    type: str
    choices: [present, absent]
    default: present
  id:
    description: The id of an existing template. With O(id), O(name) renames it.
    type: str
  name:
    description: The template's name. Required to save a template, and to find one without O(id).
    type: str
  description:
    description: A description of the template.
    type: str
  public:
    description: Whether the template is public.
    type: bool
  tags:
    description: Tags given to instances launched from the template.
    type: list
    elements: str
  ufw_rules:
    description: Firewall rules of instances launched from the template.
    type: list
    elements: dict
    suboptions:
      rule:
        description: What the rule does, for example V(allow) or V(deny) (a free string in the API, sent as given).
        type: str
      from_ip:
        description: Source address.
        type: str
      to_ip:
        description: Destination address.
        type: str
      port:
        description: A port, V("80"), or a range, V("8000:8999").
        type: str
      proto:
        description: The protocol, for example V(tcp) or V(udp) (a free string in the API, sent as given).
        type: str
seealso:
  - module: shadeform.cloud.template_info
  - module: shadeform.cloud.instance
"""

EXAMPLES = r"""
- name: Save a vLLM template
  shadeform.cloud.template:
    name: vllm-mistral
    description: vLLM serving Mistral 7B
    launch_configuration:
      type: docker
      docker_configuration:
        image: vllm/vllm-openai:latest
        args: --model mistralai/Mistral-7B-v0.1
        port_mappings:
          - host_port: 80
            container_port: 8000
    ufw_rules:
      - rule: allow
        port: "80"
        proto: tcp
  register: vllm

- name: Launch from it
  shadeform.cloud.instance:
    name: vllm-01
    cloud: hyperstack
    region: canada-1
    shade_instance_type: A6000
    template_id: "{{ vllm.template.id }}"
"""

RETURN = r"""
template:
  description: The template after the change, secrets redacted; empty after O(state=absent).
  returned: always
  type: dict
  sample:
    id: 3f2a9c1e-0b7d-4e55-8f0a-1c2d3e4f5a6b
    name: vllm-mistral
    public: false
    tags: []
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.common import (Task, api_argument_spec, check_launch_configuration,
                                                                             launch_argument_spec, run_module, threshold_key, wait_argument_spec,
                                                                             without_none)
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import redact_secrets

BODY_FIELDS = ("name", "description", "public", "launch_configuration", "auto_delete", "alert", "volume_mount", "tags", "envs")


def argument_spec():
    spec = api_argument_spec()
    spec.update(wait_argument_spec())
    spec.update(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        id=dict(type="str"),
        name=dict(type="str"),
        description=dict(type="str"),
        public=dict(type="bool"),
        tags=dict(type="list", elements="str"),
        ufw_rules=dict(type="list", elements="dict", options=dict(
            rule=dict(type="str"), from_ip=dict(type="str"), to_ip=dict(type="str"), port=dict(type="str"), proto=dict(type="str"))),
    )
    spec.update(launch_argument_spec())
    return spec


def wanted_body(params):
    body = dict((field, without_none(params[field])) for field in BODY_FIELDS if params[field] is not None)
    if params["ufw_rules"] is not None:
        body["networking"] = {"ufw_rules": without_none(params["ufw_rules"])}
    return body


def sendable(template):
    """The fields of a template that save and update take, without the empty ones."""
    fields = BODY_FIELDS + ("networking",)
    return dict((field, template[field]) for field in fields if template.get(field) is not None)


def compared(body):
    """A template body as the API compares it: thresholds as instants and decimals, null fields of a firewall rule left out."""
    view = dict(body)
    for field in ("auto_delete", "alert"):
        if field in view:
            view[field] = threshold_key(view[field])
    networking = view.get("networking")
    if isinstance(networking, dict) and isinstance(networking.get("ufw_rules"), list):
        view["networking"] = dict(networking, ufw_rules=[without_none(rule) for rule in networking["ufw_rules"]])
    return view


def run(module, client, result):
    task = Task(module, client, result)
    params = module.params
    result["template"] = {}
    if not params["id"] and not params["name"]:
        task.fail("Give name (or id) of the template.")
    check_launch_configuration(module, result)
    templates = client.list_templates()
    if params["id"]:
        found = next((template for template in templates if template.get("id") == params["id"]), None)
        if found is None and params["state"] == "present":
            task.fail("No Shadeform template of this workspace has the id {0}.".format(params["id"]))
    else:
        found = task.find_one(templates, "template", name=params["name"])
    if params["state"] == "absent":
        result["diff"] = dict(before=redact_secrets(found or {}), after={})
        if found is not None:
            if not module.check_mode:
                client.delete_template(found["id"])
            result["changed"] = True
        return
    wanted = wanted_body(params)
    if found is None:
        result["diff"] = dict(before={}, after=redact_secrets(wanted))
        result["template"] = redact_secrets(wanted)
        if not module.check_mode:
            template_id = client.save_template(wanted)
            result["changed"] = True
            result["template"] = dict(result["template"], id=template_id)
            result["template"] = redact_secrets(client.template_info(template_id))
        result["changed"] = True
        return
    current = sendable(found)
    merged = dict(current, **wanted)
    result["diff"] = dict(before=redact_secrets(found), after=redact_secrets(dict(found, **wanted)))
    result["template"] = redact_secrets(found)
    if compared(merged) == compared(current):
        return
    if module.check_mode:
        result["changed"] = True
        result["template"] = result["diff"]["after"]
        return
    client.update_template(found["id"], merged)
    result["changed"] = True
    result["template"] = redact_secrets(client.template_info(found["id"]))


def main():
    run_module(argument_spec(), run)


if __name__ == "__main__":
    main()
