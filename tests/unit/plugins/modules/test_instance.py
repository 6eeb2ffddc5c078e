# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""shadeform.cloud.instance against the simulator: create, find, update, restart, delete; check mode, diff, errors."""

import pytest

from ansible_collections.shadeform.cloud.plugins.modules.instance import main

from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import CONTROL_CHARACTERS, ShadeformAPIError

from helpers import API_KEY

SECRET = "hf_SIMULATED-SECRET-do-not-print"


@pytest.fixture
def launch(sim):
    """Arguments that create an instance of an available type (the cheapest available A6000 of the catalogue)."""
    from shadeform_simulator import filter_instance_types  # pylint: disable=import-outside-toplevel

    cheapest = filter_instance_types(sim.instance_types, "gpu_type=A6000&num_gpus=1&available=true&sort=price")[0]
    region = next(slot["region"] for slot in cheapest["availability"] if slot["available"])
    return dict(name="worker-1", cloud=cheapest["cloud"], region=region, shade_instance_type=cheapest["shade_instance_type"],
                tags=["env=test", "worker"], poll_interval=0.1, wait_timeout=60)


def posts(sim, suffix):
    return [r for r in sim.requests if r["method"] == "POST" and r["path"].endswith(suffix)]


def test_creates_waits_until_active_then_finds_it_again(run_module, sim, launch):
    first = run_module(main, launch)
    assert first["rc"] == 0, first
    assert first["changed"] is True
    instance = first["instance"]
    assert instance["status"] == "active"
    assert instance["ip"].startswith("203.0.113.") and instance["ssh_port"] == 22
    assert instance["tags"] == ["env=test", "worker"]

    second = run_module(main, dict(launch, tags=["worker", "env=test"]))  # same set of tags, other order
    assert second["rc"] == 0 and second["changed"] is False, second
    assert second["instance"]["id"] == instance["id"]
    assert len(posts(sim, "/instances/create")) == 1
    assert not posts(sim, "/update")
    assert len(sim.instances) == 1


def test_check_mode_create_changes_nothing_and_shows_the_diff(run_module, sim, launch):
    result = run_module(main, launch, check_mode=True, diff=True)
    assert result["rc"] == 0 and result["changed"] is True
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["name"] == "worker-1"
    assert result["diff"]["after"]["shade_instance_type"] == launch["shade_instance_type"]
    assert not posts(sim, "/instances/create")
    assert sim.instances == []


def test_without_wait_returns_while_creating(run_module, launch):
    result = run_module(main, dict(launch, wait=False))
    assert result["rc"] == 0 and result["changed"] is True
    assert result["instance"]["status"] in ("creating", "pending")


def test_changed_tags_go_through_update_with_a_diff(run_module, sim, launch):
    created = run_module(main, launch)["instance"]
    checked = run_module(main, dict(launch, tags=["env=prod"]), check_mode=True, diff=True)
    assert checked["changed"] is True and not posts(sim, "/update")
    assert checked["diff"]["before"]["tags"] == ["env=test", "worker"]
    assert checked["diff"]["after"]["tags"] == ["env=prod"]

    result = run_module(main, dict(launch, tags=["env=prod"]), diff=True)
    assert result["changed"] is True
    assert [r["path"] for r in posts(sim, "/update")] == ["/v1/instances/{0}/update".format(created["id"])]
    assert sim.instances[0]["tags"] == ["env=prod"]
    assert result["instance"]["tags"] == ["env=prod"]
    assert run_module(main, dict(launch, tags=["env=prod"]))["changed"] is False


def test_rename_by_id(run_module, sim, launch):
    created = run_module(main, launch)["instance"]
    result = run_module(main, {"id": created["id"], "name": "worker-renamed", "poll_interval": 0.1})
    assert result["changed"] is True
    assert sim.instances[0]["name"] == "worker-renamed"
    assert run_module(main, {"id": created["id"], "name": "worker-renamed"})["changed"] is False


def test_several_instances_with_the_name_is_a_clear_error_unless_id_is_given(run_module, sim, launch):
    first = run_module(main, launch)["instance"]
    second = run_module(main, dict(launch, name="other"))["instance"]
    sim.update_instance(second["id"], name="worker-1")
    result = run_module(main, launch)
    assert result["rc"] == 1 and result["failed"] is True
    assert "2 Shadeform instances are named 'worker-1'" in result["msg"]
    assert first["id"] in result["msg"] and second["id"] in result["msg"] and "give id" in result["msg"]
    picked = run_module(main, dict(launch, id=second["id"]))
    assert picked["rc"] == 0 and picked["changed"] is False and picked["instance"]["id"] == second["id"]


