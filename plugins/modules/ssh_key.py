# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: ssh_key
short_description: Add and remove the SSH keys of a Shadeform workspace, and choose the default
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Makes sure an SSH public key is known to Shadeform under a name (O(state=present)), or no longer is (O(state=absent)).
  - New instances get the default key unless M(shadeform.cloud.instance) is given O(shadeform.cloud.instance#module:ssh_key_id).
    O(default=true) makes this key the default.
  - Keys are found by O(name). Shadeform cannot change a key in place; when the key named O(name) differs from
    O(public_key), the module fails unless O(force=true), which deletes it and adds the new one.
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
  name:
    description: The key's name in Shadeform.
    type: str
    required: true
  public_key:
    description:
      - The OpenSSH public key, for example V({{ lookup('ansible.builtin.file', '~/.ssh/id_ed25519.pub') }}).
      - Required to add a key. Keys are compared by type and key material; the comment does not matter.
    type: str
  state:
    description: V(present) adds the key unless it exists; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  default:
    description:
      - V(true) makes the key the workspace's default. V(false) never unsets the default (choose another key instead).
    type: bool
    default: false
  force:
    description: Replace (delete, then add) a key with this name whose public key differs from O(public_key).
    type: bool
    default: false
seealso:
  - module: shadeform.cloud.instance
"""

EXAMPLES = r"""
- name: Add my key and make it the default for new instances
  shadeform.cloud.ssh_key:
    name: laptop
    public_key: "{{ lookup('ansible.builtin.file', '~/.ssh/id_ed25519.pub') }}"
    default: true
  register: key

- name: Launch with that key
  shadeform.cloud.instance:
    name: notebook-01
    cloud: hyperstack
    region: canada-1
    shade_instance_type: A6000
    ssh_key_id: "{{ key.ssh_key.id }}"

- name: Remove an old key
  shadeform.cloud.ssh_key:
    name: old-laptop
    state: absent
"""

RETURN = r"""
ssh_key:
  description: The key after the change; empty after O(state=absent), and without an id when it would be added in check mode.
  returned: always
  type: dict
  contains:
    id:
      description: The key's id, for O(shadeform.cloud.instance#module:ssh_key_id).
      type: str
      returned: success
    name:
      description: The key's name.
      type: str
      returned: success
    public_key:
      description: The public key.
      type: str
      returned: success
    is_default:
      description: Whether new instances get this key by default.
      type: bool
      returned: success
  sample:
    id: 78a0bbd2-8a2b-4a5e-9c3c-0d1f2e3a4b5c
    name: laptop
    public_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO4... me@laptop
    is_default: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformAPIError
from ansible_collections.shadeform.cloud.plugins.module_utils.common import api_argument_spec, client_from_module


def key_material(public_key):
    """Type and base64 of an OpenSSH public key, without the comment."""
    return tuple((public_key or "").split()[:2])


def run(module, client):
    name = module.params["name"]
    state = module.params["state"]
    result = dict(changed=False, ssh_key={})
    keys = [key for key in client.list_ssh_keys() if isinstance(key, dict) and key.get("name") == name]
    if len(keys) > 1:
        module.fail_json(msg="{0} Shadeform SSH keys are named {1!r} (ids {2}); remove the extra ones in the Shadeform console.".format(
            len(keys), name, ", ".join(str(key.get("id")) for key in keys)), **result)
    found = keys[0] if keys else None

    if state == "absent":
        result["diff"] = dict(before=found or {}, after={})
        if found:
            result["changed"] = True
            if not module.check_mode:
                client.delete_ssh_key(found["id"])
        return result

    public_key = (module.params["public_key"] or "").strip()
    if found is None and not public_key:
        module.fail_json(msg="No Shadeform SSH key is named {0!r}; public_key is required to add it.".format(name), **result)
    before = dict(found) if found else {}
    if found and public_key and key_material(found.get("public_key")) != key_material(public_key):
        if not module.params["force"]:
            module.fail_json(msg="The Shadeform SSH key {0!r} holds another public key. Shadeform cannot change a key in place: set "
                                 "force: true to replace it, or choose another name.".format(name), **result)
        result["changed"] = True
        if not module.check_mode:
            client.delete_ssh_key(found["id"])
        found = None
    key = found
    if key is None:
        result["changed"] = True
        key = {"name": name, "public_key": public_key, "is_default": False}
        if not module.check_mode:
            key = client.ssh_key_info(client.add_ssh_key(name, public_key))
    if module.params["default"] and not key.get("is_default"):
        result["changed"] = True
        key = dict(key, is_default=True)
        if not module.check_mode:
            client.set_default_ssh_key(key["id"])
            key = client.ssh_key_info(key["id"])
    result["ssh_key"] = key
    result["diff"] = dict(before=before, after=key)
    return result


def main():
    spec = api_argument_spec()
    spec.update(
        name=dict(type="str", required=True),
        public_key=dict(type="str", no_log=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        default=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    client = client_from_module(module)
    try:
        module.exit_json(**run(module, client))
    except ShadeformAPIError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
