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
  - "Each member also has a stable rank, the tag C(fleet_index=<i>) (the inventory's C(shadeform_labels.fleet_index)): 0 to
    O(count) minus 1, with no gaps and no duplicates. A member keeps its index from run to run; a replacement takes the index
    of the member it replaces; members made before fleet_index existed get the free indexes, their tags updated in place."
  - "Offers come from C(GET /instances/types): every available region of every instance type that matches O(gpu_type),
    O(num_gpus), O(shade_instance_type), O(os) (one of the type's C(os_options)), O(deployment_types), O(clouds),
    O(regions) and O(rental_type), priced by that rental type (spot entries carry their own price), never above
    O(max_hourly_price), cheapest first. When no offer is left the module fails before creating anything and says which
    constraint emptied the list. O(gpu_type) or O(shade_instance_type) is required, so that a fleet never lands on
    whatever machine happens to be cheapest."
  - "O(alternatives) lists other machines that will do: their offers are tried after all those of the main spec, each
    alternative's in turn (cheapest first within it), with every other option (price cap, allow-lists, rental type, OS,
    deployment types) applying to all. RV(attempts) says which spec each try was for, RV(instances) which one each member
    matches; a member of any of them is no drift."
  - "O(placement=together) keeps the whole fleet on one offer: one cloud, region and instance type. The members a run
    launches go there as one group; when one of the group is refused, goes to C(error) or is not ready, everything the
    group launched on that offer is deleted and the group moves to the next offer. Once the fleet is placed, every later
    launch (scaling up, replacements) goes where it is, and if that offer is out of capacity the module fails and says so:
    it never splits the fleet. A member on another offer is listed in RV(drifted) (C(placement))."
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
    members with the highest C(fleet_index) first, so that the ranks left stay 0 to O(count) minus 1; members in C(error)
    are deleted and replaced (the replacement takes their index)."
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
  alternatives:
    description:
      - Other machines that will do, tried in this order once every offer of the main spec (O(gpu_type), O(num_gpus),
        O(shade_instance_type)) has failed. Each is a spec of its own (nothing is taken from the main one) and needs
        C(gpu_type) or C(shade_instance_type).
      - Every other option (O(max_hourly_price), O(clouds), O(regions), O(rental_type), O(os), O(deployment_types), the
        launch settings) applies to all of them.
      - A member matching the main spec or any alternative does not differ from the task; one that matches none is
        compared with the main spec in RV(drifted).
    type: list
    elements: dict
    default: []
    suboptions:
      gpu_type:
        description: Only offers with this GPU type, for example V(H200).
        type: str
      num_gpus:
        description: Only offers with this many GPUs per instance.
        type: int
      shade_instance_type:
        description: Only offers of this Shadeform instance type, for example V(A100_80Gx8).
        type: str
  placement:
    description:
      - V(anywhere) launches each member on the cheapest offer that takes it.
      - "V(together) puts the whole fleet on one offer (one cloud, region and instance type), as distributed training needs:
        a group that partly fails moves to the next offer whole, what it launched on the failed one deleted. Scaling up and
        replacements go where the fleet already is; when that offer has no room the module fails and says so, never
        splitting the fleet. A member elsewhere (for example from before) is drifted, with O(on_spec_change) deciding what
        happens to it."
    type: str
    choices: [anywhere, together]
    default: anywhere
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
    description: With O(on_spec_change=replace) or O(replace), how many members are replaced at a time (1 or more).
    type: int
    default: 1
  replace:
    description:
      - Members to hand back and replace in this run, by id or by name, for example one a health check found bad. Each
        replacement is launched by the same rules (specs, failover, O(placement)), takes the C(fleet_index) of the member it
        replaces, and is ready before that member is deleted, O(replace_batch) at a time, as with O(on_spec_change=replace).
      - An entry that is not a member of the fleet is an error before any change. Needs O(wait=true).
      - An instruction for this run, not a state to keep, so remove the entries (or pass an empty list) once they are replaced.
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
- name: Four 8x H100 machines in one cloud and region, else 8x H200 or A100, at most 25 dollars an hour each
  shadeform.cloud.fleet:
    name: trainers
    count: 4
    gpu_type: H100
    num_gpus: 8
    alternatives:
      - {gpu_type: H200, num_gpus: 8}
      - {gpu_type: A100, num_gpus: 8}
    placement: together
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

