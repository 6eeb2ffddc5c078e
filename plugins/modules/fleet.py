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
    O(num_gpus), O(shade_instance_type), O(clouds), O(regions) and O(rental_type), priced by that rental type (spot
    entries carry their own price), never above O(max_hourly_price), cheapest first. When no offer is left the module
    fails before creating anything and says which constraint emptied the list."
  - "Failover: a launch refused by the API (for example HTTP 409 for lack of capacity) moves on to the next offer. So
    does an instance that goes to C(error), or is not ready within O(wait_timeout): it is deleted first, so a failed
    launch is never left behind, still billed. An offer that failed is not tried again in the same run. A refusal no
    other offer can fix (HTTP 401, 403, or 409 C(INSUFFICIENT_FUNDS)) stops the module at once with the API's message."
  - "Ready means: status C(active), an address, and (with O(wait_for_ssh=true)) the SSH port accepting TCP connections
    from where the module runs. Every missing member is launched first, then all are waited for together, with one
    C(GET /instances) per poll for the whole fleet."
  - "Idempotent: a second run with the same O(count) creates and deletes nothing. A smaller O(count) deletes the
    surplus, the most expensive first, then the newest; members in C(error) are deleted and replaced."
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
    support: none
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
    description: Only offers with this GPU type, for example V(H100) or V(A100).
    type: str
  num_gpus:
    description: Only offers with this many GPUs per instance.
    type: int
  shade_instance_type:
    description: Only offers of this Shadeform instance type, for example V(H100x8).
    type: str
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
    description: The most to pay per instance and hour, in dollars (for example V(25.0)). Dearer offers are never used.
    type: float
  os:
    description: The operating system image of every member, one of the types' C(os_options).
    type: str
  ssh_key_id:
    description:
      - The id of the SSH key (see M(shadeform.cloud.ssh_key)) to install on every member; the workspace's default key
        when not given.
    type: str
  tags:
    description: More tags for every member, next to C(fleet=<name>), for example V([env=prod]).
    type: list
    elements: str
    default: []
  wait:
    description:
      - Wait until every member is ready (O(state=present)) or gone (O(state=absent)). Without waiting, a launch that
        later goes to C(error) is not replaced until the next run.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds each launched member may take to become ready before it is deleted and the next offer is tried; with
        O(state=absent), seconds to wait in all for the members to be gone.
      - The default follows Shadeform's own clients (up to an hour); the types' C(boot_time) estimates are usually 3 to
        20 minutes.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two looks at the fleet (one C(GET /instances) each) while waiting.
    type: float
    default: 10
  wait_for_ssh:
    description:
      - Count a member as ready only once its SSH port accepts a TCP connection from the host the module runs on.
      - Turn this off when that host cannot reach the instances directly (for example through a bastion).
    type: bool
    default: true
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
    max_hourly_price: 25.0
    clouds: [lambdalabs, hyperstack, datacrunch]
    ssh_key_id: "{{ key.id }}"
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

- name: Show what a scale-up would launch, without launching
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
      description: Its address; null until it is ready.
      type: str
    ssh_user:
      description: The SSH user.
      type: str
    ssh_port:
      description: The SSH port.
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
      description: Dollars per hour.
      type: float
    status:
      description: The API's status.
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
    hourly_price:
      description: The offer's price in dollars per hour.
      type: float
    id:
      description: The launched instance's id; absent when the API refused the launch.
      type: str
    outcome:
      description: V(ready), V(launched) (not waited for), V(refused), V(error), V(timeout), V(gone) or V(not_needed).
      type: str
    reason:
      description: The API's message or what went wrong.
      type: str
  sample:
    - {cloud: hyperstack, region: canada-1, shade_instance_type: H100x8, rental_type: on_demand, hourly_price: 19.2,
       outcome: refused, reason: "The Shadeform API answered HTTP 409: out of capacity"}
    - {cloud: lambdalabs, region: us-east-1, shade_instance_type: H100x8, rental_type: on_demand, hourly_price: 23.9,
       id: 4a8e0c5e-1c35-4c8f-9d55-8b3a1d1c3e0b, outcome: ready}
created:
  description: Ids of the members launched in this run and kept.
  returned: always
  type: list
  elements: str