def test_absent_deletes_and_waits_until_gone_then_is_idempotent(run_module, sim, launch):
    run_module(main, launch)
    checked = run_module(main, {"name": "worker-1", "state": "absent"}, check_mode=True, diff=True)
    assert checked["changed"] is True and checked["diff"]["after"] == {} and checked["diff"]["before"]["name"] == "worker-1"
    assert not posts(sim, "/delete") and sim.instances[0]["status"] == "active"

    result = run_module(main, {"name": "worker-1", "state": "absent", "poll_interval": 0.1})
    assert result["rc"] == 0 and result["changed"] is True, result
    assert sim.instances == []
    again = run_module(main, {"name": "worker-1", "state": "absent"})
    assert again["changed"] is False
    assert len(posts(sim, "/delete")) == 1


def test_absent_of_an_instance_being_deleted_is_no_change(run_module, sim, launch):
    run_module(main, launch)
    run_module(main, {"name": "worker-1", "state": "absent", "wait": False})
    assert sim.instances[0]["status"] == "deleting"
    result = run_module(main, {"name": "worker-1", "state": "absent", "poll_interval": 0.1})
    assert result["changed"] is False
    assert len(posts(sim, "/delete")) == 1


def test_present_creates_a_new_instance_when_the_old_one_is_being_deleted(run_module, sim, launch):
    old = run_module(main, launch)["instance"]
    run_module(main, {"name": "worker-1", "state": "absent", "wait": False})
    new = run_module(main, launch)
    assert new["changed"] is True and new["instance"]["id"] != old["id"]


def test_restarted_never_claims_readiness(run_module, sim, launch):
    created = run_module(main, launch)["instance"]
    checked = run_module(main, {"name": "worker-1", "state": "restarted"}, check_mode=True)
    assert checked["changed"] is True and not posts(sim, "/restart")
    sim.clear_requests()
    result = run_module(main, {"name": "worker-1", "state": "restarted", "poll_interval": 0.1})
    assert result["changed"] is True and result["ready"] is None
    assert "wait_for_connection" in result["msg"] and "keeps the status 'active'" in result["msg"]
    assert [r["path"] for r in posts(sim, "/restart")] == ["/v1/instances/{0}/restart".format(created["id"])]
    # No polling after the restart: the status would say "active" whether the machine is back or not.
    assert [r["method"] + " " + r["path"] for r in sim.requests][-1].endswith("/restart")


def test_a_refused_restart_is_one_clear_error_and_no_change(run_module, sim, launch, monkeypatch):
    from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient  # pylint: disable=import-outside-toplevel

    run_module(main, launch)

    def refuse(self, instance_id):
        raise ShadeformAPIError("The Shadeform API answered HTTP 500 for restart.", status=500)

    monkeypatch.setattr(ShadeformClient, "restart_instance", refuse)
    result = run_module(main, {"name": "worker-1", "state": "restarted"})
    assert result["rc"] == 1 and result["changed"] is False and result["msg"] == "The Shadeform API answered HTTP 500 for restart.", result


def test_restarting_an_instance_that_is_not_active_fails_clearly(run_module, launch):
    run_module(main, dict(launch, wait=False))
    result = run_module(main, {"name": "worker-1", "state": "restarted"})
    assert result["rc"] == 1
    assert "only active instances can be restarted" in result["msg"]
    missing = run_module(main, {"name": "nobody", "state": "restarted"})
    assert missing["rc"] == 1 and "No Shadeform instance is named 'nobody' to restart" in missing["msg"]


def test_an_instance_going_to_error_fails_the_wait(run_module, sim, launch):
    sim.launch_error = "out_of_capacity"
    result = run_module(main, launch)
    assert result["rc"] == 1 and result["changed"] is True
    assert "went to status 'error', out_of_capacity instead of becoming active" in result["msg"]
    assert result["instance"]["status"] == "error"


def test_wait_timeout_with_a_slow_launch(run_module, sim, launch):
    sim.set_capacity(launch["cloud"], launch["region"], launch["shade_instance_type"], "never_ready")
    result = run_module(main, dict(launch, wait_timeout=1, poll_interval=0.2))
    assert result["rc"] == 1 and result["changed"] is True
    assert "is not active with an address after 1 seconds (status 'pending_provider'" in result["msg"]
    assert "run the task again later" in result["msg"]
    again = run_module(main, dict(launch, wait=False))
    assert again["changed"] is False  # found by name, not launched twice
    assert len(posts(sim, "/instances/create")) == 1


