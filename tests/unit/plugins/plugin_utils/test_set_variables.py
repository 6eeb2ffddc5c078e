# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""constructed.set_variables leaves a host exactly as Host.set_variable, called for each variable, leaves it.

Both run side by side on twin hosts of the running ansible-core: new names, names the host already has
(dictionaries merge), names ansible-core warns about, and names marked trusted (2.19+) or unsafe (before).
Runs on every ansible-core.
"""

from unittest import mock

import pytest

from ansible.inventory.host import Host

from ansible_collections.shadeform.cloud.plugins.plugin_utils import constructed

try:
    from ansible.template import trust_as_template as marked  # ansible-core 2.19+: a name trusted as a template
    MARKS_NAMES = True
except ImportError:
    from ansible.utils.unsafe_proxy import wrap_var as marked  # before 2.19: a name marked unsafe
    MARKS_NAMES = False

CASES = {
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


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_same_variables_and_warnings_as_set_variable(case):
    existing, variables = CASES[case]
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
