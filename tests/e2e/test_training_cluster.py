# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A training cluster in one play, end to end: a together fleet of three, gpu_facts on it over real sshd, the member
whose GPUs fall short handed back with fleet's replace, its replacement on the rank it held, the group whole again.

The simulator hands the addresses of four loopback OpenSSH daemons to the instances the fleet launches (the first free
one each time), so the three members sit on daemons 0 to 2 and a replacement on daemon 3. Each daemon's sessions find a
stand-in nvidia-smi first on their PATH (tests/helpers.StandIn, replaying tests/fixtures/nvidia-smi/): daemons 0, 1 and
3 answer as eight H100s, daemon 2 as a single L40S, the machine that is not what was rented.
"""

import json
import os

import pytest

from helpers import StandIn

# pylint: disable=import-error
from e2e_helpers import describe, launching_simulator, recap

pytestmark = pytest.mark.e2e

COUNT = 3
BAD_DAEMON = 2


@pytest.fixture
def gpu_machines(ssh_daemons):
    """The stand-in nvidia-smi of each of the first four daemons (daemon 2's short of GPUs), removed afterwards."""
    stand_ins = [StandIn(daemon.bin_dir, "single-l40s" if index == BAD_DAEMON else "h100-8")
                 for index, daemon in enumerate(ssh_daemons.daemons[:COUNT + 1])]
    try:
        yield stand_ins
    finally:
        for stand_in in stand_ins:
            for path in (stand_in.path, stand_in.log):
                if os.path.exists(path):
                    os.remove(path)


def members(api):
    return [i for i in api.instances if "fleet=trainers" in (i.get("tags") or []) and i.get("status") != "deleting"]


def notes_of(proof_dir, prefix):
    """{host: note} of the notes the playbook left with this prefix (values as text before ansible-core 2.19, typed after)."""
    notes = {}
    for name in os.listdir(proof_dir):
        if name.startswith(prefix):
            with open(os.path.join(proof_dir, name), encoding="utf-8") as handle:
                notes[name[len(prefix):].removesuffix(".json")] = json.load(handle)
    return notes


def fleet_index(instance):
    return next(tag.split("=", 1)[1] for tag in instance["tags"] if tag.startswith("fleet_index="))


def test_a_member_short_of_gpus_is_replaced_on_its_rank_and_the_cluster_is_whole_again(ssh_daemons, gpu_machines, tmp_path):
    addresses = [daemon.address for daemon in ssh_daemons.daemons]
    with launching_simulator(ssh_daemons, tmp_path, "training_cluster.yml", daemons=COUNT + 1) as (api, run_playbook, proof_dir):
        run = run_playbook(cluster_count=COUNT)
        assert run.returncode == 0, describe(run)

        launched = [request for request in api.requests if request["method"] == "POST" and request["path"].endswith("/create")]
        assert len(launched) == COUNT + 1, describe(run)  # three members, then the one replacement
        final = members(api)
        assert len(final) == COUNT and sorted(fleet_index(i) for i in final) == ["0", "1", "2"], final
        # One offer for the whole cluster, the replacement included.
        assert len(set((i["cloud"], i["region"], i["shade_instance_type"]) for i in final)) == 1, final
        by_address = dict((i["ip"], i) for i in final)
        assert addresses[BAD_DAEMON] not in by_address and addresses[COUNT] in by_address, final
        replacement = by_address[addresses[COUNT]]

        # gpu_facts found the bad member over SSH (its stand-in was asked); fleet handed it back, its rank taken over.
        checked = notes_of(proof_dir, "checked-")
        assert sorted(note["ansible_host"] for note in checked.values()) == addresses[:COUNT], checked
        [bad] = [note for note in checked.values() if str(note["failed"]) == "True"]
        assert bad["ansible_host"] == addresses[BAD_DAEMON] and gpu_machines[BAD_DAEMON].calls(), checked
        assert bad["id"] not in [i["id"] for i in api.instances] and fleet_index(replacement) == str(bad["fleet_index"])
        assert all(fleet_index(by_address[note["ansible_host"]]) == str(note["fleet_index"]) for note in checked.values() if note is not bad)

        # The last play ran on the whole cluster: a note from each member, eight H100s each, rank 0 the master of all.
        whole = notes_of(proof_dir, "whole-")
        assert sorted(note["id"] for note in whole.values()) == sorted(i["id"] for i in final), whole
        assert all(str(note["gpus"]) == "8" and "H100" in note["gpu_name"] for note in whole.values()), whole
        master = [name for name, note in whole.items() if str(note["fleet_index"]) == "0"]
        assert len(master) == 1 and all(note["master"] == master[0] for note in whole.values()), whole
        hosts = recap(run.stdout)
        assert all(hosts[name]["failed"] == 0 and hosts[name]["unreachable"] == 0 for name in whole), describe(run)
