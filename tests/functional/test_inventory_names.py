# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names, options and mistakes as a user meets them: the real ansible-inventory, ansible and ansible-playbook
against the API simulator on 127.0.0.1.

* Host names select themselves in --limit, --host and a play's hosts, and print as plain strings.
* compose, groups, keyed_groups and filters see the magic variables constructed gives.
* hostname_template keeps two workspaces' hosts apart; environment-dependent options may be templates.
* A misspelled option, a wrongly named file and the short plugin name each say what to do.
"""

import json
import subprocess
import textwrap

import pytest

from helpers import INVENTORY_FETCH, ansible_inventory, cli_env, cli_path, inventory_list, load_fixture, request_paths, write_inventory

pytestmark = pytest.mark.functional

EXAMPLE = load_fixture("instances-example.json")["instances"][0]
# Names with pattern syntax, and hosts that a misread pattern would select instead.
PATTERN_NAMES = ("gpu:a100", "!prod", "&prod", "@file", "~re", "-lead", "a]b", "x,y")
DECOYS = ("gpu", "a100", "prod", "re", "file", "lead", "a", "b", "x", "y")


def fleet_named(names):
    return [dict(EXAMPLE, id="id-%04d-0000" % index, name=name, tags=[]) for index, name in enumerate(names)]


def run(command, *args, env=None):
    result = subprocess.run([cli_path(command)] + [str(arg) for arg in args], env=cli_env(env), capture_output=True,
                            text=True, timeout=300, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def said(result):
    """stdout and stderr with line breaks undone (ansible-core 2.16 wraps warnings at the terminal width)."""
    return " ".join((result.stdout + result.stderr).split())


def listed_hosts(result):
    """Host names from `ansible --list-hosts` output."""
    assert result.returncode == 0, result.stderr
    return sorted(line.strip() for line in result.stdout.splitlines()[1:] if line.strip())


def test_every_host_name_selects_itself_in_limit_host_and_a_play(shadeform_api, tmp_path):
    shadeform_api.set_instances(fleet_named(PATTERN_NAMES + DECOYS))
    path = write_inventory(tmp_path, shadeform_api, "default_groups: false\n")
    names = sorted(inventory_list(ansible_inventory(path, "--list").stdout)["_meta"]["hostvars"])
    assert {"gpu_a100", "_file", "_re", "_lead", "a_b", "x_y"} <= set(names)
    # "!prod" and "&prod" both become "_prod": neither is merged, both are renamed with their ids.
    assert len(names) == len(PATTERN_NAMES + DECOYS)
    # Every name, each character included, is checked in-process (tests/unit/plugins/inventory/test_shadeform_properties.py);
    # here the real commands, for the names made from the examples.
    for name in [name for name in names if name not in DECOYS]:
        assert listed_hosts(run("ansible", "all", "-i", path, "--list-hosts", "--limit", name)) == [name], name
    for name in ("gpu_a100", "_file"):
        assert listed_hosts(run("ansible", name, "-i", path, "--list-hosts")) == [name], name
    host = ansible_inventory(path, "--host", "gpu_a100")
    assert host.returncode == 0, host.stderr
    assert inventory_list(host.stdout)["shadeform_name"] == "gpu:a100"

    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: 'gpu_a100,_lead'\n  gather_facts: false\n  tasks: []\n")
    play = run("ansible-playbook", "-i", path, "--list-hosts", playbook)
    assert play.returncode == 0, play.stderr
    assert "hosts (2):" in play.stdout and "gpu_a100" in play.stdout and "_lead" in play.stdout


def test_list_prints_host_names_as_plain_strings(shadeform_api, tmp_path):
    result = ansible_inventory(write_inventory(tmp_path, shadeform_api), "--list")
    assert result.returncode == 0, result.stderr
    inventory = json.loads(result.stdout)  # no object hook: what jq and scripts see
    members = [name for group in inventory.values() if isinstance(group, dict) for name in group.get("hosts", [])]
    assert "cool-gpu-server" in members
    assert all(isinstance(name, str) for name in members), members


def test_constructed_options_and_filters_see_magic_variables(shadeform_api, tmp_path):
    shadeform_api.set_instances(fleet_named(["web.example.com", "db.example.com", "batch"]))
    path = write_inventory(tmp_path, shadeform_api, """
        strict: true
        filters:
          - "'status_active' in group_names and inventory_hostname != 'batch'"
        compose:
          short: inventory_hostname_short
          member_of: group_names
        groups:
          web: inventory_hostname is match('web')
        keyed_groups:
          - key: inventory_hostname_short
            prefix: short
    """)
    result = ansible_inventory(path, "--list")
    assert result.returncode == 0, result.stderr
    inventory = inventory_list(result.stdout)
    hostvars = inventory["_meta"]["hostvars"]
    assert sorted(hostvars) == ["db.example.com", "web.example.com"]
    assert hostvars["web.example.com"]["short"] == "web"
    assert "shadeform" in hostvars["db.example.com"]["member_of"] and "status_active" in hostvars["db.example.com"]["member_of"]
    assert inventory["web"]["hosts"] == ["web.example.com"]
    assert inventory["short_db"]["hosts"] == ["db.example.com"]

    playbook = tmp_path / "show.yml"
    playbook.write_text(textwrap.dedent("""
        - hosts: web
          gather_facts: false
          tasks:
            - ansible.builtin.debug:
                msg: "short={{ short }}"
    """))
    play = run("ansible-playbook", "-i", path, playbook)
    assert play.returncode == 0, play.stdout + play.stderr
    assert '"msg": "short=web"' in play.stdout


def test_hostname_template_keeps_two_workspaces_apart(shadeform_api, tmp_path):
    shadeform_api.set_instances(fleet_named(["trainer", "notebook"]))
    sources = tmp_path / "inventory"
    sources.mkdir()
    write_inventory(sources, shadeform_api, "hostname_template: \"{{ lookup('ansible.builtin.env', 'WORKSPACE') }}-{{ shadeform_name }}\"\n",
                    name="a.shadeform.yml")
    write_inventory(sources, shadeform_api, "hostname_template: 'b:{{ shadeform_name }}.{{ shadeform_region }}'\n",
                    name="b.shadeform.yml")
    result = ansible_inventory(sources, "--list", env={"WORKSPACE": "prod"})
    assert result.returncode == 0, result.stderr
    names = sorted(inventory_list(result.stdout)["_meta"]["hostvars"])
    # Sanitizing applies to the template's result: ':' would be a pattern separator.
    assert names == ["b_notebook.canada-1", "b_trainer.canada-1", "prod-notebook", "prod-trainer"]


def test_environment_dependent_options_may_be_templates_in_the_file(shadeform_api, tmp_path):
    shadeform_api.set_instances([dict(EXAMPLE, id="id-1", name="up", status="active"),
                                 dict(EXAMPLE, id="id-2", name="down", status="pending"),
                                 dict(EXAMPLE, id="id-3", name="elsewhere", status="active", cloud="aws")])
    path = tmp_path / "shadeform.yml"
    path.write_text(textwrap.dedent("""
        plugin: shadeform.cloud.shadeform
        api_url: "{{ lookup('ansible.builtin.env', 'FLEET_API') }}"
        statuses: ["{{ lookup('ansible.builtin.env', 'FLEET_STATUS') }}"]
        filters:
          - shadeform_cloud == lookup('ansible.builtin.env', 'FLEET_CLOUD')
    """))
    result = ansible_inventory(path, "--list", env={"FLEET_API": shadeform_api.url, "FLEET_STATUS": "active",
                                                    "FLEET_CLOUD": EXAMPLE["cloud"]})
    assert result.returncode == 0, result.stderr
    assert sorted(inventory_list(result.stdout)["_meta"]["hostvars"]) == ["up"]

    # From the environment variable itself, the value is used as it is, never templated.
    literal = tmp_path / "literal.shadeform.yml"
    literal.write_text("plugin: shadeform.cloud.shadeform\n")
    refused = ansible_inventory(literal, "--list", env={"SHADEFORM_API_URL": "{{ lookup('ansible.builtin.env', 'FLEET_API') }}",
                                                        "FLEET_API": shadeform_api.url})
    assert inventory_list(refused.stdout)["_meta"]["hostvars"] == {}
    assert request_paths(shadeform_api) == INVENTORY_FETCH  # the first run's only


def test_misspelled_option_is_named_with_the_closest_option(shadeform_api, tmp_path):
    path = write_inventory(tmp_path, shadeform_api, "status: [active]\n")
    result = ansible_inventory(path, "--graph")
    assert result.returncode == 0, result.stderr
    assert "Unknown option 'status'" in said(result) and "did you mean 'statuses'?" in said(result)

    strict = write_inventory(tmp_path, shadeform_api, "strict: true\nkeyed_group:\n  - key: shadeform_cloud\n", name="strict.shadeform.yml")
    failed = ansible_inventory(strict, "--graph", env={"ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true"})
    assert failed.returncode != 0
    assert "Unknown option 'keyed_group'" in said(failed) and "did you mean 'keyed_groups'?" in said(failed)


def test_wrong_file_name_and_short_plugin_name_say_what_to_do(shadeform_api, tmp_path):
    misnamed = write_inventory(tmp_path, shadeform_api, name="fleet.yml")
    declined = ansible_inventory(misnamed, "--graph", "-vvv")
    assert "could not be verified by inventory plugin 'shadeform.cloud.shadeform'" in said(declined)
    assert "the file name must end in 'shadeform.yml' or 'shadeform.yaml'" in said(declined)

    short = tmp_path / "short.shadeform.yml"
    short.write_text("plugin: shadeform\napi_url: %s\n" % shadeform_api.url)
    unknown = ansible_inventory(short, "--graph")
    # ansible-core's own message, which the troubleshooting page lists with its fix.
    assert "specifies unknown plugin 'shadeform'" in said(unknown)
    assert len(shadeform_api.requests) == 0


def test_fast_path_off_gives_the_same_inventory(shadeform_api, tmp_path):
    shadeform_api.set_instances(load_fixture("fleet-mixed.json")["instances"])
    options = """
        compose:
          site: shadeform_cloud ~ '-' ~ shadeform_region
          gpus: "'%s x %s' | format(shadeform_num_gpus | default(0), shadeform_gpu_type | default('none'))"
          words: shadeform_name | regex_findall('[a-z]+')
        keyed_groups:
          - key: shadeform_tags | map('lower') | list
            prefix: lower
        filters:
          - inventory_hostname_short is string
    """
    fast = ansible_inventory(write_inventory(tmp_path, shadeform_api, options, name="fast.shadeform.yml"), "--list")
    core = ansible_inventory(write_inventory(tmp_path, shadeform_api, textwrap.dedent(options) + "constructed_fast_path: false\n",
                                             name="core.shadeform.yml"), "--list", "-vvv", "--output", tmp_path / "core.json")
    assert fast.returncode == 0 and core.returncode == 0, fast.stderr + core.stderr
    assert "for compose, keyed_groups and filters, no shortcut is used, since the constructed_fast_path option is off" in said(core)

    fast_inventory = inventory_list(fast.stdout)
    assert fast_inventory == inventory_list((tmp_path / "core.json").read_text())
    assert fast_inventory["_meta"]["hostvars"]["notebook"]["words"] == ["notebook"]


def test_options_see_facts_an_earlier_play_cached_as_with_constructed(shadeform_api, tmp_path):
    """A play caches a fact per host (jsonfile fact cache, local connection: no SSH); the next inventory run groups by it,
    exactly as the same options in an ansible.builtin.constructed source after the plugin group by it."""
    shadeform_api.set_instances(fleet_named(["web-1", "web-2", "db-1"]))
    env = {"ANSIBLE_CACHE_PLUGIN": "jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "facts")}
    plain = write_inventory(tmp_path, shadeform_api, name="plain.shadeform.yml")
    playbook = tmp_path / "cache_roles.yml"
    playbook.write_text(textwrap.dedent("""
        - hosts: shadeform
          connection: local
          gather_facts: false
          tasks:
            - ansible.builtin.set_fact:
                machine_role: "{{ inventory_hostname | regex_replace('-.*', '') }}"
                cacheable: true
    """))
    play = run("ansible-playbook", "-i", plain, playbook, env=env)
    assert play.returncode == 0, play.stdout + play.stderr

    options = """
        compose:
          role: machine_role | default('unknown')
        keyed_groups:
          - key: machine_role
            prefix: role
        filters:
          - machine_role is defined
    """
    result = ansible_inventory(write_inventory(tmp_path, shadeform_api, options), "--list", env=env)
    assert result.returncode == 0, result.stderr
    inventory = inventory_list(result.stdout)
    assert sorted(inventory["role_web"]["hosts"]) == ["web-1", "web-2"] and inventory["role_db"]["hosts"] == ["db-1"]
    assert inventory["_meta"]["hostvars"]["db-1"]["role"] == "db"

    (tmp_path / "roles.constructed.yml").write_text("plugin: ansible.builtin.constructed\n" + textwrap.dedent(options).replace(
        "filters:\n  - machine_role is defined\n", ""))
    reference = ansible_inventory(plain, "-i", tmp_path / "roles.constructed.yml", "--list", env=env)
    assert reference.returncode == 0, reference.stderr
    assert comparable(inventory_list(reference.stdout)) == comparable(inventory), reference.stderr


def comparable(inventory):
    """Groups with their sorted hosts and children, and host variables but those naming the source file: the same
    inventory built by one source or by two (the order groups were made in, and inventory_file, differ)."""
    groups = {name: (sorted(group.get("hosts", [])), sorted(group.get("children", [])))
              for name, group in inventory.items() if name != "_meta"}
    hostvars = {name: {variable: value for variable, value in variables.items() if variable not in ("inventory_file", "inventory_dir")}
                for name, variables in inventory["_meta"]["hostvars"].items()}
    return groups, hostvars
