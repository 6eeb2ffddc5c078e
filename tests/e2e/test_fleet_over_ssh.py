# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""shadeform.cloud.fleet end to end: members that are real sshd daemons, configured through tag_fleet_<name>.

The simulator hands the addresses of two loopback OpenSSH daemons (its ip pool) to the instances that the
fleet module launches, so the module's SSH readiness check and the play that follows reach real daemons.
The playbook (playbooks/fleet.yml) runs with two members, again with two (nothing changes), and with zero.
"""

import json
import os

import pytest

# pylint: disable=import-error
from e2e_helpers import E2E_API_KEY, PLAYBOOKS_DIR, Simulator, ansible_environment, recap, run_cli, write_inventory

pytestmark = pytest.mark.e2e


def describe(result):
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"


def test_fleet_launches_is_configured_over_ssh_and_scales_to_zero(ssh_daemons, tmp_path):
    daemons = ssh_daemons.daemons[:2]
    pool = [f"{ssh_daemons.user}@{daemon.address}:{daemon.port}" for daemon in daemons]
    workdir = tmp_path / "run"
    proof_dir = tmp_path / "proof"
    workdir.mkdir()
    proof_dir.mkdir()
    with Simulator(api_key=E2E_API_KEY, ip_pool=pool, creating_delay=0.5, pending_delay=0.5, deleting_delay=0.5) as api:
        write_inventory(str(workdir / "shadeform.yml"), api.url, ssh_daemons.client_key)
        env = ansible_environment(ssh_daemons, tmp_path)
        env["SHADEFORM_API_KEY"] = E2E_API_KEY

        def play(count):
            extra = {"shadeform_api_url": api.url, "proof_dir": str(proof_dir), "fleet_count": count}
            return run_cli(str(workdir), env, "ansible-playbook", "-i", "shadeform.yml", os.path.join(PLAYBOOKS_DIR, "fleet.yml"),
                           "-e", json.dumps(extra))

        log_marks = [len(daemon.log()) for daemon in daemons]
        launched = play(2)
        assert launched.returncode == 0, describe(launched)
        members = {i["name"]: i for i in api.instances}
        assert sorted(members) == ["e2e-1", "e2e-2"]
        assert sorted((i["ip"], i["ssh_port"]) for i in members.values()) == sorted((d.address, d.port) for d in daemons)
        for name, instance in members.items():
            with open(os.path.join(proof_dir, name + ".json"), encoding="utf-8") as handle:
                note = json.load(handle)
            assert (note["id"], note["ansible_host"], int(note["ansible_port"]), note["fleet"]) == (
                instance["id"], instance["ip"], instance["ssh_port"], "e2e")
        # The play logged in to each member's daemon: the module's readiness check made no login.
        assert all(daemon.log()[mark:].count("Accepted publickey for ") for daemon, mark in zip(daemons, log_marks))
        hosts = recap(launched.stdout)
        assert hosts["localhost"]["changed"] == 1 and all(hosts[name]["changed"] == 1 for name in members), describe(launched)

        again = play(2)
        assert again.returncode == 0, describe(again)
        assert recap(again.stdout)["localhost"]["changed"] == 0, describe(again)
        assert sum(1 for r in api.requests if r["path"] == "/v1/instances/create") == 2

        retired = play(0)
        assert retired.returncode == 0, describe(retired)
        assert api.instances == []
        assert sorted(recap(retired.stdout)) == ["localhost"], describe(retired)
        for result in (launched, again, retired):
            assert E2E_API_KEY not in result.stdout + result.stderr
