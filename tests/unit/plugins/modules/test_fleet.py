# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""shadeform.cloud.fleet against the simulator: offers, failover and rollback, scaling, idempotence, check mode."""

from ansible_collections.shadeform.cloud.plugins.modules.fleet import main

FLEET = dict(name="trainers", gpu_type="A6000", poll_interval=0.1, wait_timeout=30, wait_for_ssh=False)


def posts(sim, suffix):
    return [r for r in sim.requests if r["method"] == "POST" and r["path"].endswith(suffix)]


def members(sim, name="trainers"):
    return [i for i in sim.instances if "fleet={0}".format(name) in (i.get("tags") or []) and i["status"] not in ("deleting",)]


def test_launches_count_members_then_changes_nothing(run_module, sim):
    first = run_module(main, dict(FLEET, count=2))
    assert first["rc"] == 0, first["msg"] if "msg" in first else first
    assert first["changed"] is True
    assert len(first["instances"]) == 2 and all(m["ready"] for m in first["instances"])
    assert sorted(m["name"] for m in first["instances"]) == ["trainers-1", "trainers-2"]
    second = run_module(main, dict(FLEET, count=2))
    assert second["rc"] == 0 and second["changed"] is False, second
    assert len(posts(sim, "/instances/create")) == 2
