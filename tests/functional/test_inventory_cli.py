# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real ansible-inventory command against the API simulator on 127.0.0.1."""

import json
import os
import stat
import subprocess

import pytest

from helpers import (API_KEY, INVENTORY_FETCH, ansible_inventory, cache_options, cli_env, cli_path, inventory_list, load_fixture, request_paths,
                     write_inventory)

pytestmark = pytest.mark.functional

MIXED = load_fixture("fleet-mixed.json")["instances"]
EXAMPLE_ID = "d290f1ee-6c54-4b01-90e6-d701748f0851"


def test_graph_shows_the_reference_example_in_every_default_group(shadeform_api, tmp_path):
    result = ansible_inventory(write_inventory(tmp_path, shadeform_api), "--graph")
    assert result.returncode == 0, result.stderr
    for group in ("shadeform", "cloud_hyperstack", "region_canada_1", "gpu_A100", "status_active", "instance_type_A6000", "tag_tag1"):
        assert "@%s:\n  |  |--cool-gpu-server\n" % group in result.stdout
    assert request_paths(shadeform_api) == INVENTORY_FETCH
    assert all(request["api_key_ok"] for request in shadeform_api.requests)


def test_list_holds_every_host_with_its_variables_and_no_secret(shadeform_api, tmp_path):
    shadeform_api.set_instances(MIXED)
    result = ansible_inventory(write_inventory(tmp_path, shadeform_api), "--list")
    assert result.returncode == 0, result.stderr
    inventory = inventory_list(result.stdout)
    hostvars = inventory["_meta"]["hostvars"]
    assert sorted(hostvars) == ["batch-1", "batch-2", "notebook", "old", "trainer-1a2b3c4d", "trainer-2b3c4d5e"]
    assert sorted(hostvars[name]["shadeform_id"] for name in hostvars) == sorted(instance["id"] for instance in MIXED)
    trainer = hostvars["trainer-2b3c4d5e"]
    assert (trainer["ansible_host"], trainer["ansible_user"], trainer["ansible_port"]) == ("198.51.100.11", "ubuntu", 2222)
    assert trainer["shadeform_gpu_type"] == "H100" and trainer["shadeform_num_gpus"] == 8
    assert trainer["shadeform_labels"] == {"env": "prod"}
    assert hostvars["batch-1"]["ansible_host"] == "shadeform-no-address-yet.invalid"
    assert sorted(inventory["gpu_H100"]["hosts"]) == ["trainer-1a2b3c4d", "trainer-2b3c4d5e"]
    assert "Shadeform instances would be named 'trainer'" in result.stderr
    for secret in ("hf_secret_", "registry-pass-", API_KEY):
        assert secret not in result.stdout + result.stderr


def test_host_shows_one_hosts_variables(shadeform_api, tmp_path):
    result = ansible_inventory(write_inventory(tmp_path, shadeform_api), "--host", "cool-gpu-server")
    assert result.returncode == 0, result.stderr
    variables = inventory_list(result.stdout)
    assert variables["shadeform_id"] == EXAMPLE_ID
    assert variables["ansible_host"] == "1.0.0.1"
    assert variables["shadeform_launch_configuration"]["docker_configuration"]["envs"][0]["value"] == "<redacted>"


def test_filters_keyed_groups_and_hostnames_from_the_file(shadeform_api, tmp_path):
    shadeform_api.set_instances(MIXED)
    path = write_inventory(tmp_path, shadeform_api, """
        statuses: [active, pending]
        hostnames: [id]
        default_groups: false
        filters:
          - shadeform_cloud != 'datacrunch'
        keyed_groups:
          - key: shadeform_labels.env
            prefix: env
    """)
    inventory = inventory_list(ansible_inventory(path, "--list").stdout)
    expected = sorted(instance["id"] for instance in MIXED if instance["name"] in ("trainer", "batch-1"))
    assert sorted(inventory["_meta"]["hostvars"]) == expected
    assert sorted(inventory["env_prod"]["hosts"]) == expected[:2]
    assert inventory["env_dev"]["hosts"] == [expected[2]]
    assert "cloud_hyperstack" not in inventory


