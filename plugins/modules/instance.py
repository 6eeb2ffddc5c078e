# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: instance
short_description: Launch, restart and delete Shadeform GPU instances
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Makes sure a Shadeform instance exists (O(state=present)), is gone (O(state=absent)) or has just been restarted
    (O(state=restarted)), through the L(Shadeform API,https://docs.shadeform.ai).
  - "Idempotent: an instance is found by O(id), or else by O(name) among the instances not being deleted; it is created
    only when none is found. Shadeform names need not be unique: when several instances carry O(name), the module fails
    and lists their ids, unless O(id) picks one."
  - A changed O(name) (with O(id)) or a changed set of O(tags), O(auto_delete) or O(alert) of an existing instance goes
    through the API's update call. The other fields are set at creation only; when an existing instance differs in
    O(cloud), O(region) or O(shade_instance_type), the module warns and leaves it as it is (delete it and create it
    again to change those).
  - Creating is asynchronous at Shadeform. With O(wait=true) (the default) the module polls the instance until it is
    C(active), and fails clearly when it goes to C(error) or is not active within O(wait_timeout) seconds.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - shadeform.cloud.api
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: all
options:
  state:
    description:
      - V(present) creates the instance unless it exists, and updates its name and tags.
      - V(absent) deletes it, when it exists; billing stops as soon as it is C(deleting).
      - V(restarted) restarts an existing C(active) instance; always reports a change.
    type: str
    choices: [present, absent, restarted]
    default: present
  id:
    description:
      - The id of an existing instance. With O(id), the module manages exactly that instance, and O(name) renames it.
      - Without O(id), the instance is found by O(name).
    type: str
  name:
    description:
      - The instance's name. Required to create an instance, and to find one without O(id).
    type: str
  cloud:
    description:
      - The cloud to launch on, for example V(hyperstack) or V(lambdalabs). Required to create an instance.
      - M(shadeform.cloud.instance_types_info) lists the clouds offering a type, with its availability by region.
    type: str
  region:
    description: The cloud's region to launch in, for example V(canada-1). Required to create an instance.
    type: str
  shade_instance_type:
    description: Shadeform's name of the instance type, for example V(A6000) or V(H100x8). Required to create an instance.
    type: str
  shade_cloud:
    description: V(true) launches on Shadeform's own account of the cloud; V(false) on your linked cloud account.
    type: bool
    default: true
  os:
    description: The operating system image, one of the type's C(os_options), for example V(ubuntu22.04_cuda12.2_shade_os).
    type: str
  template_id:
    description: The id of a Shadeform template to launch from.
    type: str
  ssh_key_id:
    description:
      - The id of the SSH key (see M(shadeform.cloud.ssh_key)) to install on the instance; the workspace's default key
        when not given.
    type: str
  volume_ids:
    description: Ids of storage volumes to attach.
    type: list
    elements: str
  tags:
    description:
      - "Tags of the instance: free strings, for example V(env=prod) or V(training)."
      - Compared as a set with the tags of an existing instance; a different set is written with the update call.
    type: list
    elements: str
  envs:
    description: Environment variables for the instance. The values are secrets; they never appear in the output.
    type: list
    elements: dict
    suboptions:
      name:
        description: The variable's name.
        type: str
        required: true
      value:
        description: The variable's value.
        type: str
        required: true
  launch_configuration:
    description:
      - What to run once the instance is up, a container or a startup script. Set at creation only.
      - The docker C(envs) values, the registry password and the startup script are secrets; they never appear in the output.
    type: dict
    suboptions:
      type:
        description: V(docker) runs O(launch_configuration.docker_configuration); V(script) runs O(launch_configuration.script_configuration).
        type: str
        required: true
        choices: [docker, script]
      docker_configuration:
        description: The container to run.
        type: dict
        suboptions:
          image:
            description: The image, for example V(vllm/vllm-openai:latest).
            type: str
            required: true
          args:
            description: Arguments for the container.
            type: str
          shared_memory_in_gb:
            description: Shared memory of the container.
            type: int
          envs:
            description: Environment variables of the container.
            type: list
            elements: dict
            suboptions:
              name:
                description: The variable's name.
                type: str
                required: true
              value:
                description: The variable's value.
                type: str
                required: true
          port_mappings:
            description: Ports of the host forwarded to the container.
            type: list
            elements: dict
            suboptions:
              host_port:
                description: Port on the instance.
                type: int
                required: true
              container_port:
                description: Port in the container.
                type: int
                required: true
          volume_mounts:
            description: Host directories mounted in the container.
            type: list
            elements: dict
            suboptions:
              host_path:
                description: Directory on the instance.
                type: str
                required: true
              container_path:
                description: Directory in the container.
                type: str
                required: true
          registry_credentials:
            description: Credentials of a private registry.
            type: dict
            suboptions:
              username:
                description: Registry user name.
                type: str
                required: true
              password:
                description: Registry password.
                type: str
                required: true
      script_configuration:
        description: The startup script.
        type: dict
        suboptions:
          base64_script:
            description: The script, base64-encoded, for example V({{ lookup('ansible.builtin.file', 'setup.sh') | b64encode }}).
            type: str
            required: true
  auto_delete:
    description: Delete the instance automatically past a date or past an amount spent.
    type: dict
    suboptions:
      date_threshold:
        description: An RFC 3339 date and time, for example V(2026-01-31T18:00:00Z).
        type: str
      spend_threshold:
        description: Dollars, as a decimal in a string, for example V("100.00").
        type: str
  alert:
    description: Send an alert past a date or past an amount spent.
    type: dict
    suboptions:
      date_threshold:
        description: An RFC 3339 date and time.
        type: str
      spend_threshold:
        description: Dollars, as a decimal in a string.
        type: str
  wait:
    description:
      - Wait until the instance is C(active) (O(state=present), O(state=restarted)) or gone (O(state=absent)).
      - Not in check mode.
    type: bool
    default: true
  wait_timeout:
    description: How many seconds to wait in all before failing.
    type: int
    default: 1200
  poll_interval:
    description: Seconds between two looks at the instance while waiting.
    type: float
    default: 5
seealso:
  - module: shadeform.cloud.instance_info
  - module: shadeform.cloud.instance_types_info
  - module: shadeform.cloud.ssh_key
  - plugin: shadeform.cloud.shadeform
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Launch the cheapest available A6000 and wait until it is active
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/shadeform.cloud.shadeform:
      api_key: "{{ vault_shadeform_api_key }}"
  tasks:
    - name: Find the A6000 types that are available, cheapest first
      shadeform.cloud.instance_types_info:
        gpu_type: A6000
        num_gpus: 1
        available: true
      register: types

    - name: Launch the instance (found by name when it already exists)
      shadeform.cloud.instance:
        name: notebook-a6000-01
        cloud: "{{ types.instance_types[0].cloud }}"
        region: "{{ (types.instance_types[0].availability | selectattr('available') | first).region }}"
        shade_instance_type: "{{ types.instance_types[0].shade_instance_type }}"
        tags:
          - env=dev
          - jupyter
      register: launched

    - name: Show where to connect
      ansible.builtin.debug:
        msg: "ssh {{ launched.instance.ssh_user }}@{{ launched.instance.ip }} -p {{ launched.instance.ssh_port }}"

- name: Run a container with a secret token
  shadeform.cloud.instance:
    name: vllm-01
    cloud: hyperstack
    region: canada-1
    shade_instance_type: H100
    launch_configuration:
      type: docker
      docker_configuration:
        image: vllm/vllm-openai:latest
        args: --model mistralai/Mistral-7B-v0.1
        envs:
          - name: HUGGING_FACE_HUB_TOKEN
            value: "{{ vault_hf_token }}"
        port_mappings:
          - host_port: 80
            container_port: 8000

- name: Retag an instance
  shadeform.cloud.instance:
    name: vllm-01
    tags: [env=prod, inference]
    wait: false

- name: Restart one instance of several with the same name
  shadeform.cloud.instance:
    id: d290f1ee-6c54-4b01-90e6-d701748f0851
    state: restarted

- name: Delete it and wait until it is gone
  shadeform.cloud.instance:
    name: vllm-01
    state: absent
"""

RETURN = r"""
instance:
  description:
    - The instance as C(GET /instances/{id}/info) describes it, after the change; secrets (docker C(envs) values, registry
      password, startup script, C(envs) values) are replaced by C(<redacted>).
    - In check mode, for an instance that would be created, the fields it would be created with.
    - Empty after O(state=absent).
  returned: always
  type: dict
  sample:
    id: d290f1ee-6c54-4b01-90e6-d701748f0851
    name: notebook-a6000-01
    cloud: hyperstack
    region: canada-1
    shade_instance_type: A6000
    status: active
    ip: 192.0.2.10
    ssh_user: shadeform
    ssh_port: 22
    tags: [env=dev, jupyter]
    hourly_price: 82
  contains:
    id:
      description: The instance's id.
      type: str
      returned: success
    name:
      description: The instance's name.
      type: str
      returned: success
    status:
      description: C(creating), C(pending_provider), C(pending), C(active), C(error) or C(deleting).
      type: str
      returned: success
    ip:
      description: The public address; empty or null until the instance is active.
      type: str
      returned: success
    ssh_user:
      description: The user to log in as.
      type: str
      returned: success
    ssh_port:
      description: The SSH port.
      type: int
      returned: success
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformAPIError
from ansible_collections.shadeform.cloud.plugins.module_utils.common import api_argument_spec, client_from_module
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import redact_instance_details

GONE_STATUSES = ("deleting", "deleted")
CREATION_ONLY = ("cloud", "region", "shade_instance_type")
CREATE_FIELDS = ("cloud", "region", "shade_instance_type", "shade_cloud", "name", "os", "template_id", "ssh_key_id", "volume_ids",
                 "tags", "envs", "launch_configuration", "auto_delete", "alert")
REQUIRED_TO_CREATE = ("name", "cloud", "region", "shade_instance_type")
DIFF_FIELDS = ("id", "name", "status", "cloud", "region", "shade_instance_type", "tags")
_ENV = dict(type="list", elements="dict", options=dict(name=dict(type="str", required=True), value=dict(type="str", required=True, no_log=True)))
_THRESHOLDS = dict(date_threshold=dict(type="str"), spend_threshold=dict(type="str"))


def argument_spec():
    spec = api_argument_spec()
    spec.update(
        state=dict(type="str", default="present", choices=["present", "absent", "restarted"]),
        id=dict(type="str"),
        name=dict(type="str"),
        cloud=dict(type="str"),
        region=dict(type="str"),
        shade_instance_type=dict(type="str"),
        shade_cloud=dict(type="bool", default=True),
        os=dict(type="str"),
        template_id=dict(type="str"),
        ssh_key_id=dict(type="str", no_log=False),
        volume_ids=dict(type="list", elements="str"),
        tags=dict(type="list", elements="str"),
        envs=_ENV,
        launch_configuration=dict(type="dict", options=dict(
            type=dict(type="str", required=True, choices=["docker", "script"]),
            docker_configuration=dict(type="dict", options=dict(
                image=dict(type="str", required=True),
                args=dict(type="str"),
                shared_memory_in_gb=dict(type="int"),
                envs=_ENV,
                port_mappings=dict(type="list", elements="dict", options=dict(
                    host_port=dict(type="int", required=True), container_port=dict(type="int", required=True))),
                volume_mounts=dict(type="list", elements="dict", options=dict(
                    host_path=dict(type="str", required=True), container_path=dict(type="str", required=True))),
                registry_credentials=dict(type="dict", no_log=False, options=dict(
                    username=dict(type="str", required=True), password=dict(type="str", required=True, no_log=True))),
            )),
            script_configuration=dict(type="dict", options=dict(base64_script=dict(type="str", required=True, no_log=True))),
        )),
        auto_delete=dict(type="dict", options=_THRESHOLDS),
        alert=dict(type="dict", options=_THRESHOLDS),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1200),
        poll_interval=dict(type="float", default=5),
    )
    return spec


