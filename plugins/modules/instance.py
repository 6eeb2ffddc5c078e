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
    O(cloud), O(region), O(shade_instance_type), O(rental_type), O(os), O(ssh_key_id), its volume, O(envs), O(volume_mount)
    or O(launch_configuration) (as C(GET /instances/{id}/info) shows them), the module warns, lists each difference in
    the result's C(drifted) and leaves the instance as it is (delete it and create it again to change those).
  - C(changed) is true only when the API accepted a change (or, in check mode, would be asked for one); a refused create,
    update or delete reports C(changed=false). When an instance was created before a later step failed, the result says
    C(changed=true) and its C(instance) names it.
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
  purge_tags:
    description:
      - With V(true), the instance's tags become exactly O(tags). With V(false), tags the instance has that O(tags) does not
        name are kept, and O(tags) are added.
      - Only used when O(tags) is given.
    type: bool
    default: true
  recreate_on_error:
    description:
      - With O(state=present), an instance found in status C(error) (which bills on some clouds, and never recovers) is
        deleted and launched anew with the task's options, in the same task; the result's C(replaced) names the old id.
      - With V(false), the module fails on such an instance (with O(wait=true)) or warns (with O(wait=false)), saying how
        to replace it.
    type: bool
    default: false
  wait_for_workload:
    description:
      - "With O(wait=true), also wait until the instance's C(status_details) no longer says its container is starting
        (C(downloading) while C(active)): a docker O(launch_configuration) is then up as far as the API can tell."
    type: bool
    default: false
  wait:
    description:
      - Wait until the instance is C(active) with an address (O(state=present)), or gone from the instance list
        (O(state=absent)). Not in check mode, and not for O(state=restarted).
      - When a provider refuses to delete an instance that is still launching, O(state=absent) with O(wait=true) asks
        again once the launch has ended, within O(wait_timeout).
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait in all, for every wait of the task together (a refused delete, the launch, the deletion),
        before failing; 0 to 604800 (a week). The default hour is what Shadeform's own clients allow; a type's
        C(boot_time.max_boot_in_sec) (from M(shadeform.cloud.instance_types_info)) is a typical launch time.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two looks at the instance list while waiting (Shadeform's own clients use 10 to 15); more than 0, at most 604800.
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

- name: Make it a host of this play (with a shadeform.cloud.shadeform inventory source), so that tasks can be delegated to it
  ansible.builtin.meta: refresh_inventory

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
drifted:
  description:
    - What the task asks for that the existing instance, set at creation, does not have; empty when nothing differs.
      Secrets (C(envs) values, the registry password, the startup script) are redacted in C(current) and C(wanted).
  returned: when O(state=present) found an existing instance
  type: list
  elements: dict
  sample: [{field: launch_configuration.docker_configuration.image, current: "vllm/vllm-openai:v0.4", wanted: "vllm/vllm-openai:latest"}]
  contains:
    field:
      description: The option, as a dotted path into it for a suboption.
      type: str
      returned: always
    current:
      description: The instance's value (null when it has none).
      type: raw
      returned: always
    wanted:
      description: The task's value.
      type: raw
      returned: always
replaced:
  description: The id of the instance in C(error) that O(recreate_on_error=true) deleted; the new one is C(instance).
  returned: when an instance in error was replaced
  type: str
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
    hourly_price_usd: 0.82
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
    hourly_price:
      description: The API's C(hourly_price), in cents per hour (for a spot instance, the on-demand figure the API gives).
      type: int
      returned: success
    hourly_price_usd:
      description:
        - What the instance costs, in dollars per hour (a float); for a spot instance its rental terms' rate
          (C(rental_terms.hourly_price)), otherwise C(hourly_price) / 100. Null when the API gives neither.
      type: float
      returned: success
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import ShadeformAPIError
from ansible_collections.shadeform.cloud.plugins.module_utils.common import (
    Deletions, Task, api_argument_spec, check_launch_configuration, launch_argument_spec, run_module, threshold_key,
    wait_argument_spec, without_none)
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import (
    GONE_STATUSES, is_ready, lookup, redact_secrets, status_details_note)

CREATE_FIELDS = ("cloud", "region", "shade_instance_type", "shade_cloud", "name", "rental_type", "os", "template_id", "ssh_key_id",
                 "volume_ids", "volume_mount", "tags", "envs", "launch_configuration", "auto_delete", "alert")
REQUIRED_TO_CREATE = ("name", "cloud", "region", "shade_instance_type")
# Fields set at creation only, where GET /instances/{id}/info shows them: an existing instance that differs is reported
# in ``drifted`` (with a warning), never changed.
CREATION_ONLY = (("cloud", ("cloud",)), ("region", ("region",)), ("shade_instance_type", ("shade_instance_type",)),
                 ("rental_type", ("rental_terms", "rental_type")), ("os", ("configuration", "os")), ("ssh_key_id", ("ssh_key_id",)),
                 ("volume_ids", ("volume_ids",)), ("volume_mount", ("volume_mount",)), ("envs", ("envs",)),
                 ("launch_configuration", ("launch_configuration",)))
# Of those, the fields an answer may lack although they are set (the default key, an older answer): not compared then.
MAY_BE_UNSHOWN = ("rental_type", "os", "ssh_key_id")
DIFF_FIELDS = ("id", "name", "status", "cloud", "region", "shade_instance_type", "tags", "auto_delete", "alert")
RESTART_NOTE = ("Restart requested. Shadeform keeps the status 'active' during a restart, so the API cannot tell when the "
                "machine is back: wait for it with ansible.builtin.wait_for_connection.")


def argument_spec():
    spec = api_argument_spec()
    spec.update(wait_argument_spec())
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
        purge_tags=dict(type="bool", default=True),
        recreate_on_error=dict(type="bool", default=False),
        wait_for_workload=dict(type="bool", default=False),
    )
    spec.update(launch_argument_spec())
    return spec


