# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""shadeform.cloud.fleet against the simulator: offers, failover and rollback, scaling, idempotence, check mode."""

import socket

import pytest

from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import REDACTED
from ansible_collections.shadeform.cloud.plugins.modules.fleet import main

from helpers import API_KEY

SECRET = "hf_FLEET-SECRET-do-not-print"
H100X8 = dict(vcpus=104, memory_in_gb=900, storage_in_gb=10000, num_gpus=8, gpu_type="H100", interconnect="sxm5",
              vram_per_gpu_in_gb=80, gpu_manufacturer="nvidia", os_options=["ubuntu22.04_cuda12.2_shade_os"])
A100X8 = dict(H100X8, gpu_type="A100")


def offer(region, available=True, rental_type="on_demand", price=None, display_name=None):
    entry = dict(region=region, available=available, rental_type=rental_type, display_name=display_name or region)
    if price is not None:
        entry["hourly_price"] = price
    return entry


# On demand, cheapest first: hyperstack/canada-1 19.20, datacrunch/FIN-01 21.00, lambdalabs/us-east-1 and us-west-1 23.90.
# Spot: hyperstack/canada-1 9.50, lambdalabs/us-east-1 12.00.
CATALOGUE = [
    dict(cloud="lambdalabs", shade_instance_type="H100x8", cloud_instance_type="gpu_8x_h100_sxm5", hourly_price=2390,
         deployment_type="vm", configuration=H100X8, boot_time=dict(min_boot_in_sec=180, max_boot_in_sec=300),
         availability=[offer("us-east-1"), offer("us-west-1"), offer("us-east-1", rental_type="spot", price="12.00")]),
    dict(cloud="hyperstack", shade_instance_type="H100x8", cloud_instance_type="n3-H100x8", hourly_price=1920,
         deployment_type="vm", configuration=H100X8, boot_time=dict(min_boot_in_sec=300, max_boot_in_sec=600),
         availability=[offer("canada-1"), offer("norway-1", available=False), offer("canada-1", rental_type="spot", price="9.50")]),
    dict(cloud="datacrunch", shade_instance_type="H100x8", cloud_instance_type="8H100.80S.176V", hourly_price=2100,
         deployment_type="vm", configuration=H100X8, boot_time=dict(min_boot_in_sec=180, max_boot_in_sec=300),
         availability=[offer("FIN-01"), offer("ICE-01", available=False)]),
    dict(cloud="datacrunch", shade_instance_type="A100x8", cloud_instance_type="8A100.176V", hourly_price=1100,
         deployment_type="vm", configuration=A100X8, boot_time=dict(min_boot_in_sec=180, max_boot_in_sec=300),
         availability=[offer("FIN-01")]),
]
FLEET = dict(name="trainers", gpu_type="H100", num_gpus=8, poll_interval=0.1, wait_timeout=30, wait_for_ssh=False)


@pytest.fixture
def sim():
    """Overrides the modules' simulator: the catalogue above, an empty fleet, short lifecycle delays."""
    from shadeform_simulator import Simulator  # pylint: disable=import-outside-toplevel

    with Simulator(api_key=API_KEY, instance_types=CATALOGUE, creating_delay=0.2, pending_delay=0.2, deleting_delay=0.2) as simulator:
        yield simulator


def requests_to(sim, method, suffix):
    return [r for r in sim.requests if r["method"] == method and r["path"].split("?")[0].endswith(suffix)]


def members(sim, name="trainers"):
    return [i for i in sim.instances if "fleet={0}".format(name) in (i.get("tags") or []) and i["status"] != "deleting"]


def placement(instances):
    return sorted((i["cloud"], i["region"]) for i in instances)


def test_launches_on_the_cheapest_offer_then_changes_nothing(run_module, sim):
    first = run_module(main, dict(FLEET, count=2, tags=["env=test"]))
    assert first["rc"] == 0 and first["changed"] is True, first
    assert sorted(m["name"] for m in first["instances"]) == ["trainers-1", "trainers-2"]
    assert all(m["ready"] and m["status"] == "active" and m["ip"] for m in first["instances"])
    assert placement(members(sim)) == [("hyperstack", "canada-1")] * 2
    # Each member also carries its rank, fleet_index=<i> (#22).
    assert sorted(sorted(i["tags"]) for i in members(sim)) == [["env=test", "fleet=trainers", "fleet_index={0}".format(n)] for n in (0, 1)]
    assert [a["outcome"] for a in first["attempts"]] == ["ready", "ready"]
    # hourly_price keeps the API's cents; the dollar figure is hourly_price_usd, in the members and the attempts alike.
    assert first["attempts"][0]["hourly_price_usd"] == 19.2 and "hourly_price" not in first["attempts"][0]
    assert first["instances"][0]["hourly_price"] == 1920 and first["instances"][0]["hourly_price_usd"] == 19.2
    assert sorted(first["created"]) == sorted(i["id"] for i in members(sim)) and first["deleted"] == []

    again = run_module(main, dict(FLEET, count=2, tags=["env=test"]))
    assert again["rc"] == 0 and again["changed"] is False, again
    assert again["attempts"] == [] and again["created"] == [] and again["deleted"] == []
    assert len(requests_to(sim, "POST", "/instances/create")) == 2
    assert not requests_to(sim, "POST", "/delete")


def test_price_cap_and_allow_lists_choose_the_offer(run_module, sim):
    capped = run_module(main, dict(FLEET, name="capped", count=1, max_hourly_price=20.0))
    assert capped["rc"] == 0, capped
    assert placement(members(sim, "capped")) == [("hyperstack", "canada-1")]
    by_cloud = run_module(main, dict(FLEET, name="lambda", count=1, clouds=["lambdalabs", "datacrunch"]))
    assert by_cloud["rc"] == 0, by_cloud
    assert placement(members(sim, "lambda")) == [("datacrunch", "FIN-01")]
    by_region = run_module(main, dict(FLEET, name="west", count=1, regions=["us-west-1"]))
    assert by_region["rc"] == 0, by_region
    assert placement(members(sim, "west")) == [("lambdalabs", "us-west-1")]


@pytest.mark.parametrize("constraint, named", [
    (dict(max_hourly_price=5.0), "max_hourly_price 5.0"),
    (dict(clouds=["aws"]), "clouds aws"),
    (dict(regions=["norway-1"]), "available capacity"),
    (dict(gpu_type="B200"), "the GPU type, GPU count and instance type asked for"),
])
def test_no_offer_left_fails_before_creating_anything(run_module, sim, constraint, named):
    result = run_module(main, dict(FLEET, count=2, **constraint))
    assert result["rc"] == 1 and result["changed"] is False
    assert "none is left after filtering on {0}".format(named) in result["msg"], result["msg"]
    assert "Nothing was created" in result["msg"]
    assert not requests_to(sim, "POST", "/instances/create") and sim.instances == []


