# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""template against the simulator (template_info reads back what it saved)."""

import base64

from ansible_collections.shadeform.cloud.plugins.modules import template, template_info

SECRET = "SIMULATED-SECRET-template-token"


def posts(sim, suffix):
    return [r for r in sim.requests if r["method"] == "POST" and r["path"].endswith(suffix)]


def docker_template(name="vllm", **extra):
    args = {"name": name, "description": "vLLM", "tags": ["llm"], "envs": [{"name": "HF_TOKEN", "value": SECRET}],
            "launch_configuration": {"type": "docker", "docker_configuration": {"image": "vllm/vllm-openai:latest"}},
            "ufw_rules": [{"rule": "allow", "port": "8000:8999", "proto": "tcp"}]}
    args.update(extra)
    return args


def test_template_saved_updated_and_deleted_idempotently_with_secrets_redacted(run_module, sim):
    checked = run_module(template.main, docker_template(), check_mode=True, diff=True)
    assert checked["changed"] is True and not posts(sim, "/templates/save")
    saved = run_module(template.main, docker_template(), diff=True)
    assert saved["rc"] == 0 and saved["changed"] is True, saved
    assert saved["template"]["envs"] == [{"name": "HF_TOKEN", "value": "<redacted>"}]
    assert SECRET not in saved["stdout"]
    assert posts(sim, "/templates/save")[0]["body"]["envs"][0]["value"] == SECRET
    assert run_module(template.main, docker_template())["changed"] is False
    updated = run_module(template.main, {"name": "vllm", "description": "vLLM, newer"}, diff=True)
    assert updated["changed"] is True and updated["template"]["description"] == "vLLM, newer"
    # Options not given keep their value.
    assert posts(sim, "/update")[0]["body"]["tags"] == ["llm"]
    listed = run_module(template_info.main, {"name": "vllm"})["templates"]
    assert [t["id"] for t in listed] == [saved["template"]["id"]] and SECRET not in str(listed)
    assert run_module(template_info.main, {"featured": True})["templates"]
    removed = run_module(template.main, {"name": "vllm", "state": "absent"})
    assert removed["changed"] is True and run_module(template_info.main, {})["templates"] == []


def test_template_checks_the_launch_configuration_before_calling(run_module, sim):
    script = base64.b64encode(b"echo hi").decode()
    result = run_module(template.main, docker_template(launch_configuration={
        "type": "docker", "docker_configuration": {"image": "x"}, "script_configuration": {"base64_script": script}}))
    assert result["rc"] == 1 and "never both" in result["msg"]
    assert sim.requests == []


def test_template_corners_of_the_published_document(run_module, sim):
    """Free-string firewall rules with unset fields, registry credentials with only a token, featured templates without id."""
    args = docker_template(
        ufw_rules=[{"rule": "limit", "port": "22", "proto": "any"}, {"rule": "allow", "from_ip": "192.0.2.0/24"}],
        launch_configuration={"type": "docker", "docker_configuration": {
            "image": "ghcr.io/example/private:1", "registry_credentials": {"password": SECRET}}})
    saved = run_module(template.main, args)
    assert saved["rc"] == 0 and saved["changed"] is True, saved
    body = posts(sim, "/templates/save")[0]["body"]
    assert body["networking"]["ufw_rules"] == [{"rule": "limit", "port": "22", "proto": "any"}, {"rule": "allow", "from_ip": "192.0.2.0/24"}]
    assert body["launch_configuration"]["docker_configuration"]["registry_credentials"] == {"password": SECRET}
    assert SECRET not in saved["stdout"]
    assert run_module(template.main, args)["changed"] is False
    featured = run_module(template_info.main, {"featured": True})
    assert featured["rc"] == 0 and featured["templates"] and all("id" not in item for item in featured["templates"])


def test_thresholds_normalised_by_the_api_are_no_change_on_a_rerun(run_module, sim):
    sim.set_variants(thresholds="normalised")
    args = docker_template(auto_delete={"date_threshold": "2027-01-01T01:00:00+01:00", "spend_threshold": "3.1"})
    assert run_module(template.main, args)["changed"] is True
    stored = sim_template(run_module, "vllm")
    assert stored["auto_delete"] == {"date_threshold": "2027-01-01T00:00:00Z", "spend_threshold": "3.10"}
    again = run_module(template.main, args)
    assert again["rc"] == 0 and again["changed"] is False, again
    moved = run_module(template.main, docker_template(auto_delete={"date_threshold": "2027-01-01T02:00:00+01:00", "spend_threshold": "3.1"}))
    assert moved["changed"] is True


def sim_template(run_module, name):
    return run_module(template_info.main, {"name": name})["templates"][0]