- name: Hand back a member found bad (here the first the last task returned); its replacement keeps its fleet_index
  shadeform.cloud.fleet:
    name: trainers
    count: 4
    gpu_type: A100
    num_gpus: 8
    tags: [env=prod]
    purge_tags: false
    replace:
      - "{{ moved.instances[0].id }}"

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
    fleet_index:
      description: The member's rank, from its tag C(fleet_index=<i>) (0 to O(count) minus 1); null for a member without one.
      type: int
    spec:
      description:
        - The spec the member matches, V(0) for the main one, V(n) for the n-th of O(alternatives); null when it matches none
          (see RV(drifted)).
      type: int
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
    spec:
      description: Which spec the offer was for, V(0) for the main one, V(n) for the n-th of O(alternatives).
      type: int
    fleet_index:
      description: The C(fleet_index) of the member launched.
      type: int
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
      description:
        - V(ready), V(launched) (not waited for), V(refused), V(error), V(timeout), V(gone) or V(not_needed).
        - V(group_failed) with O(placement=together), for a launch deleted because another member of its group failed on that offer.
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
  description: The members replaced in this run (O(on_spec_change=replace) or O(replace)), each with the id of its replacement.
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
    fleet_index:
      description: The C(fleet_index) the replacement took over.
      type: int
plan:
  description: In check mode, what a real run would do.
  returned: check mode
  type: dict
  contains:
    create:
      description: How many members would be launched.
      type: int
    offers:
      description:
        - The offers that would be tried, the main spec's cheapest first, then each alternative's (C(spec) says which); with
          O(placement=together) and the fleet placed, only the offer where it is.
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
      description: Ids of the members that would be replaced (drifted ones with O(on_spec_change=replace), and those O(replace) names).
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
    FLEET_NAME, GONE_STATUSES, fleet_tag, hourly_price_usd, is_ready, lookup, redact_secrets, status_details_note)
from ansible_collections.shadeform.cloud.plugins.module_utils.offers import DEPLOYMENT_TYPES, offer_key, offers
from ansible_collections.shadeform.cloud.plugins.module_utils.ssh_endpoint import ssh_endpoint

LAUNCH_FIELDS = ("os", "ssh_key_id") + tuple(launch_argument_spec())
SSH_PROBE_TIMEOUT = 5
SUMMARY_FIELDS = ("id", "name", "cloud", "region", "shade_instance_type", "status", "status_details", "hourly_price", "tags")
# Settings POST /instances/{id}/update changes in place; the fleet's name is its identity (the fleet=<name> tag).
IN_PLACE = ("tags", "auto_delete", "alert")
# The options that choose the machine: the main spec's and each alternative's (alternatives).
SPEC_FIELDS = ("gpu_type", "num_gpus", "shade_instance_type")
# Where a member keeps each setting that only a new instance can change: (option, path in the instance or /info).
# The first three are the spec: a member matching the main spec or any alternative is no drift.
FIXED_SETTINGS = (("shade_instance_type", ("shade_instance_type",)), ("gpu_type", ("configuration", "gpu_type")),
                  ("num_gpus", ("configuration", "num_gpus")), ("rental_type", ("rental_terms", "rental_type")),
                  ("os", ("configuration", "os")), ("launch_configuration", ("launch_configuration",)),
                  ("ssh_key_id", ("ssh_key_id",)), ("envs", ("envs",)), ("volume_mount", ("volume_mount",)))
SPEC_SETTINGS = tuple(item for item in FIXED_SETTINGS if item[0] in SPEC_FIELDS)
# A member's stable rank in the fleet, 0 to count-1: the tag fleet_index=<i>, the inventory's shadeform_labels.fleet_index.
INDEX_TAG = "fleet_index"
INDEX_VALUE = re.compile(r"^[0-9]{1,9}$")


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
        alternatives=dict(type="list", elements="dict", default=[], options=dict(
            gpu_type=dict(type="str"), num_gpus=dict(type="int"), shade_instance_type=dict(type="str"))),
        placement=dict(type="str", default="anywhere", choices=["anywhere", "together"]),
        deployment_types=dict(type="list", elements="str", choices=list(DEPLOYMENT_TYPES)),
        clouds=dict(type="list", elements="str"),
        regions=dict(type="list", elements="str"),
        rental_type=dict(type="str", default="on_demand", choices=["on_demand", "spot"]),
        max_hourly_price=dict(type="float", aliases=["max_hourly_price_usd"]),
        tags=dict(type="list", elements="str", default=[]),
        purge_tags=dict(type="bool", default=True),
        on_spec_change=dict(type="str", default="warn", choices=["warn", "replace"]),
        replace_batch=dict(type="int", default=1),
        replace=dict(type="list", elements="str", default=[]),
        wait_for_ssh=dict(type="bool", default=True),
        wait_for_workload=dict(type="bool", default=False),
        all_or_nothing=dict(type="bool", default=False),
    )
    return spec


