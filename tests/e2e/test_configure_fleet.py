# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ansible-playbook -i shadeform.yml`` configures a fleet over real SSH.

The simulator serves a fleet whose active instances are OpenSSH daemons on 127.0.0.x (see conftest.py) and
whose other instances are still being created (no address).  The real ``ansible-inventory``, ``ansible`` and
``ansible-playbook`` commands run with the inventory file a user writes; the playbooks leave, on every host
they reach, a note of the user, address and port the connection arrived on, which is checked here against
what the API says about that instance.
"""

import json
import os
import re

import pytest

# pylint: disable=import-error
from e2e_helpers import ACTIVE, NOT_READY, PLAYBOOKS_DIR, SCALE_OUT, describe, recap
from helpers import inventory_list

pytestmark = pytest.mark.e2e


def by_gpu(e2e, gpu_type, names=ACTIVE):
    return sorted(n for n in names if e2e.instance(n)["configuration"]["gpu_type"] == gpu_type)


def by_tag(e2e, tag, names=ACTIVE):
    return sorted(n for n in names if tag in e2e.instance(n)["tags"])


def assert_reached_as_the_api_says(proof, instance):
    """The note a host wrote: the connection arrived at the instance's ip and ssh_port, as its ssh_user."""
    client_ip, _client_port, server_ip, server_port = proof["ssh_connection"].split()
    assert proof["inventory_hostname"] == instance["name"]
    assert (server_ip, int(server_port)) == (instance["ip"], instance["ssh_port"]), proof
    assert proof["user"] == instance["ssh_user"]
    assert client_ip.startswith("127.")


def playbook(e2e, name, **extra_vars):
    extra_vars.setdefault("proof_dir", e2e.proof_dir)
    return e2e.run("ansible-playbook", "-i", "shadeform.yml", os.path.join(PLAYBOOKS_DIR, name), "-e", json.dumps(extra_vars))


def test_inventory_graph_lists_the_fleet(e2e):
    result = e2e.run("ansible-inventory", "-i", "shadeform.yml", "--graph")
    assert result.returncode == 0, describe(result)
    graph = result.stdout
    for name in ACTIVE + NOT_READY:
        assert name in graph
    for group in ("@status_active:", "@gpu_H100:", "@gpu_A100:", "@tag_training:", "@tag_env_prod:", "@env_prod:", "@env_dev:"):
        assert group in graph

    listed = e2e.run("ansible-inventory", "-i", "shadeform.yml", "--list")
    assert listed.returncode == 0, describe(listed)
    inventory = inventory_list(listed.stdout)
    hostvars = inventory["_meta"]["hostvars"]
    assert sorted(inventory["status_active"]["hosts"]) == sorted(ACTIVE)
    for name in ACTIVE:
        instance = e2e.instance(name)
        assert hostvars[name]["ansible_host"] == instance["ip"]
        assert hostvars[name]["ansible_port"] == instance["ssh_port"]
        assert hostvars[name]["ansible_user"] == instance["ssh_user"]
        assert hostvars[name]["ansible_ssh_private_key_file"] == e2e.daemons.client_key
    for name in NOT_READY:
        assert hostvars[name]["ansible_host"] == "shadeform-no-address-yet.invalid"  # never the host name
    assert all(r["api_key_ok"] for r in e2e.api.requests if r["path"].startswith("/v1/"))


