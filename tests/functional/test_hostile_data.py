# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Odd, hostile and secret data from the API, through the real ansible-inventory and ansible-playbook.

* Odd data (missing, null, wrongly typed fields, reserved and repeated names, ...) never loses an
  instance: every object with an id is exactly one host.
* Jinja in any field is never evaluated: a lookup that would create a file never runs, neither in
  ansible-inventory nor in a playbook that uses the variables and groups.
* The API key and the launch secrets never appear in any output, even at -vvvv.
"""

import base64
import collections
import copy
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from helpers import (API_KEY, INVENTORY_FETCH, NO_PROXY_ENV, ansible_inventory, cli_env, cli_path, inventory_list, load_fixture, request_paths,
                     write_inventory)
from hostile_servers import LoopbackServer, fleet as serving_fleet

# The ansible_host of an instance without an address (plugin_utils/hosts.py: NO_ADDRESS).
NO_ADDRESS = "shadeform-no-address-yet.invalid"

pytestmark = pytest.mark.functional

EXAMPLE = load_fixture("instances-example.json")["instances"][0]
# Names of magic variables and of the implicit localhost: fine as host names.
RESERVED_NAMES = ("localhost", "hostvars", "inventory_hostname", "groups", "omit")
# Names of groups that exist (all, ungrouped) or that the plugin makes (shadeform, cloud_aws, tag_gpu).


def run_ok(path, *args, env=None):
    result = ansible_inventory(path, *args, env=dict(NO_PROXY_ENV, **(env or {})), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def ansible_playbook(inventory, playbook, *args, env=None):
    return subprocess.run([cli_path("ansible-playbook"), "-i", str(inventory), str(playbook),
                           "-e", "ansible_python_interpreter=" + sys.executable] + list(args),
                          env=cli_env(dict(NO_PROXY_ENV, **(env or {}))), capture_output=True, text=True, timeout=600, check=False)


def instance(instance_id, **fields):
    """The reference example with another id and the given fields (None values are kept as null)."""
    result = copy.deepcopy(EXAMPLE)
    result["id"] = instance_id
    result.update(fields)
    return result


def ids_of(instances):
    return collections.Counter(json.dumps(item["id"], sort_keys=True) for item in instances if isinstance(item, dict) and "id" in item)


def host_ids(hostvars):
    return collections.Counter(json.dumps(variables["shadeform_id"], sort_keys=True)
                               for variables in hostvars.values() if "shadeform_id" in variables)


# --- Odd data: every instance appears exactly once ---------------------------------------------------------------

def odd_fleet():
    fleet = [
        {"id": "odd-01"},
        {"id": "odd-02", "name": None, "ip": None, "ssh_user": None, "ssh_port": None, "tags": None, "configuration": None,
         "status": None, "cloud": None, "region": None, "shade_instance_type": None, "launch_configuration": None},
        {"id": "odd-03", "name": ["list-name"], "ip": 12345, "ssh_user": {"u": 1}, "ssh_port": "abc", "tags": "tag-as-a-string",
         "configuration": "A100", "status": {"s": 1}, "cloud": ["aws"], "region": 7, "launch_configuration": "docker"},
        {"id": "odd-04", "name": "", "ssh_port": True, "tags": {"env": "prod"}, "configuration": {"gpu_type": ["A100"], "num_gpus": "8"},
         "launch_configuration": {"type": "docker", "docker_configuration": "x", "script_configuration": ["y"]}},
        instance("odd-05", name="odd-status", status="hibernating-\U0001f6cc", cloud="new-cloud.example", region=""),
        instance("odd-06", name="gpu-\u00f1and\u00fa-\u6771\u4eac-\U0001f600", tags=["\u00e9quipe=ml", "\U0001f600", ""]),
        instance("odd-07", name="n" * 5000, tags=["t" * 5000, "k=" + "v" * 5000]),
        instance("odd-08", name="   "),
        instance("odd-09", name="bad\nname\ttab\x00nul\x7fdel"),
        instance("odd-10", name="ports-1", ssh_port=-1),
        instance("odd-11", name="ports-2", ssh_port=70000),
        instance("odd-12", name="ports-3", ssh_port=22.5),
        instance("odd-13", name="ports-4", ssh_port=" 2222 "),
        instance("odd-14", name="same-tags", tags=["env-prod", "env.prod", "env prod", "env/prod", "env_prod", 5, None, {"a": 1}]),
        instance("odd-17", name="in-aws", cloud="aws"),
        instance("odd-18", name="dup"),
        instance("odd-19", name="dup"),
        instance("odd-20", name="dup"),
        instance("odd-21", name="dup-odd-19"),
        instance("odd-22", name="twin"),
        instance("odd-22", name="twin"),
        instance(23, name=None),
        instance("odd-24", name=42),
        instance("odd-25", name="odd-01"),
        {"name": "no-id"},
        {},
    ]
    fleet += [instance("reserved-%d" % index, name=name, tags=[name]) for index, name in enumerate(RESERVED_NAMES)]
    # Elements that are not objects are skipped with a warning; they are not instances.
    fleet += ["a string", 42, None, ["a", "list"], True]
    return fleet


def test_odd_data_builds_the_inventory_with_every_instance_exactly_once(shadeform_api, tmp_path):
    fleet = odd_fleet()
    shadeform_api.set_instances(fleet)
    path = write_inventory(tmp_path, shadeform_api)
    result = run_ok(path, "--list")
    inventory = inventory_list(result.stdout)
    hostvars = inventory["_meta"]["hostvars"]
    dicts = [item for item in fleet if isinstance(item, dict)]
    assert len(hostvars) == len(dicts)
    assert host_ids(hostvars) == ids_of(fleet)
    assert sorted(inventory["shadeform"]["hosts"]) == sorted(hostvars)
    for name in hostvars:
        assert "{" not in name and "\n" not in name and "\x00" not in name

    by_id = {variables.get("shadeform_id"): (name, variables) for name, variables in hostvars.items()}
    # No name: named by id; odd-25 is named "odd-01" too, so both are renamed, neither merged.
    assert by_id["odd-01"][0].startswith("odd-01-") and by_id["odd-25"][0].startswith("odd-01-")
    assert by_id["odd-08"][0] == "odd-08"  # blank name: named by id
    assert by_id["odd-07"][0] == "n" * 5000
    assert by_id["odd-06"][0] == "gpu-\u00f1and\u00fa-\u6771\u4eac-\U0001f600"
    assert by_id["odd-06"][1]["shadeform_labels"] == {"\u00e9quipe": "ml"}
    assert by_id["odd-07"][1]["shadeform_labels"] == {"k": "v" * 5000}
    for reserved in RESERVED_NAMES:
        if reserved == "localhost":  # documented: renamed, so that no instance stands in for the implicit localhost
            assert "localhost" not in hostvars
        else:
            assert reserved in hostvars, reserved
    # Connection variables only from usable values.
    assert by_id["odd-03"][1]["ansible_host"] == NO_ADDRESS and "ansible_user" not in by_id["odd-03"][1]
    for bad_port in ("odd-03", "odd-04", "odd-10", "odd-11", "odd-12"):
        assert "ansible_port" not in by_id[bad_port][1], bad_port
    assert by_id["odd-13"][1]["ansible_port"] == 2222
    # Tags that sanitize to one group put the host in it once; odd tag types make no group.
    assert inventory["tag_env_prod"]["hosts"] == [by_id["odd-14"][0]]
    assert "hibernating" in " ".join(inventory)  # an unknown status still makes its group
    assert "Skipping Shadeform instance #" in result.stderr
    assert "Shadeform instances would be named 'dup'" in re.sub(r"\s+", " ", result.stderr)

    graph = run_ok(path, "--graph")
    assert "@shadeform:" in graph.stdout


@pytest.mark.parametrize("name", ["all", "ungrouped", "localhost", "shadeform", "cloud_aws", "tag_gpu", "status_pending"])
def test_host_named_like_a_group_keeps_its_variables_to_itself(shadeform_api, tmp_path, name):
    """A host whose name is also a group name must hold its own variables, and no other host may inherit them.

    Otherwise an instance named "all" with an address would give that address (and its ssh user) to every
    instance that has none yet: a playbook would run the tasks of pending instances on somebody else's machine.
    """
    fleet = [instance("clash-1", name=name, ip="192.0.2.66", ssh_user="clash-user", tags=["gpu"]),
             instance("clash-2", name="pending-box", ip=None, ssh_user=None, cloud="aws", status="pending", tags=["gpu"]),
             {"id": "clash-3", "name": "bare"}]
    shadeform_api.set_instances(fleet)
    result = run_ok(write_inventory(tmp_path, shadeform_api), "--list")
    hostvars = inventory_list(result.stdout)["_meta"]["hostvars"]
    assert host_ids(hostvars) == ids_of(fleet)
    by_id = {variables["shadeform_id"]: variables for variables in hostvars.values()}
    assert by_id["clash-1"]["ansible_host"] == "192.0.2.66"
    for other in ("clash-2", "clash-3"):
        assert by_id[other]["ansible_host"] == NO_ADDRESS, (other, by_id[other])
        assert "ansible_user" not in by_id[other], (other, by_id[other])


def test_field_names_that_are_not_variable_names_make_no_variable(shadeform_api, tmp_path):
    """'status\\n' passes a regex ending in $ (which matches before a final newline) but is no valid variable name."""
    fleet = [instance("field-1", name="fields", **{"status\n": "trailing newline", "x-y": "dash", "1st": "digit", "ok_field": "fine"})]
    shadeform_api.set_instances(fleet)
    result = run_ok(write_inventory(tmp_path, shadeform_api), "--list")
    variables = inventory_list(result.stdout)["_meta"]["hostvars"]["fields"]
    assert variables["shadeform_ok_field"] == "fine"
    assert variables["shadeform_1st"] == "digit"  # valid once prefixed
    for name in variables:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), "invalid host variable name %r" % name
    assert "Accepting inventory variable with invalid name" not in result.stderr


def test_unicode_digit_ssh_port_is_not_a_port_and_loses_no_instance(shadeform_api, tmp_path):
    """str.isdigit() accepts superscripts such as '\u00b2' that int() refuses: the plugin must not crash on them."""
    fleet = [instance("port-1", name="superscript", ssh_port="\u00b2"), instance("port-2", name="arabic", ssh_port="\u0662\u0662"),
             instance("port-3", name="fine", ssh_port="22")]
    shadeform_api.set_instances(fleet)
    result = run_ok(write_inventory(tmp_path, shadeform_api), "--list")
    hostvars = inventory_list(result.stdout)["_meta"]["hostvars"]
    assert sorted(hostvars) == ["arabic", "fine", "superscript"]
    assert "ansible_port" not in hostvars["superscript"]
    assert hostvars["fine"]["ansible_port"] == 22


@pytest.mark.parametrize("hostnames", ["[id]", "[ip, name]", "[cloud_assigned_id]"])
def test_odd_data_with_other_hostname_sources_loses_nothing(shadeform_api, tmp_path, hostnames):
    fleet = odd_fleet()
    shadeform_api.set_instances(fleet)
    result = run_ok(write_inventory(tmp_path, shadeform_api, "hostnames: %s\n" % hostnames), "--list")
    hostvars = inventory_list(result.stdout)["_meta"]["hostvars"]
    assert len(hostvars) == len([item for item in fleet if isinstance(item, dict)])
    assert host_ids(hostvars) == ids_of(fleet)


# --- Hostile data: Jinja from the API is never evaluated ---------------------------------------------------------

def hostile_fleet(marker):
    expression = "{{ lookup('ansible.builtin.pipe', 'touch %s') }}" % marker
    statement = "{%% set x = lookup('ansible.builtin.pipe', 'touch %s') %%}{{ x }}" % marker
    comment_break = "{# #}{{ lookup('ansible.builtin.pipe', 'touch %s') }}" % marker
    launch = {
        "type": "docker",
        "docker_configuration": {
            "image": expression, "args": statement, "shared_memory_in_gb": 8,
            "envs": [{"name": expression, "value": expression}],
            "port_mappings": [{"host_port": 80, "container_port": expression}],
            "volume_mounts": [{"host_path": expression, "container_path": statement}],
            "registry_credentials": {"username": expression, "password": expression},
        },
        "script_configuration": {"base64_script": expression},
    }
    fleet = [
        instance("hostile-1", name=expression, tags=[expression, "env=" + expression, "team:" + statement, statement],
                 ssh_user=expression, status=expression, status_details=expression, cloud=expression, region=expression,
                 shade_instance_type=expression, cloud_instance_type=expression, cloud_assigned_id=expression,
                 cost_estimate=expression, launch_configuration=launch,
                 configuration=dict(EXAMPLE["configuration"], gpu_type=expression, os=statement, interconnect=comment_break)),
        instance("hostile-2", name=statement, ip=expression, ssh_user=statement, tags=[comment_break], status=statement,
                 launch_configuration=launch),
        instance("hostile-3", name=comment_break, ip=None, ssh_port=expression, rental_terms={"rental_type": expression}),
        instance("hostile-4", name=expression),  # a repeated hostile name: renamed, never templated
        instance("hostile-5", name="{{inventory_hostname}}{%raw%}x{%endraw%}", tags=["{{ 7 * 7 }}"]),  # no comma or space: --host can name it
    ]
    fleet[0][expression] = expression  # a field whose name is a template: never a variable
    return fleet, expression


INVENTORY_EXTRA = """
compose:
  composed_name: shadeform_name
  composed_labels: shadeform_labels