def test_creating_needs_the_launch_fields(run_module, sim):
    result = run_module(main, {"name": "new-one", "cloud": "hyperstack"})
    assert result["rc"] == 1
    assert result["msg"] == "No Shadeform instance is named 'new-one'; to create it, region, shade_instance_type are required."
    assert not posts(sim, "/instances/create")


def test_unknown_id_is_a_clear_error(run_module):
    result = run_module(main, {"id": "0000-unknown"})
    assert result["rc"] == 1 and "No Shadeform instance has the id 0000-unknown" in result["msg"]


def test_api_refusal_is_reported_with_the_server_message(run_module, sim, launch):
    result = run_module(main, dict(launch, region="no-such-region"))
    assert result["rc"] == 1
    assert "HTTP 400" in result["msg"] and "is not available as on_demand in no-such-region" in result["msg"]


def test_secrets_never_appear_in_the_output(run_module, sim, launch):
    args = dict(launch, envs=[{"name": "HF_TOKEN", "value": SECRET}], launch_configuration={
        "type": "docker",
        "docker_configuration": {
            "image": "vllm/vllm-openai:latest",
            "envs": [{"name": "HUGGING_FACE_HUB_TOKEN", "value": SECRET + "-docker"}],
            "registry_credentials": {"username": "bot", "password": SECRET + "-registry"},
        },
    })
    result = run_module(main, args, diff=True)
    assert result["rc"] == 0, result
    assert SECRET not in result["stdout"]
    assert API_KEY not in result["stdout"]
    docker = result["instance"]["launch_configuration"]["docker_configuration"]
    assert docker["envs"][0]["value"] == "<redacted>"
    assert docker["registry_credentials"] == {"username": "bot", "password": "<redacted>"}
    assert result["instance"]["envs"] == [{"name": "HF_TOKEN", "value": "<redacted>"}]
    # ... while the API got the real values.
    stored = sim.instances[0]["launch_configuration"]["docker_configuration"]
    assert stored["envs"][0]["value"] == SECRET + "-docker"


def test_no_api_key_is_one_clear_error(run_module, sim):
    result = run_module(main, {"name": "x", "api_url": sim.url}, api=False)
    assert result["rc"] == 1
    assert result["msg"].startswith("No Shadeform API key: set api_key")
    assert sim.requests == []


def test_the_key_comes_from_the_environment(run_module, sim, launch, monkeypatch):
    monkeypatch.setenv("SHADEFORM_API_KEY", API_KEY)
    monkeypatch.setenv("SHADEFORM_API_URL", sim.url)
    result = run_module(main, dict(launch, wait=False), api=False)
    assert result["rc"] == 0 and result["changed"] is True
    assert all(r["api_key_ok"] for r in sim.requests)
    assert API_KEY not in result["stdout"]


def test_a_wrong_key_gives_the_401_message(run_module, sim):
    result = run_module(main, {"name": "x", "api_key": "wrong-key"})
    assert result["rc"] == 1
    assert "rejected the API key (HTTP 401: Invalid API key)" in result["msg"]


def test_readiness_needs_an_address_not_only_active(run_module, sim, launch):
    from helpers import load_fixture  # pylint: disable=import-outside-toplevel

    example = load_fixture("instances-example.json")["instances"][0]
    created = dict(example, name="worker-1", status="active", ip=None, tags=launch["tags"], cloud=launch["cloud"],
                   region=launch["region"], shade_instance_type=launch["shade_instance_type"])
    sim.set_instances([created])
    result = run_module(main, dict(launch, wait_timeout=1, poll_interval=0.2))
    assert result["rc"] == 1 and "is not active with an address after 1 seconds (status 'active'" in result["msg"]
    sim.update_instance(created["id"], ip="192.0.2.44")
    ready = run_module(main, dict(launch, wait_timeout=5, poll_interval=0.2))
    assert ready["rc"] == 0 and ready["instance"]["ip"] == "192.0.2.44"


def test_waiting_defaults_follow_the_real_clients():
    from ansible_collections.shadeform.cloud.plugins.modules.instance import argument_spec  # pylint: disable=import-outside-toplevel

    spec = argument_spec()
    assert (spec["poll_interval"]["default"], spec["wait_timeout"]["default"]) == (10, 3600)


def spot_offer(sim):
    from shadeform_simulator import filter_instance_types  # pylint: disable=import-outside-toplevel

    for item in filter_instance_types(sim.instance_types, "available=true&sort=price"):
        for entry in item["availability"]:
            if entry["rental_type"] == "spot":
                return item, entry
    raise AssertionError("no spot offer")


