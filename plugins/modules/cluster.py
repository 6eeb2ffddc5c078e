# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: cluster
short_description: Create and delete Shadeform multi-node clusters
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Makes sure a Shadeform cluster exists (O(state=present)) or is gone (O(state=absent)). A cluster is several
    machines of one type that the provider provisions as one unit, in one region, with its fast interconnect
    (C(/clusters) in the API); M(shadeform.cloud.cluster_info) lists the cluster types on offer.
  - "Idempotent: a cluster is found by O(id), or else by O(name) among the clusters not being deleted; it is created only
    when none is found. Shadeform names need not be unique: when several clusters carry O(name), the module fails and
    lists their ids, unless O(id) picks one."
  - A cluster cannot be changed once created. When an existing cluster differs from the task in O(cloud), O(region),
    O(cluster_type) or O(num_instances) (as far as the API shows them), the module warns and leaves it as it is; delete
    it and create it again to change them.
  - Creating is asynchronous and takes longer than for one instance (Shadeform's example says 10 to 20 minutes). With
    O(wait=true) (the default) the module polls the cluster until it is C(active) B(and) every member is C(active) with
    an address, and fails clearly when the cluster or a member goes to C(error), or at O(wait_timeout).
  - O(state=absent) deletes the cluster with all its members (billing stops once it is C(deleting)) and, with O(wait=true),
    waits until it is no longer listed.
  - C(changed) is true only when the API accepted a change (or, in check mode, would be asked for one).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - shadeform.cloud.api
  - shadeform.cloud.wait
  - shadeform.cloud.attributes
options:
  state:
    description: V(present) creates the cluster unless it exists; V(absent) deletes it when it exists.
    type: str
    choices: [present, absent]
    default: present
  id:
    description: The id of an existing cluster. Without O(id), the cluster is found by O(name).
    type: str
  name:
    description: The cluster's name. Required to create a cluster, and to find one without O(id).
    type: str
  cloud:
    description: The cloud of the cluster type (C(cloud) of a cluster type from M(shadeform.cloud.cluster_info)). Required to create.
    type: str
  region:
    description: The region of the cluster type (its C(availability.region)). Required to create.
    type: str
  cluster_type:
    description:
      - The members' Shadeform instance type, for example V(H100_sxm5x8) (C(cluster_type.shade_instance_type) of a cluster
        type). Required to create.
    type: str
  num_instances:
    description: How many machines the cluster has, as its cluster type offers (C(num_instances)). Required to create.
    type: int
  ssh_key_id:
    description: The id of the SSH key (see M(shadeform.cloud.ssh_key)) to install on every member; the workspace's default key when not given.
    type: str
  os:
    description: The operating system image of the members, one of the type's C(configuration.os_options).
    type: str
seealso:
  - module: shadeform.cloud.cluster_info
  - plugin: shadeform.cloud.shadeform
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Find the cheapest H100 cluster of two machines available now
  shadeform.cloud.cluster_info:
    gpu_type: H100
    num_instances: 2
    available: true
  register: offers

- name: Create it (found by name when it exists) and wait until every member is active with an address
  shadeform.cloud.cluster:
    name: trainers
    cloud: "{{ offers.cluster_types[0].cloud }}"
    region: "{{ offers.cluster_types[0].availability.region }}"
    cluster_type: "{{ offers.cluster_types[0].cluster_type.shade_instance_type }}"
    num_instances: 2
    wait_timeout: 3600
  register: trainers

- name: Show the members' addresses
  ansible.builtin.debug:
    msg: "{{ trainers.cluster.instances | map(attribute='ip') | list }}"

- name: Delete the cluster and wait until it is gone
  shadeform.cloud.cluster:
    name: trainers
    state: absent
