# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Full parse() runs of the inventory plugin over JSON fixtures.

The only seams are ShadeformClient.list_instances and .list_clusters (helpers.inventory_api; the HTTP calls are
tested against the simulator in tests/unit/plugins/module_utils/test_api.py and by the functional tests); everything
from the configuration file to the inventory is the real code path ansible-inventory takes.
"""

import os
import re
import stat
import textwrap

import pytest

import ansible.template

from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret
try:
    from ansible.parsing.vault import VaultSecretsContext  # ansible-core 2.19+
except ImportError:
    VaultSecretsContext = None
from ansible.plugins.loader import inventory_loader
from ansible.errors import AnsibleOptionsError, AnsibleParserError
from ansible.template import Templar
from ansible.vars import reserved

from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import ShadeformAPIError
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import REDACTED
from ansible_collections.shadeform.cloud.plugins.plugin_utils import hosts

from helpers import FORGED_ADDRESS, forge_cache_entry, inventory_api, load_fixture

# Before 2.19 (no data tagging), ansible-core templates every string that is not marked unsafe.
TEMPLATES_STRINGS = not hasattr(ansible.template, "trust_as_template")

EXAMPLE = load_fixture("instances-example.json")["instances"]
MIXED = load_fixture("fleet-mixed.json")["instances"]


class Run:
    def __init__(self, inventory, plugin, api, warnings):
        self.inventory = inventory
        self.plugin = plugin
        self.fetch = api.list_instances
        self.fetch_clusters = api.list_clusters
        self.warnings = warnings

    def hosts(self, group="all"):
        return sorted(host.name for host in self.inventory.groups[group].get_hosts())

    def vars(self, host):
        return self.inventory.get_host(host).get_vars()

    @property
    def api_key_used(self):
        return self.fetch.call_args[0][0].api_key

    def warned(self, text):
        return [call for call in self.warnings.call_args_list if text in str(call)]


@pytest.fixture
def inventory_run(tmp_path, mocker, monkeypatch):
    """Runs parse() as ansible-inventory does; the API answers with the given instances and clusters (none unless
    given; an exception is raised by GET /clusters)."""
    monkeypatch.setenv("SHADEFORM_API_KEY", "unit-test-key")
    with inventory_api() as api:

        def run(config, instances=EXAMPLE, cache=True, loader=None, file_name="shadeform.yml", clusters=()):
            path = tmp_path / file_name
            path.write_text("plugin: shadeform.cloud.shadeform\n" + textwrap.dedent(config))
            api.list_instances.reset_mock()
            api.list_clusters.reset_mock()
            api.instances, api.clusters = instances, clusters
            plugin = inventory_loader.get("shadeform.cloud.shadeform")
            warnings = mocker.patch.object(plugin.display, "warning")
            inventory = InventoryData()
            plugin.parse(inventory, loader or DataLoader(), str(path), cache=cache)
            plugin.update_cache_if_changed()
            inventory.reconcile_inventory()
            return Run(inventory, plugin, api, warnings)

        yield run


def test_verify_file_accepts_only_shadeform_file_names(tmp_path):
    plugin = inventory_loader.get("shadeform.cloud.shadeform")
    for name, accepted in (("shadeform.yml", True), ("prod.shadeform.yaml", True), ("inventory.yml", False), ("shadeform.json", False)):
        path = tmp_path / name
        path.write_text("plugin: shadeform.cloud.shadeform\n")
        assert plugin.verify_file(str(path)) is accepted


def test_reference_example_becomes_one_reachable_host_in_every_default_group(inventory_run):
    run = inventory_run("")
    assert run.hosts() == ["cool-gpu-server"]
    for group in ("shadeform", "cloud_hyperstack", "region_canada_1", "gpu_A100", "status_active", "instance_type_A6000", "tag_tag1"):
        assert run.hosts(group) == ["cool-gpu-server"], group
    # The full host variables of the API reference's example, written out: every field under shadeform_, the
    # shortcuts, the connection variables, launch secrets redacted, and nothing else.
    assert run.vars("cool-gpu-server") == {
        "inventory_file": None, "inventory_dir": None,
        "inventory_hostname": "cool-gpu-server", "inventory_hostname_short": "cool-gpu-server",
        "group_names": ["cloud_hyperstack", "gpu_A100", "instance_type_A6000", "region_canada_1", "shadeform",
                        "status_active", "tag_tag1"],
        "ansible_host": "1.0.0.1", "ansible_user": "shadeform", "ansible_port": 22,
        "shadeform_id": "d290f1ee-6c54-4b01-90e6-d701748f0851",
        "shadeform_cloud": "hyperstack",
        "shadeform_region": "canada-1",
        "shadeform_shade_instance_type": "A6000",
        "shadeform_cloud_instance_type": "gpu_1x_a6000",
        "shadeform_cloud_assigned_id": "13b057d7-e266-4869-985f-760fe75a78b3",
        "shadeform_shade_cloud": True,
        "shadeform_name": "cool-gpu-server",
        "shadeform_configuration": {
            "memory_in_gb": 12, "storage_in_gb": 256, "vcpus": 6, "num_gpus": 1, "gpu_type": "A100",
            "interconnect": "pcie", "nvlink": True, "vram_per_gpu_in_gb": 48, "gpu_manufacturer": "nvidia",
            "os": "ubuntu_22_shade_os",
        },
        "shadeform_ip": "1.0.0.1",
        "shadeform_ssh_user": "shadeform",
        "shadeform_ssh_port": 22,
        "shadeform_status": "active",
        "shadeform_status_details": "downloading",
        "shadeform_cost_estimate": "103.4",
        "shadeform_hourly_price": 210,
        "shadeform_hourly_price_usd": 2.1,
        "shadeform_launch_configuration": {
            "type": "docker",
            "docker_configuration": {
                "image": "vllm/vllm-openai:latest",
                "args": "--model mistralai/Mistral-7B-v0.1",
                "shared_memory_in_gb": 8,
                "envs": [{"name": "HUGGING_FACE_HUB_TOKEN", "value": REDACTED}],
                "port_mappings": [{"host_port": 80, "container_port": 8000}],
                "volume_mounts": [{"host_path": "~/.cache/huggingface", "container_path": "/root/.cache/huggingface"}],
                "registry_credentials": {"username": "username", "password": REDACTED},
            },
            "script_configuration": {"base64_script": REDACTED},
        },
        "shadeform_tags": ["tag1"],
        "shadeform_port_mappings": [{"internal_port": 8000, "external_port": 80}],
        "shadeform_active_at": "2016-08-29T09:12:33.001Z",
        "shadeform_created_at": "2016-08-29T09:12:33.001Z",
        "shadeform_deleted_at": "2016-08-29T09:12:33.001Z",
        "shadeform_boot_time": {"min_boot_in_sec": 180, "max_boot_in_sec": 300},
        "shadeform_gpu_type": "A100",
        "shadeform_num_gpus": 1,
        "shadeform_gpu_manufacturer": "nvidia",
        "shadeform_vram_per_gpu_in_gb": 48,
        "shadeform_labels": {},
    }
    assert run.api_key_used == "unit-test-key"


def test_secrets_are_redacted_by_default(inventory_run):
    variables = inventory_run("", MIXED).vars("notebook")
    docker = variables["shadeform_launch_configuration"]["docker_configuration"]
    assert docker["envs"] == [{"name": "HF_TOKEN", "value": REDACTED}]
    assert docker["registry_credentials"]["password"] == REDACTED
    assert variables["shadeform_launch_configuration"]["script_configuration"]["base64_script"] == REDACTED


def test_expose_secrets_shows_them(inventory_run):
    variables = inventory_run("expose_secrets: true\n", MIXED).vars("notebook")
    docker = variables["shadeform_launch_configuration"]["docker_configuration"]
    assert docker["envs"][0]["value"] == "hf_secret_3c4d"
    assert docker["registry_credentials"]["password"] == "registry-pass-3c4d"


def test_every_instance_once_duplicates_renamed_with_a_warning(inventory_run):
    run = inventory_run("", MIXED)
    assert run.hosts() == ["batch-1", "batch-2", "notebook", "old", "trainer-1a2b3c4d", "trainer-2b3c4d5e"]
    assert run.vars("trainer-2b3c4d5e")["shadeform_cloud"] == "lambdalabs"
    assert run.warned("2 Shadeform instances would be named 'trainer'")


def test_pending_instances_get_no_address(inventory_run):
    run = inventory_run("", MIXED)
    for host in ("batch-1", "batch-2"):
        assert run.vars(host)["ansible_host"] == hosts.NO_ADDRESS
        assert run.vars(host)["ansible_user"] == "shadeform"
    assert run.hosts("status_pending") == ["batch-1"]
    assert run.hosts("status_creating") == ["batch-2"]


def test_groups_by_cloud_region_gpu_tag_and_labels(inventory_run):
    run = inventory_run("", MIXED)
    assert run.hosts("gpu_H100") == ["trainer-1a2b3c4d", "trainer-2b3c4d5e"]
    assert run.hosts("region_canada_1") == ["batch-1", "trainer-1a2b3c4d"]
    assert run.hosts("region_FIN_01") == ["notebook"]
    assert run.hosts("tag_env_prod") == ["old", "trainer-1a2b3c4d", "trainer-2b3c4d5e"]
    assert run.hosts("tag_team_ml") == ["trainer-1a2b3c4d"]
    assert run.hosts("instance_type_H100_80Gx8") == ["trainer-1a2b3c4d", "trainer-2b3c4d5e"]
    assert run.vars("trainer-1a2b3c4d")["shadeform_labels"] == {"env": "prod", "team": "ml"}
    assert run.vars("notebook")["ansible_host"] == "notebook.example.net"
    assert run.vars("trainer-2b3c4d5e")["ansible_port"] == 2222


def test_default_groups_can_be_turned_off_for_keyed_groups(inventory_run):
    run = inventory_run("""
        default_groups: false
        keyed_groups:
          - key: shadeform_labels.env | default('none')
            prefix: env
          - key: shadeform_gpu_type
            prefix: accel
    """, MIXED)
    assert set(run.inventory.groups) == {"all", "ungrouped", "shadeform", "env_prod", "env_dev", "env_none", "accel_H100", "accel_A100", "accel_A6000"}
    assert run.hosts("env_dev") == ["batch-1", "notebook"]
    assert run.hosts("shadeform") == run.hosts()


@pytest.mark.parametrize("config, expected", [
    ("statuses: [active]\n", ["notebook", "trainer-1a2b3c4d", "trainer-2b3c4d5e"]),
    ("clouds: [lambdalabs]\n", ["old", "trainer-2b3c4d5e"]),
    ("regions: [canada-1]\n", ["batch-1", "trainer-1a2b3c4d"]),
    ("gpu_types: [A100, A6000]\n", ["batch-1", "batch-2", "notebook", "old"]),
    ("tags: [env=prod, training]\n", ["trainer-1a2b3c4d", "trainer-2b3c4d5e"]),
    ("filters:\n  - shadeform_num_gpus >= 8\n  - shadeform_cloud == 'hyperstack'\n", ["trainer-1a2b3c4d"]),
    ("statuses: [active]\nfilters: [\"shadeform_labels.env | default('') == 'prod'\"]\n", ["trainer-1a2b3c4d", "trainer-2b3c4d5e"]),
])
def test_filters_apply_before_anything_is_added(inventory_run, config, expected):
    run = inventory_run(config, MIXED)
    assert run.hosts() == expected
    assert run.hosts("shadeform") == expected
    # No group keeps a filtered-out host, and no group is made for one.
    assert all(set(run.hosts(group)) <= set(expected) for group in run.inventory.groups)
    assert ("status_deleting" in run.inventory.groups) is ("old" in expected)


def test_host_names_stay_the_same_whatever_the_filters(inventory_run):
    assert inventory_run("clouds: [hyperstack]\n", MIXED).hosts() == ["batch-1", "trainer-1a2b3c4d"]


def test_a_filter_that_cannot_be_evaluated_leaves_the_host_out_or_fails_when_strict(inventory_run):
    run = inventory_run("filters: [\"shadeform_status.no_such_attribute.deeper == 1\"]\n", MIXED)
    assert run.hosts() == []
    assert run.warned("Could not evaluate the filter")
    with pytest.raises(AnsibleParserError, match="Could not evaluate the filter"):
        inventory_run("strict: true\nfilters: [\"shadeform_status.no_such_attribute.deeper == 1\"]\n", MIXED)


@pytest.mark.parametrize("hostnames, expected", [
    ("[id]", sorted(instance["id"] for instance in MIXED)),
    ("[ip, id]", sorted(["198.51.100.10", "198.51.100.11", "notebook.example.net", "4d5e6f70-0000-4000-8000-000000000004",
                         "5e6f7081-0000-4000-8000-000000000005", "198.51.100.12"])),
    ("[cloud_assigned_id]", ["13b057d7-e266-4869-985f-760fe75a78b3-" + instance["id"][:8] for instance in sorted(MIXED, key=lambda i: i["id"])]),
])
def test_hostnames_option(inventory_run, hostnames, expected):
    assert inventory_run("hostnames: %s\n" % hostnames, MIXED).hosts() == sorted(expected)


def test_hostnames_rejects_unknown_sources(inventory_run):
    # The message names the option and the bad value ("cloud" alone would match the plugin's own name).
    with pytest.raises(AnsibleOptionsError, match=r"Invalid value .*\bcloud\b.* for .*\bhostnames\b"):
        inventory_run("hostnames: [cloud]\n")


def test_hostvars_prefix_and_suffix(inventory_run):
    variables = inventory_run("hostvars_prefix: sf_\nhostvars_suffix: _x\n").vars("cool-gpu-server")
    assert variables["sf_id_x"] == EXAMPLE[0]["id"]
    assert variables["sf_labels_x"] == {}
    assert not [name for name in variables if name.startswith("shadeform_")]


@pytest.mark.parametrize("config", ["hostvars_prefix: 'bad-prefix'\n", "hostvars_suffix: '{{x}}'\n", "hostvars_prefix: '1x'\n"])
def test_invalid_affixes_are_one_clear_error(inventory_run, config):
    with pytest.raises(AnsibleParserError, match="hostvars_"):
        inventory_run(config)


def test_constructed_compose_groups_and_keyed_groups(inventory_run):
    run = inventory_run("""
        compose:
          gpu_count: shadeform_num_gpus * 2
          ansible_ssh_private_key_file: "'~/.ssh/shadeform'"
        groups:
          big: shadeform_num_gpus >= 8
        keyed_groups:
          - key: shadeform_cloud
            prefix: provider
            parent_group: providers
    """, MIXED)
    # A string before ansible-core 2.19 (no native types in inventory templating), an int from 2.19 on.
    assert int(run.vars("trainer-1a2b3c4d")["gpu_count"]) == 16
    assert run.vars("notebook")["ansible_ssh_private_key_file"] == "~/.ssh/shadeform"
    assert run.hosts("big") == ["trainer-1a2b3c4d", "trainer-2b3c4d5e"]
    assert run.hosts("provider_lambdalabs") == ["old", "trainer-2b3c4d5e"]
    assert "provider_hyperstack" in [group.name for group in run.inventory.groups["providers"].child_groups]


def test_missing_api_key_is_one_clear_error(inventory_run, monkeypatch):
    monkeypatch.delenv("SHADEFORM_API_KEY")
    with pytest.raises(AnsibleParserError, match="No Shadeform API key: export SHADEFORM_API_KEY"):
        inventory_run("")


def test_api_key_in_the_file_may_be_a_template_but_the_environment_is_literal(inventory_run, monkeypatch):
    assert inventory_run("api_key: \"{{ 'templ' ~ 'ated' }}\"\n").api_key_used == "templated"
    monkeypatch.setenv("SHADEFORM_API_KEY", "{{ 'not' ~ 'templated' }}")
    assert inventory_run("").api_key_used == "{{ 'not' ~ 'templated' }}"


def test_api_key_from_ansible_vault(inventory_run):
    secret = VaultSecret(b"vault-password")
    ciphertext = VaultLib([("default", secret)]).encrypt("vaulted-key").decode()
    loader = DataLoader()
    loader.set_vault_secrets([("default", secret)])
    if VaultSecretsContext is not None:
        VaultSecretsContext.initialize(VaultSecretsContext(secrets=[("default", secret)]))
    config = "api_key: !vault |\n" + textwrap.indent(ciphertext, "  ") + "\n"
    run = inventory_run(config, loader=loader)
    assert run.api_key_used == "vaulted-key"
    assert not run.warned("written in clear")


def cache_config(tmp_path):
    return "cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: %s\ncache_timeout: 600\n" % (tmp_path / "cache")


def cache_files(tmp_path):
    directory = tmp_path / "cache"
    return sorted(directory.iterdir()) if directory.exists() else []


def test_cache_hit_makes_no_request_and_flush_fetches_again(inventory_run, tmp_path):
    first = inventory_run(cache_config(tmp_path), MIXED)
    assert first.fetch.call_count == 1 and first.fetch_clusters.call_count == 1
    second = inventory_run(cache_config(tmp_path), [])
    assert second.fetch.call_count == 0 and second.fetch_clusters.call_count == 0
    assert second.hosts() == first.hosts()
    flushed = inventory_run(cache_config(tmp_path), [], cache=False)
    assert flushed.fetch.call_count == 1 and flushed.fetch_clusters.call_count == 1
    assert flushed.hosts() == []


def test_cache_is_private_and_holds_no_secret_and_no_key(inventory_run, tmp_path):
    inventory_run(cache_config(tmp_path), MIXED)
    [entry] = cache_files(tmp_path)
    assert stat.S_IMODE(os.stat(entry).st_mode) == 0o600
    content = entry.read_text()
    assert "trainer" in content
    for secret in ("hf_secret_", "registry-pass-", "unit-test-key", EXAMPLE[0]["launch_configuration"]["script_configuration"]["base64_script"][:20]):
        assert secret not in content


def test_different_keys_or_urls_never_share_a_cache_entry(inventory_run, tmp_path, monkeypatch):
    inventory_run(cache_config(tmp_path), MIXED)
    monkeypatch.setenv("SHADEFORM_API_KEY", "another-key")
    other_key = inventory_run(cache_config(tmp_path), EXAMPLE)
    assert other_key.fetch.call_count == 1 and other_key.hosts() == ["cool-gpu-server"]
    other_url = inventory_run(cache_config(tmp_path) + "api_url: http://127.0.0.1:1/v1\n", [])
    assert other_url.fetch.call_count == 1 and other_url.hosts() == []
    assert len(cache_files(tmp_path)) == 3


def test_corrupted_cache_entry_leads_to_a_fresh_fetch(inventory_run, tmp_path):
    inventory_run(cache_config(tmp_path), MIXED)
    [entry] = cache_files(tmp_path)
    entry.write_text("{not json")
    run = inventory_run(cache_config(tmp_path), EXAMPLE)
    assert run.fetch.call_count == 1
    assert run.hosts() == ["cool-gpu-server"]


def test_cache_entry_of_an_unknown_format_leads_to_a_fresh_fetch(inventory_run, tmp_path):
    first = inventory_run(cache_config(tmp_path), MIXED)
    # Written through the real cache plugin, as an older or newer release of this plugin might have.
    first.plugin.cache[first.plugin._cache_key] = {"format": 0, "instances": "nope"}  # pylint: disable=protected-access
    first.plugin.cache.set_cache()
    run = inventory_run(cache_config(tmp_path), EXAMPLE)
    assert run.fetch.call_count == 1
    assert run.hosts() == ["cool-gpu-server"]
    assert run.warned("unknown format")


def test_expose_secrets_never_uses_the_cache(inventory_run, tmp_path):
    run = inventory_run(cache_config(tmp_path) + "expose_secrets: true\n", MIXED)
    assert run.warned("does not use the cache")
    assert cache_files(tmp_path) == []


def test_odd_instances_never_sink_the_inventory(inventory_run):
    instances = [
        "not an object", None, {"id": "i-1"}, {"id": "i-2", "name": None, "tags": "x", "configuration": []},
        {"id": "i-3", "name": "", "ssh_port": "abc", "ip": 12}, {"name": "no-id"}, {"id": 5, "name": 6},
        {"id": "i-7", "status": "hibernating", "weird-field": 1},
    ]
    run = inventory_run("", instances)
    assert run.hosts() == ["6", "i-1", "i-2", "i-3", "i-7", "no-id"]
    assert run.hosts("status_hibernating") == ["i-7"]
    assert run.warned("Skipping Shadeform instance #1")
    assert run.warned("Skipping Shadeform instance #2")
    assert run.warned("'weird-field'")


# --- Nobody else can feed the cache --------------------------------------------------------------------------------

def forged_cache(inventory_run, tmp_path):
    """A cache entry written by a first run, then forged: the example's host at FORGED_ADDRESS as root."""
    inventory_run(cache_config(tmp_path), EXAMPLE)
    [entry] = cache_files(tmp_path)
    forge_cache_entry(entry)
    return entry


