# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property-based tests of the inventory plugin: whatever instance list the API sends, parse() loses nothing and trusts
nothing, and every host name it makes selects that host, and only it, in ansible-core's own pattern code.

Arbitrary lists of instances (objects with random, missing and wrongly typed fields, text with Jinja
braces, unicode and control characters, repeated ids and names, and elements that are not objects)
go through the plugin's full parse(), as ansible-inventory runs it; the only seams are the API calls
(helpers.inventory_api, GET /clusters answering no cluster), as in test_shadeform.py beside this file.

For names, ansible-core's InventoryManager (what --limit, --host and a play's hosts use) runs in-process over the
plugin's inventory, for a name with each printable ASCII character first, inside and last, and for random names;
tests/functional/test_inventory_names.py runs the real commands.
"""

import collections
import copy
import json
import os
import re
import string
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible.inventory.data import InventoryData
from ansible.inventory.helpers import get_group_vars
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader
from ansible.utils.vars import combine_vars

from ansible_collections.shadeform.cloud.plugins.module_utils.ssh_endpoint import ssh_endpoint
from ansible_collections.shadeform.cloud.plugins.plugin_utils.hosts import NO_ADDRESS, safe_hostname

from helpers import inventory_api, load_fixture

VALID_VARIABLE_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
PROBE = "zz_probe"  # an extra field on every generated object, to find its host again
SETTINGS = settings(max_examples=60, deadline=None, database=None, report_multiple_bugs=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

CONFIGS = {
    "default": "",
    "by_id": "hostnames: [id]\n",
    "by_ip_then_name": "hostnames: [ip, name, cloud_assigned_id]\n",
    "constructed": """compose:
  composed_name: shadeform_name
keyed_groups:
  - key: shadeform_labels.env | default('none')
    prefix: env
  # keyed_groups refuses keys that are not text, lists or mappings whatever strict says; tags may be anything.
  - key: "shadeform_tags | default([]) if shadeform_tags | default([]) is iterable else []"
    prefix: keyed
groups:
  odd: shadeform_status == 'active'
