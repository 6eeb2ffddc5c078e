# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ShadeformClient's named calls over real HTTP to the simulator; only the sleep between retries is a seam.

The transport under them (retries, the key mask, settings, odd answers) is tested in test_api_transport.py; here are
the shape checks of each answer and which calls may be repeated.
"""

import pytest

from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient
from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import ShadeformAPIError, path_segment

from helpers import API_KEY


@pytest.fixture
def client(shadeform_api, sleep):
    return ShadeformClient(API_KEY, shadeform_api.url, timeout=5, retries=3, sleep=sleep)


@pytest.mark.parametrize("body, expected", [
    ([], "JSON that is not an object \\(got a list\\)"),
    ({}, "without an 'instances' list"),
    ({"instances": "x"}, "'instances' as a string, not a list"),
    ({"instances": {"a": 1}}, "'instances' as an object, not a list"),
])
def test_wrong_json_shapes(client, shadeform_api, body, expected):
    shadeform_api.inject("json", body=body)
    with pytest.raises(ShadeformAPIError, match=expected):
        client.list_instances()


def test_null_instances_is_an_empty_fleet(client, shadeform_api):
    shadeform_api.inject("json", body={"instances": None})
    assert client.list_instances() == []


# -- The calls the modules add ---------------------------------------------------------------------------------------

def available_a6000(shadeform_api, client):
    types = client.list_instance_types({"gpu_type": "A6000", "available": True, "sort": "price"})
    cheapest = types[0]
    region = next(slot["region"] for slot in cheapest["availability"] if slot["available"])
    return {"cloud": cheapest["cloud"], "region": region, "shade_instance_type": cheapest["shade_instance_type"],
            "shade_cloud": True, "name": "api-test", "tags": ["a", "b=c"]}


def test_post_sends_a_json_body_and_get_reads_it_back(client, shadeform_api):
    body = available_a6000(shadeform_api, client)
    instance_id = client.create_instance(body)
    info = client.instance_info(instance_id)
    assert (info["name"], info["tags"], info["cloud"]) == ("api-test", ["a", "b=c"], body["cloud"])
    client.update_instance(instance_id, {"tags": ["x"]})
    assert client.get("/instances/{0}/info".format(instance_id))["tags"] == ["x"]
    create = [r for r in shadeform_api.requests if r["method"] == "POST"][0]
    assert create["path"] == "/v1/instances/create" and create["api_key_ok"]


def test_ids_cannot_reach_other_endpoints(client, shadeform_api):
    assert path_segment("../../instances") == "..%2F..%2Finstances"
    assert client.instance_info("../x", missing_ok=True) is None
    assert shadeform_api.requests[-1]["path"] == "/v1/instances/..%2Fx/info"


def test_404_is_none_when_missing_ok_and_a_clear_error_otherwise(client):
    assert client.instance_info("unknown", missing_ok=True) is None
    with pytest.raises(ShadeformAPIError, match="HTTP 404: Instance not found for http://127.0.0.1:.*/v1/instances/unknown/info") as error:
        client.instance_info("unknown")
    assert error.value.status == 404


@pytest.mark.parametrize("what, call", [
    ("instance", lambda client, item_id: client.instance_info(item_id)),
    ("instance", lambda client, item_id: client.update_instance(item_id, {"name": "renamed"})),
    ("instance", lambda client, item_id: client.delete_instance(item_id)),
    ("instance", lambda client, item_id: client.restart_instance(item_id)),
    ("SSH key", lambda client, item_id: client.ssh_key_info(item_id)),
    ("SSH key", lambda client, item_id: client.set_default_ssh_key(item_id)),
    ("SSH key", lambda client, item_id: client.delete_ssh_key(item_id)),
    ("volume", lambda client, item_id: client.delete_volume(item_id)),
    ("template", lambda client, item_id: client.template_info(item_id)),
    ("template", lambda client, item_id: client.update_template(item_id, {"name": "renamed"})),
    ("template", lambda client, item_id: client.delete_template(item_id)),
])
def test_a_404_on_an_id_path_says_the_thing_is_gone_not_that_api_url_is_wrong(client, what, call):
    # Every module lists the workspace first with the same api_url: a 404 on the id found there means the thing left since.
    with pytest.raises(ShadeformAPIError) as error:
        call(client, "0c9e2ad4-gone")
    assert str(error.value).startswith("Shadeform {0} 0c9e2ad4-gone is gone: the API answered HTTP 404".format(what)), error.value
    assert "api_url" not in str(error.value) and error.value.status == 404


def test_a_400_carries_the_server_message(client):
    with pytest.raises(ShadeformAPIError, match="HTTP 400: instance type NOPE is not offered on hyperstack") as error:
        client.create_instance({"cloud": "hyperstack", "region": "canada-1", "shade_instance_type": "NOPE", "shade_cloud": True, "name": "n"})
    assert error.value.status == 400
    assert error.value.code is None


def test_creating_is_retried_after_429(client, shadeform_api, sleep):
    body = available_a6000(shadeform_api, client)
    shadeform_api.inject("rate_limit", retry_after="2")
    assert client.create_instance(body)
    assert [call.args[0] for call in sleep.call_args_list] == [2.0]
    assert len(shadeform_api.instances) == 2  # the example instance and one new one


def test_creating_is_not_repeated_after_a_5xx(client, shadeform_api, sleep):
    body = available_a6000(shadeform_api, client)
    shadeform_api.clear_requests()
    shadeform_api.inject("server_error", status=502)
    with pytest.raises(ShadeformAPIError) as error:
        client.create_instance(body)
    assert "HTTP 502" in str(error.value)
    assert "not sent again because the service may have acted on it" in str(error.value)
    assert len(shadeform_api.requests) == 1
    sleep.assert_not_called()


def test_creating_is_not_repeated_after_a_reset(client, shadeform_api, sleep):
    body = available_a6000(shadeform_api, client)
    shadeform_api.clear_requests()
    shadeform_api.inject("reset")
    with pytest.raises(ShadeformAPIError) as error:
        client.create_instance(body)
    assert "Could not POST to http://127.0.0.1" in str(error.value) and "after 1 attempt" in str(error.value)
    assert "not sent again" in str(error.value)
    assert len(shadeform_api.requests) == 1


def test_idempotent_posts_are_retried_after_5xx(client, shadeform_api, sleep):
    body = available_a6000(shadeform_api, client)
    instance_id = client.create_instance(body)
    shadeform_api.inject("server_error", count=2, status=503, retry_after="0")
    client.update_instance(instance_id, {"name": "renamed"})
    assert client.instance_info(instance_id)["name"] == "renamed"


def test_a_create_answer_without_an_id_is_reported(client, shadeform_api):
    shadeform_api.inject("json", body={"ok": True})
    with pytest.raises(ShadeformAPIError, match="accepted the new instance 'x' but did not answer with its id .*Look for it"):
        client.create_instance({"name": "x"})


def test_wrong_shapes_of_the_new_lists(client, shadeform_api):
    shadeform_api.inject("json", body={"instance_types": "x"})
    with pytest.raises(ShadeformAPIError, match="'instance_types' as a string, not a list"):
        client.list_instance_types()
    shadeform_api.inject("json", body=[])
    with pytest.raises(ShadeformAPIError, match="/v1/sshkeys answered with JSON that is not an object \\(got a list\\)"):
        client.list_ssh_keys()
    shadeform_api.inject("json", body={"ssh_keys": None})
    assert client.list_ssh_keys() == []


@pytest.mark.parametrize("body, got", [({}, "none"), ({"id": None}, "null"), ({"id": ""}, "a string"), ({"id": 7}, "a number"),
                                       ({"id": "other-instance", "name": "x"}, "'other-instance'")])
def test_an_instance_read_by_id_must_carry_that_id(client, shadeform_api, body, got):
    # {} used to come back as the instance: a module then failed with KeyError 'id', or acted on another instance.
    shadeform_api.inject("json", body=body)
    with pytest.raises(ShadeformAPIError) as error:
        client.instance_info("abc")
    assert str(error.value) == (
        "The Shadeform API at {0}/instances/abc/info answered without the id asked for ('abc'; the answer's id: {1}), so nothing "
        "was done with it. Check that api_url points at the Shadeform API, for example https://api.shadeform.ai/v1.".format(
            shadeform_api.url, got))


@pytest.mark.parametrize("call, path", [(lambda client: client.ssh_key_info("k1"), "/sshkeys/k1/info"),
                                        (lambda client: client.template_info("t1"), "/templates/t1/info")])
def test_every_object_read_by_id_must_carry_that_id(client, shadeform_api, call, path):
    shadeform_api.inject("json", body={"name": "no id"})
    with pytest.raises(ShadeformAPIError, match="at .*{0} answered without the id asked for".format(path)):
        call(client)


@pytest.mark.parametrize("call, field", [(ShadeformClient.list_ssh_keys, "ssh_keys"), (ShadeformClient.list_volumes, "volumes"),
                                         (ShadeformClient.list_templates, "templates")])
def test_a_listed_key_volume_or_template_without_an_id_is_an_error(client, shadeform_api, call, field):
    shadeform_api.inject("json", body={field: [{"id": "fine", "name": "a"}, {"name": "b"}]})
    with pytest.raises(ShadeformAPIError, match="listed element 2 of '{0}' without an id \\(got null\\)".format(field)):
        call(client)


def test_lists_without_ids_by_nature_pass(client, shadeform_api):
    shadeform_api.inject("json", body={"volume_types": [{"cloud": "hyperstack", "region": "canada-1"}]})
    assert client.list_volume_types() == [{"cloud": "hyperstack", "region": "canada-1"}]
    # Featured templates are Shadeform's own: the published document lists them without ids.
    shadeform_api.inject("json", body={"templates": [{"name": "vllm"}]})
    assert client.list_templates(featured=True) == [{"name": "vllm"}]
    shadeform_api.inject("json", body={"instances": [{"name": "no id yet"}, "odd"]})
    assert client.list_instances() == [{"name": "no id yet"}, "odd"]  # the inventory names each one it skips


def test_insufficient_funds_shows_the_whole_explanation_and_says_to_add_credits(shadeform_api, sleep):
    explanation = ("Balance must be a minimum of $5 to launch an instance. Your balance is $0.42; instances already running "
                   "keep running until the balance reaches zero.")
    shadeform_api.inject("status", status=409, body={"error_code": "INSUFFICIENT_FUNDS", "error": explanation})
    client = ShadeformClient(API_KEY, shadeform_api.url, sleep=sleep)
    with pytest.raises(ShadeformAPIError) as error:
        client.create_instance({"cloud": "hyperstack", "region": "canada-1", "shade_instance_type": "A6000",
                                "shade_cloud": True, "name": "n"})
    assert "HTTP 409: INSUFFICIENT_FUNDS: " + explanation in str(error.value)
    assert "Add credits" in str(error.value)
    assert (error.value.status, error.value.code) == (409, "INSUFFICIENT_FUNDS")
    sleep.assert_not_called()
