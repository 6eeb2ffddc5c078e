# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redaction and the plain filters, shared by the inventory plugin and the modules."""

import copy

import pytest

from ansible_collections.shadeform.cloud.plugins.module_utils import instance_data

from helpers import load_fixture


@pytest.fixture
def example():
    return load_fixture("instances-example.json")["instances"][0]


def test_redact_secrets_replaces_every_launch_secret_and_leaves_the_input_alone(example):
    original = copy.deepcopy(example)
    redacted = instance_data.redact_secrets(example)

    docker = redacted["launch_configuration"]["docker_configuration"]
    assert docker["envs"] == [{"name": "HUGGING_FACE_HUB_TOKEN", "value": instance_data.REDACTED}]
    assert docker["registry_credentials"] == {"username": "username", "password": instance_data.REDACTED}
    assert redacted["launch_configuration"]["script_configuration"]["base64_script"] == instance_data.REDACTED
    assert docker["image"] == "vllm/vllm-openai:latest"
    assert example == original


@pytest.mark.parametrize("launch", [
    None, "docker", [], {"docker_configuration": None},
    {"docker_configuration": {"envs": [None, "", {"name": "N"}], "registry_credentials": []}},
])
def test_redact_secrets_survives_odd_shapes_that_hold_no_secret(launch):
    instance = {"id": "i-1", "launch_configuration": launch}
    assert instance_data.redact_secrets(copy.deepcopy(instance)) == instance


@pytest.mark.parametrize("launch", [
    {"docker_configuration": {"envs": "HF_TOKEN=odd-shape-secret"}},
    {"docker_configuration": {"envs": ["HF_TOKEN=odd-shape-secret"]}},
    {"docker_configuration": {"registry_credentials": "user:odd-shape-secret"}},
    {"script_configuration": "odd-shape-secret"},
])
def test_redact_secrets_hides_secret_fields_of_odd_shapes(launch):
    redacted = instance_data.redact_secrets({"id": "i-1", "launch_configuration": launch})
    assert redacted["id"] == "i-1"
    assert "odd-shape-secret" not in repr(redacted)


@pytest.mark.parametrize("criteria, kept", [
    ({}, True),
    ({"statuses": ["active"]}, True),
    ({"statuses": ["pending"]}, False),
    ({"clouds": ["hyperstack", "lambdalabs"]}, True),
    ({"clouds": ["aws"]}, False),
    ({"regions": ["canada-1"]}, True),
    ({"regions": ["canada_1"]}, False),
    ({"gpu_types": ["A100"]}, True),
    ({"gpu_types": ["H100"]}, False),
    ({"tags": ["tag1"]}, True),
    ({"tags": ["tag1", "tag2"]}, False),
])
def test_plain_filters(example, criteria, kept):
    assert instance_data.matches(example, **criteria) is kept


def test_redact_secrets_adds_nothing_and_shares_nothing_it_changed(example):
    del example["launch_configuration"]["script_configuration"]
    del example["launch_configuration"]["docker_configuration"]["registry_credentials"]
    redacted = instance_data.redact_secrets(example)
    assert set(redacted["launch_configuration"]) == {"type", "docker_configuration"}
    assert "registry_credentials" not in redacted["launch_configuration"]["docker_configuration"]
    redacted["launch_configuration"]["docker_configuration"]["envs"][0]["name"] = "changed"
    assert example["launch_configuration"]["docker_configuration"]["envs"][0]["name"] == "HUGGING_FACE_HUB_TOKEN"


def test_top_level_envs_values_are_redacted(example):
    example["envs"] = [{"name": "HF_TOKEN", "value": "hf_top_level"}, {"name": "EMPTY", "value": ""}, "odd", None]
    redacted = instance_data.redact_secrets(example)
    assert redacted["envs"] == [{"name": "HF_TOKEN", "value": instance_data.REDACTED}, {"name": "EMPTY", "value": ""}, instance_data.REDACTED, None]
    assert example["envs"][0]["value"] == "hf_top_level"


@pytest.mark.parametrize("field", ["private_key", "password", "token", "secret", "api_token", "Client_Secret", "db_passwd"])
def test_fields_named_like_a_secret_are_redacted_at_any_depth(example, field):
    example[field] = "top-secret-value"
    example["configuration"] = dict(example["configuration"], extra=[{"nested": {field: {"any": "shape"}}}])
    redacted = instance_data.redact_secrets(example)
    assert redacted[field] == instance_data.REDACTED
    assert redacted["configuration"]["extra"][0]["nested"][field] == instance_data.REDACTED
    assert "top-secret-value" not in repr(redacted) and "shape" not in repr(redacted)
    assert example[field] == "top-secret-value"


def test_ssh_key_private_half_is_redacted_and_public_key_kept():
    key = {"id": "k-1", "name": "shadeform-managed", "public_key": "ssh-ed25519 AAAA", "is_default": True,
           "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n"}
    assert instance_data.redact_secrets(key) == dict(key, private_key=instance_data.REDACTED)
    uploaded = {"id": "k-2", "name": "mine", "public_key": "ssh-ed25519 BBBB", "private_key": ""}
    assert instance_data.redact_secrets(uploaded) is uploaded


def test_nothing_to_redact_shares_the_whole_object(example):
    example.pop("launch_configuration", None)
    assert instance_data.redact_secrets(example) is example


@pytest.mark.parametrize("instance, dollars", [
    ({"hourly_price": 1920}, 19.2),
    ({"hourly_price": "1920"}, 19.2),
    ({"hourly_price": 1920, "rental_terms": {"rental_type": "spot", "hourly_price": "9.50"}}, 9.5),
    # A spot member's top-level hourly_price is the on-demand rate: without a usable spot rate, no price rather than that one.
    ({"hourly_price": 1920, "rental_terms": {"rental_type": "spot", "hourly_price": "soon"}}, None),
    ({"hourly_price": -5}, None),
    ({"hourly_price": 1920, "rental_terms": {"rental_type": "spot", "hourly_price": "-1"}}, None),
    ({"hourly_price": True}, None),
    ({}, None),
])
def test_hourly_price_usd_is_the_cents_in_dollars_or_the_spot_rate_never_a_negative(instance, dollars):
    assert instance_data.hourly_price_usd(instance) == dollars
