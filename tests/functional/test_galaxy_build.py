# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection artifact: what it holds, Galaxy's importer on it, and its offline install in use.

Every ``ansible-*`` command here runs with ANSIBLE_COLLECTIONS_PATH set to the install directory only
(tests/conftest.py points it at the working tree for the other tests), and the tests check that the
plugin is loaded from there. The artifact and its install come from tests/functional/conftest.py.
"""

import json
import os
import re
import sys
import tarfile

import pytest

from helpers import API_KEY, TESTS_DIR, galaxy_metadata, inventory_list, load_fixture, run_checked

pytestmark = [pytest.mark.functional, pytest.mark.artifact]

PLUGIN = "shadeform.cloud.shadeform"

# Files a user needs, and development files that build_ignore in galaxy.yml must keep out.
SHIPPED = [
    "MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.rst", "LICENSE", "requirements.txt", "meta/runtime.yml",
    "meta/execution-environment.yml", "plugins/inventory/shadeform.py", "changelogs/changelog.yaml",
    "changelogs/config.yaml", ".ansible-lint",
    "extensions/awx/shadeform_api_credential_type.yml", "playbooks/awx_credential_type.yml",
]
NOT_SHIPPED_PREFIXES = [".dev/", ".ci/", ".nox/", ".venv", ".git/", "scripts/", "benchmarks/", "demo/", "build/",
                        "context/", "tests/output/"]
NOT_SHIPPED = ["noxfile.py", ".gitignore", "galaxy.yml", "execution-environment.yml", "decision-environment.yml"]


def test_artifact_holds_what_users_need_and_nothing_else(collection_tarball):
    with tarfile.open(collection_tarball) as archive:
        names = [name.removeprefix("./") for name in archive.getnames()]
    for name in SHIPPED:
        assert name in names
    for name in names:
        assert name not in NOT_SHIPPED
        assert not any(name.startswith(prefix) for prefix in NOT_SHIPPED_PREFIXES), name
        assert not name.endswith(".tar.gz"), name
    with tarfile.open(collection_tarball) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
    metadata = galaxy_metadata()
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == (metadata["namespace"], metadata["name"], metadata["version"])
    assert manifest["license"] == ["GPL-3.0-or-later"]


def test_galaxy_importer_accepts_the_artifact_with_no_warning(collection_tarball, tmp_path):
    """Galaxy's own import code, offline and with no container runtime (tests/galaxy-importer.cfg)."""
    # The importer finds ansible-lint and ansible-doc on PATH: those of this environment.
    env = dict(os.environ, GALAXY_IMPORTER_CONFIG=os.path.join(TESTS_DIR, "galaxy-importer.cfg"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
               PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)  # the importer installs the artifact where it wants it
    result = run_checked(["python", "-m", "galaxy_importer.main", collection_tarball], env=env, cwd=str(tmp_path), timeout=600)
    lines = result.stdout.splitlines()
    assert "Linting collection via ansible-lint" in result.stdout, result.stdout  # the lint step did run
    assert "Loading module instance" in result.stdout, result.stdout
    assert lines[-1] == "Importer processing completed successfully", result.stdout
    problems = [line for line in lines if re.match(r"(WARNING|ERROR|CRITICAL)\b", line)]
    assert problems == [], result.stdout


def test_installed_copy_is_the_one_ansible_uses(installed_collection):
    install_dir, env = installed_collection
    collection_dir = os.path.join(install_dir, "ansible_collections", "shadeform", "cloud")
    assert os.path.isfile(os.path.join(collection_dir, "MANIFEST.json"))
    assert not os.path.islink(collection_dir)

    listed = json.loads(run_checked(["ansible-galaxy", "collection", "list", "shadeform.cloud", "--format", "json"], env, install_dir).stdout)
    assert list(listed) == [os.path.join(install_dir, "ansible_collections")]

    docs = json.loads(run_checked(["ansible-doc", "-t", "inventory", "--json", PLUGIN], env, install_dir).stdout)
    filename = docs[PLUGIN]["doc"]["filename"]
    assert os.path.realpath(filename) == os.path.join(os.path.realpath(collection_dir), "plugins", "inventory", "shadeform.py")


def test_ansible_doc_renders_the_installed_plugin(installed_collection):
    install_dir, env = installed_collection
    text = run_checked(["ansible-doc", "-t", "inventory", PLUGIN], env, install_dir).stdout
    assert PLUGIN in text
    for option in ("api_key", "api_url", "hostnames", "SHADEFORM_API_KEY"):
        assert option in text


def test_ansible_inventory_with_the_installed_plugin(installed_collection, shadeform_api, tmp_path):
    install_dir, env = installed_collection
    source = tmp_path / "shadeform.yml"
    source.write_text("plugin: shadeform.cloud.shadeform\n", encoding="utf-8")
    env = dict(env, SHADEFORM_API_KEY=API_KEY, SHADEFORM_API_URL=shadeform_api.url)

    graph = run_checked(["ansible-inventory", "-i", str(source), "--graph"], env, str(tmp_path)).stdout
    assert "@shadeform:" in graph
    names = [instance["name"] for instance in load_fixture("instances-example.json")["instances"]]
    for name in names:
        assert name in graph

    listing = inventory_list(run_checked(["ansible-inventory", "-i", str(source), "--list"], env, str(tmp_path)).stdout)
    assert sorted(listing["shadeform"]["hosts"]) == sorted(names)
    assert any(request["api_key_ok"] and request["path"].endswith("/instances") for request in shadeform_api.requests)
