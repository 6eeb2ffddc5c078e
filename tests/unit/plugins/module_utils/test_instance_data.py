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


# --- Secrets whatever their shape and the style of their names ------------------------------------------------------

def test_envs_given_as_an_object_have_every_value_redacted(example):
    launch = {"docker_configuration": {"envs": {"HF_TOKEN": "hf_dict_secret", "MODEL": "mistral-dict-value", "EMPTY": ""}}}
    redacted = instance_data.redact_secrets(dict(example, launch_configuration=launch, envs={"DB_URL": "postgres://u:p@h/db"}))
    assert redacted["launch_configuration"]["docker_configuration"]["envs"] == {
        "HF_TOKEN": instance_data.REDACTED, "MODEL": instance_data.REDACTED, "EMPTY": ""}
    assert redacted["envs"] == {"DB_URL": instance_data.REDACTED}
    assert launch["docker_configuration"]["envs"]["HF_TOKEN"] == "hf_dict_secret"  # the input is left alone


@pytest.mark.parametrize("field", [
    "privateKey", "PrivateKey", "private-key", "PRIVATE_KEY", "apiKey", "APIKey", "api_key", "api-key", "apikey", "accessToken",
    "access_token", "authToken", "client-secret", "clientSecret", "PASSWORD", "db_passwd", "credentials", "awsAccessKeyId",
    "refresh_tokens", "sshPassphrase", "Authorization",
])
def test_secret_names_in_any_style_are_redacted_at_any_depth(example, field):
    nested = {"outer": [{"inner": {field: "style-secret-value"}}], field: "style-secret-value"}
    redacted = instance_data.redact_secrets(dict(example, extra=nested))
    assert "style-secret-value" not in repr(redacted), field
    assert redacted["extra"][field] == instance_data.REDACTED


@pytest.mark.parametrize("field", ["public_key", "ssh_key_id", "key", "monkey", "name", "image", "gpu_type", "keyboard"])
def test_plain_names_are_not_taken_for_secrets(field):
    assert not instance_data.is_secret_name(field)


def test_nothing_is_copied_on_the_way_to_nothing(example):
    """The no-copy property: objects holding no secret are shared with the input, not copied."""
    redacted = instance_data.redact_secrets(example)
    assert redacted["configuration"] is example["configuration"]
    assert redacted["launch_configuration"]["docker_configuration"]["port_mappings"] is (
        example["launch_configuration"]["docker_configuration"]["port_mappings"])
    assert redacted["launch_configuration"] is not example["launch_configuration"]


# --- Filter values --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("statuses, hint", [
    (["Active"], "'Active': did you mean 'active'?"),
    (["runing"], "'runing': did you mean 'active'?"),
    (["pendng"], "'pendng': did you mean 'pending'?"),
    (["deleted"], "'deleted': the API never lists deleted instances"),
    (["\x1b[2Jzzz"], "'\\x1b[2Jzzz'"),
])
def test_check_filter_values_names_the_closest_status(statuses, hint):
    with pytest.raises(ValueError) as raised:
        instance_data.check_filter_values({"statuses": statuses, "clouds": ["anything"]})
    assert hint in str(raised.value) and "\x1b" not in str(raised.value)


def test_check_filter_values_accepts_every_api_status_and_free_text_elsewhere():
    instance_data.check_filter_values({"statuses": list(instance_data.STATUSES), "clouds": ["Any"], "gpu_types": ["h100"]})
    instance_data.check_filter_values({})


@pytest.mark.parametrize("criteria", [{"clouds": ["HyperStack"]}, {"regions": ["CANADA-1"]}, {"gpu_types": ["a100"]}])
def test_clouds_regions_and_gpu_types_match_whatever_the_case(example, criteria):
    assert instance_data.matches(example, **criteria)


def test_statuses_and_tags_match_exactly(example):
    assert not instance_data.matches(example, statuses=["Active"])
    assert not instance_data.matches(example, tags=["TAG1"])


def test_unmatched_filter_values_warn_once_per_filter_with_the_values_present(example):
    other = dict(example, id="i-2", cloud="lambdalabs\x9b", configuration={"gpu_type": "H100"})
    warnings = instance_data.unmatched_filter_values([example, other], {
        "statuses": ["pending"], "clouds": ["hyperstack", "aws"], "gpu_types": ["h100", "b200"], "regions": [], "tags": ["tag1"]})
    assert warnings == [
        "clouds: 'aws' matches no Shadeform instance; the instances have 'hyperstack', 'lambdalabs\\x9b'.",
        "gpu_types: 'b200' matches no Shadeform instance; the instances have 'A100', 'H100'.",
    ]
    assert instance_data.unmatched_filter_values([], {"clouds": ["aws"]}) == []


@pytest.mark.parametrize("instance, dollars", [
    ({"hourly_price": 1920}, 19.2),
    ({"hourly_price": "1920"}, None),  # documented as an integer: a string is not read as cents
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


@pytest.mark.parametrize("tags, name", [
    (["env=prod", "fleet=trainers", "fleet_index=0"], "trainers"),
    (["fleet=a", "fleet=b"], "a"),  # the first
    (["fleet=", "fleet=has space", "fleet=x;y", "fleet=ok-2_b"], "ok-2_b"),  # names the fleet module refuses are no fleet
    (["fleet_index=3", "Fleet=x", "myfleet=x", 7, None], None),
    ("fleet=x", None),  # tags that are not a list
    (None, None),
])
def test_fleet_name_is_the_first_fleet_tag_the_fleet_module_could_have_written(tags, name):
    assert instance_data.fleet_name({"id": "i-1", "tags": tags}) == name
    if name is not None:
        assert instance_data.fleet_tag(name) in tags