def index_tag(index):
    return "{0}={1}".format(INDEX_TAG, index)


def is_index_tag(tag):
    return isinstance(tag, str) and tag.startswith(INDEX_TAG + "=")


def tagged_index(instance):
    """The member's rank from its fleet_index tag; None without exactly one tag holding a whole number."""
    tags = instance.get("tags") if isinstance(instance.get("tags"), list) else []
    values = [tag[len(INDEX_TAG) + 1:] for tag in tags if is_index_tag(tag)]
    return int(values[0]) if len(values) == 1 and INDEX_VALUE.match(values[0]) else None


def is_member(instance, name):
    tags = instance.get("tags")
    return isinstance(tags, list) and fleet_tag(name) in tags and instance.get("status") not in GONE_STATUSES


def _age(item):
    """Oldest first (RFC 3339 UTC sorts by time), then by name (trainers-2 before trainers-10) and id: the same order on every run."""
    name = str(item.get("name") or "")
    return (str(item.get("created_at") or ""), len(name), name, str(item.get("id")))


def ranked(members, count):
    """(kept, surplus, ranks, free): the fleet_index of every member that stays, 0 to count-1 with no gaps.

    A member keeps the index of its tag; one without (made before fleet_index existed, or whose index another, older
    member holds) takes the lowest free one, oldest first. A smaller count deletes the highest indexes first
    (``surplus``, highest first); a member kept whose index is count or more takes the lowest free index below count,
    and ``free`` are the indexes left for the launches of this run.
    """
    ranks = {}
    holders = {}
    unranked = []
    for item in sorted(members, key=_age):
        index = tagged_index(item)
        if index is None or index in holders:
            unranked.append(item)
        else:
            holders[index] = item
            ranks[item["id"]] = index
    lowest = 0
    for item in unranked:
        while lowest in holders:
            lowest += 1
        holders[lowest] = item
        ranks[item["id"]] = lowest
    by_rank = sorted(members, key=lambda item: ranks[item["id"]])
    kept, surplus = by_rank[:count], by_rank[count:][::-1]
    free = sorted(set(range(count)) - set(ranks[item["id"]] for item in kept))
    for item in kept:
        if ranks[item["id"]] >= count:
            ranks[item["id"]] = free.pop(0)
    return kept, surplus, ranks, free


def offer_of(instance):
    """What tells the offer a member runs on apart (offer_key): where a together fleet is."""
    return (instance.get("cloud"), instance.get("region"), instance.get("shade_instance_type"),
            lookup(instance, ("rental_terms", "rental_type")) or "on_demand")


def _where(key):
    return "/".join(str(part) for part in key[:3])


def _setting(value):
    """A launch setting as compared: None-free, an empty container the same as none."""
    value = without_none(value)
    return None if value in ({}, []) else value


def _shown(field, value):
    """A setting as a result may show it: secrets (env values, scripts, registry passwords) redacted."""
    return redact_secrets({field: value})[field] if field in ("envs", "launch_configuration") else value


def spec_differences(instance, spec):
    """{option: {member, wanted}} for each option of ``spec`` (a dict of SPEC_FIELDS) the instance does not match."""
    differences = {}
    for option, path in SPEC_SETTINGS:
        wanted = spec.get(option)
        if wanted is None:
            continue
        have = lookup(instance, path)
        if have is None and option != "shade_instance_type":
            continue  # not told: nothing to compare
        if have != wanted:
            differences[option] = dict(member=have, wanted=wanted)
    return differences


def _asked(spec):
    return ", ".join("{0}={1}".format(field, spec[field]) for field in SPEC_FIELDS if spec.get(field) is not None)


class Launch:
    """One member launched in this run (or kept from an earlier one) until it is ready or has failed."""

    def __init__(self, instance_id, name, offer, attempt=None, index=None):
        self.id = instance_id
        self.name = name
        self.offer = offer  # None for a member of an earlier run
        self.attempt = attempt  # its entry in the result's attempts
        self.index = index  # its fleet_index
        self.group = None  # with placement: together, the Group it was launched with