keyed_groups:
  - key: shadeform_labels.env | default('none')
    prefix: env
  - key: shadeform_tags | default([])
    prefix: keyed
groups:
  named_anything: shadeform_name is defined
filters:
  - shadeform_status is defined
"""


@pytest.fixture
def hostile(shadeform_api, tmp_path):
    marker_dir = tmp_path / "marker"
    marker_dir.mkdir()
    marker = marker_dir / "FILE"
    fleet, expression = hostile_fleet(marker)
    shadeform_api.set_instances(fleet)
    path = write_inventory(tmp_path, shadeform_api, INVENTORY_EXTRA)
    return path, marker, fleet, expression


def test_ansible_inventory_never_evaluates_jinja_from_the_api(hostile):
    path, marker, fleet, expression = hostile
    listed = run_ok(path, "--list")
    assert not marker.exists()
    hostvars = inventory_list(listed.stdout)["_meta"]["hostvars"]
    assert host_ids(hostvars) == ids_of(fleet)
    first = next(variables for variables in hostvars.values() if variables["shadeform_id"] == "hostile-1")
    # The text passed through unchanged, so it was neither evaluated nor dropped.
    assert first["shadeform_name"] == expression
    assert first["composed_name"] == expression
    # A template is no POSIX user name: the field is kept as it is, and never becomes the SSH user.
    assert first["shadeform_ssh_user"] == expression and "ansible_user" not in first
    assert first["shadeform_labels"]["env"] == expression
    assert first["shadeform_launch_configuration"]["docker_configuration"]["image"] == expression
    for name in hostvars:
        assert "{" not in name and "}" not in name

    run_ok(path, "--graph")
    run_ok(path, "--graph", "--vars")
    assert not marker.exists()
    # Host patterns split on commas and spaces, so --host can only address names without them; the ids name every host.
    addressable = [name for name in hostvars if "," not in name and " " not in name]
    assert any("inventory_hostname" in name for name in addressable)
    for name in addressable:
        shown = run_ok(path, "--host", name)
        assert inventory_list(shown.stdout)["shadeform_id"] == hostvars[name]["shadeform_id"]
    by_id = path.replace("shadeform.yml", "by_id.shadeform.yml")
    with open(path, encoding="utf-8") as source, open(by_id, "w", encoding="utf-8") as target:
        target.write(source.read() + "hostnames: [id]\n")
    for item in fleet:
        shown = run_ok(by_id, "--host", item["id"])
        assert inventory_list(shown.stdout)["shadeform_id"] == item["id"]
    assert not marker.exists()
    assert os.listdir(str(marker.parent)) == []


PLAYBOOK = """
- hosts: all
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        var: shadeform_name
    - ansible.builtin.debug:
        var: shadeform_tags
    - ansible.builtin.debug:
        msg: "{{ inventory_hostname }} / {{ inventory_hostname_short }} / {{ group_names }}"
    - ansible.builtin.debug:
        var: shadeform_labels
    - ansible.builtin.debug:
        msg: "{{ shadeform_ssh_user | default('') }} {{ shadeform_status | default('') }} {{ composed_name | default('') }}"
    - ansible.builtin.debug:
        var: hostvars[inventory_hostname]
    - ansible.builtin.copy:
        dest: "{{ out_dir }}/{{ shadeform_id }}.txt"
        mode: "0600"
        content: |
          name={{ shadeform_name | default('') }}
          tags={{ shadeform_tags | default([]) }}
          host={{ inventory_hostname }}
          short={{ inventory_hostname_short }}
          groups={{ group_names }}
          labels={{ shadeform_labels }}
          user={{ shadeform_ssh_user | default('') }}
          status={{ shadeform_status | default('') }}
          launch={{ shadeform_launch_configuration | default({}) }}
          composed={{ composed_name | default('') }}