deleted:
  description: Ids of the instances deleted in this run (surplus, failed launches, C(error) members, or all with O(state=absent)).
  returned: always
  type: list
  elements: str
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
"""

import re
import socket
import time

from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import ShadeformAPIError
from ansible_collections.shadeform.cloud.plugins.module_utils.common import (
    api_argument_spec, check_launch_configuration, launch_argument_spec, run_module, without_none)
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import GONE_STATUSES, is_ready, status_details_note
from ansible_collections.shadeform.cloud.plugins.module_utils.offers import offer_key, offers

LAUNCH_FIELDS = ("os", "ssh_key_id") + tuple(launch_argument_spec())
FLEET_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# A refusal of these HTTP statuses is about the key or the account, not the offer: no other offer can fix it.
FATAL_STATUSES = (401, 402, 403)
SSH_PROBE_TIMEOUT = 5
SUMMARY_FIELDS = ("id", "name", "ip", "ssh_user", "ssh_port", "cloud", "region", "shade_instance_type", "status", "tags")


def argument_spec():
    spec = api_argument_spec()
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
        clouds=dict(type="list", elements="str"),
        regions=dict(type="list", elements="str"),
        rental_type=dict(type="str", default="on_demand", choices=["on_demand", "spot"]),
        max_hourly_price=dict(type="float"),
        tags=dict(type="list", elements="str", default=[]),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=3600),
        poll_interval=dict(type="float", default=10),
        wait_for_ssh=dict(type="bool", default=True),
        all_or_nothing=dict(type="bool", default=False),
    )
    return spec


def fleet_tag(name):
    return "fleet={0}".format(name)


def is_member(instance, name):
    tags = instance.get("tags")
    return isinstance(tags, list) and fleet_tag(name) in tags and instance.get("status") not in GONE_STATUSES


def _cents(instance):
    cents = instance.get("hourly_price")
    return cents if isinstance(cents, (int, float)) and not isinstance(cents, bool) else None


def surplus_first(members):
    """The members in the order a smaller count deletes them: the most expensive first, then the newest."""
    newest_first = sorted(members, key=lambda item: str(item.get("created_at") or ""), reverse=True)  # RFC 3339 UTC sorts by time
    return sorted(newest_first, key=lambda item: _cents(item) or 0, reverse=True)  # stable: the newest first among equals


def member_summary(instance, offer=None, ready=False):
    summary = dict((field, instance.get(field)) for field in SUMMARY_FIELDS)
    terms = instance.get("rental_terms") if isinstance(instance.get("rental_terms"), dict) else {}
    summary["rental_type"] = terms.get("rental_type") or (offer["rental_type"] if offer else "on_demand")
    cents = _cents(instance)
    summary["hourly_price"] = offer["hourly_price"] if offer else (None if cents is None else cents / 100.0)
    summary["ready"] = ready
    return summary


class Launch:
    """One member launched in this run, until it is ready or has failed."""

    def __init__(self, instance_id, name, offer, deadline, attempt=None):
        self.id = instance_id
        self.name = name
        self.offer = offer  # None for a member of an earlier run
        self.deadline = deadline
        self.attempt = attempt  # its entry in the result's attempts


class Fleet:
    """One run of the module: ``result`` (shared with run_module) is filled as the run goes."""

    def __init__(self, module, client, result):
        self.module = module
        self.params = module.params
        self.client = client
        self.attempts = []
        self.created = []
        self.deleted = []
        self.failed_offers = set()
        self.undeletable = {}
        self.result = result
        result.update(instances=[], attempts=self.attempts, created=self.created, deleted=self.deleted)

    def fail(self, msg):
        self.module.fail_json(msg=msg, **self.result)

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
        if params["max_hourly_price"] is not None and params["max_hourly_price"] <= 0:
            self.fail("max_hourly_price must be a positive number of dollars, not {0}.".format(params["max_hourly_price"]))
        if params["wait_timeout"] <= 0 or params["poll_interval"] <= 0:
            self.fail("wait_timeout and poll_interval must be positive numbers of seconds.")
        check_launch_configuration(self.module, self.result)

    def absent(self, members):
        self.result["changed"] = bool(members)
        if self.module.check_mode:
            self.result["plan"] = dict(create=0, offers=[], delete=[item.get("id") for item in members])
            return
        for item in members:
            self.delete(item["id"])
        if self.params["wait"] and members:
            self.wait_until_gone([item["id"] for item in members])
        self.retry_deletions(final=True)

    def present(self, members):
        count = self.params["count"]
        broken = [item for item in members if item.get("status") == "error"]
        healthy = [item for item in members if item.get("status") != "error"]
        surplus = surplus_first(healthy)[:max(0, len(healthy) - count)]
        surplus_ids = set(item.get("id") for item in surplus)
        kept = [item for item in healthy if item.get("id") not in surplus_ids]
        need = count - len(kept)
        offer_list = self.offers() if need > 0 else []
        if self.module.check_mode:
            self.result["changed"] = bool(need > 0 or broken or surplus)
            self.result["plan"] = dict(create=max(need, 0), offers=offer_list, delete=[item.get("id") for item in broken + surplus])
            self.result["instances"] = [member_summary(item, ready=is_ready(item)) for item in kept]
            return
        for item in broken + surplus:
            self.result["changed"] = True
            self.delete(item["id"])
        launches = []
        names = self.free_names(kept, need)
        for member_name in names:
            launch = self.launch(member_name, offer_list)
            if launch is None:
                break
            launches.append(launch)
        ready_ids = set()
        if self.params["wait"]:
            waiting = launches + [Launch(item["id"], item.get("name"), None, time.monotonic() + self.params["wait_timeout"])
                                  for item in kept]
            ready_ids = self.wait_until_ready(waiting, offer_list)
        else:
            for launch in launches:
                launch.attempt["outcome"] = "launched"
        self.retry_deletions(final=True)
        self.report(launches, ready_ids, count)

    # -- offers and launches ---------------------------------------------------------------------------------------

    def offers(self):
        params = self.params
        query = dict((field, params[field]) for field in ("gpu_type", "num_gpus", "shade_instance_type") if params[field] is not None)
        found, why_empty = offers(self.client.list_instance_types(query), params["rental_type"], params["clouds"], params["regions"],
                                  params["max_hourly_price"])
        if not found:
            asked = ", ".join("{0}={1}".format(field, params[field]) for field in ("gpu_type", "num_gpus", "shade_instance_type")
                              if params[field] is not None) or "any type"
            self.fail("No Shadeform offer fits ({0}): none is left after filtering on {1}. Nothing was created. Relax that "
                      "constraint, or see what is offered with shadeform.cloud.instance_types_info.".format(asked, why_empty))
        return found

    def free_names(self, kept, need):
        taken = set(item.get("name") for item in kept)
        names = []
        index = 1
        while len(names) < need:
            candidate = "{0}-{1}".format(self.params["name"], index)
            if candidate not in taken:
                names.append(candidate)
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
            attempt = dict((field, offer[field]) for field in ("cloud", "region", "shade_instance_type", "rental_type", "hourly_price"))
            self.attempts.append(attempt)
            body = self.create_body(member_name, offer)
            try:
                instance_id = self.client.create_instance(body)
            except ShadeformAPIError as exc:
                attempt.update(outcome="refused", reason=str(exc))
                if exc.status is None or exc.status in FATAL_STATUSES or exc.status >= 500 or exc.code == "INSUFFICIENT_FUNDS":
                    # No other offer fixes this, and after a 5xx the launch may even have gone through: stop here.
                    self.fail("Launching {0} on {1} was refused, and no other offer can fix that: {2}{3}".format(
                        member_name, _offer_text(offer), exc, self.progress_note()))
                self.failed_offers.add(offer_key(offer))
                continue
            self.result["changed"] = True
            attempt["id"] = instance_id
            self.created.append(instance_id)
            return Launch(instance_id, member_name, offer, time.monotonic() + self.params["wait_timeout"], attempt)

    def create_body(self, member_name, offer):
        params = self.params
        body = dict(cloud=offer["cloud"], region=offer["region"], shade_instance_type=offer["shade_instance_type"], shade_cloud=True,
                    name=member_name, tags=[fleet_tag(params["name"])] + [tag for tag in params["tags"] if tag != fleet_tag(params["name"])])
        if offer["rental_type"] != "on_demand":
            body["rental_type"] = offer["rental_type"]
        for field in LAUNCH_FIELDS:
            if params[field] is not None:
                body[field] = without_none(params[field])
        return body

    # -- waiting ---------------------------------------------------------------------------------------------------

    def wait_until_ready(self, waiting, offer_list):
        """Poll the fleet until each launch is ready or has failed (and been replaced); the ids of the ready ones."""
        ready = set()
        interval = self.params["poll_interval"]
        while waiting:
            listed = dict((item.get("id"), item) for item in self.client.list_instances() if isinstance(item, dict))
            self.retry_deletions(final=False)
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
                elif is_ready(instance) and self.reachable(instance):
                    ready.add(launch.id)
                    if launch.attempt is not None:
                        launch.attempt["outcome"] = "ready"
                    continue
                elif time.monotonic() >= launch.deadline:
                    failure = ("timeout", "not ready within {0} seconds (status {1!r}{2})".format(
                        self.params["wait_timeout"], instance.get("status"), status_details_note(instance)))
                if failure is None:
                    still.append(launch)
                    continue
                replacement = self.replace(launch, failure, instance, offer_list)
                if replacement is not None:
                    still.append(replacement)
            waiting = still
            if waiting:
                time.sleep(interval)
        return ready

    def replace(self, launch, failure, instance, offer_list):
        """Roll back a failed launch and launch its replacement on the next offer (None when none is left)."""
        outcome, reason = failure
        if launch.attempt is None:
            # A member from an earlier run: its failure is noted like a launch of this run's.
            summary = member_summary(instance or {})
            launch.attempt = dict((field, summary[field]) for field in ("cloud", "region", "shade_instance_type", "rental_type",
                                                                        "hourly_price"))
            launch.attempt["id"] = launch.id
            self.attempts.append(launch.attempt)
        launch.attempt.update(outcome=outcome, reason=reason)
        if launch.offer is not None:
            self.failed_offers.add(offer_key(launch.offer))
        if launch.id in self.created:
            self.created.remove(launch.id)
        if instance is not None and instance.get("status") not in GONE_STATUSES:
            self.delete(launch.id)
        self.result["changed"] = True
        if not offer_list:
            offer_list[:] = self.offers()
        return self.launch(launch.name, offer_list)

    def reachable(self, instance):
        if not self.params["wait_for_ssh"]:
            return True
        port = instance.get("ssh_port")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            return False
        try:
            # Only the address and port the API gives for this instance.
            with socket.create_connection((instance["ip"], port), timeout=SSH_PROBE_TIMEOUT):
                return True
        except (OSError, ValueError):
            return False

    def wait_until_gone(self, ids):
        deadline = time.monotonic() + self.params["wait_timeout"]
        remaining = set(ids)
        while True:
            listed = set(item.get("id") for item in self.client.list_instances() if isinstance(item, dict))
            self.retry_deletions(final=False)
            remaining &= listed
            if not remaining:
                return
            if time.monotonic() + self.params["poll_interval"] > deadline:
                self.fail("{0} member(s) of fleet {1!r} are still listed after {2} seconds: {3}. Billing stopped when they went to "
                          "'deleting'; run the task again later to wait for them.".format(
                              len(remaining), self.params["name"], self.params["wait_timeout"], ", ".join(sorted(remaining))))
            time.sleep(self.params["poll_interval"])

    # -- deleting --------------------------------------------------------------------------------------------------

    def delete(self, instance_id):
        """Delete an instance; a refusal (some clouds refuse before 'active') is tried again while the module waits."""
        try:
            self.client.delete_instance(instance_id)
        except ShadeformAPIError as exc:
            if exc.status in FATAL_STATUSES:
                raise
            self.undeletable[instance_id] = str(exc)
            return
        self.undeletable.pop(instance_id, None)
        if instance_id not in self.deleted:
            self.deleted.append(instance_id)

    def retry_deletions(self, final):
        for instance_id in list(self.undeletable):
            self.delete(instance_id)
        if final and self.undeletable:
            self.fail("The Shadeform API refused to delete {0}: {1}. Delete them with shadeform.cloud.instance (state: absent) "
                      "once they are active, or run this task again.{2}".format(
                          ", ".join(sorted(self.undeletable)), "; ".join(sorted(set(self.undeletable.values()))), self.progress_note()))

    # -- reporting -------------------------------------------------------------------------------------------------

    def progress_note(self):
        return " Launched in this run and kept: {0}.".format(", ".join(self.created)) if self.created else ""

    def report(self, launches, ready_ids, count):
        listed = dict((item.get("id"), item) for item in self.members())
        offers_by_id = dict((launch.id, launch.offer) for launch in launches)
        wait = self.params["wait"]
        members = []
        for instance_id, instance in listed.items():
            ready = instance_id in ready_ids if wait else is_ready(instance)
            members.append(member_summary(instance, offers_by_id.get(instance_id), ready))
        members.sort(key=lambda item: (not item["ready"], str(item["name"])))
        self.result["instances"] = members
        short = count - len(listed)
        if wait:
            short = count - len([item for item in members if item["ready"]])
        if short <= 0:
            return
        reasons = "; ".join("{0} {1}: {2}".format(_offer_text(attempt), attempt.get("outcome"), attempt.get("reason"))
                            for attempt in self.attempts if attempt.get("outcome") not in ("ready", "launched"))
        if self.params["all_or_nothing"] and self.created:
            for instance_id in list(self.created):
                self.delete(instance_id)
                self.created.remove(instance_id)
            self.retry_deletions(final=False)
            self.result["instances"] = [item for item in members if item["id"] not in self.deleted]
            self.fail("Fleet {0!r}: only {1} of {2} members could be made ready, so the members launched in this run were deleted "
                      "(all_or_nothing). Every offer failed: {3}".format(self.params["name"], count - short, count, reasons or "none left"))
        self.fail("Fleet {0!r}: {1} of {2} members are ready; the offers ran out for the other {3}. The ready members are kept "
                  "(all_or_nothing: true deletes them instead). Failed offers: {4}".format(
                      self.params["name"], count - short, count, short, reasons or "none left"))


def _offer_text(offer):
    return "{0}/{1}/{2} ({3}, ${4}/h)".format(offer.get("cloud"), offer.get("region"), offer.get("shade_instance_type"),
                                              offer.get("rental_type"), offer.get("hourly_price"))


def run(module, client, result):
    Fleet(module, client, result).run()


def main():
    run_module(argument_spec(), run)


if __name__ == "__main__":
    main()