def test_a_forged_entry_of_ones_own_is_read_so_the_ownership_checks_can_fail(inventory_run, tmp_path):
    forged_cache(inventory_run, tmp_path)
    run = inventory_run(cache_config(tmp_path), EXAMPLE)
    assert run.fetch.call_count == 0
    assert (run.vars("cool-gpu-server")["ansible_host"], run.vars("cool-gpu-server")["ansible_user"]) == (FORGED_ADDRESS, "root")


def _other_users_directory(directory, entry, user, mode):
    for path in (directory, entry):
        os.chown(path, *user)
    os.chmod(directory, mode)


def _other_users_entry(directory, entry, user, mode):  # pylint: disable=unused-argument
    os.chown(entry, *user)


def _linked_entry(directory, entry, user, mode):  # pylint: disable=unused-argument
    target = directory.parent / "elsewhere.json"
    entry.rename(target)
    entry.symlink_to(target)


def _entry_open_to_writes(directory, entry, user, mode):  # pylint: disable=unused-argument
    os.chmod(entry, 0o666)


@pytest.mark.parametrize("make_unsafe, mode, path_named, problem", [
    (_other_users_directory, 0o777, "directory", "belongs to another user"),
    (_other_users_directory, 0o700, "directory", "belongs to another user"),
    (_other_users_entry, 0o700, "entry", "belongs to another user"),
    (_linked_entry, 0o700, "entry", "is a symbolic link"),
    (_entry_open_to_writes, 0o700, "entry", "is writable by other users"),
])
def test_a_cache_someone_else_can_write_is_neither_read_nor_written(inventory_run, tmp_path, other_user, make_unsafe, mode, path_named,
                                                                    problem):
    entry = forged_cache(inventory_run, tmp_path)
    directory = tmp_path / "cache"
    make_unsafe(directory, entry, other_user, mode)
    forged = entry.read_text()
    run = inventory_run(cache_config(tmp_path), EXAMPLE)
    assert run.fetch.call_count == 1
    variables = run.vars("cool-gpu-server")
    assert (variables["ansible_host"], variables["ansible_user"]) == ("1.0.0.1", "shadeform")
    [warning] = run.warned("cache is not used")
    assert str(directory if path_named == "directory" else entry) in str(warning) and problem in str(warning)
    # Nothing written: the entry is as the other user left it, and the directory keeps its owner and mode.
    assert entry.read_text() == forged
    assert stat.S_IMODE(os.lstat(directory).st_mode) == mode