def test_check_mode_reports_the_plan_and_changes_nothing(run_module, sim):
    assert run_module(main, dict(FLEET, count=1))["rc"] == 0
    existing = members(sim)[0]["id"]
    sim.clear_requests()
    grow = run_module(main, dict(FLEET, count=3), check_mode=True)
    assert grow["rc"] == 0 and grow["changed"] is True, grow
    assert grow["plan"]["create"] == 2 and grow["plan"]["delete"] == []
    assert [(o["cloud"], o["region"], o["hourly_price_usd"]) for o in grow["plan"]["offers"]] == [
        ("hyperstack", "canada-1", 19.2), ("datacrunch", "FIN-01", 21.0), ("lambdalabs", "us-east-1", 23.9),
        ("lambdalabs", "us-west-1", 23.9)]
    shrink = run_module(main, dict(FLEET, count=0), check_mode=True)
    assert shrink["changed"] is True and shrink["plan"]["delete"] == [existing]
    assert not [r for r in sim.requests if r["method"] == "POST"]
    assert len(members(sim)) == 1


def test_scale_down_deletes_the_highest_indexes_first(run_module, sim):
    assert run_module(main, dict(FLEET, count=1, clouds=["lambdalabs"]))["rc"] == 0          # 23.90, index 0
    assert run_module(main, dict(FLEET, count=3, clouds=["hyperstack"]))["rc"] == 0          # two more at 19.20, indexes 1 and 2
    by_name = dict((i["name"], i) for i in members(sim))
    assert sorted(by_name) == ["trainers-1", "trainers-2", "trainers-3"]
    assert by_name["trainers-1"]["cloud"] == "lambdalabs" and "fleet_index=0" in by_name["trainers-1"]["tags"]
    highest = next(i for i in members(sim) if "fleet_index=2" in i["tags"])

    # Not the most expensive member (index 0, the rank others start from): the highest index.
    shrunk = run_module(main, dict(FLEET, count=2))
    assert shrunk["rc"] == 0 and shrunk["changed"] is True, shrunk
    assert shrunk["deleted"] == [highest["id"]]
    assert sorted(i["tags"][1] for i in members(sim)) == ["fleet_index=0", "fleet_index=1"]
    again = run_module(main, dict(FLEET, count=1))
    assert [i["id"] for i in members(sim)] == [by_name["trainers-1"]["id"]] and len(again["deleted"]) == 1


def test_state_absent_deletes_every_member_and_waits_until_gone(run_module, sim):
    assert run_module(main, dict(FLEET, count=2))["rc"] == 0
    assert run_module(main, dict(FLEET, name="others", count=1))["rc"] == 0
    gone = run_module(main, dict(name="trainers", state="absent", poll_interval=0.1, wait_timeout=30))
    assert gone["rc"] == 0 and gone["changed"] is True, gone
    assert len(gone["deleted"]) == 2 and gone["instances"] == []
    assert [i["name"] for i in sim.instances] == ["others-1"]  # gone from the list, not just deleting
    again = run_module(main, dict(name="trainers", state="absent", poll_interval=0.1))
    assert again["rc"] == 0 and again["changed"] is False and again["deleted"] == []


def test_every_failed_launch_is_rolled_back_and_the_next_offer_tried(run_module, sim):
    sim.launch_error = "out of capacity"  # every launch ends in status error
    result = run_module(main, dict(FLEET, count=1))
    assert result["rc"] == 1 and result["changed"] is True
    tried = [(a["cloud"], a["region"], a["outcome"]) for a in result["attempts"]]
    assert tried == [("hyperstack", "canada-1", "error"), ("datacrunch", "FIN-01", "error"),
                     ("lambdalabs", "us-east-1", "error"), ("lambdalabs", "us-west-1", "error")]
    assert all("out of capacity" in a["reason"] for a in result["attempts"])
    # Each failed launch was deleted, and the task says why nothing is ready.
    assert sorted(result["deleted"]) == sorted(a["id"] for a in result["attempts"])
    assert members(sim) == [] and result["created"] == []
    assert "0 of 1 members are ready" in result["msg"] and "4 went to error (out of capacity)" in result["msg"]


def test_a_member_in_error_is_replaced(run_module, sim):
    assert run_module(main, dict(FLEET, count=2))["rc"] == 0
    broken = members(sim)[0]
    sim.update_instance(broken["id"], status="error", status_details="hardware fault")
    result = run_module(main, dict(FLEET, count=2))
    assert result["rc"] == 0 and result["changed"] is True, result
    assert result["deleted"] == [broken["id"]] and len(result["created"]) == 1
    # The replacement takes a name no listed instance has: the broken member is listed (deleting) for a while yet.
    [replacement] = [i for i in members(sim) if i["id"] in result["created"]]
    assert replacement["name"] not in (broken["name"], "trainers-2"), replacement
    assert broken["id"] not in [i["id"] for i in members(sim)]


def test_a_launch_not_ready_in_time_is_deleted(run_module, sim, monkeypatch):
    from shadeform_simulator import Simulator  # pylint: disable=import-outside-toplevel

    with Simulator(api_key=API_KEY, instance_types=CATALOGUE, creating_delay=30, pending_delay=30, deleting_delay=0.1) as slow:
        result = run_module(main, dict(FLEET, count=1, wait_timeout=1, clouds=["hyperstack"], api_url=slow.url))
        assert result["rc"] == 1
        assert [a["outcome"] for a in result["attempts"]] == ["timeout"]
        assert "not ready within wait_timeout (1 seconds" in result["attempts"][0]["reason"]
        assert result["deleted"] == [result["attempts"][0]["id"]]
        assert all(i["status"] == "deleting" for i in slow.instances)


