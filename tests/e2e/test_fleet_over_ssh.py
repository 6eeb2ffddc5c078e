# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""shadeform.cloud.fleet end to end: members that are real sshd daemons, configured through tag_fleet_workers.

The simulator hands the addresses of two loopback OpenSSH daemons (its ip pool) to the instances that the
fleet module launches, so the module's SSH readiness check and the play that follows reach real daemons.
The cheapest offer refuses every launch (out of capacity), so the members land on the next one. The playbook
(playbooks/fleet.yml) runs with two members, again with two (nothing changes), and with zero.
"""

import json
import os

import pytest

from ansible_collections.shadeform.cloud.plugins.module_utils.offers import offers

# pylint: disable=import-error
from e2e_helpers import E2E_API_KEY, describe, launching_simulator, recap

pytestmark = pytest.mark.e2e


def test_fleet_launches_is_configured_over_ssh_and_scales_to_zero(ssh_daemons, tmp_path):
    daemons = ssh_daemons.daemons[:2]
    with launching_simulator(ssh_daemons, tmp_path, "fleet.yml") as (api, run_playbook, proof_dir):
        def play(count):
            return run_playbook(fleet_count=count)

        a6000 = [t for t in api.instance_types if t["configuration"]["gpu_type"] == "A6000" and t["configuration"]["num_gpus"] == 1]
        cheapest, runner_up = offers(a6000, max_hourly_price=1.5)[0][:2]
        api.set_capacity(cheapest["cloud"], cheapest["region"], cheapest["shade_instance_type"], "refuse")
        log_marks = [len(daemon.log()) for daemon in daemons]
        launched = play(2)
        assert launched.returncode == 0, describe(launched)
        members = {i["name"]: i for i in api.instances}
        assert sorted(members) == ["workers-1", "workers-2"]
        assert {(i["cloud"], i["region"]) for i in members.values()} == {(runner_up["cloud"], runner_up["region"])}
        assert sorted((i["ip"], i["ssh_port"]) for i in members.values()) == sorted((d.address, d.port) for d in daemons)
        for name, instance in members.items():
            with open(os.path.join(proof_dir, name + ".json"), encoding="utf-8") as handle:
                note = json.load(handle)
            assert (note["id"], note["ansible_host"], int(note["ansible_port"]), note["fleet"]) == (
                instance["id"], instance["ip"], instance["ssh_port"], "workers")
        # The play logged in to each member's daemon: the module's readiness check made no login.
        assert all(daemon.log()[mark:].count("Accepted publickey for ") for daemon, mark in zip(daemons, log_marks))
        hosts = recap(launched.stdout)
        assert hosts["localhost"]["changed"] == 1 and all(hosts[name]["changed"] == 1 for name in members), describe(launched)

        again = play(2)
        assert again.returncode == 0, describe(again)
        assert recap(again.stdout)["localhost"]["changed"] == 0, describe(again)
        # One refused launch, then one per member; the second run launched nothing.
        assert sum(1 for r in api.requests if r["path"] == "/v1/instances/create") == 3

        retired = play(0)
        assert retired.returncode == 0, describe(retired)
        assert api.instances == []
        assert sorted(recap(retired.stdout)) == ["localhost"], describe(retired)
        for result in (launched, again, retired):
            assert E2E_API_KEY not in result.stdout + result.stderr