class Group:
    """The launches of a together fleet made at once, all on one offer: when one fails, all leave that offer together."""

    def __init__(self, slots):
        self.slots = slots  # (name, fleet_index) of each member
        self.launches = []


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
        self.ranks = {}  # id -> fleet_index of each member kept, and of each launch of this run
        self.named = []  # the members the replace option names
        self.home = None  # placement: together: the offer (offer_key) the fleet is on, once known
        params = self.params
        self.specs = [dict((field, params[field]) for field in SPEC_FIELDS)] + [without_none(item) for item in params["alternatives"]]
        result.update(instances=[], attempts=self.attempts, created=self.created, deleted=self.deletions.deleted, updated=self.updated,
                      replaced=self.replaced, drifted=[])

    def members(self):
        return self.listed_and_members()[1]

    def listed_and_members(self):
        """The whole list (one call) and the fleet's members in it."""
        listed = [item for item in self.client.list_instances() if isinstance(item, dict)]
        return listed, [item for item in listed if is_member(item, self.params["name"])]

    # -- the run ---------------------------------------------------------------------------------------------------

    def run(self):
        self.check_params()
        listed, members = self.listed_and_members()
        if self.params["state"] == "absent" or self.params["count"] == 0:
            self.absent(members)
        else:
            # A new member never takes a name still listed, a member on its way out (deleting) included: two listed
            # instances of one name are both renamed <name>-<id> in the inventory, and the new member would lose its name.
            self.names_taken = set(item.get("name") for item in listed)
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
            for number, spec in enumerate(self.specs[1:], 1):
                if not (spec.get("gpu_type") or spec.get("shade_instance_type")):
                    self.fail("alternatives[{0}] needs gpu_type or shade_instance_type, as the main spec does: without either it would "
                              "launch the cheapest machine of any kind.".format(number))
        if params["max_hourly_price"] is not None and not (math.isfinite(params["max_hourly_price"]) and params["max_hourly_price"] > 0):
            self.fail("max_hourly_price must be a positive number of dollars, not {0}.".format(params["max_hourly_price"]))
        if params["replace_batch"] < 1:
            self.fail("replace_batch must be 1 or more, not {0}.".format(params["replace_batch"]))
        if params["on_spec_change"] == "replace" and not params["wait"]:
            self.fail("on_spec_change: replace needs wait: true: an old member is deleted only once its replacement is ready.")
        if params["replace"] and not params["wait"]:
            self.fail("replace needs wait: true: an old member is deleted only once its replacement is ready.")
        if any(is_index_tag(tag) for tag in params["tags"]):
            self.fail("tags may not hold a {0}= tag: the module gives each member its own (0 to count-1).".format(INDEX_TAG))
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
        self.named = self.named_for_replacement(members)
        named_ids = set(item["id"] for item in self.named)
        broken = [item for item in members if item.get("status") == "error"]
        healthy = [item for item in members if item.get("status") != "error"]
        kept, surplus, self.ranks, free_indexes = ranked(healthy, count)
        drift = self.drift_and_updates(members, kept)
        need = len(free_indexes)
        drifted = [item for item in kept if item["id"] in drift and drift[item["id"]][0]]
        updates = dict((item["id"], drift[item["id"]][1]) for item in kept if item["id"] in drift and drift[item["id"]][1])
        replacing = drifted if self.params["on_spec_change"] == "replace" else []
        replacing = replacing + [item for item in kept if item["id"] in named_ids and item not in replacing]
        self.result["drifted"] = [dict(id=item["id"], name=item.get("name"), differences=drift[item["id"]][0]) for item in drifted]
        offer_list = self.offers() if need > 0 or replacing else []
        self.show_diff(members, kept, updates, replacing, free_indexes)
        if drifted and self.params["on_spec_change"] == "warn":
            self.module.warn("Fleet {0!r}: {1} member(s) differ from this task in settings only a new instance can change ({2}): {3}. "
                             "They are kept; on_spec_change: replace replaces them, replace_batch at a time.".format(
                                 self.params["name"], len(drifted), ", ".join(sorted(set(f for d in self.result["drifted"]
                                                                                         for f in d["differences"]))),
                                 ", ".join(str(item.get("name")) for item in drifted)))
        if self.module.check_mode:
            self.result["changed"] = bool(need > 0 or broken or surplus or updates or replacing)
            self.result["plan"] = dict(create=need, offers=offer_list, delete=[item.get("id") for item in broken + surplus],
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
        launches = self.launch_all(list(zip(self.member_names(free_indexes), free_indexes)), offer_list) if need else []
        ready_ids = set()
        if self.params["wait"]:
            # The members named in replace are not waited for: they are replaced, ready or not.
            earlier = [Launch(item["id"], item.get("name"), None, index=self.ranks[item["id"]]) for item in kept if item["id"] not in named_ids]
            ready_ids = self.wait_until_ready(launches + earlier, offer_list)
            self.replace_members([item for item in replacing if item["id"] in ready_ids or item["id"] in named_ids], offer_list, ready_ids)
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

    def named_for_replacement(self, members):
        """The members the replace option names (by id, else by name); one clear error, before any change, for the others."""
        found, strangers = [], []
        for entry in self.params["replace"]:
            matched = [item for item in members if item.get("id") == entry] or [item for item in members if item.get("name") == entry]
            if len(matched) > 1:
                self.fail("replace: {0} members of fleet {1!r} are named {2!r} (ids {3}): name them by id. Nothing was changed.".format(
                    len(matched), self.params["name"], entry, ", ".join(str(item.get("id")) for item in matched)))
            if not matched:
                strangers.append(entry)
            elif matched[0] not in found:
                found.append(matched[0])
        if strangers:
            self.fail("replace: {0} {1} not a member of fleet {2!r} (its members: {3}). Nothing was changed.".format(
                ", ".join(repr(entry) for entry in strangers), "is" if len(strangers) == 1 else "are", self.params["name"],
                ", ".join("{0} ({1})".format(item.get("name"), item.get("id")) for item in members) or "none"))
        return found

    # -- what differs from the task --------------------------------------------------------------------------------

    def drift_and_updates(self, members, kept):
        """{id: (differences, update body)} of the members that differ from the task (error members left out).

        With placement: together, a kept member that is not on the offer where the fleet is differs in ``placement``.
        """
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
            # A member that matches the main spec or any alternative is no drift; one that matches none is compared with the main spec.
            differences = {} if self.matching_spec(info) is not None else spec_differences(info, self.specs[0])
            for option, path in FIXED_SETTINGS:
                if option in SPEC_FIELDS or params[option] is None:
                    continue
                have, wanted = lookup(info, path), params[option]
                if option in ("launch_configuration", "envs", "volume_mount"):
                    have, wanted = _setting(have), _setting(wanted)
                elif have is None and option in ("rental_type", "os"):
                    continue  # not told: nothing to compare
                if have != wanted:
                    differences[option] = dict(member=_shown(option, have), wanted=_shown(option, wanted))
            for option, field in (("clouds", "cloud"), ("regions", "region")):
                if params[option] and member.get(field) not in params[option]:
                    differences[field] = dict(member=member.get(field), wanted=params[option])
            body = self.update_body(member, info)
            if differences or body:
                found[member["id"]] = (differences, body)
        if params["placement"] == "together":
            self.home = self.home_of([item for item in kept if not (found.get(item["id"]) or ({},))[0]])
            for item in kept:
                if self.home is not None and offer_of(item) != self.home:
                    differences, body = found.get(item["id"], ({}, {}))
                    differences["placement"] = dict(member=_where(offer_of(item)), wanted=_where(self.home))
                    found[item["id"]] = (differences, body)
        return found

    def home_of(self, members):
        """The offer most of these members are on (a tie goes to the one holding the lowest fleet_index); None without members."""
        counted = {}
        for item in members:
            counted.setdefault(offer_of(item), []).append(self.ranks.get(item["id"], 0))
        if not counted:
            return None
        return min(counted, key=lambda key: (-len(counted[key]), min(counted[key])))

    def matching_spec(self, instance):
        """The number of the first spec the instance matches (0: the main one, n: alternatives[n]); None when it matches none."""
        return next((number for number, spec in enumerate(self.specs) if not spec_differences(instance, spec)), None)

    def update_body(self, member, info):
        """The POST /instances/{id}/update body that brings tags (fleet_index included), auto_delete and alert to the task's."""
        params = self.params
        current = member.get("tags") if isinstance(member.get("tags"), list) else []
        wanted = self.wanted_tags(self.ranks.get(member["id"], tagged_index(member)))
        if not params["purge_tags"]:
            # The tags the task does not name are kept, but fleet_index is the module's own: only the one it gives.
            wanted = [tag for tag in current if not is_index_tag(tag)] + [tag for tag in wanted if tag not in current or is_index_tag(tag)]
        body = {}
        if sorted(set(current)) != sorted(set(wanted)):
            body["tags"] = wanted
        for field in ("auto_delete", "alert"):
            if params[field] is not None and threshold_key(info.get(field)) != threshold_key(without_none(params[field])):
                body[field] = without_none(params[field]) or None  # {} (both thresholds unset) removes it: null deletes
        return body

    def wanted_tags(self, index=None):
        tag = fleet_tag(self.params["name"])
        own = [tag] if index is None else [tag, index_tag(index)]
        return own + list(dict.fromkeys(item for item in self.params["tags"] if item != tag))

    def show_diff(self, members, kept, updates=None, replacing=(), free_indexes=()):
        """The module's diff (--diff): the members before and, as this run leaves them (or would, in check mode), after."""
        if not self.module._diff:  # pylint: disable=protected-access
            return
        updates = updates or {}
        replacing_ids = set(item["id"] for item in replacing)

        def view(item, **changes):
            shown = dict((field, item.get(field)) for field in ("name", "cloud", "region", "shade_instance_type", "status"))
            shown.update(gpu_type=lookup(item, ("configuration", "gpu_type")), num_gpus=lookup(item, ("configuration", "num_gpus")),
                         os=lookup(item, ("configuration", "os")), rental_type=lookup(item, ("rental_terms", "rental_type")),
                         tags=item.get("tags"), fleet_index=tagged_index(item))
            shown.update(changes)
            return shown

        wanted = dict((field, self.params[field]) for field in ("gpu_type", "num_gpus", "shade_instance_type", "os", "rental_type")
                      if self.params[field] is not None)
        if self.params["placement"] == "together" and self.home is not None:
            wanted.update(cloud=self.home[0], region=self.home[1], shade_instance_type=self.home[2])
        after = {}
        for item in kept:
            if item["id"] in replacing_ids:
                after["(replacement of {0})".format(item.get("name"))] = dict(wanted, status="to be launched", fleet_index=self.ranks[item["id"]])
            else:
                after[item["id"]] = view(item, fleet_index=self.ranks[item["id"]], **updates.get(item["id"], {}))
        for number, index in enumerate(free_indexes):
            after["(new {0})".format(number + 1)] = dict(wanted, status="to be launched", fleet_index=index)
        self.result["diff"] = dict(before=dict(members=dict((item["id"], view(item)) for item in members)), after=dict(members=after))

    # -- offers and launches ---------------------------------------------------------------------------------------

    def offers(self):
        """The offers of the main spec (cheapest first), then those of each alternative in order; with placement: together and
        a fleet already placed, only the offer where it is. Fails, before any change, when none is left."""
        params = self.params
        found, seen, empty = [], set(), []
        for number, spec in enumerate(self.specs):
            query = dict((field, spec[field]) for field in SPEC_FIELDS if spec.get(field) is not None)
            spec_offers, why_empty = offers(self.client.list_instance_types(query), params["rental_type"], params["clouds"], params["regions"],
                                            params["max_hourly_price"], os_name=params["os"], deployment_types=params["deployment_types"])
            if why_empty:
                empty.append((number, spec, why_empty))
            for offer in spec_offers:
                if offer_key(offer) not in seen:  # an offer several specs find is tried once, for the first
                    seen.add(offer_key(offer))
                    found.append(dict(offer, spec=number))
        if not found:
            if len(self.specs) == 1:
                self.fail("No Shadeform offer fits ({0}): none is left after filtering on {1}. Nothing was created. Relax that "
                          "constraint, or see what is offered with shadeform.cloud.instance_types_info.".format(_asked(self.specs[0]), empty[0][2]))
            reasons = ["{0}{1}: none is left after filtering on {2}".format(
                "alternatives[{0}] ".format(number) if number else "", _asked(spec), why_empty) for number, spec, why_empty in empty]
            self.fail("No Shadeform offer fits the main spec nor any alternative ({0}). Nothing was created. Relax a constraint, or see "
                      "what is offered with shadeform.cloud.instance_types_info.".format("; ".join(reasons)))
        if self.home is not None:
            found = [offer for offer in found if offer_key(offer) == self.home]
            if not found:
                self.fail("Fleet {0!r} is placed together on {1}, and that offer is not offered now within this task's constraints (no "
                          "capacity listed there, or filtered out): a together fleet is never split, so no member is launched elsewhere.".format(
                              params["name"], _where(self.home)))
        return found

    def member_names(self, indexes):
        """A free name for each of these fleet indexes: <name>-<index + 1> when free, else the lowest free <name>-<n>."""
        names = []
        for index in indexes:
            candidate = "{0}-{1}".format(self.params["name"], index + 1)
            number = 1
            while candidate in self.names_taken:
                candidate = "{0}-{1}".format(self.params["name"], number)
                number += 1
            names.append(candidate)
            self.names_taken.add(candidate)
        return names

    def next_offer(self, offer_list):
        """The first offer not failed in this run; with placement: together and a fleet already placed, only its offer."""
        return next((offer for offer in offer_list if offer_key(offer) not in self.failed_offers
                     and (self.home is None or offer_key(offer) == self.home)), None)

    def launch_all(self, slots, offer_list):
        """Launch a member for each (name, fleet_index): each on the cheapest offer that takes it, or with placement: together all
        on one offer (a Group). Stops when the offers run out; the launches made."""
        if self.params["placement"] == "together":
            return self.launch_group(slots, offer_list)
        launches = []
        for name, index in slots:
            launch = self.launch(name, index, offer_list)
            if launch is None:
                break
            launches.append(launch)
        return launches

    def launch(self, member_name, index, offer_list):
        """Launch one member on the cheapest offer that accepts it; None when every offer has failed."""
        while True:
            offer = self.next_offer(offer_list)
            if offer is None:
                return None
            launch = self.launch_on(offer, member_name, index)
            if launch is not None:
                return launch
            self.failed_offers.add(offer_key(offer))

    def launch_group(self, slots, offer_list):
        """Launch every slot on one offer, the first that accepts them all; a refusal part way deletes what the group launched
        there and moves it to the next offer. The group's launches; none when the offers ran out."""
        while True:
            offer = self.next_offer(offer_list)
            if offer is None:
                return []
            group = Group(slots)
            for name, index in slots:
                launch = self.launch_on(offer, name, index)
                if launch is None:
                    break
                launch.group = group
                group.launches.append(launch)
            else:
                return group.launches
            self.failed_offers.add(offer_key(offer))
            for launch in group.launches:
                self.abandon(launch, "group_failed", "another member of its group was refused on this offer", gone=False)

    def launch_on(self, offer, member_name, index):
        """One launch on this offer; None when the API refused it in a way another offer may fix (kept in attempts)."""
        attempt = dict((field, offer[field]) for field in ("cloud", "region", "shade_instance_type", "rental_type", "hourly_price_usd", "spec"))
        attempt["fleet_index"] = index
        self.attempts.append(attempt)
        try:
            instance_id = self.client.create_instance(self.create_body(member_name, index, offer))
        except ShadeformAPIError as exc:
            attempt.update(outcome="refused", reason=str(exc), http_status=exc.status, error_code=exc.code)
            if refusal_is_final(exc):
                # No other offer fixes this, and after a 5xx the launch may even have gone through: stop here.
                self.fail("Launching {0} on {1} was refused, and no other offer can fix that: {2}{3}".format(
                    member_name, _offer_text(offer), exc, self.progress_note()))
            return None
        self.result["changed"] = True
        attempt["id"] = instance_id
        self.created.append(instance_id)
        self.ranks[instance_id] = index
        return Launch(instance_id, member_name, offer, attempt, index)

    def create_body(self, member_name, index, offer):
        params = self.params
        body = dict(cloud=offer["cloud"], region=offer["region"], shade_instance_type=offer["shade_instance_type"], shade_cloud=True,
                    name=member_name, tags=self.wanted_tags(index))
        if offer["rental_type"] != "on_demand":
            body["rental_type"] = offer["rental_type"]
        for field in LAUNCH_FIELDS:
            if params[field] is not None:
                body[field] = without_none(params[field])
        return body

    def replace_members(self, replacing, offer_list, ready_ids):
        """Replace members (drifted with on_spec_change: replace, or named in replace) replace_batch at a time, each replacement
        taking its old member's fleet_index: each batch's replacements ready before its old members go."""
        batch_size = self.params["replace_batch"]
        for start in range(0, len(replacing), batch_size):
            batch = replacing[start:start + batch_size]
            known = set(self.created)
            indexes = [self.ranks[old["id"]] for old in batch]
            launches = self.launch_all(list(zip(self.member_names(indexes), indexes)), offer_list)
            ready = self.wait_until_ready(launches, offer_list) if launches else set()
            new_ready = [item for item in self.created if item not in known and item in ready]
            done = 0
            for old in batch:
                new = next((item for item in new_ready if self.ranks.get(item) == self.ranks[old["id"]]), None)
                if new is None:
                    continue
                self.deletions.request(old["id"])
                ready_ids.discard(old["id"])
                ready_ids.add(new)
                self.replaced.append(dict(id=old["id"], name=old.get("name"), by=new, fleet_index=self.ranks[old["id"]]))
                done += 1
            if done < len(batch):
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
        """Poll the fleet until each launch is ready or has failed (and been replaced); the ids of the ready ones.

        A failed launch of a together Group takes its whole group to the next offer: what the group launched is deleted.
        """
        ready = set()
        waiting = list(waiting)

        def look():
            listed = dict((item.get("id"), item) for item in self.client.list_instances() if isinstance(item, dict))
            self.deletions.retry()
            still = []
            failed_groups = []
            for launch in waiting:
                instance = listed.get(launch.id)
                failure = self.failure(instance)
                if failure is None and self.is_up(instance) and self.reachable(instance):
                    ready.add(launch.id)
                    if launch.attempt is not None:
                        launch.attempt["outcome"] = "ready"
                    continue
                if failure is None and self.waiter.expired():
                    failure = ("timeout", "not ready within wait_timeout ({0} seconds, status {1!r}{2})".format(
                        self.params["wait_timeout"], instance.get("status"), status_details_note(instance)))
                if failure is None:
                    still.append(launch)
                    continue
                if launch.group is not None:
                    self.abandon(launch, failure[0], failure[1], instance)
                    if launch.group not in failed_groups:
                        failed_groups.append(launch.group)
                    continue
                replacement = self.roll_back(launch, failure, instance, offer_list)
                if replacement is not None:
                    still.append(replacement)
            for group in failed_groups:
                where = _offer_text(group.launches[0].offer)
                for launch in group.launches:
                    if launch.attempt.get("outcome") in (None, "ready"):
                        ready.discard(launch.id)
                        self.abandon(launch, "group_failed", "another member of its group failed on {0}".format(where), listed.get(launch.id))
                still = [launch for launch in still if launch.group is not group]
                if not self.waiter.expired():
                    still.extend(self.launch_group(group.slots, offer_list))
            waiting[:] = still
            return True if not waiting else None

        self.waiter.poll(look)
        if self.params["placement"] == "together" and self.home is None:
            # The first group ready fixes where the fleet is: later groups of this run (replacements) go there too.
            self.home = next((offer_key(attempt) for attempt in self.attempts if attempt.get("id") in ready and attempt.get("outcome") == "ready"),
                             None)
        return ready

    def failure(self, instance):
        """(outcome, reason) when the instance has failed for good (gone, deleting, error); None while it may still be ready."""
        if instance is None:
            return ("gone", "the instance disappeared from the instance list")
        if instance.get("status") == "error":
            return ("error", "the instance went to status 'error'{0}".format(status_details_note(instance)))
        if instance.get("status") in GONE_STATUSES:
            return ("gone", "the instance is {0}{1}".format(instance.get("status"), status_details_note(instance)))
        return None

    def abandon(self, launch, outcome, reason, instance=None, gone=None):
        """Note a failed launch in attempts and delete it, unless it is gone already (``gone``: from ``instance`` when None)."""
        if launch.attempt is None:
            # A member from an earlier run: its failure is noted like a launch of this run's.
            launch.attempt = dict(id=launch.id, **dict((field, (instance or {}).get(field)) for field in
                                                       ("cloud", "region", "shade_instance_type")))
            launch.attempt.update(rental_type=lookup(instance or {}, ("rental_terms", "rental_type")),
                                  hourly_price_usd=hourly_price_usd(instance or {}), fleet_index=launch.index)
            self.attempts.append(launch.attempt)
        launch.attempt.update(outcome=outcome, reason=reason)
        if outcome == "error":
            launch.attempt["status_details"] = (instance or {}).get("status_details")
        if launch.offer is not None:
            self.failed_offers.add(offer_key(launch.offer))
        if launch.id in self.created:
            self.created.remove(launch.id)
        if gone is None:
            gone = instance is None or instance.get("status") in GONE_STATUSES
        if not gone:
            self.deletions.request(launch.id)
        self.result["changed"] = True

    def roll_back(self, launch, failure, instance, offer_list):
        """Roll back a failed launch and, while there is time, launch its replacement on the next offer (else None)."""
        self.abandon(launch, failure[0], failure[1], instance)
        if self.waiter.expired():
            return None
        if not offer_list:
            offer_list[:] = self.offers()
        return self.launch(launch.name, launch.index, offer_list)

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
                       hourly_price_usd=hourly_price_usd(instance), ready=ready, fleet_index=tagged_index(instance),
                       spec=self.matching_spec(instance))
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
        replaced_ids = set(item["id"] for item in self.replaced)
        kept_named = [item for item in self.named if item["id"] not in replaced_ids and item["id"] not in self.deletions.deleted]
        if kept_named:
            self.fail("Fleet {0!r}: {1} member(s) named in replace could not be replaced and are kept: {2}. {3}{4}".format(
                self.params["name"], len(kept_named), ", ".join(str(item.get("name")) for item in kept_named),
                failure_summary(self.attempts) or "No replacement was ready in time.", self.together_note()))
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
                  "(all_or_nothing: true deletes them instead). {4}{5} See attempts for each offer.".format(
                      self.params["name"], count - short, count, short, reasons, self.together_note()))

    def together_note(self):
        """With placement: together and the fleet placed: why no other offer was tried."""
        if self.params["placement"] != "together" or self.home is None:
            return ""
        return " The fleet is placed together on {0}, and that offer could not hold more: a together fleet is never split, so no other " \
               "offer was tried.".format(_where(self.home))


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
        elif outcome in ("timeout", "gone", "group_failed"):
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
            parts.append("{0} {1}".format(len(group), dict(timeout="were not ready within wait_timeout", gone="disappeared",
                                                           group_failed="were deleted with their together group")[outcome]))
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