def test_ready_waits_for_the_ssh_port(run_module):
    from shadeform_simulator import Simulator  # pylint: disable=import-outside-toplevel

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    try:
        pool = ["ubuntu@127.0.0.1:{0}".format(listener.getsockname()[1])]
        with Simulator(api_key=API_KEY, instance_types=CATALOGUE, ip_pool=pool, creating_delay=0.1, pending_delay=0.1) as api:
            ready = run_module(main, dict(FLEET, count=1, wait_for_ssh=True, api_url=api.url))
            assert ready["rc"] == 0, ready
            assert ready["instances"][0]["ssh_port"] == listener.getsockname()[1]
        pool = ["ubuntu@127.0.0.1:{0}".format(closed.getsockname()[1])]
        with Simulator(api_key=API_KEY, instance_types=CATALOGUE, ip_pool=pool, creating_delay=0.1, pending_delay=0.1,
                       deleting_delay=0.1) as api:
            unreachable = run_module(main, dict(FLEET, count=1, wait_for_ssh=True, wait_timeout=2, clouds=["hyperstack"], api_url=api.url))
            assert unreachable["rc"] == 1
            assert [a["outcome"] for a in unreachable["attempts"]] == ["timeout"]
            assert "'active'" in unreachable["attempts"][0]["reason"]  # active with an address, but SSH never answered
    finally:
        listener.close()
        closed.close()


def test_one_list_call_per_poll_for_the_whole_fleet(run_module, sim):
    result = run_module(main, dict(FLEET, count=4, poll_interval=0.1))
    assert result["rc"] == 0, result
    # No per-member reads while waiting: the fleet is read with GET /instances, once per poll.
    assert not [r for r in sim.requests if r["method"] == "GET" and "/info" in r["path"]]
    lists = requests_to(sim, "GET", "/instances")
    creates = requests_to(sim, "POST", "/instances/create")
    assert len(creates) == 4
    # The members boot in ~0.4 s: about 4 polls plus the list before launching and the one after.
    assert len(lists) <= 12, len(lists)


def test_secrets_never_reach_the_output(run_module, sim):
    launch = dict(type="docker", docker_configuration=dict(image="vllm/vllm-openai:latest", envs=[dict(name="HF_TOKEN", value=SECRET)]))
    result = run_module(main, dict(FLEET, count=1, launch_configuration=launch, envs=[dict(name="TOKEN", value=SECRET)]))
    assert result["rc"] == 0, result
    assert SECRET not in result["stdout"]
    created = sim.instances[0]
    assert created["launch_configuration"]["docker_configuration"]["envs"][0]["value"] == SECRET  # it did reach the API
    # A rerun compares the launch settings with what /info holds: the same ones are no drift.
    again = run_module(main, dict(FLEET, count=1, launch_configuration=launch, envs=[dict(name="TOKEN", value=SECRET)]))
    assert again["rc"] == 0 and again["changed"] is False and again["drifted"] == [], again
    # Another secret value is drift, shown without either value.
    other = run_module(main, dict(FLEET, count=1, launch_configuration=launch, envs=[dict(name="TOKEN", value=SECRET + "-rotated")]))
    assert other["rc"] == 0 and [list(d["differences"]) for d in other["drifted"]] == [["envs"]], other
    redacted = [dict(name="TOKEN", value=REDACTED)]
    assert other["drifted"][0]["differences"]["envs"] == dict(member=redacted, wanted=redacted)
    assert SECRET not in again["stdout"] + other["stdout"]


@pytest.mark.parametrize("args, message", [
    (dict(count=None), "count is required"),
    (dict(count=-1), "count must be 0 or more"),
    (dict(count=1, name="bad name"), "may hold only letters"),
    (dict(count=1, max_hourly_price=0), "max_hourly_price must be a positive"),
    (dict(count=1, tags=["fleet_index=3"]), "tags may not hold a fleet_index= tag"),
    (dict(count=1, replace=["trainers-1"], wait=False), "replace needs wait: true"),
    (dict(count=1, launch_configuration=dict(type="docker", script_configuration=dict(base64_script="ZWNobwo="))),
     "launch_configuration of type docker needs docker_configuration"),
])
def test_bad_options_fail_before_any_call(run_module, sim, args, message):
    result = run_module(main, dict(FLEET, **args))
    assert result["rc"] == 1 and message in result["msg"], result
    assert sim.requests == []


def test_failover_over_several_failing_offers_rolls_back_each(run_module, sim):
    sim.set_capacity("hyperstack", "canada-1", "H100x8", "refuse")        # 19.20: refused at create
    sim.set_capacity("datacrunch", "FIN-01", "H100x8", "error")           # 21.00: goes to error
    sim.set_capacity("lambdalabs", "us-east-1", "H100x8", "error")        # 23.90: goes to error too
    result = run_module(main, dict(FLEET, count=1, wait_timeout=30))
    assert result["rc"] == 0 and result["changed"] is True, result
    assert [(a["cloud"], a["region"], a["outcome"]) for a in result["attempts"]] == [
        ("hyperstack", "canada-1", "refused"), ("datacrunch", "FIN-01", "error"),
        ("lambdalabs", "us-east-1", "error"), ("lambdalabs", "us-west-1", "ready")]
    assert "Out of capacity" in result["attempts"][0]["reason"] and "id" not in result["attempts"][0]
    # The instances that went to error were deleted; only the ready one is kept.
    assert sorted(result["deleted"]) == sorted([result["attempts"][1]["id"], result["attempts"][2]["id"]])
    assert result["created"] == [result["attempts"][3]["id"]]
    assert placement(members(sim)) == [("lambdalabs", "us-west-1")]
    # One launch per offer: an offer that failed is not tried again in the run.
    assert [r["body"]["region"] for r in requests_to(sim, "POST", "/instances/create")] == [
        "canada-1", "FIN-01", "us-east-1", "us-west-1"]


def test_spot_uses_spot_prices_and_asks_for_spot(run_module, sim):
    result = run_module(main, dict(FLEET, count=1, rental_type="spot", max_hourly_price=10.0))
    assert result["rc"] == 0, result
    assert [(a["cloud"], a["hourly_price_usd"], a["rental_type"]) for a in result["attempts"]] == [("hyperstack", 9.5, "spot")]
    launched = members(sim)[0]
    assert launched["rental_terms"]["rental_type"] == "spot"
    assert result["instances"][0]["rental_type"] == "spot" and result["instances"][0]["hourly_price_usd"] == 9.5
    # A reclaimed spot member leaves the fleet; the next run replaces it.
    sim.preempt(launched["id"])
    again = run_module(main, dict(FLEET, count=1, rental_type="spot", max_hourly_price=10.0))
    assert again["rc"] == 0 and again["changed"] is True and len(again["created"]) == 1, again
    assert again["created"] != [launched["id"]]


