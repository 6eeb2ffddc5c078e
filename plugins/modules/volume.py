# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: volume
short_description: Create and delete Shadeform storage volumes
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Makes sure a Shadeform storage volume exists (O(state=present)) or is gone (O(state=absent)).
  - "Idempotent: a volume is found by O(id), or else by O(name). Shadeform names need not be unique: when several
    volumes carry O(name), the module fails and lists their ids, unless O(id) picks one."
  - A volume is attached to an instance only when the instance is created (see the O(shadeform.cloud.instance#module:volume)
    option of M(shadeform.cloud.instance)), in the same cloud and region. Volumes cannot be resized, moved or renamed;
    when an existing volume differs in O(cloud), O(region) or O(size_in_gb), the module warns and leaves it as it is.
  - A mounted volume cannot be deleted before its instance; the module refuses, naming the instance, before calling the API
    (in check mode too). Deleting an instance leaves its volume.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - shadeform.cloud.api
  - shadeform.cloud.wait.ignored
  - shadeform.cloud.attributes
options:
  state:
    description: V(present) creates the volume unless it exists; V(absent) deletes it when it exists.
    type: str
    choices: [present, absent]
    default: present
  id:
    description: The id of an existing volume. Without O(id), the volume is found by O(name).
    type: str
  name:
    description: The volume's name. Required to create a volume, and to find one without O(id).
    type: str
  cloud:
    description: The cloud to create the volume on; one of the C(volume_types) of M(shadeform.cloud.volume_info).
    type: str
  region:
    description: The region to create the volume in.
    type: str
  size_in_gb:
    description: The volume's size in GB. Required to create a volume.
    type: int
seealso:
  - module: shadeform.cloud.volume_info
  - module: shadeform.cloud.instance
"""

EXAMPLES = r"""
- name: Make a volume for the model cache
  shadeform.cloud.volume:
    name: model-cache
    cloud: hyperstack
    region: canada-1
    size_in_gb: 200
  register: cache

- name: Launch an instance with it
  shadeform.cloud.instance:
    name: vllm-01
    cloud: hyperstack
    region: canada-1
    shade_instance_type: A6000
    volume: model-cache
    volume_mount:
      auto: true

- name: Delete that instance first (a mounted volume cannot be deleted) and wait until it is gone
  shadeform.cloud.instance:
    name: vllm-01
    state: absent

- name: Delete the volume (after its instance)
  shadeform.cloud.volume:
    name: model-cache
    state: absent
"""

RETURN = r"""
volume:
  description: The volume after the change; empty after O(state=absent); without an id when it would be created in check mode.
  returned: always
  type: dict
  sample:
    id: 5e1c3f0a-6b1d-4b8e-9a53-0c9c7d0e2f11
    name: model-cache
    cloud: hyperstack
    region: canada-1
    size_in_gb: 200
    fixed_size: false
    supports_multi_mount: false
    mounted_by: null
    cost_estimate: "0.42"
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.common import Task, api_argument_spec, run_module, wait_argument_spec

CREATION_FIELDS = ("cloud", "region", "size_in_gb")


def argument_spec():
    spec = api_argument_spec()
    spec.update(wait_argument_spec())
    spec.update(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        id=dict(type="str"),
        name=dict(type="str"),
        cloud=dict(type="str"),
        region=dict(type="str"),
        size_in_gb=dict(type="int"),
    )
    return spec


def run(module, client, result):
    task = Task(module, client, result)
    params = module.params
    result["volume"] = {}
    if not params["id"] and not params["name"]:
        task.fail("Give name (or id) of the volume.")
    found = task.find_one(client.list_volumes(), "volume", params["id"], params["name"])
    if params["state"] == "absent":
        result["diff"] = dict(before=found or {}, after={})
        if found is None:
            return
        if found.get("mounted_by"):
            task.fail("The Shadeform volume {0!r} ({1}) is mounted by instance {2}; delete that instance first (a volume "
                      "cannot be deleted before the instance using it).".format(found.get("name"), found.get("id"), found["mounted_by"]))
        if not module.check_mode:
            client.delete_volume(found["id"])
        result["changed"] = True
        return
    if found is not None:
        differing = ["{0} {1!r} (not {2!r})".format(field, found.get(field), params[field]) for field in CREATION_FIELDS
                     if params[field] is not None and found.get(field) != params[field]]
        if differing:
            module.warn("Shadeform volume {0!r} exists with {1}; it is left as it is: volumes cannot be changed.".format(
                found.get("name"), ", ".join(differing)))
        result["volume"] = found
        result["diff"] = dict(before=found, after=found)
        return
    if params["id"]:
        task.fail("No Shadeform volume has the id {0}: leave id out to create a volume (found by name).".format(params["id"]))
    missing = [field for field in CREATION_FIELDS if params[field] is None]
    if missing:
        task.fail("No Shadeform volume is named {0!r}; to create it, {1} {2} required.".format(
            params["name"], ", ".join(missing), "is" if len(missing) == 1 else "are"))
    if params["size_in_gb"] < 1:
        task.fail("size_in_gb must be at least 1, not {0}.".format(params["size_in_gb"]))
    body = dict(name=params["name"], cloud=params["cloud"], region=params["region"], size_in_gb=params["size_in_gb"])
    result["diff"] = dict(before={}, after=body)
    result["volume"] = body
    if module.check_mode:
        result["changed"] = True
        return
    volume_id = client.create_volume(body)
    # Created: changed from here on, whatever a later read answers.
    result["changed"] = True
    result["volume"] = dict(body, id=volume_id)
    result["volume"] = task.find_one(client.list_volumes(), "volume", volume_id) or result["volume"]
    result["diff"]["after"] = result["volume"]


def main():
    run_module(argument_spec(), run)


if __name__ == "__main__":
    main()