def test_spot_instance_with_rental_type(run_module, sim, launch):
    item, entry = spot_offer(sim)
    args = dict(launch, name="spot-1", cloud=item["cloud"], region=entry["region"], shade_instance_type=item["shade_instance_type"],
                rental_type="spot")
    refused = run_module(main, dict(args, shade_cloud=False))
    assert refused["rc"] == 1 and "Spot instances run on Shadeform's own accounts only" in refused["msg"]
    assert not posts(sim, "/instances/create")
    result = run_module(main, args)
    assert result["rc"] == 0, result
    assert result["instance"]["rental_terms"]["rental_type"] == "spot"
    assert posts(sim, "/instances/create")[0]["body"]["rental_type"] == "spot"


def test_preempted_instance_is_reported_and_replaced_by_name(run_module, sim, launch):
    item, entry = spot_offer(sim)
    args = dict(launch, name="spot-1", cloud=item["cloud"], region=entry["region"], shade_instance_type=item["shade_instance_type"],
                rental_type="spot")
    first = run_module(main, args)["instance"]
    sim.preempt(first["id"])
    by_id = run_module(main, dict(args, id=first["id"]))
    assert by_id["rc"] == 1 and "is being deleted, preempted" in by_id["msg"]
    replaced = run_module(main, args)
    assert replaced["rc"] == 0 and replaced["changed"] is True and replaced["instance"]["id"] != first["id"]


@pytest.mark.parametrize("launch_configuration, message", [
    ({"type": "docker", "docker_configuration": {"image": "x"}, "script_configuration": {"base64_script": "eA=="}},
     "launch_configuration of type docker needs docker_configuration and no script_configuration"),
    ({"type": "script"}, "launch_configuration of type script needs script_configuration and no docker_configuration"),
])
def test_launch_configuration_is_docker_or_script_checked_before_calling(run_module, sim, launch, launch_configuration, message):
    result = run_module(main, dict(launch, launch_configuration=launch_configuration))
    assert result["rc"] == 1 and message in result["msg"]
    assert sim.requests == []


def test_one_volume_only_checked_before_calling(run_module, sim, launch):
    result = run_module(main, dict(launch, volume_ids=["a", "b"]))
    assert result["rc"] == 1 and "attaches exactly one volume" in result["msg"]
    assert sim.requests == []