def test_a_replacement_never_takes_the_name_of_a_member_still_listed_on_its_way_out(run_module, sim):
    """Two listed instances of one name are both renamed <name>-<id> in the inventory: the replacement of a member still
    listed as deleting would lose its plain name, and the event naming it would name a host that disappears with the
    old member."""
    first = run_module(main, dict(FLEET, count=2))
    assert first["rc"] == 0, first
    lost = [item for item in members(sim) if item["name"] == "trainers-1"][0]
    # A spot reclaim the provider takes its time over: listed as deleting while the fleet runs again.
    sim.update_instance(lost["id"], status="deleting", status_details="preempted")
    again = run_module(main, dict(FLEET, count=2, wait=False))
    assert again["rc"] == 0 and len(again["created"]) == 1, again
    [replacement] = [item for item in sim.instances if item["id"] in again["created"]]
    listed_names = [item["name"] for item in sim.instances]
    assert replacement["name"] not in ("trainers-1", "trainers-2") and listed_names.count(replacement["name"]) == 1, listed_names


def test_insufficient_funds_stops_at_once(run_module, sim):
    sim.balance_low = True
    result = run_module(main, dict(FLEET, count=2))
    assert result["rc"] == 1 and result["changed"] is False
    assert "INSUFFICIENT_FUNDS" in result["msg"] and "no other offer can fix" in result["msg"]
    assert [a["outcome"] for a in result["attempts"]] == ["refused"]
    assert len(requests_to(sim, "POST", "/instances/create")) == 1 and sim.instances == []


@pytest.mark.parametrize("all_or_nothing", [False, True])
def test_partial_success_keeps_the_ready_members_unless_all_or_nothing(run_module, sim, all_or_nothing):
    sim.set_capacity("hyperstack", "canada-1", "H100x8", "refuse", after=1)  # room for one member, then none
    for cloud, region in (("datacrunch", "FIN-01"), ("lambdalabs", "us-east-1"), ("lambdalabs", "us-west-1")):
        sim.set_capacity(cloud, region, "H100x8", "refuse")
    result = run_module(main, dict(FLEET, count=3, all_or_nothing=all_or_nothing))
    assert result["rc"] == 1 and result["changed"] is True
    assert [a["outcome"] for a in result["attempts"]] == ["ready", "refused", "refused", "refused", "refused"]
    if all_or_nothing:
        assert "only 1 of 3 members could be made ready" in result["msg"]
        assert members(sim) == [] and result["created"] == [] and result["instances"] == []
        assert result["deleted"] == [result["attempts"][0]["id"]]
    else:
        assert "1 of 3 members are ready" in result["msg"] and "4 offers refused with HTTP 409, for example:" in result["msg"]
        assert result["msg"].count("Out of capacity") == 1  # one example, not one sentence per refusal
        assert [m["name"] for m in result["instances"]] == ["trainers-1"] and result["instances"][0]["ready"]
        assert placement(members(sim)) == [("hyperstack", "canada-1")]


# -- a fleet never silently keeps the wrong machines (#21.2) ----------------------------------------------------------

DOCKER = dict(type="docker", docker_configuration=dict(image="ghcr.io/example/worker:2"))


@pytest.mark.parametrize("change, field, member, wanted", [
    (dict(gpu_type="A100"), "gpu_type", "H100", "A100"),
    (dict(num_gpus=4), "num_gpus", 8, 4),
    (dict(shade_instance_type="A100x8"), "shade_instance_type", "H100x8", "A100x8"),
    (dict(rental_type="spot"), "rental_type", "on_demand", "spot"),
    (dict(os="ubuntu24.04_cuda12.4"), "os", "ubuntu22.04_cuda12.2_shade_os", "ubuntu24.04_cuda12.4"),
    (dict(launch_configuration=DOCKER), "launch_configuration", None, DOCKER),
])
def test_a_setting_only_a_new_instance_can_change_is_reported_as_drift(run_module, sim, warned, change, field, member, wanted):
    assert run_module(main, dict(FLEET, count=2))["rc"] == 0
    ids = sorted(i["id"] for i in members(sim))
    sim.clear_requests()
    result = run_module(main, dict(FLEET, count=2, **change))
    assert result["rc"] == 0 and result["changed"] is False, result
    assert sorted(d["id"] for d in result["drifted"]) == ids
    assert all(d["differences"][field] == dict(member=member, wanted=wanted) for d in result["drifted"]), result["drifted"]
    assert sorted(d["name"] for d in result["drifted"]) == ["trainers-1", "trainers-2"]
    assert len(warned) == 1 and "differ from this task" in warned[0] and field in warned[0] and "on_spec_change: replace" in warned[0]
    assert not [r for r in sim.requests if r["method"] == "POST"]  # warn: the members are kept as they are


def test_tags_and_thresholds_are_updated_in_place_and_shown_in_the_diff(run_module, sim):
    assert run_module(main, dict(FLEET, count=2, tags=["env=test"]))["rc"] == 0
    ids = sorted(i["id"] for i in members(sim))
    changed = run_module(main, dict(FLEET, count=2, tags=["env=prod"], auto_delete=dict(spend_threshold="50")), diff=True)
    assert changed["rc"] == 0 and changed["changed"] is True, changed
    assert sorted(changed["updated"]) == ids and changed["drifted"] == [] and changed["created"] == [] and changed["deleted"] == []
    assert all(sorted(i["tags"]) == ["env=prod", "fleet=trainers", "fleet_index={0}".format(index_of(i))] for i in members(sim))
    updates = requests_to(sim, "POST", "/update")
    assert sorted(r["path"].split("/")[-2] for r in updates) == ids
    index = dict((i["id"], index_of(i)) for i in members(sim))
    assert all(r["body"] == dict(tags=["fleet=trainers", "fleet_index={0}".format(index[r["path"].split("/")[-2]]), "env=prod"],
                                 auto_delete=dict(spend_threshold="50")) for r in updates)
    before, after = changed["diff"]["before"]["members"], changed["diff"]["after"]["members"]
    assert sorted(before) == sorted(after) == ids
    assert all(sorted(before[i]["tags"]) == ["env=test", "fleet=trainers", "fleet_index={0}".format(index[i])]
               and sorted(after[i]["tags"]) == ["env=prod", "fleet=trainers", "fleet_index={0}".format(index[i])] for i in ids)
    # The API normalises thresholds: "50.00" is the 50 it holds, so a rerun changes nothing.
    again = run_module(main, dict(FLEET, count=2, tags=["env=prod"], auto_delete=dict(spend_threshold="50.00")))
    assert again["rc"] == 0 and again["changed"] is False and again["updated"] == [], again
    assert len(requests_to(sim, "POST", "/update")) == 2


