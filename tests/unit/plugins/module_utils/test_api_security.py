# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client's guards: settings refused before anything is sent, the key scrubbed in every form, whole explanations."""

import json

import pytest

from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient
from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import MASK, ShadeformAPIError

from helpers import API_KEY

KEY = 'Yv4Tq8Mn"Ws2\\Jd6Kp0Lx'


@pytest.fixture
def sleep(mocker):
    return mocker.Mock()


@pytest.mark.parametrize("text", [
    "raw " + KEY,
    "repr " + repr(KEY),
    "json " + json.dumps(KEY),
    "start only " + KEY[:9] + "...",
    "url %s" % "Yv4Tq8Mn%22Ws2%5CJd6Kp0Lx",
])
def test_scrub_masks_every_form_of_the_key(text):
    scrubbed = ShadeformClient(KEY, "http://127.0.0.1:1/v1").scrub(text)
    assert MASK in scrubbed
    assert KEY[:8] not in scrubbed


def test_scrub_leaves_text_without_the_key_alone():
    text = "Yv4Tq8M is seven characters of the key, fewer than a leak needs"
    assert ShadeformClient(KEY, "http://127.0.0.1:1/v1").scrub(text) == text


@pytest.mark.parametrize("settings, message", [
    ({"api_key": "abc\ndef-0123456789"}, "HTTP header cannot carry"),
    ({"api_key": ""}, "HTTP header cannot carry"),
    ({"api_url": "127.0.0.1:8080/v1"}, "is not an http:// or https:// URL"),
    ({"api_url": "file:///etc/passwd"}, "is not an http:// or https:// URL"),
    ({"timeout": 0}, "timeout must be a positive number of seconds"),
    ({"timeout": -1}, "timeout must be a positive number of seconds"),
    ({"validate_certs": "ture"}, "validate_certs must be true or false"),
    ({"validate_certs": 2}, "validate_certs must be true or false"),
])
def test_bad_settings_fail_before_anything_is_sent(shadeform_api, sleep, settings, message):
    options = dict({"api_key": API_KEY, "api_url": shadeform_api.url}, **settings)
    client = ShadeformClient(options.pop("api_key"), options.pop("api_url"), sleep=sleep, **options)
    with pytest.raises(ShadeformAPIError, match=message) as error:
        client.list_instances()
    assert "abc" not in str(error.value)
    assert shadeform_api.requests == []
    sleep.assert_not_called()


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
    assert error.value.status == 409
    sleep.assert_not_called()


@pytest.mark.parametrize("body, shown", [
    ({"message": "Invalid API key"}, ": Invalid API key"),
    ({"error": "plain text error"}, ": plain text error"),
    ({"error": {"message": "nested text"}, "error_code": "NESTED"}, ": NESTED: nested text"),
    ({"error_code": "ONLY_A_CODE"}, ": ONLY_A_CODE"),
])
def test_the_server_explanation_is_read_from_message_error_and_error_code(shadeform_api, sleep, body, shown):
    shadeform_api.inject("status", status=400, body=body)
    with pytest.raises(ShadeformAPIError, match="HTTP 400" + shown):
        ShadeformClient(API_KEY, shadeform_api.url, sleep=sleep).list_instances()
