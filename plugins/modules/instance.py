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
  - Creating is asynchronous at Shadeform. With O(wait=true) (the default) the module polls the instance list until the
    instance is C(active) B(and) has an address, as Shadeform's own clients do, and fails clearly when it goes to C(error)
    or is not ready within O(wait_timeout) seconds.
  - Whether an instance is gone is judged by its absence from the instance list, because what the API answers for a
    deleted id differs (404, another error, or a status C(deleted)), and every answer is survived.
  - Before any call, the module refuses what the API would refuse, namely a O(launch_configuration) with both or neither
    of a container and a script, more than one volume, or a spot instance on a linked cloud account.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - shadeform.cloud.api
  - shadeform.cloud.launch
  - shadeform.cloud.attributes
options:
  state:
    description:
      - V(present) creates the instance unless it exists, and updates its name and tags.
      - V(absent) deletes it, when it exists; billing stops as soon as it is C(deleting).
      - V(restarted) restarts an existing C(active) instance and always reports a change. It never waits and never
        claims the instance is ready again (the result's C(ready) is null), since Shadeform keeps the status C(active) during a
        restart, so only a connection can tell; follow it with M(ansible.builtin.wait_for_connection).
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
  rental_type:
    description:
      - V(on_demand) (the API's default when not set) or V(spot). Spot instances are cheaper but can be reclaimed at any
        time (they then show as C(deleting) with C(status_details) C(preempted)); they need a C(spot) availability
        entry for the region (see M(shadeform.cloud.instance_types_info)) and O(shade_cloud=true).
      - Set at creation only.
    type: str
    choices: [on_demand, spot]
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
  volume:
    description:
      - The name or id of a volume (see M(shadeform.cloud.volume)) to attach when the instance is created. It must be in
        the instance's cloud and region and not mounted by another instance. Mutually exclusive with O(volume_ids).
    type: str
  volume_ids:
    description: The id of the volume to attach, as a list of exactly one id (Shadeform attaches one volume per instance).
    type: list
    elements: str
  tags:
    description:
      - "Tags of the instance: free strings, for example V(env=prod) or V(training)."
      - Compared as a set with the tags of an existing instance; a different set is written with the update call.
    type: list
    elements: str
  wait:
    description:
      - Wait until the instance is C(active) with an address (O(state=present)), or gone from the instance list
        (O(state=absent)). Not in check mode, and not for O(state=restarted).
      - When a provider refuses to delete an instance that is still launching, O(state=absent) with O(wait=true) waits
        for the launch to end and deletes it then.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait in all before failing. The default hour is what Shadeform's own clients allow; a
        type's C(boot_time.max_boot_in_sec) (from M(shadeform.cloud.instance_types_info)) is a typical launch time.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two looks at the instance list while waiting (Shadeform's own clients use 10 to 15).
    type: float
    default: 10
seealso:
  - module: shadeform.cloud.instance_info
  - module: shadeform.cloud.instance_types_info
  - module: shadeform.cloud.ssh_key
  - plugin: shadeform.cloud.shadeform
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Find the cheapest on-demand A6000 available now
  shadeform.cloud.instance_types_info:
    gpu_type: A6000
    num_gpus: 1
    available: true
    rental_type: on_demand
  register: types

- name: Launch it (found by name when it already exists) and wait until it is active with an address
  shadeform.cloud.instance:
    name: notebook-a6000-01
    cloud: "{{ types.instance_types[0].cloud }}"
    region: "{{ types.instance_types[0].availability[0].region }}"
    shade_instance_type: "{{ types.instance_types[0].shade_instance_type }}"
    tags:
      - env=dev
      - jupyter
  register: launched

- name: Show where to connect
  ansible.builtin.debug:
    msg: "ssh {{ launched.instance.ssh_user }}@{{ launched.instance.ip }} -p {{ launched.instance.ssh_port }}"

- name: Run a container with a secret token, on a spot instance, with a volume
  shadeform.cloud.instance:
    name: vllm-01
    cloud: hyperstack
    region: canada-1
    shade_instance_type: A6000
    rental_type: spot
    volume: model-cache
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

- name: Remove the spend limit of an instance
  shadeform.cloud.instance:
    name: vllm-01
    auto_delete: {}

- name: Restart an instance (the status stays active; the result says nothing about readiness)
  shadeform.cloud.instance:
    name: notebook-a6000-01
    state: restarted

- name: Wait until it answers again
  ansible.builtin.wait_for_connection:
    timeout: 600
  delegate_to: notebook-a6000-01

- name: Delete it and wait until it is gone
  shadeform.cloud.instance:
    name: notebook-a6000-01
    state: absent
"""

RETURN = r"""
ready:
  description: Null after O(state=restarted) (readiness after a restart is unknown to the API); not returned otherwise.
  returned: when O(state=restarted)
  type: bool
msg:
  description: After O(state=restarted), how to wait for the machine.
  returned: when O(state=restarted)
  type: str
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

from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import ShadeformAPIError
from ansible_collections.shadeform.cloud.plugins.module_utils.common import (api_argument_spec, check_launch_configuration,
                                                                             launch_argument_spec, run_module, without_none)
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import (
    GONE_STATUSES, is_ready, redact_secrets, status_details_note)

PENDING_STATUSES = ("creating", "pending_provider", "pending")
CREATION_ONLY = ("cloud", "region", "shade_instance_type")
CREATE_FIELDS = ("cloud", "region", "shade_instance_type", "shade_cloud", "name", "rental_type", "os", "template_id", "ssh_key_id",
                 "volume_ids", "volume_mount", "tags", "envs", "launch_configuration", "auto_delete", "alert")
REQUIRED_TO_CREATE = ("name", "cloud", "region", "shade_instance_type")
DIFF_FIELDS = ("id", "name", "status", "cloud", "region", "shade_instance_type", "tags", "auto_delete", "alert")
RESTART_NOTE = ("Restart requested. Shadeform keeps the status 'active' during a restart, so the API cannot tell when the "
                "machine is back: wait for it with ansible.builtin.wait_for_connection.")


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
        rental_type=dict(type="str", choices=["on_demand", "spot"]),
        os=dict(type="str"),
        template_id=dict(type="str"),
        ssh_key_id=dict(type="str", no_log=False),
        volume=dict(type="str"),
        volume_ids=dict(type="list", elements="str"),
        tags=dict(type="list", elements="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=3600),
        poll_interval=dict(type="float", default=10),
    )
    spec.update(launch_argument_spec())
    return spec


def describe(instance):
    return "{0!r} ({1})".format(instance.get("name"), instance.get("id"))


def check_options(module, result):
    """Refuse, before any call, what the API would refuse or misread."""
    params = module.params
    check_launch_configuration(module, result)
    if params["volume_ids"] is not None and len(params["volume_ids"]) != 1:
        module.fail_json(msg="volume_ids holds {0} volumes; Shadeform attaches exactly one volume to an instance (in its cloud "
                             "and region).".format(len(params["volume_ids"])), **result)
    if params["volume"] and params["volume_ids"]:
        module.fail_json(msg="Give volume or volume_ids, not both.", **result)
    if params["rental_type"] == "spot" and not params["shade_cloud"]:
        module.fail_json(msg="Spot instances run on Shadeform's own accounts only: set shade_cloud: true, or rental_type: on_demand.",
                         **result)


class InstanceModule:
    def __init__(self, module, client, result):
        self.module = module
        self.params = module.params
        self.client = client
        self.result = result
        self.result["instance"] = {}

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, **dict(self.result, **extra))

    # -- finding ---------------------------------------------------------------------------------------------------

    def listed(self):
        return [item for item in self.client.list_instances() if isinstance(item, dict)]

    def find(self):
        """The instance to manage (from the instance list), or None; fails when the name is ambiguous."""
        instances = self.listed()
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

    def details(self, listed):
        """The instance with its launch details (GET /info); the listed one when /info says it is gone (answers vary)."""
        try:
            info = self.client.instance_info(listed["id"], missing_ok=True)
        except ShadeformAPIError as exc:
            if exc.status is None or not 400 <= exc.status < 500:
                raise
            info = None
        if not isinstance(info, dict) or info.get("status") == "deleted":
            return listed
        return info

    # -- waiting ---------------------------------------------------------------------------------------------------

    def wait_until(self, instance_id, gone):
        """Poll the instance list (the one answer that is the same everywhere) until the instance is ready or absent."""
        deadline = time.monotonic() + self.params["wait_timeout"]
        interval = max(self.params["poll_interval"], 0.05)
        last = None
        while True:
            listed = next((item for item in self.listed() if item.get("id") == instance_id), None)
            if listed is None:
                if gone:
                    return None
                self.fail("Shadeform instance {0} disappeared while waiting for it to become active.".format(instance_id))
            elif not gone:
                status = listed.get("status")
                if is_ready(listed):
                    return self.details(listed)
                if status in ("error",) + GONE_STATUSES:
                    self.result["instance"] = redact_secrets(listed)
                    self.fail("Shadeform instance {0} went to status {1!r}{2} instead of becoming active.".format(
                        describe(listed), status, status_details_note(listed)))
            last = listed
            if time.monotonic() + interval > deadline:
                break
            time.sleep(interval)
        if last is not None:
            self.result["instance"] = redact_secrets(last)
        what = "gone" if gone else "active with an address"
        status = last.get("status") if last else None
        self.fail("Shadeform instance {0} is not {1} after {2} seconds (status {3!r}{4}). It may still get there: raise wait_timeout, "
                  "or run the task again later (it finds the instance again, nothing is duplicated).".format(
                      describe(last) if last else instance_id, what, self.params["wait_timeout"], status, status_details_note(last or {})))
        return None

    # -- states ----------------------------------------------------------------------------------------------------

    def run(self):
        state = self.params["state"]
        if not self.params["id"] and not self.params["name"]:
            self.fail("Give name (or id) of the instance.")
        check_options(self.module, self.result)
        found = self.find()
        if state == "absent":
            self.absent(found)
        elif state == "restarted":
            self.restarted(found)
        else:
            self.present(found)

    def present(self, found):
        if found is None:
            if self.params["id"]:
                self.fail("No Shadeform instance has the id {0}: leave id out to create an instance (found by name).".format(self.params["id"]))
            self.create()
            return
        if found.get("status") in GONE_STATUSES:
            self.result["instance"] = redact_secrets(found)
            self.fail("Shadeform instance {0} is being deleted{1}; it cannot be updated. Leave id out to create a new one "
                      "by name.".format(describe(found), status_details_note(found)))
        info = self.details(found)
        self.warn_about_creation_fields(info)
        changes = self.updates(info)
        before = _diff_view(info)
        if changes:
            self.result["changed"] = True
            if not self.module.check_mode:
                self.client.update_instance(info["id"], changes)
                info = self.details(info)
                self.warn_about_merged_tags(info, changes)
            else:
                info = _apply(info, changes)
        self.result["diff"] = dict(before=before, after=_diff_view(info))
        if info.get("status") == "error":
            self.result["instance"] = redact_secrets(info)
            if self.params["wait"] and not self.module.check_mode:
                self.fail("Shadeform instance {0} is in status 'error'{1}: delete it (state: absent) and create it again.".format(
                    describe(info), status_details_note(info)))
            self.module.warn("Shadeform instance {0} is in status 'error'{1}.".format(describe(info), status_details_note(info)))
        elif self.params["wait"] and not self.module.check_mode and not is_ready(info):
            info = self.wait_until(info["id"], gone=False)
        self.result["instance"] = redact_secrets(info)

    def updates(self, info):
        """The body of the update call: changed name and tags; auto_delete and alert set, or cleared (null) when given as {}."""
        changes = {}
        name = self.params["name"]
        if name is not None and self.params["id"] and info.get("name") != name:
            changes["name"] = name
        tags = self.params["tags"]
        current_tags = info.get("tags") if isinstance(info.get("tags"), list) else []
        if tags is not None and set(tags) != set(current_tags):
            changes["tags"] = tags
        for field in ("auto_delete", "alert"):
            if self.params[field] is None:
                continue
            wanted = without_none(self.params[field])
            current = info.get(field) or {}
            if wanted != current:
                changes[field] = wanted or None  # null deletes the threshold
        return changes

    def warn_about_merged_tags(self, info, changes):
        """Whether the update call replaces or merges tags is not documented: say so when the tags asked for did not stick."""
        if "tags" in changes and set(info.get("tags") or []) != set(changes["tags"]):
            self.module.warn("Shadeform kept tags of instance {0} that were not asked for: it now has {1}. The API added the "
                             "new tags to the old ones instead of replacing them; remove the others in the Shadeform "
                             "console.".format(describe(info), ", ".join(repr(tag) for tag in info.get("tags") or [])))

    def warn_about_creation_fields(self, info):
        differing = ["{0} {1!r} (not {2!r})".format(field, info.get(field), self.params[field]) for field in CREATION_ONLY
                     if self.params[field] is not None and info.get(field) != self.params[field]]
        rental = (info.get("rental_terms") or {}).get("rental_type") if isinstance(info.get("rental_terms"), dict) else None
        if self.params["rental_type"] and rental and rental != self.params["rental_type"]:
            differing.append("rental_type {0!r} (not {1!r})".format(rental, self.params["rental_type"]))
        if differing:
            self.module.warn("Shadeform instance {0} exists with {1}; it is left as it is: these fields are set at creation only. "
                             "Delete it (state: absent) and create it again to change them.".format(describe(info), ", ".join(differing)))

    def volume_ids(self):
        """The one volume to attach, found by id or name among the workspace's volumes."""
        wanted = self.params["volume"]
        if not wanted:
            return self.params["volume_ids"]
        volumes = self.client.list_volumes()
        matching = [v for v in volumes if v.get("id") == wanted] or [v for v in volumes if v.get("name") == wanted]
        if len(matching) != 1:
            self.fail("{0} Shadeform volume has the id or name {1!r}{2}; create it with shadeform.cloud.volume, or give its id.".format(
                "No" if not matching else "More than one", wanted,
                "" if not matching else " (ids {0})".format(", ".join(str(v.get("id")) for v in matching))))
        volume = matching[0]
        if (volume.get("cloud"), volume.get("region")) != (self.params["cloud"], self.params["region"]):
            self.fail("Shadeform volume {0!r} is in {1} {2}; an instance can only attach a volume of its own cloud and region "
                      "({3} {4}).".format(wanted, volume.get("cloud"), volume.get("region"), self.params["cloud"], self.params["region"]))
        if volume.get("mounted_by") and not volume.get("supports_multi_mount"):
            self.fail("Shadeform volume {0!r} is already mounted by instance {1}.".format(wanted, volume["mounted_by"]))
        return [volume["id"]]

    def create(self):
        missing = [field for field in REQUIRED_TO_CREATE if not self.params[field]]
        if missing:
            self.fail("No Shadeform instance is named {0!r}; to create it, {1} {2} required.".format(
                self.params["name"], ", ".join(missing), "is" if len(missing) == 1 else "are"))
        body = dict((field, without_none(self.params[field])) for field in CREATE_FIELDS if self.params.get(field) is not None)
        for field in ("auto_delete", "alert"):
            if body.get(field) == {}:
                del body[field]
        volume_ids = self.volume_ids()
        if volume_ids:
            body["volume_ids"] = volume_ids
        self.result["changed"] = True
        self.result["diff"] = dict(before={}, after=dict((k, v) for k, v in _diff_view(body).items() if v is not None))
        if self.module.check_mode:
            self.result["instance"] = redact_secrets(body)
            return
        instance_id = self.client.create_instance(body)
        self.result["instance"] = {"id": instance_id, "name": body["name"]}
        if self.params["wait"]:
            info = self.wait_until(instance_id, gone=False)
        else:
            listed = next((item for item in self.listed() if item.get("id") == instance_id), dict(body, id=instance_id))
            info = self.details(listed)
        self.result["instance"] = redact_secrets(info)

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
            self.delete(found)
        if self.params["wait"] and not self.module.check_mode:
            self.wait_until(found["id"], gone=True)

    def delete(self, found):
        """Delete; some providers refuse before the instance is active: then, with wait, wait for it and delete again."""
        try:
            self.client.delete_instance(found["id"])
        except ShadeformAPIError as exc:
            if found.get("status") not in PENDING_STATUSES or exc.status is None or not 400 <= exc.status < 500:
                raise
            if not self.params["wait"]:
                self.fail("Shadeform refused to delete instance {0} while it is {1!r} ({2}). Some providers only allow deleting "
                          "once the instance is active: run again with wait: true, or later.".format(
                              describe(found), found.get("status"), exc))
            self.wait_for_launch_to_end(found["id"])
            self.client.delete_instance(found["id"])

    def wait_for_launch_to_end(self, instance_id):
        deadline = time.monotonic() + self.params["wait_timeout"]
        while time.monotonic() < deadline:
            listed = next((item for item in self.listed() if item.get("id") == instance_id), None)
            if listed is None or listed.get("status") not in PENDING_STATUSES:
                return
            time.sleep(max(self.params["poll_interval"], 0.05))
        self.fail("Shadeform instance {0} is still launching after {1} seconds and cannot be deleted before; run the task again "
                  "later.".format(instance_id, self.params["wait_timeout"]))

    def restarted(self, found):
        if found is None:
            self.fail("No Shadeform instance {0} to restart.".format(
                "has the id {0}".format(self.params["id"]) if self.params["id"] else "is named {0!r}".format(self.params["name"])))
        if found.get("status") != "active":
            self.result["instance"] = redact_secrets(found)
            self.fail("Shadeform instance {0} is {1!r}; only active instances can be restarted.".format(describe(found), found.get("status")))
        self.result["changed"] = True
        self.result["ready"] = None
        self.result["msg"] = RESTART_NOTE
        self.result["diff"] = dict(before=dict(_diff_view(found), restarted=False), after=dict(_diff_view(found), restarted=True))
        self.result["instance"] = redact_secrets(found)
        if self.module.check_mode:
            return
        self.client.restart_instance(found["id"])


def _apply(info, changes):
    """What an update makes of the instance: a null value removes the field."""
    applied = dict(info)
    for field, value in changes.items():
        if value is None:
            applied.pop(field, None)
        else:
            applied[field] = value
    return applied


def _diff_view(instance):
    return dict((field, instance.get(field)) for field in DIFF_FIELDS if instance.get(field) is not None or field in ("id", "name"))


def run(module, client, result):
    InstanceModule(module, client, result).run()


def main():
    run_module(argument_spec(), run)


if __name__ == "__main__":
    main()