def test_a_linked_cache_directory_is_neither_read_nor_written(inventory_run, tmp_path):
    forged_cache(inventory_run, tmp_path)
    (tmp_path / "cache").rename(tmp_path / "real-cache")
    (tmp_path / "cache").symlink_to(tmp_path / "real-cache")
    run = inventory_run(cache_config(tmp_path), EXAMPLE)
    assert run.fetch.call_count == 1
    assert run.vars("cool-gpu-server")["ansible_host"] == "1.0.0.1"
    assert run.warned("cache is not used") and run.warned("is a symbolic link")


# --- The key in the file, and errors about the file's options ------------------------------------------------------

def test_a_key_written_in_clear_in_the_file_gets_one_warning(inventory_run):
    run = inventory_run("api_key: sfk_written_in_clear_0123\n")
    assert run.api_key_used == "sfk_written_in_clear_0123"
    [warning] = run.warned("written in clear")
    assert "SHADEFORM_API_KEY" in str(warning) and "vault" in str(warning) and "lookup" in str(warning)
    assert "sfk_writ" not in str(warning)


@pytest.mark.parametrize("config", ["", "api_key: \"{{ lookup('ansible.builtin.env', 'SHADEFORM_API_KEY') }}\"\n"])
def test_a_key_from_the_environment_or_a_lookup_gets_no_warning(inventory_run, config):
    assert not inventory_run(config).warned("written in clear")