def create_volume(sim, name, cloud, region):
    import json  # pylint: disable=import-outside-toplevel
    import urllib.request  # pylint: disable=import-outside-toplevel

    request = urllib.request.Request(sim.url + "/volumes/create", data=json.dumps(
        {"cloud": cloud, "region": region, "size_in_gb": 100, "name": name}).encode(),
        headers={"X-API-KEY": API_KEY, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # nosec - loopback only
        return json.loads(response.read())["id"]


def hyperstack_launch(sim, launch):
    from shadeform_simulator import filter_instance_types  # pylint: disable=import-outside-toplevel

    item = next(t for t in filter_instance_types(sim.instance_types, "cloud=hyperstack&available=true")
                if any(e["region"] == "canada-1" and e["rental_type"] == "on_demand" for e in t["availability"]))
    return dict(launch, cloud="hyperstack", region="canada-1", shade_instance_type=item["shade_instance_type"])


def test_attaches_a_volume_by_name_with_volume_mount(run_module, sim, launch):
    volume_id = create_volume(sim, "model-cache", "hyperstack", "canada-1")
    args = dict(hyperstack_launch(sim, launch), volume="model-cache", volume_mount={"auto": True})
    result = run_module(main, args)
    assert result["rc"] == 0, result
    body = posts(sim, "/instances/create")[0]["body"]
    assert body["volume_ids"] == [volume_id] and body["volume_mount"] == {"auto": True}
    assert result["instance"]["volume_ids"] == [volume_id]
    other = run_module(main, dict(args, name="worker-2"))
    assert other["rc"] == 1 and "already mounted by instance {0}".format(result["instance"]["id"]) in other["msg"]
    elsewhere = create_volume(sim, "far-away", "datacrunch", "FIN-01")
    far = run_module(main, dict(args, name="worker-3", volume=elsewhere))
    assert far["rc"] == 1 and "only attach a volume of its own cloud and region" in far["msg"]
    assert len(posts(sim, "/instances/create")) == 1


def test_update_clears_auto_delete_and_alert_with_null(run_module, sim, launch):
    created = run_module(main, dict(launch, auto_delete={"spend_threshold": "10.00"}, alert={"date_threshold": "2030-01-01T00:00:00Z"}))
    assert created["rc"] == 0, created
    assert created["instance"]["auto_delete"] == {"spend_threshold": "10.00"}
    checked = run_module(main, dict(launch, auto_delete={}), check_mode=True, diff=True)
    assert checked["changed"] is True and "auto_delete" not in checked["diff"]["after"] and not posts(sim, "/update")
    cleared = run_module(main, dict(launch, auto_delete={}, alert={}))
    assert cleared["changed"] is True
    assert posts(sim, "/update")[0]["body"] == {"auto_delete": None, "alert": None}
    assert cleared["instance"]["auto_delete"] is None and cleared["instance"]["alert"] is None
    assert run_module(main, dict(launch, auto_delete={}, alert={}))["changed"] is False


@pytest.mark.parametrize("deleted_info", ["not_found", "bad_request", "status_deleted"])
def test_gone_is_judged_by_the_list_whatever_info_answers(run_module, sim, launch, deleted_info):
    sim.set_variants(deleted_info=deleted_info, error_body="error")
    run_module(main, launch)
    result = run_module(main, {"name": "worker-1", "state": "absent", "poll_interval": 0.1})
    assert result["rc"] == 0 and result["changed"] is True, result
    assert sim.instances == []


def test_delete_refused_before_active_waits_and_deletes_again(run_module, sim, launch):
    sim.set_variants(delete_before_active="refused", error_body="error")
    run_module(main, dict(launch, wait=False))
    result = run_module(main, {"name": "worker-1", "state": "absent", "poll_interval": 0.1})
    assert result["rc"] == 0 and result["changed"] is True, result
    assert sim.instances == []
    assert [r["status"] for r in posts(sim, "/delete")] == [409, 200]
    run_module(main, dict(launch, wait=False))
    no_wait = run_module(main, {"name": "worker-1", "state": "absent", "wait": False})
    assert no_wait["rc"] == 1 and "only allow deleting once the instance is active" in no_wait["msg"]


@pytest.mark.parametrize("error_body", ["message", "error", "error_object"])
def test_capacity_refusal_is_reported_whatever_the_error_body(run_module, sim, launch, error_body):
    sim.set_variants(error_body=error_body)
    sim.set_capacity(launch["cloud"], launch["region"], launch["shade_instance_type"], "refuse")
    result = run_module(main, launch)
    assert result["rc"] == 1 and "HTTP 409" in result["msg"]
    # The server's words, whichever body shape carried them, and its error code where it gave one.
    assert "Out of capacity for {0} in {1}".format(launch["shade_instance_type"], launch["region"]) in result["msg"]
    assert ("OUT_OF_CAPACITY" in result["msg"]) is (error_body != "message")
    assert sim.instances == []


def test_insufficient_funds_shows_the_whole_explanation_and_what_to_do(run_module, sim, launch):
    sim.balance_low = True
    result = run_module(main, launch)
    assert result["rc"] == 1 and sim.instances == []
    assert "INSUFFICIENT_FUNDS" in result["msg"]
    # The server's whole sentence (well past 80 characters), then the collection's advice.
    assert ("Balance must be a minimum of $5 to launch an instance. Add credits to your account on the billing page, "
            "then try again.") in result["msg"]
    assert "Add credits to the workspace's balance in the Shadeform console" in result["msg"]


def test_tags_merged_by_the_api_are_survived_and_reported(run_module, sim, launch, warned):

    sim.set_variants(tags_update="merge")
    run_module(main, launch)
    added = run_module(main, dict(launch, tags=launch["tags"] + ["extra"]))
    assert added["changed"] is True and sorted(added["instance"]["tags"]) == sorted(launch["tags"] + ["extra"]) and not warned
    assert run_module(main, dict(launch, tags=launch["tags"] + ["extra"]))["changed"] is False
    shrunk = run_module(main, dict(launch, tags=["extra"]))
    assert shrunk["rc"] == 0 and shrunk["changed"] is True
    assert len(warned) == 1 and "added the new tags to the old ones" in warned[0]


# -- changed is the truth (#21.1) ---------------------------------------------------------------------------------

def test_a_refused_create_reports_no_change(run_module, sim, launch):
    sim.set_capacity(launch["cloud"], launch["region"], launch["shade_instance_type"], "refuse")
    result = run_module(main, launch)
    assert result["rc"] == 1 and "HTTP 409" in result["msg"]
    assert result["changed"] is False and sim.instances == []


def test_a_refused_delete_reports_no_change(run_module, sim, launch):
    sim.set_variants(delete_before_active="refused")
    created = run_module(main, dict(launch, wait=False))["instance"]
    result = run_module(main, {"name": "worker-1", "state": "absent", "wait": False})
    assert result["rc"] == 1 and "run again with wait: true" in result["msg"]
    assert result["changed"] is False
    assert [item["status"] for item in sim.instances if item["id"] == created["id"]] != ["deleting"]


def test_a_refused_update_reports_no_change(run_module, sim, launch, monkeypatch):
    from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient  # pylint: disable=import-outside-toplevel

    created = run_module(main, launch)["instance"]

    def refuse(self, instance_id, body):
        raise ShadeformAPIError("The Shadeform API answered HTTP 400: tags refused", status=400)

    monkeypatch.setattr(ShadeformClient, "update_instance", refuse)  # the seam: a refusal the simulator has no reason for
    result = run_module(main, {"id": created["id"], "tags": ["other"], "poll_interval": 0.1})
    assert result["rc"] == 1 and "HTTP 400" in result["msg"]
    assert result["changed"] is False and sim.instances[0]["tags"] == ["env=test", "worker"]


def test_an_empty_name_is_refused_before_any_call(run_module, sim, launch):
    created = run_module(main, launch)["instance"]
    sim.clear_requests()
    result = run_module(main, {"id": created["id"], "name": ""})
    assert result["rc"] == 1 and result["msg"] == "name must not be empty: Shadeform refuses an instance without a name."
    assert sim.requests == []


def test_created_then_failed_reports_the_change_and_names_the_instance(run_module, sim, launch):
    sim.launch_error = "out_of_capacity"
    result = run_module(main, launch)
    assert result["rc"] == 1 and result["changed"] is True
    assert result["instance"]["id"] == sim.instances[0]["id"]


# -- one unit per name (#21.3) ------------------------------------------------------------------------------------

def test_the_result_keeps_the_api_cents_and_adds_dollars(run_module, sim, launch):
    result = run_module(main, launch)
    instance = result["instance"]
    listed = sim.instances[0]
    assert instance["hourly_price"] == listed["hourly_price"]  # the API's cents, unchanged
    assert instance["hourly_price_usd"] == listed["hourly_price"] / 100.0


def test_a_spot_instance_costs_its_rental_terms_rate(run_module, sim, launch):
    item, entry = spot_offer(sim)
    result = run_module(main, dict(launch, name="spot-1", cloud=item["cloud"], region=entry["region"],
                                   shade_instance_type=item["shade_instance_type"], rental_type="spot"))
    sim.update_instance(result["instance"]["id"], hourly_price=9999)  # a top-level figure that is not the spot rate
    again = run_module(main, dict(launch, name="spot-1", cloud=item["cloud"], region=entry["region"],
                                  shade_instance_type=item["shade_instance_type"], rental_type="spot"))
    assert again["instance"]["hourly_price"] == 9999
    assert again["instance"]["hourly_price_usd"] == float(entry["hourly_price"])


# -- purge_tags (#21.4) -------------------------------------------------------------------------------------------

def test_purge_tags_false_keeps_the_tags_the_task_does_not_name(run_module, sim, launch):
    run_module(main, launch)
    kept = run_module(main, dict(launch, tags=["owner=ops"], purge_tags=False), diff=True)
    assert kept["rc"] == 0 and kept["changed"] is True, kept
    assert sorted(sim.instances[0]["tags"]) == sorted(["env=test", "worker", "owner=ops"])
    assert sorted(kept["diff"]["after"]["tags"]) == sorted(["env=test", "worker", "owner=ops"])
    assert run_module(main, dict(launch, tags=["owner=ops"], purge_tags=False))["changed"] is False
    purged = run_module(main, dict(launch, tags=["owner=ops"]))
    assert purged["changed"] is True and sim.instances[0]["tags"] == ["owner=ops"]


# -- recreate_on_error (#21.5) ------------------------------------------------------------------------------------

def test_an_instance_in_error_says_how_to_replace_it(run_module, sim, launch):
    sim.launch_error = "out_of_capacity"
    run_module(main, launch)
    sim.launch_error = None
    result = run_module(main, launch)
    assert result["rc"] == 1 and result["changed"] is False
    assert "Set recreate_on_error: true" in result["msg"] and "state: absent" in result["msg"]


def test_recreate_on_error_deletes_it_and_launches_anew_in_the_same_task(run_module, sim, launch):
    sim.launch_error = "out_of_capacity"
    broken = run_module(main, launch)["instance"]
    sim.launch_error = None
    checked = run_module(main, dict(launch, recreate_on_error=True), check_mode=True)
    assert checked["changed"] is True and len(posts(sim, "/instances/create")) == 1 and not posts(sim, "/delete")
    result = run_module(main, dict(launch, recreate_on_error=True))
    assert result["rc"] == 0 and result["changed"] is True, result
    assert result["replaced"] == broken["id"]
    assert result["instance"]["id"] != broken["id"] and result["instance"]["status"] == "active"
    assert [r["path"] for r in posts(sim, "/delete")] == ["/v1/instances/{0}/delete".format(broken["id"])]
    assert run_module(main, dict(launch, recreate_on_error=True))["changed"] is False


# -- API text reaches the terminal escaped; SSH fields only as the one parser reads them (#20.3, #20.7) -----------

def test_status_details_cannot_drive_the_terminal_in_a_message_or_a_warning(run_module, sim, launch, warned):
    sim.launch_error = "out_of_capacity"
    broken = run_module(main, launch)["instance"]
    sim.launch_error = None
    sim.update_instance(broken["id"], status_details="failed\x1b[2J\x9b31m\x7f")
    failed = run_module(main, launch)
    assert failed["rc"] == 1 and "failed\\x1b[2J\\u009b31m\\x7f" in failed["msg"] and not CONTROL_CHARACTERS.search(failed["msg"]), failed["msg"]
    assert run_module(main, dict(launch, wait=False))["rc"] == 0 and len(warned) == 1, warned
    assert "failed\\x1b[2J\\u009b31m\\x7f" in warned[0] and not CONTROL_CHARACTERS.search(warned[0]), warned


@pytest.mark.parametrize("field, value", [("ip", "-oProxyCommand=touch /tmp/owned"), ("ip", "host name"), ("ssh_user", "root@evil"),
                                          ("ssh_port", "22 -oProxyCommand=x"), ("ssh_port", 0)])
def test_an_unusable_ssh_field_is_returned_as_null_with_one_warning_and_never_ready(run_module, sim, launch, warned, field, value):
    created = run_module(main, launch)["instance"]
    sim.update_instance(created["id"], **{field: value})
    result = run_module(main, dict(launch, wait_timeout=1, poll_interval=0.2))
    assert result["instance"][field] is None, result
    assert warned == ["Shadeform instance {0}: the API gave an unusable {1}; it is returned as null.".format(created["id"], field)]
    # Ready means an address ssh can be handed: without one, the wait runs out instead of reporting a usable instance.
    assert (result["rc"] == 1 and "wait_timeout" in result["msg"]) if field == "ip" else result["rc"] == 0, result


def test_a_port_given_as_a_string_is_the_port(run_module, sim, launch, warned):
    created = run_module(main, launch)["instance"]
    sim.update_instance(created["id"], ssh_port="18022")
    result = run_module(main, launch)
    assert result["rc"] == 0 and result["instance"]["ssh_port"] == 18022 and not warned, result


# -- drift of the fields set at creation (#21.12) -----------------------------------------------------------------

def docker(image, token=SECRET):
    return {"type": "docker", "docker_configuration": {"image": image, "envs": [{"name": "HF_TOKEN", "value": token}]}}


def test_a_changed_launch_configuration_or_os_is_reported_as_drift(run_module, sim, launch, warned):
    from shadeform_simulator import filter_instance_types  # pylint: disable=import-outside-toplevel

    kind = filter_instance_types(sim.instance_types, "shade_instance_type={0}&cloud={1}".format(launch["shade_instance_type"], launch["cloud"]))[0]
    os_options = kind["configuration"]["os_options"]
    args = dict(launch, os=os_options[0], launch_configuration=docker("vllm/vllm-openai:v0.4"), envs=[{"name": "MODE", "value": "mode-alpha"}])
    created = run_module(main, args)
    assert created["rc"] == 0, created
    assert run_module(main, args)["drifted"] == []
    other_os = os_options[1] if len(os_options) > 1 else "another-os"
    result = run_module(main, dict(args, os=other_os, launch_configuration=docker("vllm/vllm-openai:latest", token="new-" + SECRET),
                                   envs=[{"name": "MODE", "value": "mode-beta"}]))
    assert result["rc"] == 0 and result["changed"] is False
    drifted = dict((entry["field"], entry) for entry in result["drifted"])
    assert sorted(drifted) == ["envs", "launch_configuration.docker_configuration.envs", "launch_configuration.docker_configuration.image",
                               "os"]
    assert drifted["os"] == dict(field="os", current=os_options[0], wanted=other_os)
    assert drifted["launch_configuration.docker_configuration.image"]["wanted"] == "vllm/vllm-openai:latest"
    assert SECRET not in result["stdout"]
    assert len(warned) == 1 and "differs from the task in" in warned[0] and "launch_configuration.docker_configuration.image" in warned[0]
    assert not posts(sim, "/update") and len(posts(sim, "/instances/create")) == 1


# -- the docker workload (#21.12) ---------------------------------------------------------------------------------

def test_wait_for_workload_waits_until_the_container_is_no_longer_downloading(run_module, sim, launch):
    args = dict(launch, launch_configuration={"type": "docker", "docker_configuration": {"image": "vllm/vllm-openai:latest"}})
    early = run_module(main, args)
    assert early["instance"]["status"] == "active" and early["instance"]["status_details"] == "downloading"
    later = run_module(main, dict(args, name="worker-2", wait_for_workload=True))
    assert later["rc"] == 0 and later["instance"]["status_details"] == "running", later


# -- wait options (#20.5, #20.6) ----------------------------------------------------------------------------------

@pytest.mark.parametrize("option, value", [("poll_interval", -1), ("poll_interval", 0), ("poll_interval", float("nan")),
                                           ("poll_interval", float("inf")), ("wait_timeout", -5), ("wait_timeout", 10 ** 12)])
def test_a_bad_wait_option_is_one_clear_error_before_any_call(run_module, sim, launch, option, value):
    result = run_module(main, dict(launch, **{option: value}))
    assert result["rc"] == 1 and result["msg"].startswith(option + " must be a") and "number of seconds" in result["msg"], result
    assert sim.requests == []


def test_wait_timeout_holds_in_all_when_a_delete_is_refused_first(run_module, launch):
    import time  # pylint: disable=import-outside-toplevel
    from shadeform_simulator import Simulator  # pylint: disable=import-outside-toplevel

    # The launch ends after 1.5 s (the delete is refused until then); the deletion itself takes 30 s.
    with Simulator(api_key=API_KEY, creating_delay=0.1, pending_delay=1.4, deleting_delay=30,
                   variants={"delete_before_active": "refused"}) as slow:
        args = dict(launch, api_url=slow.url, wait=False)
        run_module(main, args)
        started = time.monotonic()
        result = run_module(main, dict(args, state="absent", wait=True, wait_timeout=2, poll_interval=0.2))
        took = time.monotonic() - started
    assert result["rc"] == 1 and result["changed"] is True and "still listed after 2 seconds" in result["msg"], result
    # One deadline for the refused delete and the deletion together: 2 s and one poll interval, not 1.5 + 2.
    assert took < 2 + 0.2 + 0.6


def test_thresholds_normalised_by_the_api_are_no_change_on_a_rerun(run_module, sim, launch):
    sim.set_variants(thresholds="normalised")
    args = dict(launch, auto_delete={"date_threshold": "2027-01-01T01:00:00+01:00", "spend_threshold": "3.1"})
    run_module(main, args)
    again = run_module(main, args)
    assert again["rc"] == 0 and again["changed"] is False, again
    assert not posts(sim, "/update")


# -- 404 on an id endpoint: gone, not a wrong api_url (#21.12) ----------------------------------------------------

def test_an_instance_gone_between_the_list_and_the_call_is_said_to_be_gone(run_module, sim, launch, monkeypatch):
    from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient  # pylint: disable=import-outside-toplevel

    created = run_module(main, launch)["instance"]
    listed = sim.instances
    # The seam: the list still shows the instance the service has just forgotten (a spot reclaim racing the task).
    monkeypatch.setattr(ShadeformClient, "list_instances", lambda self: listed)
    sim.remove_instance(created["id"])
    for args in (dict(launch, state="restarted"), dict(launch, tags=["other"])):
        result = run_module(main, args)
        assert result["rc"] == 1 and result["changed"] is False, result
        assert result["msg"].startswith("Shadeform instance {0} is gone: the API answered HTTP 404".format(created["id"])), result
        assert "api_url" not in result["msg"]


def test_an_info_answer_that_is_not_the_instance_is_survived(run_module, sim, launch, monkeypatch):
    from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient  # pylint: disable=import-outside-toplevel

    created = run_module(main, launch)["instance"]
    monkeypatch.setattr(ShadeformClient, "instance_info", lambda self, instance_id, missing_ok=False: {})
    result = run_module(main, launch)
    assert result["rc"] == 0 and result["changed"] is False, result
    assert result["instance"]["id"] == created["id"]