"""

RETURN = r"""
cluster:
  description:
    - The cluster as the API describes it, after the change; empty after O(state=absent). In check mode, for a cluster
      that would be created, the fields it would be created with.
    - The API's fields keep their names and units; C(hourly_price_usd) and C(cost_estimate_usd) are added.
  returned: always
  type: dict
  sample:
    id: 8eda86fe-0f36-41ed-9837-0ccf8f6e0fcb
    name: trainers
    cloud: denvr
    region_info: {region: houston-usa-1, display_name: "US, Houston, TX"}
    status: active
    hourly_price: 2800
    hourly_price_usd: 28.0
    cost_estimate: "$15.00"
    cost_estimate_usd: 15.0
    instances:
      - {id: d290f1ee-6c54-4b01-90e6-d701748f0851, name: trainers-0, status: active, ip: 192.0.2.10, ssh_user: shadeform, ssh_port: 22}
  contains:
    id:
      description: The cluster's id.
      type: str
      returned: success
    status:
      description: The cluster's status as the API gives it, for example C(creating), C(active) or C(deleting).
      type: str
      returned: success
    hourly_price:
      description: The API's C(hourly_price) of the whole cluster, in cents per hour.
      type: int
      returned: success
    hourly_price_usd:
      description: The same price in dollars per hour (a float); null when the API gives none.
      type: float
      returned: success
    cost_estimate:
      description: What the cluster has cost so far, as the API writes it (dollars with a dollar sign, for example C($15.00)).
      type: str
      returned: success
    cost_estimate_usd:
      description: The same amount in dollars, a float; null when the API gives none.
      type: float
      returned: success
    instances:
      description:
        - The members, each as M(shadeform.cloud.instance) returns an instance (secrets redacted, C(hourly_price_usd)
          added, an C(ip), C(ssh_user) or C(ssh_port) that is no address, user name or port returned as null).
      type: list
      elements: dict
      returned: success
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.common import Task, api_argument_spec, run_module, wait_argument_spec
from ansible_collections.shadeform.cloud.plugins.module_utils.cluster_data import (
    GONE_STATUSES, cluster_result, failed_part, is_cluster_ready, members, region)
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import is_ready, status_details_note

REQUIRED_TO_CREATE = ("name", "cloud", "region", "cluster_type", "num_instances")
CREATE_FIELDS = REQUIRED_TO_CREATE + ("ssh_key_id", "os")
DIFF_FIELDS = ("id", "name", "status", "cloud", "region", "cluster_type", "num_instances")


def argument_spec():
    spec = api_argument_spec()
    spec.update(wait_argument_spec())
    spec.update(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        id=dict(type="str"),
        name=dict(type="str"),
        cloud=dict(type="str"),
        region=dict(type="str"),
        cluster_type=dict(type="str"),
        num_instances=dict(type="int"),
        ssh_key_id=dict(type="str", no_log=False),
        os=dict(type="str"),
    )
    return spec


def describe(cluster):
    return "{0!r} ({1})".format(cluster.get("name"), cluster.get("id"))


def shown_options(cluster):
    """What the API shows of the creation options: cloud, region, the members' type (when they agree) and their count."""
    listed = members(cluster)
    types = set(member.get("shade_instance_type") for member in listed)
    return dict(cloud=cluster.get("cloud"), region=region(cluster), cluster_type=types.pop() if len(types) == 1 else None,
                num_instances=len(listed) if listed else None)


def diff_view(cluster):
    view = dict(id=cluster.get("id"), name=cluster.get("name"), status=cluster.get("status"))
    view.update(shown_options(cluster) if "instances" in cluster or "region_info" in cluster else
                dict((field, cluster.get(field)) for field in ("cloud", "region", "cluster_type", "num_instances")))
    return dict((field, view[field]) for field in DIFF_FIELDS if view.get(field) is not None or field in ("id", "name"))


