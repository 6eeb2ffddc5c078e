# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The constructed shortcuts give exactly what ansible-core's own code gives, and are used only where that is proved.

The reference is ansible-core's ``ansible.builtin.constructed`` inventory plugin, run over the hosts the plugin adds
with no constructed options: the same expressions, evaluated by core alone (constructed_reference.py). The
compile-once shortcut stands in for a private ansible-core method only after checking it: the real templar of the
running ansible-core, and stand-in templars whose private method has another signature or whose compiled form depends
on the variables, or that fail; each doubt leaves the templar as it was (ansible-core's own path) and says why. Runs on
every ansible-core.
"""

import copy
import json
import textwrap
from unittest import mock

import pytest

from ansible.errors import AnsibleParserError
from ansible.inventory.host import Host
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader
from ansible.template import Templar

from ansible_collections.shadeform.cloud.plugins.plugin_utils import _constructed_shortcuts as constructed

from constructed_reference import jsonfile_fact_cache, reference, run, snapshot
from helpers import inventory_api, load_fixture
from shadeform_simulator import generate_fleet


class Engine:
    """A templar engine whose compiled form reads the variables given at each call, as ansible-core's does."""

    def _compile_expression(self, expression, options):  # pylint: disable=unused-argument
        return lambda variables: "{0}:{1}".format(variables["canary_separator"].join(map(str, variables["canary_items"])),
                                                  len(variables["canary_items"]))


class CompileTimeEngine(Engine):
    """An engine whose compiled form holds the variables of compile time: compiling once would reuse them."""

    def __init__(self, templar):
        self.templar = templar

    def _compile_expression(self, expression, options):
        frozen = dict(self.templar.available_variables)
        return lambda variables: Engine._compile_expression(self, expression, options)(frozen)


class OtherSignatureEngine:
    def _compile_expression(self, expression):  # pylint: disable=unused-argument
        raise AssertionError("never called: the signature differs")


class FakeTemplar:
    def __init__(self, engine=None, fails=False):
        self._engine = engine if engine is not None else Engine()
        self.available_variables = {"host": "kept"}
        self.fails = fails

    def evaluate_expression(self, expression):
        if self.fails:
            raise RuntimeError("the engine broke")
        return self._engine._compile_expression(expression, None)(self.available_variables)  # pylint: disable=protected-access


def installed(templar):
    engine = getattr(templar, "_engine", None)  # none before 2.19
    return engine is not None and constructed.COMPILE_METHOD in vars(engine)


def test_the_running_ansible_core_gets_the_shortcut_only_where_it_has_the_method():
    templar = Templar(loader=DataLoader())
    engine = getattr(templar, "_engine", None)
    has_method = getattr(engine, constructed.COMPILE_METHOD, None) is not None
    with constructed.compiled_once(templar) as reason:
        if has_method:  # ansible-core 2.19 and later
            assert reason is None
            assert installed(templar)
        else:
            assert "no _compile_expression method" in reason
    if has_method:
        assert not installed(templar)


def test_a_sound_engine_gets_the_shortcut_and_gets_it_back_afterwards():
    templar = FakeTemplar()
    with constructed.compiled_once(templar) as reason:
        assert reason is None
        assert installed(templar)
    assert not installed(templar)
    assert templar.available_variables == {"host": "kept"}


def _compile_time_templar():
    templar = FakeTemplar()
    templar._engine = CompileTimeEngine(templar)  # pylint: disable=protected-access
    return templar


@pytest.mark.parametrize("make_templar, why", [
    (lambda: FakeTemplar(OtherSignatureEngine()), "takes ('expression',), not ('expression', 'options')"),
    (lambda: FakeTemplar(fails=True), "the canary expression failed: the engine broke"),
    (_compile_time_templar, "the canary expression gave"),
])
def test_any_doubt_leaves_ansible_cores_own_path(make_templar, why):
    templar = make_templar()
    with constructed.compiled_once(templar) as reason:
        assert why in reason
        assert not installed(templar)
    assert not installed(templar)
    assert templar.available_variables == {"host": "kept"}


class Plugin:
    """What shortcuts() needs of the inventory plugin: a templar and the two evaluation methods it wraps."""

    def __init__(self):
        self.templar = Templar(loader=DataLoader())
        self.calls = []

    def _compose(self, template, variables, disable_lookups=...):  # pylint: disable=unused-argument
        self.calls.append((template, dict(variables)))
        return variables.get("a")

    def _evaluate_conditional(self, conditional, variables):
        self.calls.append((conditional, dict(variables)))
        return bool(variables.get("a"))


def test_pure_results_are_shared_between_hosts_and_the_methods_given_back_afterwards():
    plugin = Plugin()
    with constructed.shortcuts(plugin) as fast:
        assert all("compiled through ansible-core's own path" in reason for reason in fast.not_used)  # before 2.19 only
        assert fast.set_variables is constructed.set_variables
        assert [plugin._compose("a", {"a": "x", "b": n}) for n in range(3)] == ["x"] * 3  # pylint: disable=protected-access
        assert plugin._evaluate_conditional("a", {"a": 1, "b": 2}) is True  # pylint: disable=protected-access
        assert plugin._evaluate_conditional("a", {"a": 1, "b": 3}) is True  # pylint: disable=protected-access
        assert plugin.templar.available_variables == {"a": "x", "b": 2}  # the last host's, as ansible-core leaves them
    # Evaluated once per distinct value of what the expression reads, given only that.
    assert plugin.calls == [("a", {"a": "x"}), ("a", {"a": 1})]
    assert "_compose" not in vars(plugin) and "_evaluate_conditional" not in vars(plugin)


@pytest.mark.parametrize("enabled, version, why", [
    (False, constructed.ANSIBLE_CORE_VERSION, "the constructed_fast_path option is off, or use_extra_vars is on"),
    (True, "2.99.0", "ansible-core 2.99 is not among the versions they were tested on (2.16, 2.17"),
])
def test_an_untested_core_or_the_option_keeps_ansible_cores_own_path(monkeypatch, enabled, version, why):
    monkeypatch.setattr(constructed, "ANSIBLE_CORE_VERSION", version)
    plugin = Plugin()
    with constructed.shortcuts(plugin, enabled) as fast:
        [reason] = fast.not_used
        assert fast.set_variables is not constructed.set_variables  # Host.set_variable for each
        assert reason.startswith("no shortcut is used, since ") and why in reason
        assert "_compose" not in vars(plugin) and not installed(plugin.templar)
        plugin._compose("a", {"a": "x"})  # pylint: disable=protected-access
        plugin._compose("a", {"a": "x"})  # pylint: disable=protected-access
    assert len(plugin.calls) == 2


def test_the_running_core_is_a_tested_one():
    """The suite runs on every core TESTED_CORES names (noxfile.py reads the list): the running one is among them."""
    assert ".".join(constructed.ANSIBLE_CORE_VERSION.split(".")[:2]) in constructed.TESTED_CORES


def test_an_untested_core_says_so_at_vvv_and_gives_the_same_inventory(tmp_path, monkeypatch):
    config = textwrap.dedent(CONFIGURATIONS["pure expressions shared by hosts"]) + "filters:\n  - shadeform_status != 'deleting'\n"
    fast = snapshot(run(tmp_path, config))
    monkeypatch.setattr(constructed, "ANSIBLE_CORE_VERSION", "2.99.0")
    said = []
    monkeypatch.setattr(inventory_loader.get("shadeform.cloud.shadeform").display, "vvv", said.append)
    assert snapshot(run(tmp_path, config)) == fast
    assert any("ansible-core 2.99 is not among the versions they were tested on" in line for line in said), said


# --- The same inventory as ansible.builtin.constructed ---------------------------------------------------------------

def fleet():
    instances = generate_fleet(60, seed=11) + load_fixture("fleet-mixed.json")["instances"]
    odd = copy.deepcopy(instances[0])
    odd.update(id="odd-1", name="odd", tags=["env=[1, 2]", "team={{ nope }}", "tier={a}", "plain"], cloud="{{ cloud }}")
    instances.append(odd)
    return instances


CONFIGURATIONS = {
    "keyed groups of every shape": """
        keyed_groups:
          - key: shadeform_cloud
            prefix: cloud
          - key: shadeform_labels.env
            prefix: env
            default_value: unset
          - key: shadeform_labels.team
            separator: ''
            prefix: team
          - key: shadeform_tags
            prefix: tagged
            parent_group: all_tags
          - key: shadeform_labels
            prefix: label
            trailing_separator: false
          - key: shadeform_configuration.gpu_type
          - key: shadeform_region
            leading_separator: true
          - key: shadeform_labels.team | default('none')
            prefix: squad
          - key: shadeform_nonexistent
            prefix: never
    """,
    "pure expressions shared by hosts": """
        compose:
          gpu_total_vram_gb: (shadeform_num_gpus | default(0) | int) * (shadeform_vram_per_gpu_in_gb | default(0) | int)
          site: shadeform_cloud ~ '_' ~ shadeform_region
          team: shadeform_labels.team | default('none') | upper
          first_tag: shadeform_tags | first
          is_big: shadeform_num_gpus is defined and shadeform_num_gpus >= 8
          name_or_id: shadeform_name if shadeform_name is string and shadeform_name else shadeform_id
          underscored: shadeform_name | regex_replace('-', '_')
          trains: shadeform_name is match('train')
        keyed_groups:
          - key: shadeform_labels.team | default('none')
            prefix: team
          - key: shadeform_cloud ~ '_' ~ shadeform_region
            prefix: site
          - key: site
            prefix: composed
          - key: shadeform_status | replace('_', '-')
    """,
    "magic variables": """
        strict: true
        compose:
          short: inventory_hostname_short
          full: inventory_hostname
          member_of: group_names
          source_file: inventory_file | basename
          first_group: group_names | first
        groups:
          in_shadeform: "'shadeform' in group_names"
          dotted: "'.' in inventory_hostname"
        keyed_groups:
          - key: group_names
            prefix: member
          - key: inventory_hostname_short
            prefix: short
    """,
    "parent groups from templates": """
        compose:
          site: shadeform_cloud ~ '-' ~ shadeform_region
        keyed_groups:
          - key: shadeform_region
            prefix: region
            parent_group: "cloud_{{ shadeform_cloud }}"
          - key: shadeform_status | upper
            parent_group: "{{ shadeform_name | regex_replace('-.*', '') }}"
          - key: "'%s' | format(shadeform_num_gpus | default(0))"
            prefix: gpus
            parent_group: "{{ site }}"
          - key: "'literal'"
            parent_group: "{{ inventory_hostname_short }}_parent"
    """,
    "no leading separator": """
        leading_separator: false
        keyed_groups:
          - key: shadeform_status
          - key: shadeform_labels.tier
    """,
    "compose and groups": """
        compose:
          gpu_count: shadeform_num_gpus
          key_file: "'~/.ssh/shadeform'"
          looks_like_a_list: "'[1, 2]'"
          looks_like_a_bool: '"True"'
          labels: shadeform_labels
          ready: shadeform_shade_cloud
          doubled: shadeform_num_gpus * 2
          cloud_copy: shadeform_cloud
          nested: shadeform_configuration.os
          missing: shadeform_nonexistent
        groups:
          big: shadeform_num_gpus >= 8
          lambda: shadeform_cloud == 'lambdalabs'
          broken: shadeform_nonexistent.deeper
        keyed_groups:
          - key: cloud_copy
            prefix: composed
    """,
}


@pytest.fixture(autouse=True)
def api_answers_with_the_fleet():
    with inventory_api(fleet):
        yield


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_same_groups_and_variables_as_ansible_core(tmp_path, name):
    config = CONFIGURATIONS[name]
    expected_groups, expected_vars = snapshot(reference(tmp_path, config))
    groups, hostvars = snapshot(run(tmp_path, config))
    assert groups == expected_groups
    assert hostvars == expected_vars
    # The configurations do build groups and variables, so the comparison is not between empty inventories.
    assert len(groups) > 20


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_ansible_cores_own_path_gives_the_same_inventory(tmp_path, monkeypatch, name):
    """The fallback the plugin takes when the compile-once shortcut's checks fail, on every ansible-core."""
    config = textwrap.dedent(CONFIGURATIONS[name]) + "filters:\n  - shadeform_status != 'deleting'\n"
    fast = snapshot(run(tmp_path, config))
    monkeypatch.setattr(constructed, "_unusable_compile_method", lambda method: "forced by the test")
    assert snapshot(run(tmp_path, config)) == fast
    assert snapshot(run(tmp_path, config + "constructed_fast_path: false\n")) == fast


FILTERS = [
    "shadeform_status != 'deleting'",
    "'status_active' in group_names",
    "inventory_hostname is match('trainer|batch')",
    "inventory_hostname_short != inventory_hostname or shadeform_num_gpus | default(0) | int > 1",
    "shadeform_num_gpus | default(0) | int >= 4",
    "shadeform_labels.env | default('') in ['prod', 'dev']",
    "'training' in shadeform_tags",
]


@pytest.mark.parametrize("conditional", FILTERS)
def test_filters_keep_the_hosts_ansible_core_puts_in_a_conditional_group(tmp_path, conditional):
    config = "groups:\n  kept: %s\n" % json.dumps(conditional)
    expected = sorted(host.name for host in reference(tmp_path, config).groups["kept"].hosts)
    kept = run(tmp_path, "filters:\n  - %s\n" % json.dumps(conditional))
    assert sorted(kept.hosts) == expected
    assert 0 < len(expected) < len(fleet())


def test_a_parent_group_that_gives_no_name_fails_the_source_with_a_clear_error_as_in_ansible_core(tmp_path):
    config = """
        compose:
          c1: shadeform_labels
        keyed_groups:
          - key: shadeform_cloud
            parent_group: "{{ c1 }}"
    """
    with pytest.raises(AnsibleParserError, match="(?i)failed to parse"):
        reference(tmp_path, config)
    with pytest.raises(AnsibleParserError, match=r"^Could not apply compose, groups or keyed_groups to Shadeform host \S+: "
                                                 r"expected string .* each parent_group text\.$"):
        run(tmp_path, config)


FACTS_CONFIG = """
    compose:
      distro: ansible_distribution | default('none')
      cloud_seen: shadeform_cloud
    groups:
      many_cpus: ansible_processor_vcpus | default(0) > 4
    keyed_groups:
      - key: ansible_distribution | default('unknown')
        prefix: os
"""


@pytest.fixture
def fact_cache(tmp_path):
    """A jsonfile fact cache, as an earlier play with fact caching leaves it, holding facts for three of the hosts;
    one fact is named like a host variable (in ansible.builtin.constructed, facts win)."""
    names = sorted(run(tmp_path, "").hosts)[:3]
    facts = dict((name, {"ansible_distribution": distribution, "ansible_processor_vcpus": 8, "shadeform_cloud": "from-facts"})
                 for name, distribution in zip(names, ("Ubuntu", "Debian", "Ubuntu")))
    with jsonfile_fact_cache(tmp_path / "facts", facts):
        yield names


@pytest.mark.parametrize("fast_path", [True, False])
def test_options_see_the_cached_facts_as_in_ansible_core(tmp_path, fact_cache, fast_path):
    config = textwrap.dedent(FACTS_CONFIG) + "constructed_fast_path: %s\n" % fast_path
    expected = snapshot(reference(tmp_path, FACTS_CONFIG))
    assert snapshot(run(tmp_path, config)) == expected
    groups, hostvars = expected
    assert sorted(groups["os_Ubuntu"][0] + groups["os_Debian"][0]) == sorted(groups["many_cpus"][0]) == fact_cache
    assert [hostvars[name]["cloud_seen"] for name in fact_cache] == ["from-facts"] * 3


def test_filters_see_the_cached_facts_as_in_ansible_core(tmp_path, fact_cache):
    conditional = "ansible_distribution | default('') == 'Ubuntu'"
    expected = sorted(host.name for host in reference(tmp_path, "groups:\n  kept: %s\n" % json.dumps(conditional)).groups["kept"].hosts)
    assert sorted(run(tmp_path, "filters:\n  - %s\n" % json.dumps(conditional)).hosts) == expected == [fact_cache[0], fact_cache[2]]


# --- set_variables leaves a host exactly as Host.set_variable, called for each variable, leaves it ------------------------

try:
    from ansible.template import trust_as_template as marked  # ansible-core 2.19+: a name trusted as a template
    MARKS_NAMES = True
except ImportError:
    from ansible.utils.unsafe_proxy import wrap_var as marked  # before 2.19: a name marked unsafe
    MARKS_NAMES = False

SET_VARIABLES_CASES = {
    "new names": ({}, {"shadeform_cloud": "aws", "shadeform_labels": {"env": "prod"}, "ansible_port": 22}),
    "names already set": ({"shadeform_labels": {"team": "ml"}, "note": "kept"},
                          {"shadeform_labels": {"env": "prod"}, "note": "replaced", "other": 1}),
    "names ansible-core warns about": ({}, {"true": 1, "not-an-identifier": 2, "shadeform_ok": 3}),
}


def twins(existing):
    hosts = []
    while len(hosts) < 2:
        host = Host("gpu-1", gen_uuid=False)
        host.vars = {"inventory_file": "/x/fleet.shadeform.yml", "inventory_dir": "/x"}
        for name, value in existing.items():
            host.set_variable(name, dict(value) if isinstance(value, dict) else value)
        hosts.append(host)
    return hosts


def spelled_out(host):
    """The host's variables with each name's type, in order."""
    return [(type(name).__name__, name, value) for name, value in host.vars.items()]


def set_each(host, variables):
    for name, value in variables.items():
        host.set_variable(name, value)


@pytest.mark.parametrize("case", sorted(SET_VARIABLES_CASES))
def test_set_variables_gives_the_same_variables_and_warnings_as_set_variable(case):
    existing, variables = SET_VARIABLES_CASES[case]
    expected_host, host = twins(existing)
    with mock.patch("ansible.utils.display.Display.deprecated") as expected_warnings:
        set_each(expected_host, variables)
    with mock.patch("ansible.utils.display.Display.deprecated") as warnings:
        constructed.set_variables(host, variables)
    assert spelled_out(host) == spelled_out(expected_host)
    assert warnings.call_args_list == expected_warnings.call_args_list
    if case == "names ansible-core warns about":
        # From 2.19 on, true and not-an-identifier are warned about: the comparison is not between silences.
        assert len(warnings.call_args_list) == (2 if MARKS_NAMES else 0)


def test_a_marked_name_ends_up_as_set_variable_leaves_it():
    """From 2.19 on set_variable removes a name's trust (the name becomes a plain str); before, it keeps an unsafe name."""
    expected_host, host = twins({})
    variables = {marked("shadeform_name"): "gpu-1"}
    set_each(expected_host, variables)
    constructed.set_variables(host, variables)
    assert spelled_out(host) == spelled_out(expected_host)
    assert (type(list(host.vars)[-1]) is str) == MARKS_NAMES  # pylint: disable=unidiomatic-typecheck