def test_an_api_key_that_renders_empty_says_the_files_value_was_empty(inventory_run):
    # SHADEFORM_API_KEY is set (the fixture sets it): the file's value takes precedence, and the message says so.
    with pytest.raises(AnsibleParserError) as raised:
        inventory_run("api_key: \"{{ '' }}\"\n")
    message = str(raised.value)
    assert "api_key option of the Shadeform inventory file gives an empty key" in message and "takes precedence" in message
    assert "export SHADEFORM_API_KEY" not in message


def test_an_undefined_variable_in_api_key_names_the_option(inventory_run):
    with pytest.raises(AnsibleParserError, match=r"Could not render the api_key option .*'no_such_key_variable' is undefined"):
        inventory_run("api_key: \"{{ no_such_key_variable }}\"\n")


def test_a_broken_api_key_template_is_never_echoed(inventory_run):
    try:
        run = inventory_run("api_key: \"sfk_ABCDEFGHIJKL{{ \"\n")
    except AnsibleParserError as exc:
        text = str(exc)
        assert "api_key" in text
    else:
        assert TEMPLATES_STRINGS  # before 2.19, ansible-core takes a broken template for plain text: it is the key
        text = " ".join(str(call) for call in run.warnings.call_args_list)
    assert "ABCDEFGH" not in text and "sfk_ABCD" not in text