""",
}

ODD_TEXT = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=st.sampled_from("{}%#=:- _.\n\t\x00\x7f\u00b2\u0662\u00e9\u6771\U0001f600aZ09"), max_size=20),
    st.sampled_from(["", " ", "{{ x }}", "{% if true %}x{% endif %}", "{# c #}", "{{ lookup('ansible.builtin.pipe', 'id') }}",
                     "all", "ungrouped", "localhost", "hostvars", "inventory_hostname", "shadeform", "env=prod", "team:ml",
                     "a" * 300, "\u00b2", "22", " 2222 "]),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2 ** 40, max_value=2 ** 40),
                    st.floats(allow_nan=False, allow_infinity=False), ODD_TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda children: st.one_of(st.lists(children, max_size=3),
                                                               st.dictionaries(ODD_TEXT, children, max_size=3)), max_leaves=6)
IDS = st.one_of(st.sampled_from(["i-1", "i-1", "i-2", "dup", "", " ", "{{ id }}", "all"]), ODD_TEXT, JSON_VALUES)
NAMES = st.one_of(st.sampled_from(["trainer", "trainer", "trainer-i-1", "all", "{{ name }}", "", None]), ODD_TEXT, JSON_VALUES)
PORTS = st.one_of(st.sampled_from([22, 2222, 0, -1, 65535, 65536, True, 22.0, "22", " 2222 ", "\u00b2", "\u0662\u0662", "0x16", "", None]),
                  st.integers(), ODD_TEXT)
IPS = st.one_of(st.sampled_from(["192.0.2.1", " 198.51.100.7 ", "", " ", None, "{{ ip }}", "host.example"]), ODD_TEXT, JSON_VALUES)
USERS = st.one_of(st.sampled_from(["shadeform", " ubuntu ", "", None, "{{ user }}"]), ODD_TEXT, JSON_VALUES)
TAGS = st.one_of(st.lists(st.one_of(ODD_TEXT, SCALARS), max_size=5), JSON_VALUES)
ENVS = st.one_of(JSON_VALUES, st.fixed_dictionaries({"name": ODD_TEXT, "value": JSON_VALUES}))
LAUNCH = st.one_of(JSON_VALUES, st.fixed_dictionaries({}, optional={
    "type": ODD_TEXT,
    "docker_configuration": st.one_of(JSON_VALUES, st.fixed_dictionaries({}, optional={
        "envs": st.one_of(JSON_VALUES, st.lists(ENVS, max_size=3)),
        "registry_credentials": st.one_of(JSON_VALUES, st.fixed_dictionaries({"username": ODD_TEXT, "password": JSON_VALUES})),
        "image": ODD_TEXT})),
    "script_configuration": st.one_of(JSON_VALUES, st.fixed_dictionaries({"base64_script": JSON_VALUES})),
}))
INSTANCES = st.builds(
    lambda known, extra: dict(extra, **known),
    st.fixed_dictionaries({}, optional={
        "id": IDS, "name": NAMES, "ip": IPS, "ssh_user": USERS, "ssh_port": PORTS, "tags": TAGS,
        "status": st.one_of(st.sampled_from(["active", "pending", "deleting"]), ODD_TEXT, JSON_VALUES),
        "cloud": st.one_of(st.sampled_from(["aws", "hyperstack"]), ODD_TEXT, JSON_VALUES),
        "region": st.one_of(ODD_TEXT, JSON_VALUES), "shade_instance_type": st.one_of(ODD_TEXT, JSON_VALUES),
        "cloud_assigned_id": st.one_of(ODD_TEXT, JSON_VALUES),
        "configuration": st.one_of(JSON_VALUES, st.fixed_dictionaries({}, optional={
            "gpu_type": st.one_of(ODD_TEXT, JSON_VALUES), "num_gpus": JSON_VALUES, "gpu_manufacturer": JSON_VALUES,
            "vram_per_gpu_in_gb": JSON_VALUES})),
        "launch_configuration": LAUNCH,
    }),
    st.dictionaries(ODD_TEXT, JSON_VALUES, max_size=3),
)
FLEETS = st.lists(st.one_of(INSTANCES, INSTANCES, INSTANCES, SCALARS, st.lists(SCALARS, max_size=2)), max_size=12)


@pytest.fixture(scope="module")
def config_paths(tmp_path_factory):
    directory = tmp_path_factory.mktemp("properties")
    paths = {}
    for name, extra in CONFIGS.items():
        path = directory / ("%s.shadeform.yml" % name)
        path.write_text("plugin: shadeform.cloud.shadeform\napi_url: http://127.0.0.1:9/v1\n" + extra)
        paths[name] = str(path)
    return paths


def with_probes(fleet):
    """A copy of the fleet where every object carries its position, so its host can be found again."""
    fleet = copy.deepcopy(fleet)
    count = 0
    for item in fleet:
        if isinstance(item, dict):
            item[PROBE] = count
            count += 1
    return fleet, count


def parse(path, fleet):
    plugin = inventory_loader.get("shadeform.cloud.shadeform")
    inventory = InventoryData()
    with mock.patch.dict(os.environ, {"SHADEFORM_API_KEY": "property-test-key"}), \
            inventory_api(fleet), \
            mock.patch.object(plugin.display, "warning"):
        plugin.parse(inventory, DataLoader(), path, cache=False)
    inventory.reconcile_inventory()
    return inventory


def effective_vars(host):
    """A host's inventory variables as plays see them: its groups' variables, then its own."""
    return combine_vars(get_group_vars(host.get_groups()), host.get_vars())


def canonical(value):
    return json.dumps(value, sort_keys=True)


def plain(value):
    """Untrusted text (an AnsibleUnsafeText on ansible-core < 2.19) as a plain str, for comparisons."""
    return json.loads(json.dumps(value))


# Cases found or feared, always run on their own so that one bug does not hide another.
KNOWN_CASES = {
    # str.isdigit() accepts superscript digits that int() refuses.
    "superscript_port": [{"id": "p-1", "name": "superscript-port", "ssh_port": "\u00b2"}],
    # A regex ending in $ also matches before a final newline.
    "newline_field_name": [{"id": "n-1", "name": "newline-field", "status\n": "x"}],
    # A host named like a group: its variables must stay its own, and nobody else's address.
    "host_named_all": [{"id": "a-1", "name": "all", "ip": "192.0.2.9", "ssh_user": "u"}, {"id": "a-2", "name": "pending"}],
    "host_named_shadeform": [{"id": "s-1", "name": "shadeform", "ip": "192.0.2.9"}, {"id": "s-2", "name": "other"}, {}],
    # A host named like one of its own groups: ansible-core refuses to add a group to itself.
    "host_named_like_its_tag_group": [{"id": "t-1", "name": "tag_gpu", "tags": ["gpu"]}, {"id": "t-2", "name": "other", "tags": ["gpu"]}],
    "repeats_and_templates": [{"id": "i-1", "name": "trainer"}, {"id": "i-1", "name": "trainer"}, {"id": "i-2", "name": "trainer-i-1"},
                              {"name": "{{ lookup('ansible.builtin.pipe', 'id') }}"}, {}, "not an object", None],
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("case", sorted(KNOWN_CASES))
def test_known_cases(config_paths, config, case):
    check_fleet(config_paths[config], KNOWN_CASES[case])


@pytest.mark.parametrize("config", sorted(CONFIGS))
@SETTINGS
@given(fleet=FLEETS)
def test_every_object_is_exactly_one_host_and_only_its_own_address_connects(config_paths, config, fleet):
    check_fleet(config_paths[config], fleet)


def check_fleet(path, fleet):
    """parse() raises nothing; every object is one host; connection variables only from the object's own fields."""
    fleet, count = with_probes(fleet)
    inventory = parse(path, fleet)
    objects = [item for item in fleet if isinstance(item, dict)]

    hosts = {name: effective_vars(host) for name, host in inventory.hosts.items()}
    assert len(hosts) == count
    probes = sorted(plain(variables["shadeform_" + PROBE]) for variables in hosts.values())
    assert probes == list(range(count))
    assert collections.Counter(canonical(plain(variables["shadeform_id"])) for variables in hosts.values() if "shadeform_id" in variables) \
        == collections.Counter(canonical(item["id"]) for item in objects if "id" in item)
    assert sorted(host.name for host in inventory.groups["shadeform"].get_hosts()) == sorted(hosts)

    for name, variables in hosts.items():
        assert "{" not in name and "}" not in name
        for variable in inventory.hosts[name].get_vars():
            assert VALID_VARIABLE_NAME.match(variable), "invalid host variable name %r" % variable
        item = objects[plain(variables["shadeform_" + PROBE])]
        # The object's own values, as the one parser of SSH endpoints accepts them (tests/unit/.../test_ssh_endpoint.py
        # checks the parser itself); nothing else connects.
        endpoint = ssh_endpoint(item)
        assert plain(variables["ansible_host"]) == (endpoint.address or NO_ADDRESS)
        assert plain(variables.get("ansible_user")) == endpoint.user
        assert variables.get("ansible_port") == endpoint.port


