# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""template_info against the simulator: the workspace's templates by id and by name, and the featured ones."""

from ansible_collections.shadeform.cloud.plugins.modules import template, template_info

SECRET = "SIMULATED-SECRET-template-info-token"


def test_templates_by_id_and_name_with_secrets_redacted_and_featured_ones_without_id(run_module, sim):
    launch = {"type": "docker", "docker_configuration": {"image": "vllm/vllm-openai:latest"}}
    first = run_module(template.main, {"name": "vllm", "launch_configuration": launch, "envs": [{"name": "HF_TOKEN", "value": SECRET}]})
    run_module(template.main, {"name": "sglang", "launch_configuration": launch})
    listed = run_module(template_info.main, {})
    assert listed["rc"] == 0 and listed["changed"] is False
    assert sorted(item["name"] for item in listed["templates"]) == ["sglang", "vllm"]
    assert SECRET not in listed["stdout"]
    [by_name] = run_module(template_info.main, {"name": "vllm"})["templates"]
    assert by_name["id"] == first["template"]["id"] and by_name["envs"] == [{"name": "HF_TOKEN", "value": "<redacted>"}]
    assert [item["name"] for item in run_module(template_info.main, {"id": first["template"]["id"]})["templates"]] == ["vllm"]
    assert run_module(template_info.main, {"name": "nothing"})["templates"] == []
    featured = run_module(template_info.main, {"featured": True})
    assert featured["rc"] == 0 and featured["templates"] and all("id" not in item for item in featured["templates"])
    assert not any(request["method"] != "GET" for request in sim.requests[-4:])
