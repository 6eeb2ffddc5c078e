# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property: over any fleet and any constructed options, the plugin gives what ansible.builtin.constructed gives.

Hypothesis builds random fleets and random compose, groups and keyed_groups from a grammar of
expressions (host variables, magic variables, cached facts, extra vars, literals, pure and impure filters, tests,
operators, a lookup), with strict, use_extra_vars and leading_separator either way and the plugin's
shortcuts on or off. The reference is ansible-core's constructed plugin over the hosts the plugin
adds with no constructed options (constructed_reference.reference). Host variables are compared
with their types, groups with their hosts and children, and failures as failures (strict).
Filters are compared with the hosts ansible-core puts in a `groups` entry of the same conditional.
"""

import contextlib
import json
from unittest import mock

from hypothesis import HealthCheck, event, given, settings, strategies as st

from ansible.errors import AnsibleError
from ansible.inventory.data import InventoryData

from constructed_reference import jsonfile_fact_cache, reference, run, snapshot
from helpers import inventory_api

EXTRA_VARS = {"extra_site": "lab", "shadeform_cloud": "from-extra-vars", "extra_count": 2}
LOOKUP_VALUE = "looked-up"

NAMES = ["trainer", "train.er", "gpu-1", "a100", "x.y.z", "batch", "", None]
INSTANCE = st.fixed_dictionaries({
    "name": st.sampled_from(NAMES),
    "cloud": st.sampled_from(["aws", "hyperstack", "lambdalabs"]),
    "region": st.sampled_from(["us-east-1", "canada-1"]),
    "status": st.sampled_from(["active", "pending", "deleting"]),
    "configuration": st.fixed_dictionaries({"gpu_type": st.sampled_from(["A100", "H100"]),
                                            "num_gpus": st.one_of(st.none(), st.integers(0, 8))}),
    "tags": st.lists(st.sampled_from(["env=prod", "env=dev", "team:ml", "plain", "x={{ y }}", "[1, 2]"]), max_size=3),
    "ip": st.sampled_from([None, "198.51.100.7"]),
    "ssh_port": st.sampled_from([22, 2222]),
    "hourly_price": st.one_of(st.none(), st.integers(0, 500)),
})
FLEETS = st.lists(INSTANCE, min_size=1, max_size=4).map(
    lambda instances: [dict(instance, id="00000000-0000-0000-0000-%012d" % index) for index, instance in enumerate(instances)])

# What other inventory sources may have set before this one: group variables, and a host of the same name as the
# fleet's first instance (constructed goes over every host of the inventory, the plugin over its own: the host
# another source added alone would be compared with nothing).
PRIOR_HOST = "prior-host"
PRIOR = st.fixed_dictionaries({"group_vars": st.booleans(), "existing_host": st.booleans(), "cached_facts": st.booleans()})
# Facts an earlier play left in a persistent fact cache, for some of the names hosts may take (constructed reads them).
CACHED_FACTS = {"trainer": {"fact_only": "yes", "shadeform_cloud": "from-facts"}, PRIOR_HOST: {"fact_only": {"nested": 1}},
                "gpu-1": {"shadeform_labels": {"from": "facts"}}}

VARIABLES = ["owner", "cloud_note", "note", "fact_only", "shadeform_name", "shadeform_cloud", "shadeform_region", "shadeform_status", "shadeform_num_gpus",
             "shadeform_gpu_type", "shadeform_labels", "shadeform_labels.env", "shadeform_tags", "shadeform_hourly_price",
             "shadeform_configuration.gpu_type", "shadeform_ip", "ansible_port", "undefined_variable"]
MAGIC_VARIABLES = ["inventory_hostname", "inventory_hostname_short", "group_names", "inventory_file", "inventory_dir"]
LITERALS = ["'abc'", "'a-b.c'", "3", "2.5", "true", "none", "[1, 'two']", "{'k': 'v'}", "'[1, 2]'", "'True'",
            "'{{ never_rendered }}'", "extra_site", "extra_count",
            "lookup('ansible.builtin.env', 'SHADEFORM_PROPERTY_VALUE')"]
PURE_FILTERS = ["default('dflt')", "d(none)", "string", "length", "upper", "lower", "int", "first", "bool",
                "join(',')", "replace('-', '_')", "regex_replace('[0-9]', 'N')", "trim"]
IMPURE_FILTERS = ["map('string') | list", "to_json", "regex_findall('[a-z]+')", "dict2items", "unique", "hash('sha1')"]
TESTS = ["defined", "undefined", "string", "number", "none", "match('t')", "search('a')", "mapping"]
OPERATORS = ["~", "==", "!=", "in", "and", "or", "+", ">"]

ATOMS = st.sampled_from(VARIABLES + MAGIC_VARIABLES + LITERALS)


def _extend(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(PURE_FILTERS + IMPURE_FILTERS)).map(lambda parts: "(%s) | %s" % parts),
        st.tuples(children, st.sampled_from(TESTS)).map(lambda parts: "(%s) is %s" % parts),
        st.tuples(children, st.sampled_from(OPERATORS), children).map(lambda parts: "(%s) %s (%s)" % parts),
        children.map(lambda child: "not (%s)" % child),
        st.tuples(children, children, children).map(lambda parts: "(%s) if (%s) else (%s)" % parts),
        children.map(lambda child: "'%%s!' | format(%s)" % child),
    )


EXPRESSIONS = st.recursive(ATOMS, _extend, max_leaves=4)
# A variable, possibly through one filter or test: the shapes the shortcuts handle, drawn often.
SIMPLE = st.one_of(ATOMS, st.tuples(ATOMS, st.sampled_from(PURE_FILTERS)).map(lambda parts: "%s | %s" % parts),
                   st.tuples(ATOMS, st.sampled_from(TESTS)).map(lambda parts: "%s is %s" % parts))
ANY_EXPRESSION = st.one_of(SIMPLE, EXPRESSIONS)
# Conditionals that are mostly true or false (rather than not boolean), so that groups and filters do select.
CONDITIONALS = st.one_of(
    st.tuples(ANY_EXPRESSION, st.sampled_from(TESTS)).map(lambda parts: "(%s) is %s" % parts),
    st.tuples(ANY_EXPRESSION, st.sampled_from(["==", "!=", "in", "not in"]), ANY_EXPRESSION).map(lambda parts: "(%s) %s (%s)" % parts),
    st.tuples(SIMPLE, st.sampled_from(["and", "or"]), SIMPLE).map(lambda parts: "(%s) %s (%s)" % parts),
    ANY_EXPRESSION,
)

KEYED_GROUP_BASE = {"prefix": st.sampled_from(["", "k", "team"]), "separator": st.sampled_from(["_", "", "-"]),
                    "parent_group": st.sampled_from(["parents", "shadeform", "p_{{ shadeform_cloud }}",
                                                     "{{ inventory_hostname_short }}_parent", "{{ c1 | default('none') }}"])}
# default_value and trailing_separator exclude each other (ansible-core refuses both): one or the other.
KEYED_GROUP = st.one_of(
    st.fixed_dictionaries({"key": ANY_EXPRESSION}, optional=dict(KEYED_GROUP_BASE, default_value=st.sampled_from(["unset", ""]))),
    st.fixed_dictionaries({"key": ANY_EXPRESSION}, optional=dict(KEYED_GROUP_BASE, trailing_separator=st.booleans())),
)
OPTIONS = st.fixed_dictionaries({
    "compose": st.dictionaries(st.sampled_from(["c1", "c2", "short", "shadeform_cloud"]), ANY_EXPRESSION, max_size=3),
    "groups": st.dictionaries(st.sampled_from(["g1", "g-2", "big"]), CONDITIONALS, max_size=2),
    "keyed_groups": st.lists(KEYED_GROUP, max_size=2),
    "strict": st.booleans(),
    "use_extra_vars": st.booleans(),
    "leading_separator": st.booleans(),
})
CONSTRUCTED_ONLY = ("compose", "groups", "keyed_groups", "strict", "use_extra_vars", "leading_separator")


try:
    from ansible.module_utils._internal._datatag import AnsibleTagHelper  # ansible-core 2.19+
except ImportError:
    AnsibleTagHelper = None
NATIVE_TYPES = (bool, int, float, str, bytes, type(None))


def marks(value):
    """What Ansible knows about a value besides its type: unsafe (before 2.19), or its tags (2.19+) but Origin,
    which only records where an expression was written for error messages."""
    if AnsibleTagHelper is not None:
        return sorted(type(tag).__name__ for tag in AnsibleTagHelper.tags(value) if type(tag).__name__ != "Origin")
    return ["unsafe"] if getattr(value, "__UNSAFE__", False) else []


def typed(value):
    """A value with the type and marks of every part spelled out, so that 1, 1.0, True and '1' never compare equal,
    nor a string marked unsafe and one that is not."""
    if isinstance(value, dict):
        return ("dict", marks(value), sorted((json.dumps(typed(key)), typed(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return ("list" if isinstance(value, list) else "tuple", marks(value), [typed(item) for item in value])
    native = next((kind for kind in NATIVE_TYPES if isinstance(value, kind)), type(value))
    return (native.__name__, marks(value), value)


def outcome(build):
    """The inventory's groups and typed host variables, or 'error' when the parse fails."""
    try:
        groups, hostvars = snapshot(build())
    except AnsibleError:
        return "error"
    return [groups, {name: typed(variables) for name, variables in hostvars.items()}]


