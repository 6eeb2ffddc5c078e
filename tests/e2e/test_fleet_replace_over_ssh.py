# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""shadeform.cloud.fleet on_spec_change: replace end to end: H100 members swapped for A100 ones over real sshd.

The simulator hands the addresses of three loopback OpenSSH daemons to the instances the fleet module launches.
playbooks/fleet.yml makes a fleet of two single-H100 members, then runs again asking for A100 with
on_spec_change: replace (replace_batch 1). While that second run goes, a watcher counts the members that are
listed, active and whose SSH port answers: it never drops below count - replace_batch. The inventory's
tag_fleet_workers group, read again by the play, is then the A100 members, and the play logs in to each.
"""

import json
import os
import socket
import threading

import pytest

# pylint: disable=import-error
from e2e_helpers import E2E_API_KEY, describe, launching_simulator, recap

pytestmark = pytest.mark.e2e

COUNT = 2
REPLACE_BATCH = 1


def reachable_members(api):
    """The fleet's members that are listed, active, and whose SSH port accepts a connection now."""
    up = []
    for instance in api.instances:
        if "fleet=workers" not in (instance.get("tags") or []) or instance.get("status") != "active" or not instance.get("ip"):
            continue
        try:
            with socket.create_connection((instance["ip"], instance["ssh_port"]), timeout=2):
                up.append(instance["id"])
        except OSError:
            pass
    return up


def test_replace_moves_the_fleet_from_h100_to_a100_never_below_count_minus_batch(ssh_daemons, tmp_path):
    with launching_simulator(ssh_daemons, tmp_path, "fleet.yml", daemons=3) as (api, run_playbook, proof_dir):
        h100 = run_playbook(fleet_count=COUNT, fleet_gpu_type="H100", fleet_max_price=3.0)
        assert h100.returncode == 0, describe(h100)
        old = dict((i["id"], i) for i in api.instances)
        assert len(old) == COUNT and all(i["configuration"]["gpu_type"] == "H100" for i in old.values())

        lowest = [COUNT]
        samples = [0]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                lowest[0] = min(lowest[0], len(reachable_members(api)))
                samples[0] += 1
                stop.wait(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            moved = run_playbook(fleet_count=COUNT, fleet_gpu_type="A100", fleet_max_price=3.0, fleet_on_spec_change="replace")
        finally:
            stop.set()
            watcher.join()
        assert moved.returncode == 0, describe(moved)
        assert samples[0] > 10, samples  # the watcher saw the replacement happen, not just its end
        assert lowest[0] >= COUNT - REPLACE_BATCH, lowest

        new = dict((i["id"], i) for i in api.instances)
        assert len(new) == COUNT and not set(new) & set(old)
        assert all(i["configuration"]["gpu_type"] == "A100" for i in new.values())
        # The old members are gone from the list (the module waited), so the inventory read right after cannot show them.
        assert not set(old) & set(i["id"] for i in api.instances)
        # The play ran on the inventory's tag_fleet_workers group after refresh_inventory: the A100 members, over SSH.
        hosts = recap(moved.stdout)
        assert sorted(name for name in hosts if name != "localhost") == sorted(i["name"] for i in new.values()), describe(moved)
        for instance in new.values():
            with open(os.path.join(proof_dir, instance["name"] + ".json"), encoding="utf-8") as handle:
                note = json.load(handle)
            assert (note["id"], note["ansible_host"], int(note["ansible_port"]), note["fleet"]) == (
                instance["id"], instance["ip"], instance["ssh_port"], "workers")
        assert hosts["localhost"]["changed"] == 1, describe(moved)

        again = run_playbook(fleet_count=COUNT, fleet_gpu_type="A100", fleet_max_price=3.0, fleet_on_spec_change="replace")
        assert again.returncode == 0 and recap(again.stdout)["localhost"]["changed"] == 0, describe(again)
        for result in (h100, moved, again):
            assert E2E_API_KEY not in result.stdout + result.stderr