def test_an_option_that_fails_to_render_is_one_error_without_the_files_lines(inventory_run):
    with pytest.raises(AnsibleParserError) as raised:
        inventory_run("api_key: sfk_clear_key_in_file_42\nregions: [\"{{ no_such_region }}\"]\n")
    error = raised.value
    assert "Could not render the regions option" in str(error) and "'no_such_region' is undefined" in str(error)
    # ansible-core 2.19+ prints the source lines of an error's obj (and of its causes): there is none.
    assert getattr(error, "obj", None) is None and error.__cause__ is None and error.__context__ is None


# --- Filter values -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("statuses, hint", [
    ("[Active]", "'Active': did you mean 'active'?"),
    ("[active, runing]", "'runing': did you mean 'active'?"),
    ("[deleted]", "'deleted': the API never lists deleted instances"),
])
def test_a_status_the_api_never_gives_is_one_error_naming_the_closest(inventory_run, statuses, hint):
    with pytest.raises(AnsibleParserError) as raised:
        inventory_run("statuses: %s\n" % statuses, MIXED)
    assert hint in str(raised.value) and "creating, pending_provider, pending, active, error, deleting" in str(raised.value)
    assert raised.value.__cause__ is None


@pytest.mark.parametrize("config, expected", [
    ("clouds: [LambdaLabs]\n", ["old", "trainer-2b3c4d5e"]),
    ("gpu_types: [h100]\n", ["trainer-1a2b3c4d", "trainer-2b3c4d5e"]),
    ("regions: [CANADA-1]\n", ["batch-1", "trainer-1a2b3c4d"]),
])
def test_clouds_regions_and_gpu_types_compare_whatever_the_case(inventory_run, config, expected):
    run = inventory_run(config, MIXED)
    assert run.hosts() == expected and not run.warned("matches no")