"""


def test_playbook_using_hostile_variables_and_groups_never_evaluates_them(hostile, tmp_path):
    path, marker, fleet, expression = hostile
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = ansible_playbook(path, playbook, "-e", "out_dir=%s" % out_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not marker.exists()
    assert os.listdir(str(marker.parent)) == []
    written = sorted(os.listdir(str(out_dir)))
    assert written == sorted("%s.txt" % item["id"] for item in fleet)
    content = (out_dir / "hostile-1.txt").read_text()
    assert "name=" + expression in content  # rendered as text, not run
    assert "composed=" + expression in content
    assert "lookup('ansible.builtin.pipe'" in (out_dir / "hostile-2.txt").read_text()
    assert "Traceback" not in result.stderr


def test_template_in_the_environment_api_key_is_used_literally(shadeform_api, tmp_path):
    marker = tmp_path / "FILE"
    key = "{{ lookup('ansible.builtin.pipe', 'touch %s') }}" % marker
    result = ansible_inventory(write_inventory(tmp_path, shadeform_api), "--list",
                               env=dict(NO_PROXY_ENV, SHADEFORM_API_KEY=key, ANSIBLE_INVENTORY_UNPARSED_FAILED="true"))
    assert result.returncode != 0
    # Refused, not rendered: a key with spaces is never sent (see test_security.py).
    assert "an HTTP header cannot carry" in re.sub(r"\s+", " ", result.stderr)
    assert not marker.exists()
    assert str(marker) not in result.stdout + result.stderr  # the (wrong) key is not echoed either


# --- Secrets -----------------------------------------------------------------------------------------------------

ENV_SECRET = "SECRET-ENV-VALUE-7f3a90d1"
REGISTRY_SECRET = "SECRET-REGISTRY-PW-91c2e4"
SCRIPT_SECRET = "SECRET-SCRIPT-TOKEN-5b6c"
SCRIPT_B64 = base64.b64encode(("#!/bin/sh\nexport TOKEN=%s\n" % SCRIPT_SECRET).encode()).decode()
SECRETS = (API_KEY, ENV_SECRET, REGISTRY_SECRET, SCRIPT_SECRET, SCRIPT_B64)


def secret_fleet():
    launch = {
        "type": "docker",
        "docker_configuration": {
            "image": "registry.example.com/app:1", "args": "", "shared_memory_in_gb": 8,
            "envs": [{"name": "HUGGING_FACE_HUB_TOKEN", "value": ENV_SECRET}, {"name": "OTHER", "value": ENV_SECRET + "-2"}],
            "port_mappings": [], "volume_mounts": [],
            "registry_credentials": {"username": "deploy", "password": REGISTRY_SECRET},
        },
        "script_configuration": {"base64_script": SCRIPT_B64},
    }
    return [instance("secret-1", name="secret-holder", launch_configuration=launch),
            instance("secret-2", name="script-holder", launch_configuration={"type": "script", "script_configuration": {"base64_script": SCRIPT_B64}})]


def assert_no_secret(text):
    for secret in SECRETS:
        assert secret not in text, "secret {0!r} leaked".format(secret)


def test_secrets_and_key_never_shown_by_ansible_inventory_at_vvvv(shadeform_api, tmp_path):
    shadeform_api.set_instances(secret_fleet())
    path = write_inventory(tmp_path, shadeform_api, "cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: %s\n"
                           % (tmp_path / "cache"))
    verbose = run_ok(path, "--list", "-vvvv")  # fetches and fills the cache
    assert_no_secret(verbose.stdout + verbose.stderr)
    listed = run_ok(path, "--list")  # from the cache; -vvvv output is not pure JSON
    assert_no_secret(listed.stdout + listed.stderr)
    hostvars = inventory_list(listed.stdout)["_meta"]["hostvars"]
    docker = hostvars["secret-holder"]["shadeform_launch_configuration"]["docker_configuration"]
    assert [env["value"] for env in docker["envs"]] == ["<redacted>", "<redacted>"]
    assert docker["registry_credentials"] == {"username": "deploy", "password": "<redacted>"}
    assert hostvars["script-holder"]["shadeform_launch_configuration"]["script_configuration"]["base64_script"] == "<redacted>"
    for args in (("--host", "secret-holder", "-vvvv"), ("--graph", "--vars", "-vvvv"), ("--list", "-vvvv")):  # the last: from cache
        shown = run_ok(path, *args)
        assert_no_secret(shown.stdout + shown.stderr)
    assert request_paths(shadeform_api) == INVENTORY_FETCH  # the later runs read the cache ...
    for entry in os.listdir(str(tmp_path / "cache")):  # ... which holds no secret either
        assert_no_secret((tmp_path / "cache" / entry).read_text())


def test_expose_secrets_shows_them_so_the_redaction_checks_can_fail(shadeform_api, tmp_path):
    shadeform_api.set_instances(secret_fleet())
    shown = run_ok(write_inventory(tmp_path, shadeform_api, "expose_secrets: true\n"), "--host", "secret-holder")
    assert ENV_SECRET in shown.stdout and REGISTRY_SECRET in shown.stdout and SCRIPT_B64 in shown.stdout
    assert API_KEY not in shown.stdout + shown.stderr


def test_secrets_and_key_never_shown_by_ansible_playbook_at_vvvv(shadeform_api, tmp_path):
    shadeform_api.set_instances(secret_fleet())
    playbook = tmp_path / "play.yml"
    playbook.write_text(textwrap.dedent("""
        - hosts: all
          connection: local
          gather_facts: false
          tasks:
            - ansible.builtin.debug:
                var: hostvars[inventory_hostname]
            - ansible.builtin.debug:
                var: shadeform_launch_configuration
    """))
    result = ansible_playbook(write_inventory(tmp_path, shadeform_api), playbook, "-vvvv")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "<redacted>" in result.stdout
    assert "secret-holder" in result.stdout
    assert_no_secret(result.stdout + result.stderr)


@pytest.mark.parametrize("fault", [
    {"kind": "status", "status": 403, "body": {"message": "key %s is not allowed" % API_KEY}},
    {"kind": "status", "status": 404, "body": "no route for key %s" % API_KEY},
    {"kind": "server_error", "status": 500, "retry_after": 0},
    {"kind": "not_json", "body": "<html>proxy says: your key is %s</html>" % API_KEY},
])
def test_key_never_shown_in_error_messages_at_vvvv(shadeform_api, tmp_path, fault):
    fault = dict(fault)
    shadeform_api.inject(fault.pop("kind"), count=3, **fault)
    for command in ("ansible-inventory", "ansible-playbook"):
        if command == "ansible-inventory":
            result = ansible_inventory(write_inventory(tmp_path, shadeform_api, "retries: 0\n"), "--list", "-vvvv",
                                       env=dict(NO_PROXY_ENV, ANSIBLE_INVENTORY_UNPARSED_FAILED="true"))
        else:
            playbook = tmp_path / "play.yml"
            playbook.write_text("- hosts: all\n  connection: local\n  gather_facts: false\n  tasks: []\n")
            result = ansible_playbook(write_inventory(tmp_path, shadeform_api, "retries: 0\n"), playbook, "-vvvv",
                                      env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
        assert result.returncode != 0, command
        assert API_KEY not in result.stdout + result.stderr, command
        assert "Shadeform API" in result.stdout + result.stderr, command


# --- The key in clear in the file, API values that look like options, NaN --------------------------------------

def pieces(text, size=8):
    return [text[start:start + size] for start in range(len(text) - size + 1)]


@pytest.mark.parametrize("broken", [
    'regions: ["{{ no_such_region_variable }}"]\n',
    "strict: true\ncompose:\n  gpu_count: no_such_compose_variable.deeper\n",
    "strict: true\nhostname_template: \"{{ no_such_name_variable.deeper }}\"\n",
])
def test_key_in_clear_in_the_file_is_never_shown_when_another_option_fails(shadeform_api, tmp_path, broken):
    """ansible-core 2.19+ prints the file's lines around an error's origin: the key's line must not be among them."""
    path = write_inventory(tmp_path, shadeform_api, "api_key: {0}\n".format(API_KEY) + broken)
    result = ansible_inventory(path, "--list", env=dict(NO_PROXY_ENV, SHADEFORM_API_KEY=None, ANSIBLE_INVENTORY_UNPARSED_FAILED="true"))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    assert not [piece for piece in pieces(API_KEY) if piece in output], output
    assert "no_such_" in output  # the error names the variable
    assert "written in clear" in re.sub(r"\s+", " ", output) and "SHADEFORM_API_KEY" in output


