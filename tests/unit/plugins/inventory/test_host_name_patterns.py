# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every host name the plugin makes selects that host, and only it, in ansible-core's own pattern code.

ansible-core's InventoryManager (what --limit, --host and a play's hosts use) runs in-process over the
plugin's inventory, for a name with each printable ASCII character first, inside and last, and for
random names; tests/functional/test_inventory_names.py runs the real commands for the issue's cases.
"""

import copy
import string
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

from ansible_collections.shadeform.cloud.plugins.plugin_utils.hosts import safe_hostname

from helpers import inventory_api, load_fixture

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


@pytest.mark.parametrize("name, expected", [
    ("gpu:a100", "gpu_a100"), ("!prod", "_prod"), ("&prod", "_prod"), ("~re", "_re"), ("@file", "_file"),
    ("-lead", "_lead"), ("a]b", "a_b"), ("gpu[0:1]", "gpu_0_1_"), ("x,y", "x_y"), ("a!b&c~d@e-f", "a!b&c~d@e-f"),
    (" {{ x }} ", "___x___"), ("2001:db8::5", "2001:db8::5"), ("a*?.b", "a*?.b"), ("fe80::1%eth0", "fe80__1%eth0"),
])
def test_pattern_syntax_is_replaced_deterministically(name, expected):
    assert safe_hostname(name) == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8))
def test_random_names_select_exactly_their_host(tmp_path, names):
    assert_each_name_selects_itself(manager_for(tmp_path, names))