def config_of(options):
    """YAML lines, one per option, each value in JSON (which YAML reads as flow style)."""
    return "".join("%s: %s\n" % (option, json.dumps(value)) for option, value in options.items())


def prior_inventory(prior):
    """An inventory as an earlier source (a YAML file, say) could leave it."""
    inventory = InventoryData()
    if prior["group_vars"]:
        for group, variable, value in (("shadeform", "owner", "ml"), ("cloud_aws", "cloud_note", {"from": "group"})):
            inventory.add_group(group)
            inventory.set_variable(group, variable, value)
    if prior["existing_host"]:
        inventory.add_group("manual")
        inventory.add_host(PRIOR_HOST, group="manual")
        inventory.set_variable(PRIOR_HOST, "note", {"k": "set by hand"})
        inventory.set_variable(PRIOR_HOST, "shadeform_labels", {"by": "hand"})
    return inventory


def both(tmp_path, fleet, plugin_config, core_config, prior):
    if prior["existing_host"]:
        fleet = [dict(fleet[0], name=PRIOR_HOST)] + fleet[1:]
    with inventory_api(lambda: [dict(i) for i in fleet]), \
            mock.patch("ansible.plugins.inventory.load_extra_vars", return_value=dict(EXTRA_VARS)), \
            (jsonfile_fact_cache(tmp_path / "facts", CACHED_FACTS) if prior["cached_facts"] else contextlib.nullcontext()):
        expected = outcome(lambda: reference(tmp_path, core_config, prior_inventory(prior)))
        actual = outcome(lambda: run(tmp_path, plugin_config, prior_inventory(prior)))
    return actual, expected


