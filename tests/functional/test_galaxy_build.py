# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection artifact: build it, install it offline, and use the installed copy.

``nox -s build`` builds the artifact and passes its path in SHADEFORM_COLLECTION_TARBALL; without it
these tests build one from the working tree themselves. Every ``ansible-*`` command here runs with
ANSIBLE_COLLECTIONS_PATH set to the install directory only (tests/conftest.py points it at the working
tree for the other tests), and the tests check that the plugin is loaded from there.
"""

import json
import os
import subprocess
import tarfile

import pytest
import yaml

from helpers import API_KEY, TESTS_DIR, cli_path, inventory_list, load_fixture

pytestmark = pytest.mark.functional

PLUGIN = "shadeform.cloud.shadeform"
REPO_ROOT = os.path.dirname(TESTS_DIR)

# Files a user needs, and development files that build_ignore in galaxy.yml must keep out.
SHIPPED = [
    "MANIFEST.json", "FILES.json", "README.md", "LICENSE", "requirements.txt", "meta/runtime.yml",
    "meta/execution-environment.yml", "plugins/inventory/shadeform.py", "changelogs/changelog.yaml",
    "changelogs/config.yaml",
]
NOT_SHIPPED_PREFIXES = [".dev/", ".ci/", ".nox/", ".venv", ".git/", "scripts/", "benchmarks/", "demo/", "build/", "tests/output/"]
NOT_SHIPPED = ["noxfile.py", ".gitignore", ".ansible-lint", "galaxy.yml"]


def galaxy_metadata():
    with open(os.path.join(REPO_ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def run(command, env, cwd):
    command = [cli_path(command[0])] + command[1:]
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{command} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    given = os.environ.get("SHADEFORM_COLLECTION_TARBALL")
    if given:
        return given
    output_dir = tmp_path_factory.mktemp("dist")
    run(["ansible-galaxy", "collection", "build", "--output-path", str(output_dir), REPO_ROOT],
        env=dict(os.environ), cwd=str(output_dir))
    metadata = galaxy_metadata()
    return str(output_dir / f"{metadata['namespace']}-{metadata['name']}-{metadata['version']}.tar.gz")


@pytest.fixture(scope="module")
def installed(tmp_path_factory, tarball):
    """(collections path holding only the installed artifact, environment for ansible-* commands)."""
    install_dir = tmp_path_factory.mktemp("installed")
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(install_dir)
    env["ANSIBLE_COLLECTIONS_SCAN_SYS_PATH"] = "false"
    env.pop("ANSIBLE_CONFIG", None)
    run(["ansible-galaxy", "collection", "install", "--offline", tarball, "-p", str(install_dir)],
        env=env, cwd=str(install_dir))
    return str(install_dir), env


def test_artifact_holds_what_users_need_and_nothing_else(tarball):
    with tarfile.open(tarball) as archive:
        names = [name.removeprefix("./") for name in archive.getnames()]
    for name in SHIPPED:
        assert name in names
    for name in names:
        assert name not in NOT_SHIPPED
        assert not any(name.startswith(prefix) for prefix in NOT_SHIPPED_PREFIXES), name
        assert not name.endswith(".tar.gz"), name
    with tarfile.open(tarball) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
    metadata = galaxy_metadata()
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == (metadata["namespace"], metadata["name"], metadata["version"])
    assert manifest["license"] == ["GPL-3.0-or-later"]


def test_installed_copy_is_the_one_ansible_uses(installed):
    install_dir, env = installed
    collection_dir = os.path.join(install_dir, "ansible_collections", "shadeform", "cloud")
    assert os.path.isfile(os.path.join(collection_dir, "MANIFEST.json"))
    assert not os.path.islink(collection_dir)

    listed = json.loads(run(["ansible-galaxy", "collection", "list", "shadeform.cloud", "--format", "json"], env, install_dir).stdout)
    assert list(listed) == [os.path.join(install_dir, "ansible_collections")]

    docs = json.loads(run(["ansible-doc", "-t", "inventory", "--json", PLUGIN], env, install_dir).stdout)
    filename = docs[PLUGIN]["doc"]["filename"]
    assert os.path.realpath(filename) == os.path.join(os.path.realpath(collection_dir), "plugins", "inventory", "shadeform.py")


def test_ansible_doc_renders_the_installed_plugin(installed):
    install_dir, env = installed
    text = run(["ansible-doc", "-t", "inventory", PLUGIN], env, install_dir).stdout
    assert PLUGIN in text
    for option in ("api_key", "api_url", "hostnames", "SHADEFORM_API_KEY"):
        assert option in text


def test_ansible_inventory_with_the_installed_plugin(installed, shadeform_api, tmp_path):
    install_dir, env = installed
    source = tmp_path / "shadeform.yml"
    source.write_text("plugin: shadeform.cloud.shadeform\n", encoding="utf-8")
    env = dict(env, SHADEFORM_API_KEY=API_KEY, SHADEFORM_API_URL=shadeform_api.url)

    graph = run(["ansible-inventory", "-i", str(source), "--graph"], env, str(tmp_path)).stdout
    assert "@shadeform:" in graph
    for instance in load_fixture("instances-example.json")["instances"]:
        assert instance["name"] in graph

    listing = inventory_list(run(["ansible-inventory", "-i", str(source), "--list"], env, str(tmp_path)).stdout)
    assert listing["shadeform"]["hosts"]
    assert any(request["api_key_ok"] and request["path"].endswith("/instances") for request in shadeform_api.requests)
