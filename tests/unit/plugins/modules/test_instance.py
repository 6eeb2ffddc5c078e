# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""shadeform.cloud.instance against the simulator: create, find, update, restart, delete; check mode, diff, errors."""

import pytest

from ansible_collections.shadeform.cloud.plugins.modules.instance import main

from helpers import API_KEY

SECRET = "hf_SIMULATED-SECRET-do-not-print"


@pytest.fixture
def launch(sim):
    """Arguments that create an instance of an available type (the cheapest available A6000 of the catalogue)."""
    from shadeform_simulator import filter_instance_types  # pylint: disable=import-outside-toplevel

    cheapest = filter_instance_types(sim._instance_types, "gpu_type=A6000&num_gpus=1&available=true&sort=price")[0]  # pylint: disable=protected-access
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


def test_restarted(run_module, sim, launch):
    created = run_module(main, launch)["instance"]
    checked = run_module(main, {"name": "worker-1", "state": "restarted"}, check_mode=True)
    assert checked["changed"] is True and not posts(sim, "/restart")
    result = run_module(main, {"name": "worker-1", "state": "restarted", "poll_interval": 0.1})
    assert result["changed"] is True and result["instance"]["status"] == "active"
    assert [r["path"] for r in posts(sim, "/restart")] == ["/v1/instances/{0}/restart".format(created["id"])]


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
    sim._delays["creating"] = 60  # pylint: disable=protected-access
    result = run_module(main, dict(launch, wait_timeout=1, poll_interval=0.2))
    assert result["rc"] == 1 and result["changed"] is True
    assert "is not active after 1 seconds (status 'creating'" in result["msg"]
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
    assert "HTTP 400" in result["msg"] and "is not available in no-such-region" in result["msg"]


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