def test_a_filter_value_that_matches_no_instance_is_one_warning_listing_the_values_present(inventory_run):
    run = inventory_run("clouds: [aws, hyperstack, gcp]\ngpu_types: [B200]\ntags: [env=prod, env=nowhere]\n", MIXED)
    [clouds] = run.warned("clouds:")
    assert ("'aws', 'gcp' match no Shadeform instance; the instances have 'datacrunch', 'hyperstack', 'lambdalabs', "
            "'massedcompute'.") in str(clouds)
    [gpus] = run.warned("gpu_types:")
    assert "'B200' matches no Shadeform instance; the instances have 'A100', 'A6000', 'H100'" in str(gpus)
    [tags] = run.warned("tags:")
    assert "'env=nowhere' matches no" in str(tags)


def test_warnings_about_api_values_never_carry_control_characters(inventory_run):
    hostile = [dict(MIXED[0], cloud="evil\x1b]0;owned\x07\x9b2J")]
    run = inventory_run("clouds: [aws]\nhostname_template: \"{{ shadeform_no_such.deeper }}\"\n", hostile)
    texts = [str(call) for call in run.warnings.call_args_list]
    assert [text for text in texts if "matches no" in text] and [text for text in texts if "hostname_template" in text]
    for text in texts:
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text), text


