# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssh_key_info against the simulator: the workspace's keys, the managed one and one added with ssh_key."""

from ansible_collections.shadeform.cloud.plugins.modules import ssh_key, ssh_key_info

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC alice@laptop"


def test_ssh_key_info_lists_the_keys_with_default_and_managed_never_a_private_half(run_module, sim):
    sim.set_variants(uploaded_private_key="empty")
    alice = run_module(ssh_key.main, {"name": "alice", "public_key": PUBLIC_KEY})["ssh_key"]
    listed = run_module(ssh_key_info.main, {})
    assert listed["rc"] == 0 and listed["changed"] is False
    assert listed["ssh_keys"] == [
        dict(id=sim.ssh_keys[0]["id"], name="shadeform-managed-key", public_key=sim.ssh_keys[0]["public_key"], is_default=True, managed=True),
        dict(id=alice["id"], name="alice", public_key=PUBLIC_KEY, is_default=False, managed=False),
    ]
    assert "PRIVATE KEY" not in listed["stdout"] and "SIMULATED-SECRET" not in listed["stdout"] and "private_key" not in listed["stdout"]
    assert [key["name"] for key in run_module(ssh_key_info.main, {"name": "alice"})["ssh_keys"]] == ["alice"]
    assert run_module(ssh_key_info.main, {"id": alice["id"]})["ssh_keys"][0]["name"] == "alice"