class ClusterModule(Task):
    def __init__(self, module, client, result):
        super().__init__(module, client, result)
        self.result["cluster"] = {}

    def cluster_result(self, cluster):
        return cluster_result(cluster, self.instance_result)

    def find(self):
        """The cluster to manage, or None; one on its way out counts only for O(state=absent) (to wait for it)."""
        clusters = self.client.list_clusters()
        found = self.find_one(clusters, "cluster", self.params["id"], self.params["name"],
                              skip=lambda item: item.get("status") in GONE_STATUSES)
        if found is None and not self.params["id"] and self.params["state"] == "absent":
            found = self.find_one(clusters, "cluster", name=self.params["name"])
        return found

    def run(self):
        if not self.params["id"] and not self.params["name"]:
            self.fail("Give name (or id) of the cluster.")
        found = self.find()
        if self.params["state"] == "absent":
            self.absent(found)
        elif found is None:
            self.create()
        else:
            self.present(found)

    def present(self, found):
        if found.get("status") in GONE_STATUSES and self.params["id"]:
            self.result["cluster"] = self.cluster_result(found)
            self.fail("Shadeform cluster {0} is being deleted; leave id out to create a new one by name.".format(describe(found)))
        shown = shown_options(found)
        differing = ["{0} {1!r} (not {2!r})".format(field, shown[field], self.params[field]) for field in shown
                     if self.params[field] is not None and shown[field] is not None and shown[field] != self.params[field]]
        if differing:
            self.module.warn("Shadeform cluster {0} exists with {1}; it is left as it is: clusters cannot be changed. Delete it "
                             "(state: absent) and create it again to change them.".format(describe(found), ", ".join(differing)))
        self.result["diff"] = dict(before=diff_view(found), after=diff_view(found))
        cluster = found
        if self.params["wait"] and not self.module.check_mode and not is_cluster_ready(found):
            cluster = self.wait_until_ready(found["id"])
        self.result["cluster"] = self.cluster_result(cluster)

    def create(self):
        if self.params["id"]:
            self.fail("No Shadeform cluster has the id {0}: leave id out to create a cluster (found by name).".format(self.params["id"]))
        missing = [field for field in REQUIRED_TO_CREATE if self.params[field] in (None, "")]
        if missing:
            self.fail("No Shadeform cluster is named {0!r}; to create it, {1} {2} required.".format(
                self.params["name"], ", ".join(missing), "is" if len(missing) == 1 else "are"))
        if self.params["num_instances"] < 1:
            self.fail("num_instances must be at least 1, not {0}.".format(self.params["num_instances"]))
        body = dict((field, self.params[field]) for field in CREATE_FIELDS if self.params[field] is not None)
        self.result["diff"] = dict(before={}, after=diff_view(body))
        self.result["cluster"] = dict(body)
        if self.module.check_mode:
            self.result["changed"] = True
            return
        cluster_id = self.client.create_cluster(body)
        # From here on the cluster exists (and bills): every failure below still reports it, and changed.
        self.result["changed"] = True
        self.result["cluster"] = dict(body, id=cluster_id)
        cluster = self.wait_until_ready(cluster_id) if self.params["wait"] else self.client.cluster_info(cluster_id)
        self.result["cluster"] = self.cluster_result(cluster)
        self.result["diff"]["after"] = diff_view(cluster)

    def wait_until_ready(self, cluster_id):
        """Poll the cluster until it and every member are active with an address; fail on an error, or at the deadline."""
        last = {}

        def look():
            cluster = self.client.cluster_info(cluster_id)
            last.clear()
            last.update(cluster)
            if is_cluster_ready(cluster):
                return cluster
            failed = failed_part(cluster)
            if failed is not None or cluster.get("status") in GONE_STATUSES:
                self.result["cluster"] = self.cluster_result(cluster)
                what = "" if failed is None or failed is cluster else ": member {0} went to {1!r}{2}".format(
                    describe(failed), failed.get("status"), status_details_note(failed))
                self.fail("Shadeform cluster {0} went to status {1!r}{2}{3} instead of becoming active.".format(
                    describe(cluster), cluster.get("status"), status_details_note(cluster), what))
            return None

        cluster = self.waiter.poll(look)
        if cluster is not None:
            return cluster
        self.result["cluster"] = self.cluster_result(last)
        ready = sum(1 for member in members(last) if is_ready(member))
        self.fail("Shadeform cluster {0} is not active with every member reachable after {1} seconds (status {2!r}, {3} of {4} "
                  "members active with an address). It may still get there: raise wait_timeout, or run the task again later "
                  "(it finds the cluster again, nothing is duplicated).".format(
                      describe(last), self.params["wait_timeout"], last.get("status"), ready, len(members(last))))
        return None

    def absent(self, found):
        self.result["diff"] = dict(before={}, after={})
        if found is None:
            return
        if found.get("status") not in GONE_STATUSES:
            self.result["diff"] = dict(before=diff_view(found), after={})
            if self.module.check_mode:
                self.result["changed"] = True
                return
            self.client.delete_cluster(found["id"])
            self.result["changed"] = True
        if self.params["wait"] and not self.module.check_mode:
            self.wait_until_gone(found["id"])

    def wait_until_gone(self, cluster_id):
        def gone():
            return True if not any(item.get("id") == cluster_id for item in self.client.list_clusters()) else None
        if self.waiter.poll(gone) is None:
            self.fail("Shadeform cluster {0} is still listed after {1} seconds. Billing stopped when it went to 'deleting'; run the "
                      "task again later to wait for it.".format(cluster_id, self.params["wait_timeout"]))


def run(module, client, result):
    ClusterModule(module, client, result).run()


def main():
    run_module(argument_spec(), run)


if __name__ == "__main__":
    main()