def test_a_field_named_like_a_playbook_keyword_draws_no_reserved_name_warning_from_ansible_core(inventory_run, mocker):
    """With hostvars_prefix: "", the fields name, loop, tags and port are left out, and ansible-core's own check is quiet."""
    fields = {"name": "gpu", "loop": [1], "tags": ["a"], "port": 22, "environment": {}, "become": True, "when": "x", "vars": {}}
    run = inventory_run("hostvars_prefix: ''\nhostnames: [id]\n", [dict(EXAMPLE[0], **fields)])
    variables = run.vars(EXAMPLE[0]["id"])
    assert not set(fields) & set(variables)
    assert variables["cloud"] == "hyperstack"
    warning = mocker.patch.object(reserved.display, "warning")
    # As ansible-core checks a play's variables: with the template globals before 2.19 (TaskQueueManager), alone after.
    reserved.warn_if_reserved(variables, Templar(loader=DataLoader()).environment.globals.keys() if TEMPLATES_STRINGS else None)
    assert warning.call_count == 0, warning.call_args_list
    # The check itself warns on such a variable: the assertion above can fail.
    reserved.warn_if_reserved(dict(variables, name="x"))
    assert warning.call_count == 1


def test_nan_from_the_api_is_left_out_before_the_cache_is_written(inventory_run, tmp_path):
    odd = [dict(EXAMPLE[0], hourly_price=float("nan"))]
    first = inventory_run(cache_config(tmp_path), odd)
    assert "shadeform_hourly_price" not in first.vars("cool-gpu-server") and first.warned("NaN or Infinity")
    [entry] = cache_files(tmp_path)
    assert "NaN" not in entry.read_text()
    cached = inventory_run(cache_config(tmp_path), [])
    assert cached.fetch.call_count == 0 and "shadeform_hourly_price" not in cached.vars("cool-gpu-server")


