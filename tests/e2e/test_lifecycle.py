# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet lifecycle modules and the inventory in one playbook, over real SSH.

The simulator starts with an empty fleet and hands the addresses of two loopback OpenSSH daemons (the ip pool)
to the instances the playbook launches, so the instances it creates are really reachable.  The playbook
(playbooks/lifecycle.yml) picks the cheapest available offers, launches an on-demand instance with a data volume
and a spot instance and waits, refreshes the inventory, configures them over SSH, and later deletes them and the
volume and sees them gone.  Each phase runs twice: the
second run must change nothing.
"""

import json
import os

import pytest

# pylint: disable=import-error
from api_endpoints import VOLUME_TYPES
from e2e_helpers import E2E_API_KEY, describe, launching_simulator, recap

pytestmark = pytest.mark.e2e

FLEET = ("lifecycle-1", "lifecycle-2")


@pytest.fixture
def lifecycle(ssh_daemons, tmp_path):
    """The simulator whose new instances get the first two daemons' addresses, and lifecycle.yml run against it."""
    with launching_simulator(ssh_daemons, tmp_path, "lifecycle.yml") as (api, play, proof_dir):
        yield api, (lambda fleet_state: play(fleet_state=fleet_state, shadeform_poll_interval=0.5)), proof_dir


def test_launch_configure_and_retire_a_fleet_twice_over(lifecycle, ssh_daemons):
    api, play, proof_dir = lifecycle
    daemons = ssh_daemons.daemons[:2]
    log_marks = [len(daemon.log()) for daemon in daemons]

    launched = play("present")
    assert launched.returncode == 0, describe(launched)
    instances = {i["name"]: i for i in api.instances}
    assert sorted(instances) == sorted(FLEET)
    assert all(i["status"] == "active" for i in instances.values())
    # lifecycle-1: the cheapest available on-demand single A6000 where a volume can be made, with that volume mounted.
    offers = [(t["hourly_price"] / 100.0, t, e) for t in api.instance_types
              if t["configuration"]["gpu_type"] == "A6000" and t["configuration"]["num_gpus"] == 1
              for e in t["availability"] if e["available"]]
    places = {(v["cloud"], v["region"]) for v in VOLUME_TYPES}
    _price, kind, entry = min((o for o in offers if o[2]["rental_type"] == "on_demand" and (o[1]["cloud"], o[2]["region"]) in places),
                              key=lambda o: o[0])
    first = instances["lifecycle-1"]
    assert (first["cloud"], first["region"], first["shade_instance_type"]) == (kind["cloud"], entry["region"], kind["shade_instance_type"])
    assert first["rental_terms"]["rental_type"] == "on_demand"
    [data] = api.volumes
    assert (data["name"], data["mounted_by"], data["cloud"], data["region"]) == ("lifecycle-data", first["id"], first["cloud"], first["region"])
    # lifecycle-2: the cheapest available spot single A6000, by the spot price.
    cheapest_spot = min((o for o in offers if o[2]["rental_type"] == "spot"), key=lambda o: float(o[2]["hourly_price"]))
    second = instances["lifecycle-2"]
    assert (second["cloud"], second["region"], second["shade_instance_type"]) == (
        cheapest_spot[1]["cloud"], cheapest_spot[2]["region"], cheapest_spot[1]["shade_instance_type"])
    assert second["rental_terms"] == {"rental_type": "spot", "hourly_price": cheapest_spot[2]["hourly_price"], "ending_at": None}
    # Each instance got a daemon of its own from the pool, and was configured over SSH at that address.
    assert sorted((i["ip"], i["ssh_port"]) for i in instances.values()) == sorted((d.address, d.port) for d in daemons)
    for name, instance in instances.items():
        with open(os.path.join(proof_dir, name + ".json"), encoding="utf-8") as handle:
            note = json.load(handle)
        assert note["id"] == instance["id"]
        assert (note["ansible_host"], int(note["ansible_port"])) == (instance["ip"], instance["ssh_port"])
    logins = [daemon.log()[mark:].count("Accepted publickey for ") for daemon, mark in zip(daemons, log_marks)]
    assert all(logins), logins
    hosts = recap(launched.stdout)
    # Two changes on localhost: the volume made, the fleet launched.
    assert hosts["localhost"]["changed"] == 2 and all(hosts[name]["changed"] == 1 for name in FLEET), describe(launched)

    again = play("present")
    assert again.returncode == 0, describe(again)
    hosts = recap(again.stdout)
    assert sorted(hosts) == sorted(("localhost",) + FLEET)
    assert all(h["changed"] == 0 and h["failed"] == 0 and h["unreachable"] == 0 for h in hosts.values()), describe(again)
    assert {i["name"]: i["id"] for i in api.instances} == {name: i["id"] for name, i in instances.items()}
    assert sum(1 for r in api.requests if r["path"] == "/v1/instances/create") == 2

    retired = play("absent")
    assert retired.returncode == 0, describe(retired)
    assert api.instances == [] and api.volumes == []
    hosts = recap(retired.stdout)
    assert sorted(hosts) == ["localhost"] and hosts["localhost"]["changed"] == 2, describe(retired)

    retired_again = play("absent")
    assert retired_again.returncode == 0, describe(retired_again)
    assert recap(retired_again.stdout)["localhost"]["changed"] == 0, describe(retired_again)
    assert sum(1 for r in api.requests if r["path"].endswith("/delete")) == 3  # two instances, one volume
    # Every API call carried the key; the modules and the inventory never printed it.
    assert all(r["api_key_ok"] for r in api.requests)
    for result in (launched, again, retired, retired_again):
        assert E2E_API_KEY not in result.stdout + result.stderr