@pytest.mark.parametrize("purge_tags, expected", [(True, ["env=prod", "fleet=trainers", "fleet_index=0"]),
                                                  (False, ["env=prod", "fleet=trainers", "fleet_index=0", "owner=alice"])])
def test_purge_tags_false_keeps_the_tags_the_task_does_not_name(run_module, sim, purge_tags, expected):
    assert run_module(main, dict(FLEET, count=1))["rc"] == 0
    member = members(sim)[0]
    sim.update_instance(member["id"], tags=["fleet=trainers", "owner=alice"])
    result = run_module(main, dict(FLEET, count=1, tags=["env=prod"], purge_tags=purge_tags))
    assert result["rc"] == 0 and result["changed"] is True and result["updated"] == [member["id"]], result
    assert sorted(members(sim)[0]["tags"]) == expected
    assert run_module(main, dict(FLEET, count=1, tags=["env=prod"], purge_tags=purge_tags))["changed"] is False


def test_check_mode_diff_shows_what_would_be_created_deleted_updated_and_replaced(run_module, sim):
    assert run_module(main, dict(FLEET, count=2))["rc"] == 0
    first, second = sorted(members(sim), key=lambda i: i["name"])
    sim.update_instance(second["id"], configuration=dict(H100X8, gpu_type="A100"))  # drifted: replaced by on_spec_change replace
    sim.clear_requests()
    plan = run_module(main, dict(FLEET, count=3, tags=["env=prod"], on_spec_change="replace"), check_mode=True, diff=True)
    assert plan["rc"] == 0 and plan["changed"] is True, plan
    assert plan["plan"]["create"] == 1 and plan["plan"]["replace"] == [second["id"]] and plan["plan"]["delete"] == []
    assert sorted(plan["plan"]["updates"]) == sorted([first["id"], second["id"]])
    after = plan["diff"]["after"]["members"]
    assert sorted(plan["diff"]["before"]["members"]) == sorted([first["id"], second["id"]])
    assert sorted(after) == sorted([first["id"], "(new 1)", "(replacement of trainers-2)"])
    assert after[first["id"]]["tags"] == ["fleet=trainers", "fleet_index={0}".format(index_of(first)), "env=prod"]
    assert after["(new 1)"]["gpu_type"] == "H100" and after["(new 1)"]["status"] == "to be launched"
    assert not [r for r in sim.requests if r["method"] == "POST"]