CLUSTERS = load_fixture("clusters-example.json")["clusters"]
MEMBERS = CLUSTERS[0]["instances"]


@pytest.mark.parametrize("instances", [EXAMPLE, EXAMPLE + MEMBERS], ids=["members-only-in-clusters", "members-also-in-instances"])
def test_cluster_members_are_one_host_each_in_the_clusters_group_by_default(inventory_run, instances):
    run = inventory_run("", instances, clusters=CLUSTERS)
    assert run.fetch_clusters.call_count == 1
    assert run.hosts() == ["cool-gpu-server", "trainers-0", "trainers-1"]  # a member GET /instances leaves out is no less a host
    assert run.hosts("cluster_trainers_run_1") == ["trainers-0", "trainers-1"]
    for member in MEMBERS:
        variables = run.vars(member["name"])
        assert variables["shadeform_cluster_id"] == CLUSTERS[0]["id"] and variables["shadeform_cluster_name"] == "trainers run/1"
        assert variables["ansible_host"] == member["ip"] and variables["shadeform_id"] == member["id"]
        assert variables["shadeform_launch_configuration"]["script_configuration"]["base64_script"] == REDACTED
    assert "shadeform_cluster_id" not in run.vars("cool-gpu-server")
    assert not run.warnings.call_args_list


def test_clusters_false_skips_the_request_and_the_cluster_groups(inventory_run):
    run = inventory_run("clusters: false\n", EXAMPLE + MEMBERS, clusters=CLUSTERS)
    assert run.fetch_clusters.call_count == 0 and run.hosts() == ["cool-gpu-server", "trainers-0", "trainers-1"]
    assert not [group for group in run.inventory.groups if group.startswith("cluster_")]
    assert "shadeform_cluster_id" not in run.vars("trainers-0")


@pytest.mark.parametrize("status", [403, 404])
def test_an_account_whose_clusters_are_refused_gets_its_inventory_with_a_note_at_vvv(inventory_run, mocker, status):
    from ansible.utils.display import Display  # pylint: disable=import-outside-toplevel

    noted = mocker.patch.object(Display, "vvv")
    run = inventory_run("", clusters=ShadeformAPIError("refused", status=status))
    assert run.fetch_clusters.call_count == 1
    assert run.hosts() == ["cool-gpu-server"] and not run.warnings.call_args_list
    assert [call for call in noted.call_args_list if "GET /clusters answered HTTP {0}".format(status) in str(call)]


def test_any_other_failure_of_the_clusters_request_fails_the_inventory(inventory_run):
    with pytest.raises(AnsibleParserError, match="HTTP 500 to list clusters"):
        inventory_run("", clusters=ShadeformAPIError("The Shadeform API answered HTTP 500 to list clusters.", status=500))


def test_the_cache_holds_both_answers(inventory_run, tmp_path):
    without = inventory_run(cache_config(tmp_path) + "clusters: false\n", clusters=CLUSTERS)
    assert without.fetch.call_count == 1 and without.fetch_clusters.call_count == 0
    # An entry written while the option was off has no clusters: both answers are fetched again.
    first = inventory_run(cache_config(tmp_path), clusters=CLUSTERS)
    assert first.fetch.call_count == 1 and first.fetch_clusters.call_count == 1
    second = inventory_run(cache_config(tmp_path), [], clusters=[])
    assert second.fetch.call_count == 0 and second.fetch_clusters.call_count == 0
    assert second.hosts("cluster_trainers_run_1") == ["trainers-0", "trainers-1"] and second.hosts() == first.hosts()
    [entry] = cache_files(tmp_path)
    assert CLUSTERS[0]["id"] in entry.read_text() and "ZWNobyBTRUNSRVQ=" not in entry.read_text()
    # The entry serves a run with the option off too, without its clusters (nor the members only they list).
    off = inventory_run(cache_config(tmp_path) + "clusters: false\n", [], clusters=[])
    assert off.fetch.call_count == 0 and off.fetch_clusters.call_count == 0 and off.hosts() == ["cool-gpu-server"]