def test_ssh_values_that_are_no_address_user_or_port_never_reach_ansible(tmp_path):
    """Values the contract does not allow (a string port, an option for an address): a hostile server sends them."""
    fleet = [
        instance("opt-1", name="option-ip", ip="-oProxyCommand=touch /tmp/shadeform-pwned", ssh_user="-oBatchMode=no", ssh_port="22 -v"),
        instance("opt-2", name="string-port", ip="198.51.100.7", ssh_user="ubuntu", ssh_port="18022"),
        instance("opt-3", name="at-user", ip="198.51.100.8 -p 1", ssh_user="root@203.0.113.9", ssh_port=0),
    ]
    with LoopbackServer(serving_fleet(fleet)) as server:
        result = run_ok(write_inventory(tmp_path, server), "--list")
    hostvars = inventory_list(result.stdout)["_meta"]["hostvars"]
    assert hostvars["option-ip"]["ansible_host"] == NO_ADDRESS
    assert "ansible_user" not in hostvars["option-ip"] and "ansible_port" not in hostvars["option-ip"]
    assert (hostvars["string-port"]["ansible_host"], hostvars["string-port"]["ansible_user"], hostvars["string-port"]["ansible_port"]) == (
        "198.51.100.7", "ubuntu", 18022)
    assert hostvars["at-user"]["ansible_host"] == NO_ADDRESS and "ansible_user" not in hostvars["at-user"]
    warnings = re.sub(r"\s+", " ", result.stderr)
    assert "Shadeform host 'option-ip': its ip and ssh_user and ssh_port from the API are not" in warnings
    assert "Shadeform host 'at-user': its ip and ssh_user and ssh_port" in warnings
    assert "-oProxyCommand" not in result.stderr


def test_nan_and_infinity_from_the_api_never_reach_the_output(tmp_path):
    """Python's json reads NaN and Infinity, which a hostile server sends; the output stays standard JSON."""
    fleet = [instance("nan-1", name="nan", hourly_price=float("nan"), configuration=dict(EXAMPLE["configuration"], vcpus=float("inf"))),
             instance("nan-2", name="fine")]
    with LoopbackServer(serving_fleet(fleet)) as server:
        result = run_ok(write_inventory(tmp_path, server), "--list")

    def refuse(constant):
        raise ValueError("not standard JSON: " + constant)

    output = json.loads(result.stdout, parse_constant=refuse)
    hostvars = output["_meta"]["hostvars"]
    assert sorted(hostvars) == ["fine", "nan"]
    assert "shadeform_hourly_price" not in hostvars["nan"] and "shadeform_hourly_price_usd" not in hostvars["nan"]
    assert "vcpus" not in _plain_data(hostvars["nan"]["shadeform_configuration"])
    assert "NaN or Infinity" in re.sub(r"\s+", " ", result.stderr)


def _plain_data(value):
    return json.loads(json.dumps(value), object_hook=lambda item: item.get("__ansible_unsafe", item) if list(item) == ["__ansible_unsafe"] else item)