def test_replace_swaps_drifted_members_batch_by_batch_and_never_drops_below_count(run_module, sim):
    import threading  # pylint: disable=import-outside-toplevel

    assert run_module(main, dict(FLEET, count=3))["rc"] == 0
    old = dict((i["id"], i) for i in members(sim))
    sim.clear_requests()
    lowest = [3]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            ready = [i for i in members(sim) if i["status"] == "active" and i.get("ip")]
            lowest[0] = min(lowest[0], len(ready))
            stop.wait(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run_module(main, dict(FLEET, count=3, gpu_type="A100", on_spec_change="replace", replace_batch=2))
    finally:
        stop.set()
        watcher.join()
    assert result["rc"] == 0 and result["changed"] is True, result
    assert sorted(r["id"] for r in result["replaced"]) == sorted(old) and result["drifted"] == []
    assert sorted(result["deleted"]) == sorted(old) and len(result["created"]) == 3
    assert placement(members(sim)) == [("datacrunch", "FIN-01")] * 3
    assert all(i["configuration"]["gpu_type"] == "A100" for i in members(sim))
    assert sorted(m["id"] for m in result["instances"]) == sorted(result["created"]) and all(m["ready"] for m in result["instances"])
    assert lowest[0] >= 3 - 2, lowest
    # Each old member was deleted only after a replacement of its batch was ready: creates 2, deletes 2, create 1, delete 1.
    posts = [r["path"].split("/")[-1] for r in sim.requests if r["method"] == "POST"]
    assert posts == ["create", "create", "delete", "delete", "create", "delete"], posts
    assert run_module(main, dict(FLEET, count=3, gpu_type="A100", on_spec_change="replace"))["changed"] is False


def test_a_replacement_that_fails_keeps_the_old_member_and_says_so(run_module, sim):
    assert run_module(main, dict(FLEET, count=1))["rc"] == 0
    old = members(sim)[0]
    sim.set_capacity("datacrunch", "FIN-01", "A100x8", "error")
    result = run_module(main, dict(FLEET, count=1, gpu_type="A100", on_spec_change="replace"))
    assert result["rc"] == 1 and "could not be replaced and are kept" in result["msg"] and "1 went to error" in result["msg"], result
    assert [d["id"] for d in result["drifted"]] == [old["id"]] and result["replaced"] == []
    assert [i["id"] for i in members(sim)] == [old["id"]]


def test_a_fleet_without_a_gpu_type_or_instance_type_is_refused(run_module, sim):
    result = run_module(main, dict(name="anything", count=1, poll_interval=0.1))
    assert result["rc"] == 1 and "needs gpu_type or shade_instance_type" in result["msg"], result
    assert sim.requests == []


def test_every_offer_refused_is_summarised_by_reason(run_module, sim):
    sim.set_variants(error_body="error")  # refusals carry an error_code
    for cloud, region in (("hyperstack", "canada-1"), ("datacrunch", "FIN-01"), ("lambdalabs", "us-east-1"), ("lambdalabs", "us-west-1")):
        sim.set_capacity(cloud, region, "H100x8", "refuse")
    result = run_module(main, dict(FLEET, count=2))
    assert result["rc"] == 1
    assert "0 of 2 members are ready" in result["msg"] and "4 offers refused: out of capacity (409)." in result["msg"], result["msg"]
    assert "Out of capacity for" not in result["msg"] and len(result["msg"]) < 400
    assert [a["outcome"] for a in result["attempts"]] == ["refused"] * 4
    assert all(a["http_status"] == 409 and a["error_code"] == "OUT_OF_CAPACITY" and "Out of capacity for" in a["reason"]
               for a in result["attempts"])


# -- units (#21.3): hourly_price is the API's cents, hourly_price_usd the dollars -------------------------------------

def test_a_spot_members_price_is_its_rental_terms_rate(run_module, sim):
    assert run_module(main, dict(FLEET, count=1, rental_type="spot", max_hourly_price_usd=10.0))["rc"] == 0
    member = members(sim)[0]
    sim.update_instance(member["id"], hourly_price=1920)  # the top-level field: the on-demand rate, not what a spot member costs
    result = run_module(main, dict(FLEET, count=1, rental_type="spot", max_hourly_price_usd=10.0))
    assert result["rc"] == 0 and result["changed"] is False, result
    summary = result["instances"][0]
    assert (summary["hourly_price"], summary["hourly_price_usd"], summary["rental_type"]) == (1920, 9.5, "spot")


# -- the one SSH endpoint parser (#20.3) ------------------------------------------------------------------------------

def test_a_member_whose_port_is_a_digit_string_is_ready_not_replaced(run_module, sim):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        assert run_module(main, dict(FLEET, count=1))["rc"] == 0
        member = members(sim)[0]
        sim.update_instance(member["id"], ip="127.0.0.1", ssh_port=str(listener.getsockname()[1]))  # "18022", as some clouds give it
        result = run_module(main, dict(FLEET, count=1, wait_for_ssh=True, wait_timeout=2))
        assert result["rc"] == 0 and result["changed"] is False, result
        assert result["deleted"] == [] and result["created"] == [] and [i["id"] for i in members(sim)] == [member["id"]]
        summary = result["instances"][0]
        assert summary["ready"] and (summary["ip"], summary["ssh_port"]) == ("127.0.0.1", listener.getsockname()[1])
    finally:
        listener.close()


def test_an_address_the_parser_refuses_is_never_probed_nor_shown(run_module, sim, warned, monkeypatch):
    assert run_module(main, dict(FLEET, count=1))["rc"] == 0
    member = members(sim)[0]
    sim.update_instance(member["id"], ip="-oProxyCommand=touch /tmp/owned", ssh_user="root@evil")
    probed = []
    monkeypatch.setattr(socket, "create_connection", lambda *args, **kwargs: probed.append(args))
    result = run_module(main, dict(FLEET, count=1, wait=False))
    assert result["rc"] == 0, result
    summary = result["instances"][0]
    assert (summary["ip"], summary["ssh_user"], summary["ready"]) == (None, None, False)
    assert len(warned) == 1 and "unusable ip, ssh_user" in warned[0] and probed == []


# -- offers filter on os and deployment type, and a container must be up (#21.12) -----------------------------------

CONTAINER_H100 = dict(cloud="massedcompute", shade_instance_type="H100x8", cloud_instance_type="h100-8-container", hourly_price=2000,
                      deployment_type="container", configuration=dict(H100X8, os_options=["ubuntu24.04_cuda12.4"]),
                      boot_time=dict(min_boot_in_sec=60, max_boot_in_sec=120), availability=[offer("us-central-1")])


@pytest.mark.parametrize("args, outcome", [
    (dict(os="ubuntu24.04_cuda12.4"), ("massedcompute", "us-central-1")),
    (dict(deployment_types=["container"]), ("massedcompute", "us-central-1")),
    (dict(os="ubuntu24.04_cuda12.4", deployment_types=["vm", "baremetal"]), "deployment_types vm, baremetal"),
])
def test_offers_filter_on_os_and_deployment_type(run_module, args, outcome):
    from shadeform_simulator import Simulator  # pylint: disable=import-outside-toplevel

    with Simulator(api_key=API_KEY, instance_types=CATALOGUE + [CONTAINER_H100], creating_delay=0.1, pending_delay=0.1) as api:
        result = run_module(main, dict(FLEET, count=1, api_url=api.url, **args))
        creates = [r for r in api.requests if r["path"] == "/v1/instances/create"]
        if isinstance(outcome, str):
            assert result["rc"] == 1 and "none is left after filtering on {0}".format(outcome) in result["msg"], result
            assert creates == []
        else:
            assert result["rc"] == 0, result
            # Straight to the one offer with that OS / deployment type: no launch refused for a missing OS.
            assert [(r["body"]["cloud"], r["body"]["region"]) for r in creates] == [outcome]


def test_wait_for_workload_counts_a_starting_container_as_not_ready(run_module, sim):
    assert run_module(main, dict(FLEET, count=1))["rc"] == 0
    member = members(sim)[0]
    sim.update_instance(member["id"], status_details="downloading")  # active, its container still starting
    assert run_module(main, dict(FLEET, count=1, wait=False))["instances"][0]["ready"] is True
    starting = run_module(main, dict(FLEET, count=1, wait=False, wait_for_workload=True))
    assert starting["rc"] == 0 and starting["instances"][0]["ready"] is False, starting
    sim.update_instance(member["id"], status_details="running")
    assert run_module(main, dict(FLEET, count=1, wait=False, wait_for_workload=True))["instances"][0]["ready"] is True


# -- wait_timeout in all, and waits the clock can hold (#20.6) --------------------------------------------------------

def test_wait_timeout_bounds_the_whole_run_not_each_launch(run_module, sim):
    import time  # pylint: disable=import-outside-toplevel

    for cloud, region in (("hyperstack", "canada-1"), ("datacrunch", "FIN-01"), ("lambdalabs", "us-east-1")):
        sim.set_capacity(cloud, region, "H100x8", "never_ready")
    started = time.monotonic()
    result = run_module(main, dict(FLEET, count=1, wait_timeout=1, poll_interval=0.2))
    elapsed = time.monotonic() - started
    assert result["rc"] == 1 and "were not ready within wait_timeout" in result["msg"], result
    # One launch, deleted at the deadline; no second launch with a fresh wait_timeout of its own.
    assert [a["outcome"] for a in result["attempts"]] == ["timeout"] and len(requests_to(sim, "POST", "/instances/create")) == 1
    assert result["deleted"] == [result["attempts"][0]["id"]]
    assert elapsed < 1 + 0.2 + 2.5, elapsed  # the deadline, one poll interval, and the HTTP calls of the last look (loaded CI)


def test_a_delete_refused_while_launching_is_retried_only_until_the_deadline(run_module, sim):
    import time  # pylint: disable=import-outside-toplevel

    sim.set_variants(delete_before_active="refused")
    sim.set_capacity("hyperstack", "canada-1", "H100x8", "never_ready")
    assert run_module(main, dict(FLEET, count=1, clouds=["hyperstack"], wait=False))["rc"] == 0
    started = time.monotonic()
    result = run_module(main, dict(name="trainers", state="absent", wait_timeout=1, poll_interval=0.2))
    elapsed = time.monotonic() - started
    assert result["rc"] == 1 and "still listed after 1 seconds" in result["msg"], result
    assert elapsed < 1 + 0.2 + 2.5, elapsed
    assert len(requests_to(sim, "POST", "/delete")) >= 2  # retried while waiting


def test_a_delete_that_got_no_answer_is_asked_again_not_the_end_of_the_run(run_module, sim, monkeypatch):
    from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient  # pylint: disable=import-outside-toplevel
    from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import ShadeformAPIError  # pylint: disable=import-outside-toplevel

    assert run_module(main, dict(FLEET, count=2))["rc"] == 0
    ids = sorted(i["id"] for i in members(sim))
    deleting = ShadeformClient.delete_instance
    asked = []

    def first_unanswered(self, instance_id):
        asked.append(instance_id)
        if len(asked) == 1:
            raise ShadeformAPIError("The Shadeform API did not answer", status=None)  # the seam: a timeout the simulator never has
        return deleting(self, instance_id)

    monkeypatch.setattr(ShadeformClient, "delete_instance", first_unanswered)
    result = run_module(main, dict(name="trainers", state="absent", poll_interval=0.1, wait_timeout=30))
    assert result["rc"] == 0 and result["changed"] is True, result
    # The unanswered delete was asked again (the other member's delete was not given up for it), and both are gone.
    assert sorted(result["deleted"]) == ids and asked.count(asked[0]) == 2 and sorted(set(asked)) == ids
    assert members(sim) == [] and [i for i in sim.instances if i["id"] in ids] == []


@pytest.mark.parametrize("option, value", [
    ("poll_interval", -1), ("poll_interval", 0), ("poll_interval", "nan"), ("poll_interval", "inf"), ("poll_interval", 1e12),
    ("wait_timeout", -5), ("wait_timeout", 0), ("wait_timeout", 10 ** 12),
])
def test_waits_the_clock_cannot_hold_are_one_clear_error(run_module, sim, option, value):
    result = run_module(main, dict(FLEET, count=1, **{option: value}))
    # The modules' one check of the wait options; a fleet's wait_timeout is at least 1 (0 would only launch to delete).
    bounds = dict(poll_interval="a positive number of seconds, at most 604800", wait_timeout="a number of seconds from 1 to 604800")[option]
    assert result["rc"] == 1 and result["msg"].startswith("{0} must be {1}, not ".format(option, bounds)), result
    assert "Traceback" not in result["stdout"] and sim.requests == []


# -- from a fleet to a training cluster (#22): alternatives, placement together, stable ranks, replace ---------------

def index_of(instance):
    """The member's fleet_index tag as a number (None without one)."""
    found = [tag.split("=", 1)[1] for tag in instance.get("tags") or [] if tag.startswith("fleet_index=")]
    return int(found[0]) if len(found) == 1 else None


def by_index(sim, name="trainers"):
    return dict((index_of(i), i) for i in members(sim, name))


H100_OFFERS = (("hyperstack", "canada-1"), ("datacrunch", "FIN-01"), ("lambdalabs", "us-east-1"), ("lambdalabs", "us-west-1"))


def test_alternatives_are_tried_after_the_main_spec_and_their_members_are_no_drift(run_module, sim, warned):
    alternatives = [dict(gpu_type="B200"), dict(gpu_type="A100", num_gpus=8)]
    plan = run_module(main, dict(FLEET, count=2, alternatives=alternatives), check_mode=True)
    # The main spec's offers first, cheapest first, then the alternatives' in order: A100 at 11.00 comes last.
    assert [(o["shade_instance_type"], o["hourly_price_usd"], o["spec"]) for o in plan["plan"]["offers"]] == [
        ("H100x8", 19.2, 0), ("H100x8", 21.0, 0), ("H100x8", 23.9, 0), ("H100x8", 23.9, 0), ("A100x8", 11.0, 2)], plan
    sim.set_capacity("hyperstack", "canada-1", "H100x8", "refuse", after=1)  # room for one H100 member
    for cloud, region in H100_OFFERS[1:]:
        sim.set_capacity(cloud, region, "H100x8", "refuse")
    result = run_module(main, dict(FLEET, count=2, alternatives=alternatives))
    assert result["rc"] == 0 and result["changed"] is True, result
    assert [(a["shade_instance_type"], a["spec"], a["outcome"]) for a in result["attempts"]] == [
        ("H100x8", 0, "ready"), ("H100x8", 0, "refused"), ("H100x8", 0, "refused"), ("H100x8", 0, "refused"),
        ("H100x8", 0, "refused"), ("A100x8", 2, "ready")]
    assert sorted((m["shade_instance_type"], m["spec"]) for m in result["instances"]) == [("A100x8", 2), ("H100x8", 0)]
    # A member of an alternative spec matches the task: a rerun changes nothing and reports no drift.
    again = run_module(main, dict(FLEET, count=2, alternatives=alternatives))
    assert again["rc"] == 0 and again["changed"] is False and again["drifted"] == [], again
    # Without the alternative, the A100 member differs from the task.
    alone = run_module(main, dict(FLEET, count=2))
    assert [list(d["differences"]) for d in alone["drifted"]] == [["gpu_type"]] and len(warned) == 1, alone
    refused = run_module(main, dict(FLEET, count=2, alternatives=[dict(num_gpus=8)]))
    assert refused["rc"] == 1 and "alternatives[1] needs gpu_type or shade_instance_type" in refused["msg"], refused


@pytest.mark.parametrize("outcome", ["error", "refuse"])
def test_together_moves_a_partly_failed_group_to_the_next_offer_and_deletes_what_it_launched(run_module, sim, outcome):
    sim.set_capacity("hyperstack", "canada-1", "H100x8", outcome, after=2)  # the cheapest offer holds two of the three
    result = run_module(main, dict(FLEET, count=3, placement="together"))
    assert result["rc"] == 0 and result["changed"] is True, result
    assert placement(members(sim)) == [("datacrunch", "FIN-01")] * 3
    tried = [(a["cloud"], a["outcome"]) for a in result["attempts"]]
    failed = "error" if outcome == "error" else "refused"
    assert tried == [("hyperstack", "group_failed")] * 2 + [("hyperstack", failed)] + [("datacrunch", "ready")] * 3, tried
    # Everything launched on the failed offer was deleted; only the group on the next offer is kept.
    launched_there = [a["id"] for a in result["attempts"] if a["cloud"] == "hyperstack" and "id" in a]
    assert sorted(result["deleted"]) == sorted(launched_there) and len(launched_there) == (3 if outcome == "error" else 2)
    assert sorted(result["created"]) == sorted(i["id"] for i in members(sim))
    assert sorted(index_of(i) for i in members(sim)) == [0, 1, 2]


def test_together_scales_up_and_replaces_where_the_fleet_is_and_never_splits(run_module, sim):
    sim.set_capacity("hyperstack", "canada-1", "H100x8", "refuse")
    assert run_module(main, dict(FLEET, count=2, placement="together"))["rc"] == 0
    assert placement(members(sim)) == [("datacrunch", "FIN-01")] * 2
    sim.clear_capacity()  # the cheaper offer has room again: a together fleet stays where it is all the same
    grown = run_module(main, dict(FLEET, count=3, placement="together"))
    assert grown["rc"] == 0 and grown["changed"] is True, grown
    assert placement(members(sim)) == [("datacrunch", "FIN-01")] * 3
    swapped = run_module(main, dict(FLEET, count=3, placement="together", replace=[by_index(sim)[1]["name"]]))
    assert swapped["rc"] == 0 and len(swapped["replaced"]) == 1, swapped
    assert placement(members(sim)) == [("datacrunch", "FIN-01")] * 3
    sim.set_capacity("datacrunch", "FIN-01", "H100x8", "refuse")
    sim.clear_requests()
    refused = run_module(main, dict(FLEET, count=4, placement="together"))
    assert refused["rc"] == 1, refused
    assert "datacrunch/FIN-01/H100x8" in refused["msg"] and "never split" in refused["msg"], refused["msg"]
    # One try where the fleet is, none on the free, cheaper offer elsewhere.
    assert [(r["body"]["cloud"], r["body"]["region"]) for r in requests_to(sim, "POST", "/instances/create")] == [("datacrunch", "FIN-01")]
    assert placement(members(sim)) == [("datacrunch", "FIN-01")] * 3


def test_indexes_are_stable_through_scale_up_replacement_and_scale_down(run_module, sim):
    from ansible_collections.shadeform.cloud.plugins.plugin_utils.hosts import host_variables  # pylint: disable=import-outside-toplevel

    first = run_module(main, dict(FLEET, count=3))
    assert first["rc"] == 0, first
    assert sorted(index_of(i) for i in members(sim)) == [0, 1, 2]
    assert sorted(m["fleet_index"] for m in first["instances"]) == [0, 1, 2]
    # The inventory reads the tag as a label: shadeform_labels.fleet_index.
    assert sorted(host_variables(i, "shadeform_", "").variables["shadeform_labels"]["fleet_index"] for i in members(sim)) == ["0", "1", "2"]
    broken = by_index(sim)[1]
    sim.update_instance(broken["id"], status="error", status_details="hardware fault")
    healed = run_module(main, dict(FLEET, count=3))
    assert healed["rc"] == 0 and healed["deleted"] == [broken["id"]], healed
    assert by_index(sim)[1]["id"] == healed["created"][0]  # the replacement takes the index of the member it replaces
    grown = run_module(main, dict(FLEET, count=5))
    assert sorted(index_of(i) for i in members(sim)) == [0, 1, 2, 3, 4]
    assert sorted(index_of(i) for i in members(sim) if i["id"] in grown["created"]) == [3, 4]
    before = by_index(sim)
    shrunk = run_module(main, dict(FLEET, count=2))
    assert shrunk["rc"] == 0 and sorted(shrunk["deleted"]) == sorted([before[4]["id"], before[3]["id"], before[2]["id"]]), shrunk
    assert dict((k, v["id"]) for k, v in by_index(sim).items()) == {0: before[0]["id"], 1: before[1]["id"]}


def test_members_without_an_index_get_the_free_ones_in_place(run_module, sim):
    assert run_module(main, dict(FLEET, count=3))["rc"] == 0
    kept = by_index(sim)
    for index in (0, 2):  # made before fleet_index existed
        sim.update_instance(kept[index]["id"], tags=["fleet=trainers"])
    result = run_module(main, dict(FLEET, count=3))
    assert result["rc"] == 0 and result["changed"] is True, result
    assert sorted(result["updated"]) == sorted([kept[0]["id"], kept[2]["id"]]) and result["created"] == result["deleted"] == []
    assert sorted(index_of(i) for i in members(sim)) == [0, 1, 2] and by_index(sim)[1]["id"] == kept[1]["id"]
    assert run_module(main, dict(FLEET, count=3))["changed"] is False


def test_replace_swaps_the_named_members_each_ready_before_its_old_one_goes(run_module, sim):
    assert run_module(main, dict(FLEET, count=3))["rc"] == 0
    old = by_index(sim)
    named = [old[1]["name"], old[2]["id"]]
    sim.clear_requests()
    plan = run_module(main, dict(FLEET, count=3, replace=named), check_mode=True, diff=True)
    assert plan["rc"] == 0 and plan["changed"] is True and sorted(plan["plan"]["replace"]) == sorted([old[1]["id"], old[2]["id"]]), plan
    after = plan["diff"]["after"]["members"]
    assert after["(replacement of {0})".format(old[1]["name"])]["fleet_index"] == 1 and after[old[0]["id"]]["fleet_index"] == 0
    assert not [r for r in sim.requests if r["method"] == "POST"]
    result = run_module(main, dict(FLEET, count=3, replace=named))
    assert result["rc"] == 0 and result["changed"] is True, result
    assert sorted((r["id"], r["fleet_index"]) for r in result["replaced"]) == sorted([(old[1]["id"], 1), (old[2]["id"], 2)])
    now = by_index(sim)
    assert sorted(now) == [0, 1, 2] and now[0]["id"] == old[0]["id"]
    assert sorted([now[1]["id"], now[2]["id"]]) == sorted(result["created"]) == sorted(r["by"] for r in result["replaced"])
    assert all(m["ready"] for m in result["instances"]) and sorted(result["deleted"]) == sorted([old[1]["id"], old[2]["id"]])
    posts = [r["path"].split("/")[-1] for r in sim.requests if r["method"] == "POST"]
    assert posts == ["create", "delete", "create", "delete"], posts  # replace_batch 1: each replacement ready before its old member goes
    unknown = run_module(main, dict(FLEET, count=3, replace=[now[0]["name"], "trainers-99"]))
    assert unknown["rc"] == 1 and "trainers-99" in unknown["msg"] and "not a member" in unknown["msg"] and unknown["changed"] is False
    assert posts == [r["path"].split("/")[-1] for r in sim.requests if r["method"] == "POST"]
