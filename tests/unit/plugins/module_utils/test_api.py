# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ShadeformClient over real HTTP to the simulator; only the sleep between retries is a seam.

The list_instances tests were written for the inventory plugin; the rest covers the calls the modules add.
"""

import email.utils
import time

import pytest

from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient
from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import MAX_RETRY_DELAY, ShadeformAPIError, path_segment

from helpers import API_KEY, free_port


@pytest.fixture
def sleep(mocker):
    return mocker.Mock()


@pytest.fixture
def client(shadeform_api, sleep):
    return ShadeformClient(API_KEY, shadeform_api.url, timeout=5, retries=3, sleep=sleep)


def test_lists_the_instances_with_the_key_in_a_header(client, shadeform_api):
    instances = client.list_instances()
    assert [instance["id"] for instance in instances] == ["d290f1ee-6c54-4b01-90e6-d701748f0851"]
    [request] = shadeform_api.requests
    assert (request["method"], request["path"], request["api_key_ok"]) == ("GET", "/v1/instances", True)
    assert request["user_agent"].startswith("shadeform.cloud-ansible")


def test_trailing_slash_in_the_url_is_fine(shadeform_api, sleep):
    assert len(ShadeformClient(API_KEY, shadeform_api.url + "/", sleep=sleep).list_instances()) == 1


def test_429_waits_as_long_as_retry_after_says(client, shadeform_api, sleep):
    shadeform_api.inject("rate_limit", count=2, retry_after="7")
    assert len(client.list_instances()) == 1
    assert [call.args[0] for call in sleep.call_args_list] == [7.0, 7.0]
    assert [request["status"] for request in shadeform_api.requests] == [429, 429, 200]


def test_retry_after_as_an_http_date(client, shadeform_api, sleep):
    shadeform_api.inject("rate_limit", retry_after=email.utils.formatdate(time.time() + 30, usegmt=True))
    client.list_instances()
    [call] = sleep.call_args_list
    assert 25 <= call.args[0] <= 30


def test_retry_after_is_capped(client, shadeform_api, sleep):
    shadeform_api.inject("rate_limit", retry_after="86400")
    client.list_instances()
    assert sleep.call_args.args[0] == MAX_RETRY_DELAY


def test_5xx_backs_off_exponentially_then_says_how_many_attempts(client, shadeform_api, sleep):
    shadeform_api.inject("server_error", count=4, status=502)
    with pytest.raises(ShadeformAPIError) as error:
        client.list_instances()
    assert "HTTP 502" in str(error.value)
    assert "on all 4 attempts" in str(error.value)
    assert [call.args[0] for call in sleep.call_args_list] == [1, 2, 4]
    assert len(shadeform_api.requests) == 4


def test_a_burst_shorter_than_retries_succeeds(client, shadeform_api):
    shadeform_api.inject("server_error", count=3, status=503, retry_after="0")
    assert len(client.list_instances()) == 1
    assert len(shadeform_api.requests) == 4


def test_retries_zero_means_one_attempt(shadeform_api, sleep):
    shadeform_api.inject("server_error", status=500)
    with pytest.raises(ShadeformAPIError, match="on all 1 attempt"):
        ShadeformClient(API_KEY, shadeform_api.url, retries=0, sleep=sleep).list_instances()
    sleep.assert_not_called()


@pytest.mark.parametrize("status, expected", [
    (401, "rejected the API key (HTTP 401: Invalid API key). Check api_key or the SHADEFORM_API_KEY"),
    (403, "refused access (HTTP 403"),
    (404, "HTTP 404: Not Found for http://127.0.0.1"),
    (418, "answered HTTP 418"),
])
def test_client_errors_are_not_retried_and_say_what_to_do(client, shadeform_api, sleep, status, expected):
    body = {"message": "Invalid API key"} if status == 401 else None
    shadeform_api.inject("status", status=status, body=body)
    with pytest.raises(ShadeformAPIError) as error:
        client.list_instances()
    assert expected in str(error.value)
    sleep.assert_not_called()


def test_a_wrong_key_is_a_401(shadeform_api, sleep):
    with pytest.raises(ShadeformAPIError, match="rejected the API key"):
        ShadeformClient("wrong-key", shadeform_api.url, sleep=sleep).list_instances()


def test_an_echoed_key_is_scrubbed_from_messages(client, shadeform_api):
    shadeform_api.inject("status", status=400, body={"message": "key %s is malformed" % API_KEY})
    with pytest.raises(ShadeformAPIError) as error:
        client.list_instances()
    assert API_KEY not in str(error.value)
    assert "key ******** is malformed" in str(error.value)


def test_not_json(client, shadeform_api):
    shadeform_api.inject("not_json")
    with pytest.raises(ShadeformAPIError, match="with a body that is not JSON .*text/html"):
        client.list_instances()


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


@pytest.mark.parametrize("kind, expected", [
    ("drop", "the connection was closed before the whole answer arrived"),
    ("reset", "Could not get http://127.0.0.1"),
])
def test_broken_connections_are_retried_then_reported(client, shadeform_api, sleep, kind, expected):
    shadeform_api.inject(kind, count=4)
    with pytest.raises(ShadeformAPIError) as error:
        client.list_instances()
    assert expected in str(error.value)
    assert "after 4 attempts" in str(error.value)
    assert sleep.call_count == 3


def test_a_dropped_connection_then_success(client, shadeform_api):
    shadeform_api.inject("drop")
    assert len(client.list_instances()) == 1


def test_timeout(shadeform_api, sleep):
    shadeform_api.inject("slow", delay=3)
    with pytest.raises(ShadeformAPIError, match="no answer within 0.5 seconds"):
        ShadeformClient(API_KEY, shadeform_api.url, timeout=0.5, retries=0, sleep=sleep).list_instances()


def test_nothing_listening(sleep):
    port = free_port()
    with pytest.raises(ShadeformAPIError) as error:
        ShadeformClient(API_KEY, "http://127.0.0.1:%d/v1" % port, retries=1, sleep=sleep).list_instances()
    assert "Could not get http://127.0.0.1:%d/v1/instances after 2 attempts" % port in str(error.value)
    assert "ConnectionRefusedError" in str(error.value) or "Connection refused" in str(error.value)


# -- The generalized client: get/post with JSON bodies, as the modules use it ------------------------------------------

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


def test_query_parameters_skip_none_and_spell_booleans_as_the_api_does(client, shadeform_api):
    client.get("/instances/types", params={"gpu_type": "H100", "available": False, "region": None, "num_gpus": 8})
    assert shadeform_api.requests[-1]["path"] == "/v1/instances/types?gpu_type=H100&available=false&num_gpus=8"


def test_ids_cannot_reach_other_endpoints(client, shadeform_api):
    assert path_segment("../../instances") == "..%2F..%2Finstances"
    assert client.instance_info("../x", missing_ok=True) is None
    assert shadeform_api.requests[-1]["path"] == "/v1/instances/..%2Fx/info"


def test_404_is_none_when_missing_ok_and_a_clear_error_otherwise(client):
    assert client.instance_info("unknown", missing_ok=True) is None
    with pytest.raises(ShadeformAPIError, match="HTTP 404: Instance not found for http://127.0.0.1:.*/v1/instances/unknown/info") as error:
        client.instance_info("unknown")
    assert error.value.status == 404


def test_a_400_carries_the_server_message(client):
    with pytest.raises(ShadeformAPIError, match="HTTP 400: instance type NOPE is not offered on hyperstack") as error:
        client.create_instance({"cloud": "hyperstack", "region": "canada-1", "shade_instance_type": "NOPE", "shade_cloud": True, "name": "n"})
    assert error.value.status == 400
    assert error.value.code is None


@pytest.mark.parametrize("body, code", [
    ({"error_code": "INSUFFICIENT_FUNDS", "error": "Balance must be a minimum of $5 to launch an instance."}, "INSUFFICIENT_FUNDS"),
    ({"error_code": " OUT_OF_CAPACITY ", "message": "none left"}, "OUT_OF_CAPACITY"),
    ({"error_code": 7, "error": "odd"}, None),
    ({"error": "INSUFFICIENT_FUNDS in the text only"}, None),
])
def test_the_error_code_is_read_from_the_body_not_the_message(client, shadeform_api, body, code):
    shadeform_api.inject("status", status=409, body=body)
    with pytest.raises(ShadeformAPIError) as error:
        client.delete_instance("abc")
    assert (error.value.status, error.value.code) == (409, code)


def test_403_names_what_was_refused(client, shadeform_api):
    shadeform_api.inject("status", status=403, body={"message": "Account mismatch"})
    with pytest.raises(ShadeformAPIError) as error:
        client.delete_instance("abc")
    assert str(error.value) == ("The Shadeform API refused access (HTTP 403: Account mismatch). The key was accepted but may not "
                                "delete instance abc: check that it belongs to the right account.")


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


def test_post_answers_without_a_body_are_fine(client, shadeform_api):
    assert client.post("/sshkeys/add", {"name": "k", "public_key": "ssh-ed25519 AAAAC3Nza k"})["id"]
    key_id = client.list_ssh_keys()[0]["id"]
    assert client.post("/sshkeys/{0}/setdefault".format(key_id)) is None


def test_wrong_shapes_of_the_new_lists(client, shadeform_api):
    shadeform_api.inject("json", body={"instance_types": "x"})
    with pytest.raises(ShadeformAPIError, match="'instance_types' as a string, not a list"):
        client.list_instance_types()
    shadeform_api.inject("json", body=[])
    with pytest.raises(ShadeformAPIError, match="/v1/sshkeys answered with JSON that is not an object \\(got a list\\)"):
        client.list_ssh_keys()
    shadeform_api.inject("json", body={"ssh_keys": None})
    assert client.list_ssh_keys() == []


def test_the_key_is_scrubbed_from_post_errors(client, shadeform_api):
    shadeform_api.inject("status", status=400, body={"message": "bad key " + API_KEY})
    with pytest.raises(ShadeformAPIError) as error:
        client.update_instance("abc", {"name": "n"})
    assert API_KEY not in str(error.value) and "bad key ********" in str(error.value)