@SETTINGS
@given(fleet=FLEETS)
def test_secrets_are_never_in_host_variables(config_paths, fleet):
    fleet, _count = with_probes(fleet)
    marker = "PROPERTY-SECRET-VALUE"
    for item in fleet:
        if isinstance(item, dict):
            item["launch_configuration"] = {"docker_configuration": {"envs": [{"name": "T", "value": marker}],
                                                                     "registry_credentials": {"password": marker}},
                                            "script_configuration": {"base64_script": marker}}
    inventory = parse(config_paths["default"], fleet)
    for host in inventory.hosts.values():
        assert marker not in json.dumps(plain(effective_vars(host)), default=str)


# --- Host names and ansible-core's patterns ---------------------------------------------------------------------------

EXAMPLE = load_fixture("instances-example.json")["instances"][0]
# Hosts a misread pattern would select instead: the parts of "gpu:a100", "a]b", ...
DECOYS = ("gpu", "a100", "prod", "x", "a", "b", "y", "re", "file", "lead")


def instance(index, name):
    result = copy.deepcopy(EXAMPLE)
    result.update(id="id-%04d" % index, name=name, tags=[])
    return result


def manager_for(tmp_path, names):
    fleet = [instance(index, name) for index, name in enumerate(tuple(names) + DECOYS)]
    path = tmp_path / "names.shadeform.yml"
    path.write_text("plugin: shadeform.cloud.shadeform\napi_key: k\napi_url: http://127.0.0.1:9/v1\ndefault_groups: false\n")
    # A context manager rather than the mocker fixture: hypothesis calls this many times in one test.
    with inventory_api(fleet):
        return InventoryManager(loader=DataLoader(), sources=[str(path)])


def assert_each_name_selects_itself(manager):
    names = [host.name for host in manager.get_hosts("all")]
    assert len(names) == len(set(names))
    for name in names:
        assert [host.name for host in manager.get_hosts(name)] == [name], name
        manager.subset(name)
        try:
            assert [host.name for host in manager.get_hosts("all")] == [name], name
        finally:
            manager.subset(None)
    return names


CHARACTERS = [character for character in string.printable if character not in string.ascii_letters + string.digits]
NAMES = ["%sx" % c for c in CHARACTERS] + ["a%sb" % c for c in CHARACTERS] + ["y%s" % c for c in CHARACTERS] + [
    "gpu:a100", "!prod", "&prod", "~re", "@file", "-lead", "a]b", "gpu[1]", "gpu[0:1]", "x,y", "a*", "?b", "2001:db8::5",
    # Renamed: reserved, or repeated; the suffix must not undo the rule.
    "::1", "2001:db8::7", "2001:db8::7", "fe80::1%eth0"]


def test_every_character_anywhere_in_a_name_can_be_targeted(tmp_path):
    manager = manager_for(tmp_path, NAMES)
    names = assert_each_name_selects_itself(manager)
    assert len(names) == len(NAMES) + len(DECOYS)
    # Every host name, renamed ones (reserved or repeated, with an id suffix) included, follows the documented rule.
    assert all(safe_hostname(name) == name for name in names)
    assert {"gpu_a100", "2001:db8::5", "fe80__1%eth0"} <= set(names)
    assert sum(name.startswith("__1-id-") for name in names) == 1
    assert sum(name.startswith("2001_db8__7-id-") for name in names) == 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8))
def test_random_names_select_exactly_their_host(tmp_path, names):
    assert_each_name_selects_itself(manager_for(tmp_path, names))