def test_smallest_file_with_the_key_in_the_environment_and_url_in_the_environment(shadeform_api, tmp_path):
    path = tmp_path / "shadeform.yml"
    path.write_text("plugin: shadeform.cloud.shadeform\n")
    result = ansible_inventory(str(path), "--graph", env={"SHADEFORM_API_URL": shadeform_api.url})
    assert result.returncode == 0, result.stderr
    assert "cool-gpu-server" in result.stdout


def test_yaml_extension_and_api_key_template_from_extra_vars(shadeform_api, tmp_path):
    path = write_inventory(tmp_path, shadeform_api, "api_key: '{{ shadeform_key }}'\n", name="prod.shadeform.yaml")
    result = ansible_inventory(path, "--graph", "-e", "shadeform_key=" + API_KEY, env={"SHADEFORM_API_KEY": None})
    assert result.returncode == 0, result.stderr
    assert "cool-gpu-server" in result.stdout
    assert shadeform_api.requests[-1]["api_key_ok"] is True


def test_cache_hit_makes_no_request_and_flush_cache_refetches(shadeform_api, tmp_path):
    path = write_inventory(tmp_path, shadeform_api, cache_options(tmp_path))
    first = ansible_inventory(path, "--list")
    assert first.returncode == 0, first.stderr
    assert request_paths(shadeform_api) == INVENTORY_FETCH

    shadeform_api.set_instances(MIXED)
    cached = ansible_inventory(path, "--list")
    assert request_paths(shadeform_api) == INVENTORY_FETCH  # both answers from the one cache entry
    assert inventory_list(cached.stdout) == inventory_list(first.stdout)

    # ansible-inventory only has --flush-cache from ansible-core 2.17 on; ansible-playbook has it on every version.
    playbook = tmp_path / "noop.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks: []\n")
    flush = subprocess.run([cli_path("ansible-playbook"), "-i", path, "--flush-cache", "--list-hosts", str(playbook)],
                           env=cli_env(), capture_output=True, text=True, check=False)
    assert flush.returncode == 0, flush.stderr
    assert "notebook" in flush.stdout
    assert request_paths(shadeform_api) == INVENTORY_FETCH * 2
    refreshed = ansible_inventory(path, "--list")
    assert request_paths(shadeform_api) == INVENTORY_FETCH * 2
    assert "notebook" in inventory_list(refreshed.stdout)["_meta"]["hostvars"]

    entries = os.listdir(str(tmp_path / "cache"))
    assert len(entries) == 1
    entry = tmp_path / "cache" / entries[0]
    assert stat.S_IMODE(os.stat(str(entry)).st_mode) == 0o600
    content = entry.read_text()
    assert "notebook" in content
    for secret in ("hf_secret_", "registry-pass-", API_KEY):
        assert secret not in content


@pytest.mark.parametrize("hostname_option", ["[name]", "[id]"])
def test_every_instance_of_a_generated_fleet_appears_exactly_once(tmp_path, hostname_option):
    from shadeform_simulator import Simulator, generate_fleet  # pylint: disable=import-outside-toplevel

    fleet = generate_fleet(200, seed=7)
    with Simulator(api_key=API_KEY, instances=fleet) as simulator:
        path = write_inventory(tmp_path, simulator, "hostnames: %s\n" % hostname_option)
        result = ansible_inventory(path, "--list")
    assert result.returncode == 0, result.stderr
    hostvars = inventory_list(result.stdout)["_meta"]["hostvars"]
    assert len(hostvars) == 200
    assert sorted(variables["shadeform_id"] for variables in hostvars.values()) == sorted(instance["id"] for instance in fleet)
    for variables in hostvars.values():
        instance = next(instance for instance in fleet if instance["id"] == variables["shadeform_id"])
        assert variables.get("ansible_host") == (instance["ip"] or "shadeform-no-address-yet.invalid")
        assert variables.get("ansible_port") == instance["ssh_port"]