def describe(instance):
    return "{0!r} ({1})".format(instance.get("name"), instance.get("id"))


def differences(wanted, current, path):
    """The dotted paths where ``wanted`` (what the task gives, without its unset suboptions) differs from ``current``."""
    if isinstance(wanted, dict) and isinstance(current, dict):
        found = []
        for key, value in wanted.items():
            found.extend(differences(value, current.get(key), "{0}.{1}".format(path, key)))
        return found
    if isinstance(wanted, dict) and not wanted and current is None:
        return []
    return [] if wanted == current else [path]


def drift_entry(field, current, wanted):
    """One entry of ``drifted``, secrets redacted as the field's name says (envs values, passwords, the startup script)."""
    name = field.rsplit(".", 1)[-1]
    return dict(field=field, current=redact_secrets({name: current})[name], wanted=redact_secrets({name: wanted})[name])


def check_options(task):
    """Refuse, before any call, what the API would refuse or misread."""
    params = task.params
    if params["name"] is not None and not params["name"].strip():
        task.fail("name must not be empty: Shadeform refuses an instance without a name.")
    check_launch_configuration(task.module, task.result)
    if params["volume_ids"] is not None and len(params["volume_ids"]) != 1:
        task.fail("volume_ids holds {0} volumes; Shadeform attaches exactly one volume to an instance (in its cloud "
                  "and region).".format(len(params["volume_ids"])))
    if params["volume"] and params["volume_ids"]:
        task.fail("Give volume or volume_ids, not both.")
    if params["rental_type"] == "spot" and not params["shade_cloud"]:
        task.fail("Spot instances run on Shadeform's own accounts only: set shade_cloud: true, or rental_type: on_demand.")