def without_none(value):
    """The value with every None left out of its dicts (AnsibleModule fills unset suboptions with None)."""
    if isinstance(value, dict):
        return dict((key, without_none(item)) for key, item in value.items() if item is not None)
    if isinstance(value, list):
        return [without_none(item) for item in value]
    return value


def describe(instance):
    return "{0!r} ({1})".format(instance.get("name"), instance.get("id"))


class InstanceModule:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.client = client_from_module(module)
        self.result = dict(changed=False, instance={})

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, **dict(self.result, **extra))

    # -- finding ---------------------------------------------------------------------------------------------------

    def find(self):
        """The instance to manage (from the instance list), or None; fails when the name is ambiguous."""
        instances = [item for item in self.client.list_instances() if isinstance(item, dict)]
        if self.params["id"]:
            return next((item for item in instances if item.get("id") == self.params["id"]), None)
        name = self.params["name"]
        named = [item for item in instances if item.get("name") == name and item.get("status") not in GONE_STATUSES]
        if len(named) > 1:
            self.fail("{0} Shadeform instances are named {1!r} (ids {2}): give id to choose one.".format(
                len(named), name, ", ".join(str(item.get("id")) for item in named)))
        if named:
            return named[0]
        if self.params["state"] == "absent":
            # Only instances on their way out carry the name: nothing to delete, maybe something to wait for.
            return next((item for item in instances if item.get("name") == name), None)
        return None

    def info(self, instance_id):
        return self.client.instance_info(instance_id, missing_ok=True)

    # -- waiting ---------------------------------------------------------------------------------------------------

    def wait_until(self, instance_id, gone):
        deadline = time.monotonic() + self.params["wait_timeout"]
        interval = max(self.params["poll_interval"], 0.05)
        last = None
        while True:
            info = self.client.instance_info(instance_id, missing_ok=True)
            if info is None or info.get("status") == "deleted":
                if gone:
                    return None
                self.fail("Shadeform instance {0} disappeared while waiting for it to become active.".format(instance_id))
            elif not gone:
                status = info.get("status")
                if status == "active":
                    return info
                if status in ("error",) + GONE_STATUSES:
                    self.result["instance"] = redact_instance_details(info)
                    self.fail("Shadeform instance {0} went to status {1!r}{2} instead of becoming active.".format(
                        describe(info), status, _details(info)))
            last = info
            if time.monotonic() + interval > deadline:
                break
            time.sleep(interval)
        if last is not None:
            self.result["instance"] = redact_instance_details(last)
        what = "gone" if gone else "active"
        status = last.get("status") if last else None
        self.fail("Shadeform instance {0} is not {1} after {2} seconds (status {3!r}{4}). It may still get there: raise wait_timeout, "
                  "or run the task again later (it finds the instance again, nothing is duplicated).".format(
                      describe(last) if last else instance_id, what, self.params["wait_timeout"], status, _details(last or {})))
        return None

    # -- states ----------------------------------------------------------------------------------------------------

    def run(self):
        state = self.params["state"]
        if not self.params["id"] and not self.params["name"]:
            self.fail("Give name (or id) of the instance.")
        found = self.find()
        if state == "absent":
            self.absent(found)
        elif state == "restarted":
            self.restarted(found)
        else:
            self.present(found)
        self.module.exit_json(**self.result)

    def present(self, found):
        if found is None:
            if self.params["id"]:
                self.fail("No Shadeform instance has the id {0}: leave id out to create an instance (found by name).".format(self.params["id"]))
            self.create()
            return
        info = self.info(found["id"]) or found
        if info.get("status") in GONE_STATUSES:
            self.fail("Shadeform instance {0} is being deleted; it cannot be updated.".format(describe(info)))
        self.warn_about_creation_fields(info)
        changes = self.updates(info)
        before = _diff_view(info)
        if changes:
            self.result["changed"] = True
            if not self.module.check_mode:
                self.client.update_instance(info["id"], changes)
                info = self.info(info["id"]) or dict(info, **changes)
            else:
                info = dict(info, **changes)
        self.result["diff"] = dict(before=before, after=_diff_view(info))
        if info.get("status") == "error":
            self.result["instance"] = redact_instance_details(info)
            if self.params["wait"] and not self.module.check_mode:
                self.fail("Shadeform instance {0} is in status 'error'{1}: delete it (state: absent) and create it again.".format(
                    describe(info), _details(info)))
            self.module.warn("Shadeform instance {0} is in status 'error'{1}.".format(describe(info), _details(info)))
        elif self.params["wait"] and not self.module.check_mode and info.get("status") != "active":
            info = self.wait_until(info["id"], gone=False)
        self.result["instance"] = redact_instance_details(info)

    def updates(self, info):
        changes = {}
        name = self.params["name"]
        if name is not None and self.params["id"] and info.get("name") != name:
            changes["name"] = name
        tags = self.params["tags"]
        current_tags = info.get("tags") if isinstance(info.get("tags"), list) else []
        if tags is not None and set(tags) != set(current_tags):
            changes["tags"] = tags
        for field in ("auto_delete", "alert"):
            wanted = without_none(self.params[field])
            if self.params[field] is not None and wanted != (info.get(field) or {}):
                changes[field] = wanted
        return changes

    def warn_about_creation_fields(self, info):
        differing = ["{0} {1!r} (not {2!r})".format(field, info.get(field), self.params[field]) for field in CREATION_ONLY
                     if self.params[field] is not None and info.get(field) != self.params[field]]
        if differing:
            self.module.warn("Shadeform instance {0} exists with {1}; it is left as it is: these fields are set at creation only. "
                             "Delete it (state: absent) and create it again to change them.".format(describe(info), ", ".join(differing)))

    def create(self):
        missing = [field for field in REQUIRED_TO_CREATE if not self.params[field]]
        if missing:
            self.fail("No Shadeform instance is named {0!r}; to create it, {1} {2} required.".format(
                self.params["name"], ", ".join(missing), "is" if len(missing) == 1 else "are"))
        body = dict((field, without_none(self.params[field])) for field in CREATE_FIELDS if self.params[field] is not None)
        self.result["changed"] = True
        self.result["diff"] = dict(before={}, after=dict((k, v) for k, v in _diff_view(body).items() if v is not None))
        if self.module.check_mode:
            self.result["instance"] = redact_instance_details(body)
            return
        instance_id = self.client.create_instance(body)
        self.result["instance"] = {"id": instance_id, "name": body["name"]}
        if self.params["wait"]:
            info = self.wait_until(instance_id, gone=False)
        else:
            info = self.info(instance_id) or dict(body, id=instance_id)
        self.result["instance"] = redact_instance_details(info)

    def absent(self, found):
        if found is None:
            self.result["diff"] = dict(before={}, after={})
            return
        if found.get("status") in GONE_STATUSES:
            self.result["diff"] = dict(before={}, after={})
        else:
            self.result["diff"] = dict(before=_diff_view(found), after={})
            self.result["changed"] = True
            if self.module.check_mode:
                return
            self.client.delete_instance(found["id"])
        if self.params["wait"] and not self.module.check_mode:
            self.wait_until(found["id"], gone=True)

    def restarted(self, found):
        if found is None:
            self.fail("No Shadeform instance {0} to restart.".format(
                "has the id {0}".format(self.params["id"]) if self.params["id"] else "is named {0!r}".format(self.params["name"])))
        if found.get("status") != "active":
            self.result["instance"] = redact_instance_details(found)
            self.fail("Shadeform instance {0} is {1!r}; only active instances can be restarted.".format(describe(found), found.get("status")))
        self.result["changed"] = True
        self.result["diff"] = dict(before=dict(_diff_view(found), restarted=False), after=dict(_diff_view(found), restarted=True))
        if self.module.check_mode:
            self.result["instance"] = redact_instance_details(found)
            return
        self.client.restart_instance(found["id"])
        if self.params["wait"]:
            info = self.wait_until(found["id"], gone=False)
        else:
            info = self.info(found["id"]) or found
        self.result["instance"] = redact_instance_details(info)


def _diff_view(instance):
    return dict((field, instance.get(field)) for field in DIFF_FIELDS if field in instance)


def _details(instance):
    details = instance.get("status_details")
    return ", {0}".format(details) if isinstance(details, str) and details else ""


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    manager = InstanceModule(module)
    try:
        manager.run()
    except ShadeformAPIError as exc:
        manager.fail(str(exc))


if __name__ == "__main__":
    main()