def test_playbook_configures_the_fleet_over_ssh(e2e):
    log_marks = [len(daemon.log()) for daemon in e2e.daemons.daemons]
    result = playbook(e2e, "configure_fleet.yml")
    assert result.returncode == 0, describe(result)

    expected = {
        "status_active": sorted(ACTIVE),
        "gpu_H100": by_gpu(e2e, "H100"),
        "tag_training": by_tag(e2e, "training"),
        "env_dev": by_tag(e2e, "env=dev"),
    }
    # The fleet is shaped so that each play reaches a different set of hosts.
    assert expected["gpu_H100"] and expected["env_dev"] and expected["gpu_H100"] != sorted(ACTIVE)
    proofs = e2e.proofs()
    assert sorted(proofs) == sorted(f"{play}-{host}" for play, hosts in expected.items() for host in hosts)
    for key, proof in proofs.items():
        assert_reached_as_the_api_says(proof, e2e.instance(key.split("-", 1)[1]))

    hosts = recap(result.stdout)
    assert sorted(hosts) == sorted(ACTIVE), describe(result)
    assert all(h["unreachable"] == 0 and h["failed"] == 0 for h in hosts.values())
    for name in NOT_READY:
        assert name not in result.stdout
    # The daemons of the active instances took logins; the spare one (not in the fleet) took none.
    logins = [daemon.log()[mark:].count("Accepted publickey for ") for daemon, mark in zip(e2e.daemons.daemons, log_marks)]
    assert all(logins[:len(ACTIVE)]) and logins[len(ACTIVE):] == [0], logins


@pytest.mark.parametrize("cache", [False, True], ids=["no-cache", "jsonfile-cache"])
def test_refresh_inventory_picks_up_an_instance_that_became_active(e2e, cache):
    if cache:
        # refresh_inventory must read the API again even when the inventory cache is on.
        cache_dir = os.path.join(e2e.workdir, "inventory-cache")
        e2e.write_inventory("cache: true", "cache_plugin: ansible.builtin.jsonfile", f"cache_connection: {json.dumps(cache_dir)}",
                            "cache_timeout: 3600")
        warm = e2e.run("ansible-inventory", "-i", "shadeform.yml", "--graph")  # caches the fleet before the scale-out
        assert warm.returncode == 0, describe(warm)
        assert os.listdir(cache_dir), "the inventory cache was not written"
    new = e2e.daemons.daemons[len(ACTIVE)]  # running, but not in the API's fleet yet
    instance_id = e2e.instance(SCALE_OUT)["id"]
    assert e2e.instance(SCALE_OUT)["status"] != "active"
    changes = {"status": "active", "status_details": "ready", "ip": new.address, "ssh_port": new.port, "ssh_user": e2e.daemons.user}
    listings_before = sum(1 for r in e2e.api.requests if r["path"] == "/v1/instances")

    result = playbook(e2e, "scale_out_refresh.yml", shadeform_sim_url=e2e.api.base_url, new_instance_id=instance_id, new_instance=changes)
    assert result.returncode == 0, describe(result)

    assert e2e.instance(SCALE_OUT)["status"] == "active"
    # The inventory was read from the API again during the run (at start too, unless the cache answered).
    assert sum(1 for r in e2e.api.requests if r["path"] == "/v1/instances") >= listings_before + (1 if cache else 2)
    proofs = e2e.proofs()
    assert sorted(k for k in proofs if k.startswith("before-")) == sorted(f"before-{n}" for n in ACTIVE)
    assert sorted(k for k in proofs if k.startswith("after-")) == sorted(f"after-{n}" for n in ACTIVE + (SCALE_OUT,))
    for key, proof in proofs.items():
        assert_reached_as_the_api_says(proof, e2e.instance(key.split("-", 1)[1]))
    assert proofs[f"after-{SCALE_OUT}"]["ssh_connection"].split()[2:] == [new.address, str(new.port)]

    hosts = recap(result.stdout)
    assert sorted(hosts) == sorted(ACTIVE + (SCALE_OUT,)), describe(result)
    assert all(h["unreachable"] == 0 and h["failed"] == 0 for h in hosts.values())
    for name in set(NOT_READY) - {SCALE_OUT}:
        assert name not in result.stdout


def test_ad_hoc_ping_of_a_gpu_group(e2e):
    expected = by_gpu(e2e, "A100", ACTIVE + NOT_READY)
    assert expected and all(e2e.instance(n)["status"] == "active" for n in expected)

    result = e2e.run("ansible", "-i", "shadeform.yml", "gpu_A100", "-m", "ansible.builtin.ping")

    assert result.returncode == 0, describe(result)
    answered = sorted(re.findall(r"^(\S+) \| SUCCESS => ", result.stdout, re.MULTILINE))
    assert answered == expected, describe(result)
    assert '"ping": "pong"' in result.stdout