# Bounded so that both properties run in seconds on every ansible-core; no database, so no run replays another's examples.
PROPERTY_SETTINGS = settings(max_examples=50, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(fleet=FLEETS, options=OPTIONS, fast_path=st.booleans(), prior=PRIOR)
def test_compose_groups_and_keyed_groups_as_ansible_core(tmp_path, monkeypatch, fleet, options, fast_path, prior):
    monkeypatch.setenv("SHADEFORM_PROPERTY_VALUE", LOOKUP_VALUE)
    plugin_options = dict(options, constructed_fast_path=fast_path)
    actual, expected = both(tmp_path, fleet, config_of(plugin_options), config_of(options), prior)
    event("ansible-core failed" if expected == "error" else "ansible-core built %d groups" % min(len(expected[0]), 12))
    assert actual == expected


@PROPERTY_SETTINGS
@given(fleet=FLEETS, conditional=CONDITIONALS, strict=st.booleans(), fast_path=st.booleans(), prior=PRIOR)
def test_filters_keep_what_a_groups_entry_of_ansible_core_holds(tmp_path, monkeypatch, fleet, conditional, strict, fast_path, prior):
    monkeypatch.setenv("SHADEFORM_PROPERTY_VALUE", LOOKUP_VALUE)
    plugin_config = config_of({"filters": [conditional], "strict": strict, "constructed_fast_path": fast_path})
    actual, expected = both(tmp_path, fleet, plugin_config, config_of({"groups": {"kept": conditional}, "strict": strict}), prior)
    event("ansible-core failed" if expected == "error" else "kept %d of %d" % (len(expected[0].get("kept", ([], []))[0]), len(fleet)))
    # The hosts a filter keeps are the shadeform group's; a host of another source stays whatever the filter says.
    for kept_group, result in (("kept", expected), ("shadeform", actual)):
        if result != "error":
            groups, hostvars = result
            kept = groups.get(kept_group, ([], []))[0]
            result[:] = [sorted(kept), {name: hostvars[name] for name in kept}]
    assert actual == expected
