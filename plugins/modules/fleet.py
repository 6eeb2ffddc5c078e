# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: fleet
short_description: Keep N reachable Shadeform GPU instances, launched on the cheapest offers that have capacity
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Makes sure a fleet of O(count) Shadeform instances exists (O(state=present)) or is gone (O(state=absent)). The
    members of a fleet are the instances tagged C(fleet=<name>), so the inventory plugin's default group
    C(tag_fleet_<name>) and the host variable C(shadeform_labels.fleet) find them.
  - "Offers come from C(GET /instances/types): every available region of every instance type that matches O(gpu_type),
    O(num_gpus), O(shade_instance_type), O(os) (one of the type's C(os_options)), O(deployment_types), O(clouds),
    O(regions) and O(rental_type), priced by that rental type (spot entries carry their own price), never above
    O(max_hourly_price), cheapest first. When no offer is left the module fails before creating anything and says which
    constraint emptied the list. O(gpu_type) or O(shade_instance_type) is required, so that a fleet never lands on
    whatever machine happens to be cheapest."
  - "Failover: a launch refused by the API (for example HTTP 409 for lack of capacity) moves on to the next offer. So
    does an instance that goes to C(error), or is not ready within O(wait_timeout): it is deleted first, so a failed
    launch is never left behind, still billed. An offer that failed is not tried again in the same run. A refusal no
    other offer can fix (HTTP 401, 403, or 409 C(INSUFFICIENT_FUNDS)) stops the module at once with the API's message.
    When the offers run out, the message counts the failures by reason (for example '14 offers refused: out of capacity
    (409); 2 went to error'); RV(attempts) keeps each one."
  - "Ready means: status C(active), an address, with O(wait_for_workload=true) a container no longer starting, and (with
    O(wait_for_ssh=true)) the SSH port accepting TCP connections from where the module runs. Address, user and port are
    read by the collection's one parser of them, the one the inventory uses: an IP literal or RFC 1123 host name, a plain
    user name, a port 1-65535 (also when the API gives it as a string); anything else is not used, with a warning. Every
    missing member is launched first, then all are waited for together, with one C(GET /instances) per poll for the
    whole fleet."
  - "Members that differ from the task: O(tags), O(auto_delete) and O(alert) are changed in place
    (C(POST /instances/{id}/update)) on every member that differs. Settings only a new instance can change
    (O(gpu_type), O(num_gpus), O(shade_instance_type), O(rental_type), O(os), O(clouds), O(regions), O(ssh_key_id),
    O(launch_configuration), O(envs), O(volume_mount)) are compared with each member, reading C(GET /instances/{id}/info)
    for those the list lacks; a member that differs is listed in RV(drifted) with how. O(on_spec_change) says what then
    happens: a warning, or its replacement."
  - "Idempotent: a second run with the same options creates, updates and deletes nothing. A smaller O(count) deletes the
    surplus, drifted members first, then the most expensive, then the newest; members in C(error) are deleted and
    replaced."
  - "Partial success: when the offers run out with fewer than O(count) members ready, the module fails, says how many
    are ready and why the others failed, and keeps the ready members (O(all_or_nothing=true) deletes the members it
    launched in that run instead)."
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - shadeform.cloud.api
  - shadeform.cloud.launch
  - shadeform.cloud.attributes
attributes:
  check_mode:
    support: full
    details: Reports the plan (the offers that would be tried, cheapest first, and the members that would be deleted).
  diff_mode:
    support: full
    details: The members before and after the run (or, in check mode, as the run would leave them), keyed by id.
options:
  name:
    description:
      - The fleet's name. Members are named C(<name>-<n>) and tagged C(fleet=<name>).
      - Letters, digits, C(-) and C(_) only, so that the tag makes a usable inventory group name.
    type: str
    required: true
  state:
    description:
      - V(present) makes the fleet exactly O(count) members.
      - V(absent) deletes every member and, with O(wait=true), waits until they are gone from C(GET /instances).
    type: str
    choices: [present, absent]
    default: present
  count:
    description: How many members the fleet has. Required with O(state=present); V(0) deletes every member.
    type: int
  gpu_type:
    description:
      - Only offers with this GPU type, for example V(H100) or V(A100). This or O(shade_instance_type) is required with
        O(state=present) and a O(count) above 0.
    type: str
  num_gpus:
    description: Only offers with this many GPUs per instance.
    type: int
  shade_instance_type:
    description: Only offers of this Shadeform instance type, for example V(H100x8).
    type: str
  deployment_types:
    description:
      - Only offers of types deployed this way (the type's C(deployment_type)), for example V([vm]). All kinds when not
        given.
    type: list
    elements: str
    choices: [vm, container, baremetal]
  clouds:
    description: Only offers on these clouds, for example V([lambdalabs, hyperstack]). All clouds when not given.
    type: list
    elements: str
  regions:
    description: Only offers in these regions. All regions when not given.
    type: list
    elements: str
  rental_type:
    description:
      - V(on_demand) or V(spot). Spot instances are priced per region, cost less, and can be reclaimed at any time (they
        then show C(deleting) with C(status_details) C(preempted)); spot launches always use Shadeform's own accounts.
    type: str
    choices: [on_demand, spot]
    default: on_demand
  max_hourly_price:
    description:
      - In dollars (not the API's cents). The most to pay per instance and hour, for example V(25.0). Dearer offers are
        never used.
    type: float
    aliases: [max_hourly_price_usd]
  os:
    description:
      - The operating system image of every member. Only the types whose C(os_options) hold it are offered, so no
        launch is refused for it.
    type: str
  ssh_key_id:
    description:
      - The id of the SSH key (see M(shadeform.cloud.ssh_key)) to install on every member; the workspace's default key
        when not given.
    type: str
  tags:
    description:
      - More tags for every member, next to C(fleet=<name>), for example V([env=prod]). Members whose tags differ are
        updated in place.
    type: list
    elements: str
    default: []
  purge_tags:
    description:
      - V(true) makes each member's tags exactly C(fleet=<name>) and O(tags), removing any other. V(false) only adds the
        missing ones and keeps the tags the task does not name (set by hand or by another tool).
    type: bool
    default: true
  on_spec_change:
    description:
      - What to do with members that differ from the task in a setting only a new instance can change (see RV(drifted)).
      - V(warn) keeps them and warns, listing each member and what differs.
      - "V(replace) replaces them, O(replace_batch) at a time: a batch's replacements are launched and waited for, and
        only once they are ready are the old members deleted. The fleet so never has fewer than O(count) ready members
        because of a replacement (and never fewer than O(count) minus O(replace_batch) in any case). A replacement that
        fails (offers out, not ready within O(wait_timeout)) is rolled back, the old member is kept and the module fails
        saying so. Needs O(wait=true)."
    type: str
    choices: [warn, replace]
    default: warn
  replace_batch:
    description: With O(on_spec_change=replace), how many members are replaced at a time (1 or more).
    type: int
    default: 1
  wait:
    description:
      - Wait until every member is ready (O(state=present)) or gone (O(state=absent)). Without waiting, a launch that
        later goes to C(error) is not replaced until the next run.
    type: bool
    default: true
  wait_timeout:
    description:
      - "Seconds the whole run may wait, in all (1 to 604800, a week): for launches and replacements to become ready, for
        refused deletions to go through, and with O(state=absent) for the members to be gone. It holds within one
        O(poll_interval). A launch still not ready at the end is deleted, so it is never left billing; a launch that is
        refused or goes to C(error) moves on to the next offer while time is left."
      - The default follows Shadeform's own clients (up to an hour); the types' C(boot_time) estimates are usually 3 to
        20 minutes. Replacing many members one batch after another needs more.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two looks at the fleet (one C(GET /instances) each) while waiting, more than 0 and at most a week.
    type: float
    default: 10
  wait_for_ssh:
    description:
      - Count a member as ready only once its SSH port accepts a TCP connection from the host the module runs on.
      - Turn this off when that host cannot reach the instances directly (for example through a bastion).
    type: bool
    default: true
  wait_for_workload:
    description:
      - Count a member as ready only once its container has started, not while the API says C(downloading) (an active
        instance whose docker image is still being pulled). For O(launch_configuration) of type V(docker).
    type: bool
    default: false
  all_or_nothing:
    description:
      - When fewer than O(count) members can be made ready, delete the members launched in this run too, instead of
        keeping them.
    type: bool
    default: false
notes:
  - The module runs on the host it is delegated to (usually C(localhost)); O(wait_for_ssh) connects from there, only to
    the address and port the API gives for each member.
seealso:
  - module: shadeform.cloud.instance
  - module: shadeform.cloud.instance_types_info
  - plugin: shadeform.cloud.shadeform
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Four 8x H100 machines, the cheapest with capacity, at most 25 dollars an hour each
  shadeform.cloud.fleet:
    name: trainers
    count: 4
    gpu_type: H100
    num_gpus: 8
    max_hourly_price_usd: 25.0
    clouds: [lambdalabs, hyperstack, datacrunch]
    ssh_key_id: "{{ key.ssh_key.id }}"
  register: fleet

- name: Make the new members hosts of this play (group tag_fleet_trainers)
  ansible.builtin.meta: refresh_inventory

- name: Spot capacity for a batch job, with a token kept secret
  shadeform.cloud.fleet:
    name: batch
    count: 8
    gpu_type: A100
    rental_type: spot
    max_hourly_price: 2.5
    launch_configuration:
      type: docker
      docker_configuration:
        image: ghcr.io/example/worker:latest
        envs:
          - name: HUGGING_FACE_HUB_TOKEN
            value: "{{ vault_hf_token }}"

- name: Move the fleet to A100s, one member at a time, each replacement ready before its old member goes
  shadeform.cloud.fleet:
    name: trainers
    count: 4
    gpu_type: A100
    num_gpus: 8
    on_spec_change: replace
    replace_batch: 1
    tags: [env=prod]
    purge_tags: false
  register: moved

- name: A container fleet on an OS image, ready once the container is up
  shadeform.cloud.fleet:
    name: inference
    count: 2
    gpu_type: A6000
    os: ubuntu22.04_cuda12.2
    deployment_types: [vm]
    wait_for_workload: true
    launch_configuration:
      type: docker
      docker_configuration:
        image: vllm/vllm-openai:latest

- name: Show what a scale-up would launch, without launching (add --diff for the members before and after)
  shadeform.cloud.fleet:
    name: trainers
    count: 6
    gpu_type: H100
    num_gpus: 8
  check_mode: true
  register: plan

- name: Retire the fleet
  shadeform.cloud.fleet:
    name: trainers
    state: absent
"""

RETURN = r"""
instances:
  description: The members of the fleet at the end of the run, ready ones first (secrets left out).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The instance id.
      type: str
    name:
      description: The instance name.
      type: str
    ip:
      description:
        - Its address (an IP literal or host name, as the collection's one parser accepts it); null until it is ready, and
          null with a warning when the API gives something else.
      type: str
    ssh_user:
      description: The SSH user (a plain user name, else null).
      type: str
    ssh_port:
      description: The SSH port, an integer also when the API gives it as a string.
      type: int
    cloud:
      description: The cloud.
      type: str
    region:
      description: The region.
      type: str
    shade_instance_type:
      description: The Shadeform instance type.
      type: str
    rental_type:
      description: V(on_demand) or V(spot).
      type: str
    hourly_price:
      description: The API's C(hourly_price), in cents per hour as the API gives it (for spot members, see C(hourly_price_usd)).
      type: int
    hourly_price_usd:
      description:
        - What the member costs, in dollars per hour (a float). For spot members the rate of their rental terms
          (C(rental_terms.hourly_price)), else C(hourly_price) / 100.
      type: float
    status:
      description: The API's status.
      type: str
    status_details:
      description: The API's C(status_details), for example C(downloading) while a container starts.
      type: str
    ready:
      description: Whether the member is ready (active, an address, SSH reachable when asked).
      type: bool
    tags:
      description: The member's tags.
      type: list
      elements: str
attempts:
  description: Every launch tried in this run, in order, with its outcome.
  returned: always
  type: list
  elements: dict
  contains:
    cloud:
      description: The offer's cloud.
      type: str
    region:
      description: The offer's region.
      type: str
    shade_instance_type:
      description: The offer's instance type.
      type: str
    rental_type:
      description: The offer's rental type.
      type: str
    hourly_price_usd:
      description: The offer's price in dollars per hour (a float).
      type: float
    id:
      description: The launched instance's id; absent when the API refused the launch.
      type: str
    http_status:
      description: The HTTP status of a refused launch.
      type: int
    error_code:
      description: The API's C(error_code) of a refused launch, when it gives one.
      type: str
    status_details:
      description: The API's C(status_details) of a launch that went to C(error).
      type: str
    outcome:
      description: V(ready), V(launched) (not waited for), V(refused), V(error), V(timeout), V(gone) or V(not_needed).
      type: str
    reason:
      description: The API's message or what went wrong.
      type: str
  sample:
    - {cloud: hyperstack, region: canada-1, shade_instance_type: H100x8, rental_type: on_demand, hourly_price_usd: 19.2,
       outcome: refused, http_status: 409, error_code: OUT_OF_CAPACITY, reason: "The Shadeform API answered HTTP 409: out of capacity"}
    - {cloud: lambdalabs, region: us-east-1, shade_instance_type: H100x8, rental_type: on_demand, hourly_price_usd: 23.9,
       id: 4a8e0c5e-1c35-4c8f-9d55-8b3a1d1c3e0b, outcome: ready}
created:
  description: Ids of the members launched in this run and kept.
  returned: always
  type: list
  elements: str
deleted:
  description:
    - Ids of the instances deleted in this run (surplus, failed launches, C(error) members, replaced members, or all with
      O(state=absent)).
  returned: always
  type: list
  elements: str
updated:
  description: Ids of the members whose tags, auto_delete or alert were changed in place in this run.
  returned: always
  type: list
  elements: str
drifted:
  description:
    - The members left differing from the task in a setting only a new instance can change (with O(on_spec_change=replace),
      the ones that could not be replaced). Secret values (env values, scripts, registry passwords) are shown redacted.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The member's id.
      type: str
    name:
      description: The member's name.
      type: str
    differences:
      description: For each setting that differs, the member's value (C(member)) and the task's (C(wanted)).
      type: dict
  sample:
    - id: 4a8e0c5e-1c35-4c8f-9d55-8b3a1d1c3e0b
      name: trainers-1
      differences:
        gpu_type: {member: H100, wanted: A100}
        shade_instance_type: {member: H100x8, wanted: A100x8}
replaced:
  description: The members replaced in this run (O(on_spec_change=replace)), each with the id of its replacement.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The old member's id (deleted once its replacement was ready).
      type: str
    name:
      description: The old member's name.
      type: str
    by:
      description: The id of the replacement.
      type: str
plan:
  description: In check mode, what a real run would do.
  returned: check mode
  type: dict
  contains:
    create:
      description: How many members would be launched.
      type: int
    offers:
      description: The offers that would be tried, cheapest first.
      type: list
      elements: dict
    delete:
      description: Ids of the members that would be deleted.
      type: list
      elements: str
    updates:
      description: For each member that would be updated in place, its id and the update's body.
      type: dict
    replace:
      description: Ids of the drifted members that would be replaced (O(on_spec_change=replace)).
      type: list
      elements: str
"""

import math
import re
import socket

from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import ShadeformAPIError
from ansible_collections.shadeform.cloud.plugins.module_utils.common import (
    Deletions, Task, api_argument_spec, check_launch_configuration, launch_argument_spec, refusal_is_final, run_module, threshold_key,
    wait_argument_spec, without_none)
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import (
    GONE_STATUSES, hourly_price_usd, is_ready, lookup, redact_secrets, status_details_note)
from ansible_collections.shadeform.cloud.plugins.module_utils.offers import DEPLOYMENT_TYPES, offer_key, offers
from ansible_collections.shadeform.cloud.plugins.module_utils.ssh_endpoint import ssh_endpoint

LAUNCH_FIELDS = ("os", "ssh_key_id") + tuple(launch_argument_spec())
FLEET_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
SSH_PROBE_TIMEOUT = 5
SUMMARY_FIELDS = ("id", "name", "cloud", "region", "shade_instance_type", "status", "status_details", "hourly_price", "tags")
# Settings POST /instances/{id}/update changes in place; the fleet's name is its identity (the fleet=<name> tag).
IN_PLACE = ("tags", "auto_delete", "alert")
# Where a member keeps each setting that only a new instance can change: (option, path in the instance or /info).
FIXED_SETTINGS = (("shade_instance_type", ("shade_instance_type",)), ("gpu_type", ("configuration", "gpu_type")),
                  ("num_gpus", ("configuration", "num_gpus")), ("rental_type", ("rental_terms", "rental_type")),
                  ("os", ("configuration", "os")), ("launch_configuration", ("launch_configuration",)),
                  ("ssh_key_id", ("ssh_key_id",)), ("envs", ("envs",)), ("volume_mount", ("volume_mount",)))


def argument_spec():
    spec = api_argument_spec()
    spec.update(wait_argument_spec())
    spec.update(launch_argument_spec())
    spec.update(
        os=dict(type="str"),
        ssh_key_id=dict(type="str", no_log=False),
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        count=dict(type="int"),
        gpu_type=dict(type="str"),
        num_gpus=dict(type="int"),
        shade_instance_type=dict(type="str"),
        deployment_types=dict(type="list", elements="str", choices=list(DEPLOYMENT_TYPES)),
        clouds=dict(type="list", elements="str"),
        regions=dict(type="list", elements="str"),
        rental_type=dict(type="str", default="on_demand", choices=["on_demand", "spot"]),
        max_hourly_price=dict(type="float", aliases=["max_hourly_price_usd"]),
        tags=dict(type="list", elements="str", default=[]),
        purge_tags=dict(type="bool", default=True),
        on_spec_change=dict(type="str", default="warn", choices=["warn", "replace"]),
        replace_batch=dict(type="int", default=1),
        wait_for_ssh=dict(type="bool", default=True),
        wait_for_workload=dict(type="bool", default=False),
        all_or_nothing=dict(type="bool", default=False),
    )
    return spec


def fleet_tag(name):
    return "fleet={0}".format(name)


def is_member(instance, name):
    tags = instance.get("tags")
    return isinstance(tags, list) and fleet_tag(name) in tags and instance.get("status") not in GONE_STATUSES


def surplus_first(members, drifted_ids=()):
    """The members in the order a smaller count deletes them: drifted first, then the most expensive, then the newest."""
    newest_first = sorted(members, key=lambda item: str(item.get("created_at") or ""), reverse=True)  # RFC 3339 UTC sorts by time
    # Stable sorts: among equals the newest comes first.
    return sorted(newest_first, key=lambda item: (item.get("id") not in drifted_ids, -(hourly_price_usd(item) or 0)))


def _setting(value):
    """A launch setting as compared: None-free, an empty container the same as none."""
    value = without_none(value)
    return None if value in ({}, []) else value


def _shown(field, value):
    """A setting as a result may show it: secrets (env values, scripts, registry passwords) redacted."""
    return redact_secrets({field: value})[field] if field in ("envs", "launch_configuration") else value


class Launch:
    """One member launched in this run (or kept from an earlier one) until it is ready or has failed."""

    def __init__(self, instance_id, name, offer, attempt=None):
        self.id = instance_id
        self.name = name
        self.offer = offer  # None for a member of an earlier run
        self.attempt = attempt  # its entry in the result's attempts


class Fleet(Task):
    """One run of the module: ``result`` (shared with run_module) is filled as the run goes; ``waiter`` (from Task) holds
    the run's one deadline, wait_timeout in all, for every launch, replacement and deletion."""

    def __init__(self, module, client, result):
        super().__init__(module, client, result)
        self.attempts = []
        self.created = []
        # A fleet owes several deletes at once: one that got no answer is asked again, never the end of the others.
        self.deletions = Deletions(client, keep_unanswered=True)
        self.updated = []
        self.replaced = []
        self.failed_offers = set()
        self.names_taken = set()
        result.update(instances=[], attempts=self.attempts, created=self.created, deleted=self.deletions.deleted, updated=self.updated,
                      replaced=self.replaced, drifted=[])

    def members(self):
        return [item for item in self.client.list_instances() if isinstance(item, dict) and is_member(item, self.params["name"])]

    # -- the run ---------------------------------------------------------------------------------------------------

    def run(self):
        self.check_params()
        members = self.members()
        if self.params["state"] == "absent" or self.params["count"] == 0:
            self.absent(members)
        else:
            self.present(members)

    def check_params(self):
        params = self.params
        if not FLEET_NAME.match(params["name"]):
            self.fail("name {0!r} may hold only letters, digits, '-' and '_', so that the tag fleet=<name> makes a usable "
                      "inventory group.".format(params["name"]))
        if params["state"] == "present":
            if params["count"] is None:
                self.fail("count is required with state: present (0 deletes every member).")
            if params["count"] < 0:
                self.fail("count must be 0 or more, not {0}.".format(params["count"]))
            if params["count"] > 0 and not (params["gpu_type"] or params["shade_instance_type"]):
                self.fail("A fleet needs gpu_type or shade_instance_type: without either it would launch the cheapest machine of "
                          "any kind. See what is offered with shadeform.cloud.instance_types_info.")
        if params["max_hourly_price"] is not None and not (math.isfinite(params["max_hourly_price"]) and params["max_hourly_price"] > 0):
            self.fail("max_hourly_price must be a positive number of dollars, not {0}.".format(params["max_hourly_price"]))
        if params["replace_batch"] < 1:
            self.fail("replace_batch must be 1 or more, not {0}.".format(params["replace_batch"]))
        if params["on_spec_change"] == "replace" and not params["wait"]:
            self.fail("on_spec_change: replace needs wait: true: an old member is deleted only once its replacement is ready.")
        check_launch_configuration(self.module, self.result)

    def absent(self, members):
        self.result["changed"] = bool(members)
        self.show_diff(members, [])
        if self.module.check_mode:
            self.result["plan"] = dict(create=0, offers=[], delete=[item.get("id") for item in members], updates={}, replace=[])
            return
        for item in members:
            self.deletions.request(item["id"])
        if self.params["wait"] and members:
            remaining = self.wait_until_gone(item["id"] for item in members)
            if remaining:
                self.fail("{0} member(s) of fleet {1!r} are still listed after {2} seconds: {3}. Billing stopped when they went to "
                          "'deleting'; run the task again later to wait for them.".format(
                              len(remaining), self.params["name"], self.params["wait_timeout"], ", ".join(sorted(remaining))))
        self.finish_deletions()

    def present(self, members):
        count = self.params["count"]
        drift = self.drift_and_updates(members)
        broken = [item for item in members if item.get("status") == "error"]
        healthy = [item for item in members if item.get("status") != "error"]
        surplus = surplus_first(healthy, drift)[:max(0, len(healthy) - count)]
        surplus_ids = set(item.get("id") for item in surplus)
        kept = [item for item in healthy if item.get("id") not in surplus_ids]
        self.names_taken = set(item.get("name") for item in kept)
        need = count - len(kept)
        drifted = [item for item in kept if item["id"] in drift and drift[item["id"]][0]]
        updates = dict((item["id"], drift[item["id"]][1]) for item in kept if item["id"] in drift and drift[item["id"]][1])
        replacing = drifted if self.params["on_spec_change"] == "replace" else []
        self.result["drifted"] = [dict(id=item["id"], name=item.get("name"), differences=drift[item["id"]][0]) for item in drifted]
        offer_list = self.offers() if need > 0 or replacing else []
        self.show_diff(members, kept, updates, replacing, need)
        if drifted and not replacing:
            self.module.warn("Fleet {0!r}: {1} member(s) differ from this task in settings only a new instance can change ({2}): {3}. "
                             "They are kept; on_spec_change: replace replaces them, replace_batch at a time.".format(
                                 self.params["name"], len(drifted), ", ".join(sorted(set(f for d in self.result["drifted"]
                                                                                         for f in d["differences"]))),
                                 ", ".join(str(item.get("name")) for item in drifted)))
        if self.module.check_mode:
            self.result["changed"] = bool(need > 0 or broken or surplus or updates or replacing)
            self.result["plan"] = dict(create=max(need, 0), offers=offer_list, delete=[item.get("id") for item in broken + surplus],
                                       updates=updates, replace=[item["id"] for item in replacing])
            self.result["instances"] = [self.summary(item, self.is_up(item)) for item in kept]
            return
        for item in broken + surplus:
            self.result["changed"] = True
            self.deletions.request(item["id"])
        for instance_id, body in updates.items():
            self.client.update_instance(instance_id, body)
            self.result["changed"] = True
            self.updated.append(instance_id)
        launches = []
        for member_name in self.free_names(need):
            launch = self.launch(member_name, offer_list)
            if launch is None:
                break
            launches.append(launch)
        ready_ids = set()
        if self.params["wait"]:
            ready_ids = self.wait_until_ready(launches + [Launch(item["id"], item.get("name"), None) for item in kept], offer_list)
            self.replace_drifted([item for item in replacing if item["id"] in ready_ids], offer_list, ready_ids)
        else:
            for launch in launches:
                launch.attempt["outcome"] = "launched"
        self.finish_deletions()
        if self.params["wait"] and self.deletions.deleted:
            # So that the inventory's tag_fleet_<name> group, read right after, holds only the members kept.
            remaining = self.wait_until_gone(self.deletions.deleted)
            if remaining:
                self.module.warn("Fleet {0!r}: {1} deleted instance(s) are still listed (deleting; billing has stopped) at the end of "
                                 "wait_timeout: {2}. The inventory shows them until they are gone, unless it keeps only "
                                 "statuses: [active].".format(self.params["name"], len(remaining), ", ".join(sorted(remaining))))
        self.report(ready_ids, count)

    # -- what differs from the task --------------------------------------------------------------------------------

    def drift_and_updates(self, members):
        """{id: (differences, update body)} of the members that differ from the task (error members left out)."""
        params = self.params
        found = {}
        for member in members:
            if member.get("status") == "error":
                continue
            info = member
            # /info holds what the list lacks (ssh_key_id, envs, volume_mount, auto_delete, alert, at times the launch
            # configuration or the OS): read it only when the task names such a setting.
            if any(params[option] is not None and lookup(member, path) is None for option, path in FIXED_SETTINGS) or any(
                    params[option] is not None for option in ("auto_delete", "alert")):
                info = dict(member, **(self.client.instance_info(member["id"], missing_ok=True) or {}))
            differences = {}
            for option, path in FIXED_SETTINGS:
                if params[option] is None:
                    continue
                have, wanted = lookup(info, path), params[option]
                if option in ("launch_configuration", "envs", "volume_mount"):
                    have, wanted = _setting(have), _setting(wanted)
                elif have is None and option in ("rental_type", "os", "gpu_type", "num_gpus"):
                    continue  # not told: nothing to compare
                if have != wanted:
                    differences[option] = dict(member=_shown(option, have), wanted=_shown(option, wanted))
            for option, field in (("clouds", "cloud"), ("regions", "region")):
                if params[option] and member.get(field) not in params[option]:
                    differences[field] = dict(member=member.get(field), wanted=params[option])
            body = self.update_body(member, info)
            if differences or body:
                found[member["id"]] = (differences, body)
        return found

    def update_body(self, member, info):
        """The POST /instances/{id}/update body that brings tags, auto_delete and alert to the task's (empty: nothing to do)."""
        params = self.params
        current = member.get("tags") if isinstance(member.get("tags"), list) else []
        wanted = self.wanted_tags()
        if not params["purge_tags"]:
            wanted = current + [tag for tag in wanted if tag not in current]
        body = {}
        if sorted(set(current)) != sorted(set(wanted)):
            body["tags"] = wanted
        for field in ("auto_delete", "alert"):
            if params[field] is not None and threshold_key(info.get(field)) != threshold_key(without_none(params[field])):
                body[field] = without_none(params[field]) or None  # {} (both thresholds unset) removes it: null deletes
        return body

    def wanted_tags(self):
        tag = fleet_tag(self.params["name"])
        return [tag] + list(dict.fromkeys(item for item in self.params["tags"] if item != tag))

    def show_diff(self, members, kept, updates=None, replacing=(), need=0):
        """The module's diff (--diff): the members before and, as this run leaves them (or would, in check mode), after."""
        if not self.module._diff:  # pylint: disable=protected-access
            return
        updates = updates or {}
        replacing_ids = set(item["id"] for item in replacing)

        def view(item, **changes):
            shown = dict((field, item.get(field)) for field in ("name", "cloud", "region", "shade_instance_type", "status"))
            shown.update(gpu_type=lookup(item, ("configuration", "gpu_type")), num_gpus=lookup(item, ("configuration", "num_gpus")),
                         os=lookup(item, ("configuration", "os")), rental_type=lookup(item, ("rental_terms", "rental_type")),
                         tags=item.get("tags"))
            shown.update(changes)
            return shown

        wanted = dict((field, self.params[field]) for field in ("gpu_type", "num_gpus", "shade_instance_type", "os", "rental_type")
                      if self.params[field] is not None)
        after = {}
        for item in kept:
            if item["id"] in replacing_ids:
                after["(replacement of {0})".format(item.get("name"))] = dict(wanted, status="to be launched")
            else:
                after[item["id"]] = view(item, **updates.get(item["id"], {}))
        for number in range(max(need, 0)):
            after["(new {0})".format(number + 1)] = dict(wanted, status="to be launched")
        self.result["diff"] = dict(before=dict(members=dict((item["id"], view(item)) for item in members)), after=dict(members=after))

    # -- offers and launches ---------------------------------------------------------------------------------------

    def offers(self):
        params = self.params
        query = dict((field, params[field]) for field in ("gpu_type", "num_gpus", "shade_instance_type") if params[field] is not None)
        found, why_empty = offers(self.client.list_instance_types(query), params["rental_type"], params["clouds"], params["regions"],
                                  params["max_hourly_price"], os_name=params["os"], deployment_types=params["deployment_types"])
        if not found:
            asked = ", ".join("{0}={1}".format(field, params[field]) for field in ("gpu_type", "num_gpus", "shade_instance_type")
                              if params[field] is not None)
            self.fail("No Shadeform offer fits ({0}): none is left after filtering on {1}. Nothing was created. Relax that "
                      "constraint, or see what is offered with shadeform.cloud.instance_types_info.".format(asked, why_empty))
        return found

    def free_names(self, need):
        names = []
        index = 1
        while len(names) < need:
            candidate = "{0}-{1}".format(self.params["name"], index)
            if candidate not in self.names_taken:
                names.append(candidate)
                self.names_taken.add(candidate)
            index += 1
        return names

    def next_offer(self, offer_list):
        return next((offer for offer in offer_list if offer_key(offer) not in self.failed_offers), None)

    def launch(self, member_name, offer_list):
        """Launch one member on the cheapest offer that accepts it; None when every offer has failed."""
        while True:
            offer = self.next_offer(offer_list)
            if offer is None:
                return None
            attempt = dict((field, offer[field]) for field in ("cloud", "region", "shade_instance_type", "rental_type", "hourly_price_usd"))
            self.attempts.append(attempt)
            try:
                instance_id = self.client.create_instance(self.create_body(member_name, offer))
            except ShadeformAPIError as exc:
                attempt.update(outcome="refused", reason=str(exc), http_status=exc.status, error_code=exc.code)
                if refusal_is_final(exc):
                    # No other offer fixes this, and after a 5xx the launch may even have gone through: stop here.
                    self.fail("Launching {0} on {1} was refused, and no other offer can fix that: {2}{3}".format(
                        member_name, _offer_text(offer), exc, self.progress_note()))
                self.failed_offers.add(offer_key(offer))
                continue
            self.result["changed"] = True
            attempt["id"] = instance_id
            self.created.append(instance_id)
            return Launch(instance_id, member_name, offer, attempt)

    def create_body(self, member_name, offer):
        params = self.params
        body = dict(cloud=offer["cloud"], region=offer["region"], shade_instance_type=offer["shade_instance_type"], shade_cloud=True,
                    name=member_name, tags=self.wanted_tags())
        if offer["rental_type"] != "on_demand":
            body["rental_type"] = offer["rental_type"]
        for field in LAUNCH_FIELDS:
            if params[field] is not None:
                body[field] = without_none(params[field])
        return body

    def replace_drifted(self, drifted, offer_list, ready_ids):
        """Replace drifted members replace_batch at a time: each batch's replacements ready before its old members go."""
        batch_size = self.params["replace_batch"]
        for start in range(0, len(drifted), batch_size):
            batch = drifted[start:start + batch_size]
            known = set(self.created)
            launches = [launch for launch in (self.launch(name, offer_list) for name in self.free_names(len(batch))) if launch]
            ready = self.wait_until_ready(launches, offer_list) if launches else set()
            new_ready = [item for item in self.created if item not in known and item in ready]
            for old, new in zip(batch, new_ready):
                self.deletions.request(old["id"])
                ready_ids.discard(old["id"])
                ready_ids.add(new)
                self.replaced.append(dict(id=old["id"], name=old.get("name"), by=new))
            if len(new_ready) < len(batch):
                break
        replaced_ids = set(item["id"] for item in self.replaced)
        self.result["drifted"] = [item for item in self.result["drifted"] if item["id"] not in replaced_ids]

    # -- waiting ---------------------------------------------------------------------------------------------------

    def wait_until_gone(self, ids):
        """Poll (retrying refused deletions) until these instances have left the list or the deadline passed; those still listed."""
        remaining = set(ids)

        def gone():
            self.deletions.retry()
            remaining.intersection_update(item.get("id") for item in self.client.list_instances() if isinstance(item, dict))
            return True if not remaining else None

        self.waiter.poll(gone)
        return remaining

    def wait_until_ready(self, waiting, offer_list):
        """Poll the fleet until each launch is ready or has failed (and been replaced); the ids of the ready ones."""
        ready = set()
        waiting = list(waiting)

        def look():
            listed = dict((item.get("id"), item) for item in self.client.list_instances() if isinstance(item, dict))
            self.deletions.retry()
            still = []
            for launch in waiting:
                instance = listed.get(launch.id)
                failure = None
                if instance is None:
                    failure = ("gone", "the instance disappeared from the instance list")
                elif instance.get("status") == "error":
                    failure = ("error", "the instance went to status 'error'{0}".format(status_details_note(instance)))
                elif instance.get("status") in GONE_STATUSES:
                    failure = ("gone", "the instance is {0}{1}".format(instance.get("status"), status_details_note(instance)))
                elif self.is_up(instance) and self.reachable(instance):
                    ready.add(launch.id)
                    if launch.attempt is not None:
                        launch.attempt["outcome"] = "ready"
                    continue
                elif self.waiter.expired():
                    failure = ("timeout", "not ready within wait_timeout ({0} seconds, status {1!r}{2})".format(
                        self.params["wait_timeout"], instance.get("status"), status_details_note(instance)))
                if failure is None:
                    still.append(launch)
                    continue
                replacement = self.roll_back(launch, failure, instance, offer_list)
                if replacement is not None:
                    still.append(replacement)
            waiting[:] = still
            return True if not waiting else None

        self.waiter.poll(look)
        return ready

    def roll_back(self, launch, failure, instance, offer_list):
        """Roll back a failed launch and, while there is time, launch its replacement on the next offer (else None)."""
        outcome, reason = failure
        if launch.attempt is None:
            # A member from an earlier run: its failure is noted like a launch of this run's.
            launch.attempt = dict(id=launch.id, **dict((field, (instance or {}).get(field)) for field in
                                                       ("cloud", "region", "shade_instance_type")))
            launch.attempt.update(rental_type=lookup(instance or {}, ("rental_terms", "rental_type")),
                                  hourly_price_usd=hourly_price_usd(instance or {}))
            self.attempts.append(launch.attempt)
        launch.attempt.update(outcome=outcome, reason=reason)
        if outcome == "error":
            launch.attempt["status_details"] = (instance or {}).get("status_details")
        if launch.offer is not None:
            self.failed_offers.add(offer_key(launch.offer))
        if launch.id in self.created:
            self.created.remove(launch.id)
        if instance is not None and instance.get("status") not in GONE_STATUSES:
            self.deletions.request(launch.id)
        self.result["changed"] = True
        if self.waiter.expired():
            return None
        if not offer_list:
            offer_list[:] = self.offers()
        return self.launch(launch.name, offer_list)

    def is_up(self, instance):
        """Ready as the API can tell: active, an address the one parser accepts, and (wait_for_workload) its container started."""
        return is_ready(instance, self.params["wait_for_workload"])

    def reachable(self, instance):
        if not self.params["wait_for_ssh"]:
            return True
        endpoint = ssh_endpoint(instance)
        if endpoint.port is None:
            return False
        try:
            # Only the address and port the API gives for this instance, as the one parser reads them.
            # A probe never runs on long past the run's deadline.
            timeout = min(SSH_PROBE_TIMEOUT, max(self.waiter.remaining(), 0.1))
            with socket.create_connection((endpoint.address, endpoint.port), timeout=timeout):
                return True
        except (OSError, ValueError):
            return False

    # -- deleting --------------------------------------------------------------------------------------------------

    def finish_deletions(self):
        """Ask again for refused deletions at each look until they go through or the run's deadline (at once without wait);
        fail if some remain. As in the fleet's other waits, every refused delete is asked again at each look, launching or
        not (Deletions.retry without a list): no list call is spent on it, and the fleet's waits read the list anyway."""
        refused = self.deletions.refused
        if refused and not (self.waiter.poll(lambda: self.deletions.retry() or None) if self.params["wait"] else self.deletions.retry()):
            self.fail("The Shadeform API refused to delete {0} until the end of wait_timeout: {1}. Delete them with shadeform.cloud.instance "
                      "(state: absent) once they are active, or run this task again.{2}".format(
                          ", ".join(sorted(refused)), "; ".join(sorted(set(refused.values()))), self.progress_note()))

    # -- reporting -------------------------------------------------------------------------------------------------

    def summary(self, instance, ready):
        """A member as the result shows it: the API's fields (hourly_price in cents), hourly_price_usd, the one parser's address."""
        summary = dict((field, instance.get(field)) for field in SUMMARY_FIELDS)
        endpoint = ssh_endpoint(instance)
        if endpoint.refused:
            self.warn_once(instance.get("id"), "Member {0} of fleet {1!r}: the API gave an unusable {2}; it is shown without it.".format(
                instance.get("id"), self.params["name"], ", ".join(endpoint.refused)))
        summary.update(ip=endpoint.address, ssh_user=endpoint.user, ssh_port=endpoint.port,
                       rental_type=lookup(instance, ("rental_terms", "rental_type")) or "on_demand",
                       hourly_price_usd=hourly_price_usd(instance), ready=ready)
        return summary

    def progress_note(self):
        return " Launched in this run and kept: {0}.".format(", ".join(self.created)) if self.created else ""

    def report(self, ready_ids, count):
        listed = self.members()
        wait = self.params["wait"]
        members = [self.summary(instance, instance["id"] in ready_ids if wait else self.is_up(instance)) for instance in listed]
        members.sort(key=lambda item: (not item["ready"], str(item["name"])))
        self.result["instances"] = members
        if self.module._diff:  # pylint: disable=protected-access
            self.result["diff"]["after"] = dict(members=dict((item["id"], dict(
                (field, item.get(field)) for field in ("name", "cloud", "region", "shade_instance_type", "status", "tags")))
                for item in listed))
        self.result["drifted"] = [item for item in self.result["drifted"] if item["id"] not in self.deletions.deleted]
        short = count - (len([item for item in members if item["ready"]]) if wait else len(listed))
        if self.result["drifted"] and self.params["on_spec_change"] == "replace" and short <= 0:
            self.fail("Fleet {0!r}: {1} drifted member(s) could not be replaced and are kept: {2}. {3}".format(
                self.params["name"], len(self.result["drifted"]), ", ".join(str(item["name"]) for item in self.result["drifted"]),
                failure_summary(self.attempts) or "No replacement was ready in time."))
        if short <= 0:
            return
        reasons = failure_summary(self.attempts) or "No offer was left to try."
        if self.params["all_or_nothing"] and self.created:
            for instance_id in list(self.created):
                self.deletions.request(instance_id)
                self.created.remove(instance_id)
            self.deletions.retry()
            self.result["instances"] = [item for item in members if item["id"] not in self.deletions.deleted]
            self.fail("Fleet {0!r}: only {1} of {2} members could be made ready, so the members launched in this run were deleted "
                      "(all_or_nothing). {3} See attempts for each offer.".format(self.params["name"], count - short, count, reasons))
        self.fail("Fleet {0!r}: {1} of {2} members are ready; the offers ran out for the other {3}. The ready members are kept "
                  "(all_or_nothing: true deletes them instead). {4} See attempts for each offer.".format(
                      self.params["name"], count - short, count, short, reasons))


def failure_summary(attempts):
    """The failed attempts counted by reason: ``14 offers refused: out of capacity (409); 2 went to error (hardware fault).``

    Refusals are grouped by HTTP status and the API's error code; without a code, the first refusal's text stands for
    its group. ``attempts`` keeps every single reason.
    """
    groups = {}
    for attempt in attempts:
        outcome = attempt.get("outcome")
        if outcome == "refused":
            key = (outcome, attempt.get("http_status"), attempt.get("error_code"))
        elif outcome == "error":
            key = (outcome, attempt.get("status_details") or "", None)
        elif outcome in ("timeout", "gone"):
            key = (outcome, None, None)
        else:
            continue
        groups.setdefault(key, []).append(attempt)
    parts = []
    for (outcome, detail, code), group in groups.items():
        if outcome == "refused" and code:
            parts.append("{0} offer{1} refused: {2} ({3})".format(len(group), "" if len(group) == 1 else "s",
                                                                  str(code).lower().replace("_", " "), detail))
        elif outcome == "refused":
            parts.append("{0} offer{1} refused with HTTP {2}, for example: {3}".format(
                len(group), "" if len(group) == 1 else "s", detail, _shortened(group[0].get("reason"))))
        elif outcome == "error":
            parts.append("{0} went to error{1}".format(len(group), " ({0})".format(_shortened(detail)) if detail else ""))
        else:
            parts.append("{0} {1}".format(len(group), "were not ready within wait_timeout" if outcome == "timeout" else "disappeared"))
    return "; ".join(parts) + "." if parts else ""


def _shortened(text, most=160):
    text = str(text or "").rstrip(".")
    return text if len(text) <= most else text[:most - 3] + "..."


def _offer_text(offer):
    return "{0}/{1}/{2} ({3}, ${4}/h)".format(offer.get("cloud"), offer.get("region"), offer.get("shade_instance_type"),
                                              offer.get("rental_type"), offer.get("hourly_price_usd"))


def run(module, client, result):
    Fleet(module, client, result).run()


def main():
    # wait_timeout 0 would launch only to delete each launch at once: not ready by the deadline.
    run_module(argument_spec(), run, least_wait_timeout=1)


if __name__ == "__main__":
    main()
