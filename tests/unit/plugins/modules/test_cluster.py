# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cluster against the simulator (clusters boot in creating_delay + 2 x pending_delay = 0.3 s here)."""

import pytest

from ansible_collections.shadeform.cloud.plugins.modules import cluster

FAST = dict(poll_interval=0.05, wait_timeout=30)


def posts(sim, suffix):
    return [r for r in sim.requests if r["method"] == "POST" and r["path"].endswith(suffix)]


def available_type(sim, size=2):
    """The first cluster type of ``size`` machines the simulator offers now, as the options that create it."""
    offer = next(t for t in sim.cluster_types if t["availability"]["available"] and t["num_instances"] == size)
    return dict(cloud=offer["cloud"], region=offer["availability"]["region"], cluster_type=offer["cluster_type"]["shade_instance_type"],
                num_instances=size), offer


@pytest.mark.parametrize("listed", ["no", "yes"])
def test_cluster_is_created_once_by_name_waits_for_every_member_and_is_deleted(run_module, sim, warned, listed):
    sim.set_variants(cluster_members_listed=listed)
    options, offer = available_type(sim)
    task = dict(options, name="trainers", **FAST)
    checked = run_module(cluster.main, task, check_mode=True, diff=True)
    assert checked["rc"] == 0 and checked["changed"] is True and sim.clusters == [] and not posts(sim, "/clusters/create")
    assert checked["diff"] == {"before": {}, "after": dict(options, name="trainers", id=None)}

    created = run_module(cluster.main, task, diff=True)
    assert created["rc"] == 0 and created["changed"] is True, created
    result = created["cluster"]
    assert result["status"] == "active" and len(result["instances"]) == 2
    assert all(m["status"] == "active" and m["ip"] and m["ssh_port"] == 22 for m in result["instances"])
    member_cents = offer["cluster_type"]["hourly_price"]
    assert result["hourly_price"] == 2 * member_cents and result["hourly_price_usd"] == pytest.approx(2 * member_cents / 100)
    assert result["cost_estimate"] == "$0.00" and result["cost_estimate_usd"] == 0.0
    # Every member as instance results are: the price in dollars beside the API's cents.
    assert all(m["hourly_price_usd"] == pytest.approx(m["hourly_price"] / 100) for m in result["instances"])
    assert created["diff"]["after"]["num_instances"] == 2 and created["diff"]["after"]["cluster_type"] == options["cluster_type"]
    listed_ids = {i["id"] for i in sim.instances}
    assert ({m["id"] for m in result["instances"]} <= listed_ids) is (listed == "yes")

    again = run_module(cluster.main, task)
    assert again["changed"] is False and again["cluster"]["id"] == result["id"] and len(posts(sim, "/clusters/create")) == 1
    assert not warned

    checked_delete = run_module(cluster.main, dict(name="trainers", state="absent", **FAST), check_mode=True, diff=True)
    assert checked_delete["changed"] is True and checked_delete["diff"]["before"]["id"] == result["id"]
    assert not posts(sim, "/delete") and sim.clusters
    deleted = run_module(cluster.main, dict(name="trainers", state="absent", **FAST))
    assert deleted["rc"] == 0 and deleted["changed"] is True and deleted["cluster"] == {}
    assert sim.clusters == [] and sim.instances == []  # waited until the cluster and its members are gone
    assert run_module(cluster.main, dict(name="trainers", state="absent", **FAST))["changed"] is False


def test_an_existing_cluster_that_differs_is_left_as_it_is_with_a_warning(run_module, sim, warned):
    options, _offer = available_type(sim)
    run_module(cluster.main, dict(options, name="trainers", **FAST))
    other = run_module(cluster.main, dict(options, name="trainers", num_instances=4, **FAST))
    assert other["rc"] == 0 and other["changed"] is False and len(other["cluster"]["instances"]) == 2
    assert len(warned) == 1 and "num_instances 2 (not 4)" in warned[0] and "clusters cannot be changed" in warned[0]
    assert len(posts(sim, "/clusters/create")) == 1


def test_creating_needs_every_creation_option_and_a_known_id(run_module, sim):
    missing = run_module(cluster.main, {"name": "trainers", "cloud": "hyperstack"})
    assert missing["rc"] == 1 and "region, cluster_type, num_instances are required" in missing["msg"]
    unknown = run_module(cluster.main, {"id": "no-such-id"})
    assert unknown["rc"] == 1 and "No Shadeform cluster has the id no-such-id" in unknown["msg"]
    assert run_module(cluster.main, {})["msg"] == "Give name (or id) of the cluster."
    assert not posts(sim, "/clusters/create")


def test_a_cluster_that_goes_to_error_fails_the_task_and_stays_named(run_module, sim):
    sim.launch_error = "out_of_capacity"
    options, _offer = available_type(sim)
    failed = run_module(cluster.main, dict(options, name="trainers", **FAST))
    assert failed["rc"] == 1 and failed["changed"] is True
    assert "went to status 'error', out_of_capacity instead of becoming active" in failed["msg"]
    assert failed["cluster"]["id"] == sim.clusters[0]["id"] and failed["cluster"]["status"] == "error"


def test_a_cluster_not_ready_at_the_deadline_fails_saying_how_far_it_got(run_module, sim):
    options, _offer = available_type(sim)
    late = run_module(cluster.main, dict(options, name="trainers", wait_timeout=0, poll_interval=0.05))
    assert late["rc"] == 1 and late["changed"] is True and late["cluster"]["id"]
    assert "0 of 2 members active with an address" in late["msg"] and "raise wait_timeout" in late["msg"]
    # Without waiting the task returns at once, with the cluster as the API shows it then.
    quick = run_module(cluster.main, dict(options, name="other", wait=False))
    assert quick["rc"] == 0 and quick["cluster"]["status"] == "creating"


def test_an_account_without_clusters_gets_a_clear_failure(run_module, sim):
    sim.set_variants(clusters_endpoint="forbidden")
    refused = run_module(cluster.main, {"name": "trainers"})
    assert refused["rc"] == 1 and "403" in refused["msg"] and refused["changed"] is False