class InstanceModule(Task):
    def __init__(self, module, client, result):
        super().__init__(module, client, result)
        self.result["instance"] = {}
        self.deletions = Deletions(client)

    # -- finding ---------------------------------------------------------------------------------------------------

    def find(self):
        """The instance to manage (from the instance list), or None; fails when the name is ambiguous."""
        instances = self.client.list_instances()
        found = self.find_one(instances, "instance", self.params["id"], self.params["name"], skip=lambda item: item.get("status") in GONE_STATUSES)
        if found is None and not self.params["id"] and self.params["state"] == "absent":
            # Only instances on their way out carry the name: nothing to delete, maybe something to wait for.
            found = self.find_one(instances, "instance", name=self.params["name"])
        return found

    def details(self, listed):
        """The instance with its launch details (GET /info); the listed one when /info says it is gone (answers vary)."""
        try:
            info = self.client.instance_info(listed["id"], missing_ok=True)
        except ShadeformAPIError as exc:
            if exc.status is None or not 400 <= exc.status < 500:
                raise
            info = None
        if not isinstance(info, dict) or info.get("status") == "deleted" or info.get("id") != listed.get("id"):
            # Gone, or an answer that is not this instance's (``{}`` has been seen): the list's view is the one to trust.
            return listed
        return info

    # -- waiting ---------------------------------------------------------------------------------------------------

    def up(self, instance):
        """Ready as the API can tell: active with an address and, with wait_for_workload, its container no longer starting."""
        return is_ready(instance, self.params["wait_for_workload"])

    def wait_until_up(self, instance_id):
        """Poll the instance list until the instance is up; fails when it goes to error, goes away or the deadline passes."""
        last = {}

        def look():
            listed = self.listed_instance(instance_id)
            if listed is None:
                self.fail("Shadeform instance {0} disappeared while waiting for it to become active.".format(instance_id))
            last.update(listed)
            if self.up(listed):
                return listed
            if listed.get("status") in ("error",) + GONE_STATUSES:
                self.result["instance"] = self.instance_result(listed)
                self.fail("Shadeform instance {0} went to status {1!r}{2} instead of becoming active.".format(
                    describe(listed), listed.get("status"), status_details_note(listed)))
            return None

        listed = self.waiter.poll(look)
        if listed is not None:
            return self.details(listed)
        self.result["instance"] = self.instance_result(last)
        what = "up (active with an address, its container started)" if self.params["wait_for_workload"] else "active with an address"
        self.fail("Shadeform instance {0} is not {1} after {2} seconds (status {3!r}{4}). It may still get there: raise wait_timeout, "
                  "or run the task again later (it finds the instance again, nothing is duplicated).".format(
                      describe(last), what, self.params["wait_timeout"], last.get("status"), status_details_note(last)))
        return None

    def wait_until_gone(self, instance_id):
        if self.waiter.poll(lambda: True if self.listed_instance(instance_id) is None else None) is None:
            self.fail("Shadeform instance {0} is still listed after {1} seconds. Billing stopped when it went to 'deleting'; run the "
                      "task again later to wait for it.".format(instance_id, self.params["wait_timeout"]))

    # -- states ----------------------------------------------------------------------------------------------------

    def run(self):
        state = self.params["state"]
        if not self.params["id"] and not self.params["name"]:
            self.fail("Give name (or id) of the instance.")
        check_options(self)
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
            self.result["instance"] = self.instance_result(found)
            self.fail("Shadeform instance {0} is being deleted{1}; it cannot be updated. Leave id out to create a new one "
                      "by name.".format(describe(found), status_details_note(found)))
        info = self.details(found)
        if info.get("status") == "error" and self.params["recreate_on_error"]:
            self.recreate(info)
            return
        self.report_drift(info)
        changes = self.updates(info)
        before = _diff_view(info)
        if changes:
            if not self.module.check_mode:
                self.client.update_instance(info["id"], changes)
                self.result["changed"] = True
                info = self.details(info)
                self.warn_about_merged_tags(info, changes)
            else:
                self.result["changed"] = True
                info = _apply(info, changes)
        self.result["diff"] = dict(before=before, after=_diff_view(info))
        if info.get("status") == "error":
            self.result["instance"] = self.instance_result(info)
            if self.params["wait"] and not self.module.check_mode:
                self.fail("Shadeform instance {0} is in status 'error'{1}. Set recreate_on_error: true to delete it and launch it "
                          "anew in this task, or delete it (state: absent) and run the task again.".format(describe(info), status_details_note(info)))
            self.module.warn("Shadeform instance {0} is in status 'error'{1}: recreate_on_error: true replaces it.".format(
                describe(info), status_details_note(info)))
        elif self.params["wait"] and not self.module.check_mode and not self.up(info):
            info = self.wait_until_up(info["id"])
        self.result["instance"] = self.instance_result(info)

    def recreate(self, broken):
        """Delete an instance in error and launch its replacement, in the same run (recreate_on_error)."""
        self.result["instance"] = self.instance_result(broken)
        self.result["replaced"] = broken["id"]
        self.result["diff"] = dict(before=_diff_view(broken), after={})
        if self.module.check_mode:
            self.result["changed"] = True
            self.result["diff"] = dict(before=_diff_view(broken), after=self.create_view(self.create_body()))
            return
        self.delete(broken)
        self.create()

    def updates(self, info):
        """The body of the update call: changed name and tags; auto_delete and alert set, or cleared (null) when given as {}."""
        changes = {}
        name = self.params["name"]
        if name is not None and self.params["id"] and info.get("name") != name:
            changes["name"] = name
        tags = self.params["tags"]
        current_tags = info.get("tags") if isinstance(info.get("tags"), list) else []
        if tags is not None:
            wanted_tags = list(tags) if self.params["purge_tags"] else current_tags + [tag for tag in tags if tag not in current_tags]
            if set(wanted_tags) != set(current_tags):
                changes["tags"] = wanted_tags
        for field in ("auto_delete", "alert"):
            if self.params[field] is None:
                continue
            wanted = without_none(self.params[field])
            if threshold_key(wanted) != threshold_key(info.get(field)):
                changes[field] = wanted or None  # null deletes the threshold
        return changes

    def warn_about_merged_tags(self, info, changes):
        """Whether the update call replaces or merges tags is not documented: say so when the tags asked for did not stick."""
        if "tags" in changes and set(info.get("tags") or []) != set(changes["tags"]):
            self.module.warn("Shadeform kept tags of instance {0} that were not asked for: it now has {1}. The API added the "
                             "new tags to the old ones instead of replacing them; remove the others in the Shadeform "
                             "console.".format(describe(info), ", ".join(repr(tag) for tag in info.get("tags") or [])))

    def report_drift(self, info):
        """List in ``drifted`` (and warn about) what the task asks for that the instance, set at creation, does not have."""
        wanted = dict((field, without_none(self.params[field])) for field, _path in CREATION_ONLY if self.params.get(field) is not None)
        if self.params["volume"]:
            wanted["volume_ids"] = [self.volume_by_id_or_name()["id"]]
        drifted = []
        for field, path in CREATION_ONLY:
            current = lookup(info, path)
            if field in wanted and not (current is None and field in MAY_BE_UNSHOWN):
                drifted.extend(drift_entry(where, lookup({field: current}, where.split(".")), lookup({field: wanted[field]}, where.split(".")))
                               for where in differences(wanted[field], current, field))
        self.result["drifted"] = drifted
        if drifted:
            self.module.warn("Shadeform instance {0} differs from the task in {1}; it is left as it is: these fields are set at creation "
                             "only (see drifted in the result). Delete it (state: absent) and create it again to change them.".format(
                                 describe(info), ", ".join(entry["field"] for entry in drifted)))

    def volume_by_id_or_name(self):
        """The volume of the option ``volume``, found by id or name among the workspace's volumes."""
        wanted = self.params["volume"]
        volumes = self.client.list_volumes()
        volume = self.find_one(volumes, "volume", item_id=wanted) or self.find_one(volumes, "volume", name=wanted)
        if volume is None:
            self.fail("No Shadeform volume has the id or name {0!r}; create it with shadeform.cloud.volume, or give its id.".format(wanted))
        return volume

    def volume_ids(self):
        """The one volume to attach: checked to be in the instance's cloud and region and free."""
        if not self.params["volume"]:
            return self.params["volume_ids"]
        volume = self.volume_by_id_or_name()
        wanted = self.params["volume"]
        if (volume.get("cloud"), volume.get("region")) != (self.params["cloud"], self.params["region"]):
            self.fail("Shadeform volume {0!r} is in {1} {2}; an instance can only attach a volume of its own cloud and region "
                      "({3} {4}).".format(wanted, volume.get("cloud"), volume.get("region"), self.params["cloud"], self.params["region"]))
        if volume.get("mounted_by") and not volume.get("supports_multi_mount"):
            self.fail("Shadeform volume {0!r} is already mounted by instance {1}.".format(wanted, volume["mounted_by"]))
        return [volume["id"]]

    def create_body(self):
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
        return body

    @staticmethod
    def create_view(body):
        return dict((k, v) for k, v in _diff_view(body).items() if v is not None)

    def create(self):
        body = self.create_body()
        self.result["diff"] = dict(before=self.result.get("diff", {}).get("before", {}), after=self.create_view(body))
        if self.module.check_mode:
            self.result["changed"] = True
            self.result["instance"] = redact_secrets(body)
            return
        instance_id = self.client.create_instance(body)
        # From here on the instance exists (and bills): every failure below still reports it, and changed.
        self.result["changed"] = True
        self.result["instance"] = {"id": instance_id, "name": body["name"]}
        if self.params["wait"]:
            info = self.wait_until_up(instance_id)
        else:
            info = self.details(self.listed_instance(instance_id) or dict(body, id=instance_id))
        self.result["instance"] = self.instance_result(info)

    def absent(self, found):
        self.result["diff"] = dict(before={}, after={})
        if found is None:
            return
        if found.get("status") not in GONE_STATUSES:
            self.result["diff"] = dict(before=_diff_view(found), after={})
            if self.module.check_mode:
                self.result["changed"] = True
                return
            self.delete(found)
        if self.params["wait"] and not self.module.check_mode:
            self.wait_until_gone(found["id"])

    def delete(self, found):
        """Delete; some providers refuse before the instance is active: then, with wait, ask again until the deadline."""
        self.deletions.request(found["id"])
        if self.deletions.refused and self.params["wait"]:
            self.deletions.wait(self.waiter)
        if self.deletions.refused:
            self.fail("Shadeform refused to delete instance {0} while it is {1!r} ({2}). Some providers only allow deleting "
                      "once the instance is active: {3}".format(
                          describe(found), found.get("status"), self.deletions.refused[found["id"]],
                          "raise wait_timeout, or run the task again later." if self.params["wait"] else "run again with wait: true, or later."))
        self.result["changed"] = True

    def restarted(self, found):
        if found is None:
            self.fail("No Shadeform instance {0} to restart.".format(
                "has the id {0}".format(self.params["id"]) if self.params["id"] else "is named {0!r}".format(self.params["name"])))
        if found.get("status") != "active":
            self.result["instance"] = self.instance_result(found)
            self.fail("Shadeform instance {0} is {1!r}; only active instances can be restarted.".format(describe(found), found.get("status")))
        self.result["ready"] = None
        self.result["diff"] = dict(before=dict(_diff_view(found), restarted=False), after=dict(_diff_view(found), restarted=True))
        self.result["instance"] = self.instance_result(found)
        if not self.module.check_mode:
            self.client.restart_instance(found["id"])
        self.result["msg"] = RESTART_NOTE
        self.result["changed"] = True


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
