# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssh_key against the simulator: add, default, replace, delete, and saving the managed key's private half."""

import pytest

from ansible_collections.shadeform.cloud.plugins.modules import ssh_key

KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA alice@laptop"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB bob@laptop"


def managed(sim):
    return sim.ssh_keys[0]


def test_ssh_key_add_is_idempotent_and_never_assumes_the_default(run_module, sim):
    checked = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A}, check_mode=True, diff=True)
    assert checked["changed"] is True and len(sim.ssh_keys) == 1
    assert checked["diff"] == {"before": {}, "after": {"name": "alice", "public_key": KEY_A, "is_default": False, "managed": False}}

    added = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    assert added["changed"] is True and added["ssh_key"]["id"] and added["ssh_key"]["is_default"] is False
    again = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A.rsplit(" ", 1)[0] + " other-comment"})
    assert again["changed"] is False and again["ssh_key"]["id"] == added["ssh_key"]["id"]

    bob = run_module(ssh_key.main, {"name": "bob", "public_key": KEY_B})
    assert bob["ssh_key"]["is_default"] is False
    made_default = run_module(ssh_key.main, {"name": "bob", "default": True})
    assert made_default["changed"] is True and made_default["ssh_key"]["is_default"] is True
    assert {k["name"]: k["is_default"] for k in sim.ssh_keys} == {"shadeform-managed-key": False, "alice": False, "bob": True}
    assert run_module(ssh_key.main, {"name": "bob", "default": True})["changed"] is False
    assert [r["path"].rsplit("/", 1)[-1] for r in sim.requests if r["method"] == "POST"] == ["add", "add", "setdefault"]


def test_ssh_key_reports_what_the_api_did_when_it_makes_the_first_key_default(run_module, sim):
    sim.set_variants(first_key_default=True)
    added = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    assert added["ssh_key"]["is_default"] is True
    assert not [r for r in sim.requests if r["path"].endswith("/setdefault")]


def test_ssh_key_with_other_material_fails_unless_forced(run_module, sim):
    run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    refused = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_B})
    assert refused["rc"] == 1 and "holds another public key" in refused["msg"] and "force: true" in refused["msg"]
    forced = run_module(ssh_key.main, {"name": "alice", "public_key": KEY_B, "force": True})
    assert forced["changed"] is True
    assert [k["public_key"] for k in sim.ssh_keys][1:] == [KEY_B]


def test_ssh_key_absent_and_missing_public_key(run_module, sim):
    missing = run_module(ssh_key.main, {"name": "carol"})
    assert missing["rc"] == 1 and "public_key is required to add it" in missing["msg"]
    run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    checked = run_module(ssh_key.main, {"name": "alice", "state": "absent"}, check_mode=True)
    assert checked["changed"] is True and len(sim.ssh_keys) == 2
    removed = run_module(ssh_key.main, {"name": "alice", "state": "absent"})
    assert removed["changed"] is True and [k["name"] for k in sim.ssh_keys] == ["shadeform-managed-key"]
    assert run_module(ssh_key.main, {"name": "alice", "state": "absent"})["changed"] is False


def launch_with_key(sim, key_id):
    from shadeform_simulator import filter_instance_types  # pylint: disable=import-outside-toplevel

    item = filter_instance_types(sim.instance_types, "available=true&sort=price")[0]
    region = next(e["region"] for e in item["availability"] if e["rental_type"] == "on_demand")
    return {"cloud": item["cloud"], "region": region, "shade_instance_type": item["shade_instance_type"], "shade_cloud": True,
            "name": "uses-key", "ssh_key_id": key_id}