def test_ansible_doc_renders_every_option_with_examples():
    result = subprocess.run([cli_path("ansible-doc"), "-t", "inventory", "--json", "shadeform.cloud.shadeform"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)["shadeform.cloud.shadeform"]
    options = doc["doc"]["options"]
    for option in ("api_key", "api_url", "timeout", "retries", "validate_certs", "hostnames", "statuses", "clouds", "regions",
                   "gpu_types", "tags", "filters", "hostvars_prefix", "hostvars_suffix", "default_groups", "expose_secrets",
                   "compose", "groups", "keyed_groups", "strict", "leading_separator", "use_extra_vars", "cache", "cache_plugin",
                   "cache_timeout", "cache_connection", "cache_prefix", "clusters"):
        assert options[option]["description"], option
    assert options["clusters"]["default"] is True
    assert options["api_key"]["env"] == [{"name": "SHADEFORM_API_KEY"}]
    assert options["api_url"]["env"] == [{"name": "SHADEFORM_API_URL"}]
    assert "plugin: shadeform.cloud.shadeform" in doc["examples"]


def test_use_extra_vars_reach_compose_keyed_groups_and_filters(shadeform_api, tmp_path):
    shadeform_api.set_instances(MIXED)
    path = write_inventory(tmp_path, shadeform_api, """
        use_extra_vars: true
        filters:
          - shadeform_cloud == wanted_cloud
        compose:
          site: site_name
        keyed_groups:
          - key: site_name ~ '_' ~ shadeform_num_gpus
            prefix: chosen
    """)
    result = ansible_inventory(path, "--list", "-e", "wanted_cloud=hyperstack site_name=lab")
    assert result.returncode == 0, result.stderr
    inventory = inventory_list(result.stdout)
    assert sorted(inventory["_meta"]["hostvars"]) == ["batch-1", "trainer-1a2b3c4d"]
    assert {variables["site"] for variables in inventory["_meta"]["hostvars"].values()} == {"lab"}
    assert inventory["chosen_lab_8"]["hosts"] == ["trainer-1a2b3c4d"]
    assert inventory["chosen_lab_1"]["hosts"] == ["batch-1"]


def _create_cluster(simulator, name):
    """A cluster made through the simulator's API, as a user would (the first cluster type available, two members)."""
    import urllib.request  # pylint: disable=import-outside-toplevel

    offer = next(t for t in simulator.cluster_types if t["availability"]["available"] and t["num_instances"] == 2)
    body = {"name": name, "cloud": offer["cloud"], "region": offer["availability"]["region"], "num_instances": 2,
            "cluster_type": offer["cluster_type"]["shade_instance_type"]}
    request = urllib.request.Request(simulator.url + "/clusters/create", data=json.dumps(body).encode(),
                                     headers={"X-API-KEY": API_KEY, "Content-Type": "application/json"})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as response:  # nosec - loopback
        return json.loads(response.read())["id"]


@pytest.mark.parametrize("listed", ["no", "yes"])
def test_cluster_members_are_one_host_each_in_their_clusters_group(shadeform_api, tmp_path, listed):
    shadeform_api.set_variants(cluster_members_listed=listed)
    cluster_id = _create_cluster(shadeform_api, "train run")
    members = sorted(member["name"].replace(" ", "_") for member in shadeform_api.clusters[0]["instances"])  # safe host names
    result = ansible_inventory(write_inventory(tmp_path, shadeform_api), "--list")  # clusters are read by default
    assert result.returncode == 0, result.stderr
    inventory = inventory_list(result.stdout)
    hostvars = inventory["_meta"]["hostvars"]
    assert sorted(hostvars) == sorted(["cool-gpu-server"] + members)  # each member once, whether listed or not
    assert sorted(inventory["cluster_train_run"]["hosts"]) == members
    assert all(hostvars[name]["shadeform_cluster_id"] == cluster_id and hostvars[name]["shadeform_cluster_name"] == "train run"
               for name in members)
    assert request_paths(shadeform_api)[-2:] == INVENTORY_FETCH


def test_an_account_whose_clusters_are_forbidden_gets_its_inventory_with_a_note_at_vvv(shadeform_api, tmp_path):
    shadeform_api.set_variants(clusters_endpoint="forbidden")
    result = ansible_inventory(write_inventory(tmp_path, shadeform_api), "--graph", "-vvv")
    assert result.returncode == 0, result.stderr
    assert "|--cool-gpu-server" in result.stdout and "@cluster_" not in result.stdout
    assert "GET /clusters answered HTTP 403 for this account" in result.stdout + result.stderr
    assert "[WARNING]" not in result.stderr