def post_paths(sim):
    return [r["path"] for r in sim.requests if r["method"] == "POST"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_ssh_key_refuses_to_delete_managed_default_and_used_keys_before_calling(run_module, sim, check_mode):
    sim.set_variants(key_delete_refusal=409, error_body="error")
    run_module(ssh_key.main, {"name": "default-key", "public_key": KEY_A, "default": True})
    used = run_module(ssh_key.main, {"name": "used-key", "public_key": KEY_B})["ssh_key"]
    sim.clear_requests()
    import json  # pylint: disable=import-outside-toplevel
    import urllib.request  # pylint: disable=import-outside-toplevel
    from helpers import API_KEY  # pylint: disable=import-outside-toplevel
    request = urllib.request.Request(sim.url + "/instances/create", data=json.dumps(launch_with_key(sim, used["id"])).encode(),
                                     headers={"X-API-KEY": API_KEY, "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()  # nosec - loopback only
    for name, reason in (("shadeform-managed-key", "it is the Shadeform-managed key"),
                         ("default-key", "it is the workspace's default key"),
                         ("used-key", "instances use it")):
        result = run_module(ssh_key.main, {"name": name, "state": "absent"}, check_mode=check_mode)
        assert result["rc"] == 1 and "cannot be deleted: " + reason in result["msg"], result
        assert "PRIVATE KEY" not in result["stdout"]
    forced = run_module(ssh_key.main, {"name": "used-key", "public_key": KEY_A.replace("AAAA alice", "BBBB alice"), "force": True},
                        check_mode=check_mode)
    assert forced["rc"] == 1 and "cannot be replaced: instances use it" in forced["msg"]
    assert [p for p in post_paths(sim) if p.endswith("/delete")] == []
    assert len(sim.ssh_keys) == 3


def test_ssh_key_never_returns_the_private_key_and_saves_it_to_a_private_file(run_module, sim, tmp_path):
    listed = run_module(ssh_key.main, {"name": "shadeform-managed-key"})
    assert listed["rc"] == 0 and listed["changed"] is False
    assert "private_key" not in listed["ssh_key"] and "PRIVATE KEY" not in listed["stdout"]
    target = tmp_path / "managed_key"
    checked = run_module(ssh_key.main, {"private_key_path": str(target)}, check_mode=True)
    assert checked["changed"] is True and not target.exists()
    saved = run_module(ssh_key.main, {"private_key_path": str(target)})
    assert saved["rc"] == 0 and saved["changed"] is True, saved
    assert "PRIVATE KEY" not in saved["stdout"] and "SIMULATED-SECRET" not in saved["stdout"]
    assert target.read_text() == managed(sim)["private_key"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["managed_key"]  # no temporary file left behind
    assert run_module(ssh_key.main, {"private_key_path": str(target)})["changed"] is False
    target.chmod(0o644)
    assert run_module(ssh_key.main, {"private_key_path": str(target)})["changed"] is True
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    wrong = run_module(ssh_key.main, {"name": "someone-else", "private_key_path": str(target)})
    assert wrong["rc"] == 1 and "is not the Shadeform-managed key" in wrong["msg"]


def test_ssh_key_file_is_created_private_whatever_the_umask(run_module, sim, tmp_path, monkeypatch):
    import os  # pylint: disable=import-outside-toplevel

    modes = []
    real_open = os.open

    def watching_open(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT:
            modes.append(mode)
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", watching_open)
    previous = os.umask(0)
    try:
        result = run_module(ssh_key.main, {"private_key_path": str(tmp_path / "key")})
    finally:
        os.umask(previous)
    assert result["changed"] is True
    assert modes and all(mode & 0o077 == 0 for mode in modes)


def test_uploaded_keys_with_an_empty_private_key_are_not_taken_for_the_managed_one(run_module, sim, tmp_path):
    sim.set_variants(uploaded_private_key="empty")
    run_module(ssh_key.main, {"name": "alice", "public_key": KEY_A})
    assert [k.get("private_key") for k in sim.ssh_keys][1:] == [""]
    saved = run_module(ssh_key.main, {"private_key_path": str(tmp_path / "key")})
    assert saved["rc"] == 0 and saved["ssh_key"]["name"] == "shadeform-managed-key"
    removed = run_module(ssh_key.main, {"name": "alice", "state": "absent"})
    assert removed["rc"] == 0 and removed["changed"] is True


@pytest.fixture
def bounded():
    """Fail the test, rather than hang it, should the module open a FIFO and block (SIGALRM after 20 s)."""
    import signal  # pylint: disable=import-outside-toplevel

    def interrupt(signum, frame):
        raise TimeoutError("the module blocked on the path")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("kind", ["fifo", "device", "directory", "symlink"])
def test_private_key_path_must_be_a_regular_file_and_is_not_opened_otherwise(run_module, sim, tmp_path, bounded, kind):
    import os  # pylint: disable=import-outside-toplevel

    path = tmp_path / "key"
    if kind == "fifo":
        os.mkfifo(str(path))
    elif kind == "directory":
        path.mkdir()
    elif kind == "symlink":
        path.symlink_to(tmp_path / "elsewhere")
    else:
        path = "/dev/zero"  # a device that reads without end: the module would fill its memory reading it
    result = run_module(ssh_key.main, {"private_key_path": str(path)})
    expected = {"fifo": "a FIFO", "device": "a device", "directory": "a directory", "symlink": "a symbolic link"}[kind]
    assert result["rc"] == 1 and "private_key_path {0} is {1}; it must be a regular file".format(path, expected) in result["msg"], result
    assert sim.requests == []  # refused before any call
    if kind == "symlink":
        assert not (tmp_path / "elsewhere").exists()
