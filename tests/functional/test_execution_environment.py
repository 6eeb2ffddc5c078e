# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX and Ansible Automation Platform: the execution environment and the inventory sync, without AWX.

- ansible-builder turns execution-environment.yml into a build context; the steps of its Containerfile
  that install the collection and gather its Python requirements are run here as they are in the image
  build (only the container around them is missing: no runtime, no registry on CI).
- AWX runs an inventory update through ansible-runner with the key injected from a custom credential:
  the sync is replayed with ansible_runner.get_inventory, the credential type the collection ships, and
  the installed artifact, against the API simulator.
"""

import os
import shutil
import sys

import ansible_runner
import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from helpers import API_KEY, INVENTORY_FETCH, REPO_ROOT, galaxy_metadata, inventory_list, load_fixture, request_paths, run_checked

pytestmark = [pytest.mark.functional, pytest.mark.artifact]

MIXED = load_fixture("fleet-mixed.json")["instances"]
CREDENTIAL_TYPE = os.path.join(REPO_ROOT, "extensions", "awx", "shadeform_api_credential_type.yml")


def load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# --- Execution environment --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def build_context(tmp_path_factory, collection_tarball):
    """`ansible-builder create` on a copy of the definition, next to the artifact being tested."""
    work = tmp_path_factory.mktemp("ee")
    definition = load_yaml(os.path.join(REPO_ROOT, "execution-environment.yml"))
    (source,) = definition["additional_build_files"]
    os.makedirs(work / os.path.dirname(source["src"]))
    shutil.copy(collection_tarball, work / source["src"])
    shutil.copy(os.path.join(REPO_ROOT, "execution-environment.yml"), work / "execution-environment.yml")
    run_checked(["ansible-builder", "create", "--file", "execution-environment.yml", "--context", "context",
                 "--output-filename", "Containerfile"], env=dict(os.environ), cwd=str(work))
    return work / "context", definition


def test_definition_installs_the_artifact_of_this_version(build_context):
    definition = build_context[1]
    metadata = galaxy_metadata()
    tarball = f"{metadata['namespace']}-{metadata['name']}-{metadata['version']}.tar.gz"
    assert definition["version"] == 3
    assert definition["additional_build_files"] == [{"src": f"build/{tarball}", "dest": "collections"}]
    assert definition["dependencies"]["galaxy"] == {"collections": [{"name": f"collections/{tarball}", "type": "file"}]}


def test_context_holds_the_artifact_and_its_python_requirements(build_context, collection_tarball, tmp_path):
    context = build_context[0]
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    # The galaxy stage of the image build, as the Containerfile says it: from /build (the context's _build).
    assert "COPY _build /build" in containerfile and "WORKDIR /build" in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile
    build = context / "_build"
    (copied,) = (build / "collections").iterdir()
    assert copied.read_bytes() == open(collection_tarball, "rb").read()

    collections = tmp_path / "collections"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections))
    run_checked(["ansible-galaxy", "collection", "install", "--offline", "-r", "requirements.yml",
                 "--collections-path", str(collections)], env=env, cwd=str(build))
    assert (collections / "ansible_collections" / "shadeform" / "cloud" / "MANIFEST.json").is_file()

    # The builder stage: the context's own introspection script collects the Python requirements of the
    # installed collections into the file that the final stage pip-installs.
    requirements = tmp_path / "requirements.txt"
    run_checked(["python", str(build / "scripts" / "introspect.py"), "introspect", "--write-pip", str(requirements),
                 str(collections)], env=env, cwd=str(build))
    lines = [line.strip() for line in requirements.read_text(encoding="utf-8").splitlines()]
    assert [line for line in lines if line and not line.startswith("#")] == ["requests  # from collection shadeform.cloud"]


# --- The inventory sync, as AWX runs it --------------------------------------------------------------------------

def test_shipped_credential_type_injects_the_key_as_the_environment_variable():
    credential_type = load_yaml(CREDENTIAL_TYPE)
    assert credential_type["kind"] == "cloud"
    assert credential_type["inputs"] == {
        "fields": [{"id": "api_key", "type": "string", "label": "Shadeform API key", "secret": True,
                    "help_text": credential_type["inputs"]["fields"][0]["help_text"]}],
        "required": ["api_key"],
    }
    assert injected_env({"api_key": "k-123"}) == {"SHADEFORM_API_KEY": "k-123"}


def injected_env(inputs):
    """The environment AWX injects for a credential of the shipped type: its injector templates rendered
    with the credential's inputs in a sandboxed Jinja environment, as AWX renders them."""
    injectors = load_yaml(CREDENTIAL_TYPE)["injectors"]
    assert list(injectors) == ["env"]  # no extra_vars: those never reach an inventory update
    sandbox = ImmutableSandboxedEnvironment()
    return {name: sandbox.from_string(template).render(**inputs) for name, template in injectors["env"].items()}


def sync(installed_collection, simulator, tmp_path, monkeypatch, credential_inputs):
    """An inventory update as AWX makes it: ansible-runner, no terminal, the credential's environment,
    ANSIBLE_INVENTORY_UNPARSED_FAILED, --export --list into a file that is then parsed as JSON."""
    install_dir = installed_collection[0]
    source = tmp_path / "project" / "inventories" / "prod.shadeform.yml"
    source.parent.mkdir(parents=True)
    source.write_text(f"plugin: shadeform.cloud.shadeform\napi_url: {simulator.url}\n", encoding="utf-8")
    # ansible-runner looks ansible-inventory up on PATH: the one of this environment, as in an execution environment.
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    monkeypatch.delenv("SHADEFORM_API_KEY", raising=False)  # the key comes from the credential only
    # AWX's standard environment for every inventory update, then the credential's injected variables.
    envvars = dict(injected_env(credential_inputs) if credential_inputs else {},
                   ANSIBLE_INVENTORY_UNPARSED_FAILED="True", ANSIBLE_INVENTORY_EXPORT="True", ANSIBLE_VERBOSE_TO_STDERR="True",
                   ANSIBLE_COLLECTIONS_PATH=install_dir, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False")
    statuses = []
    output = tmp_path / "inventory.json"
    response, error = ansible_runner.get_inventory(
        action="list", inventories=[str(source)], response_format="json", export=True, output_file=str(output),
        playbook_dir=str(source.parent.parent), envvars=envvars, private_data_dir=str(tmp_path / "runner"),
        quiet=True, timeout=120, status_handler=lambda data, runner_config: statuses.append(data["status"]),
    )
    return statuses, output, response, error


def test_inventory_sync_through_ansible_runner_with_the_credential(installed_collection, shadeform_api, tmp_path, monkeypatch):
    shadeform_api.set_instances(MIXED)
    statuses, output, _response, error = sync(installed_collection, shadeform_api, tmp_path, monkeypatch, {"api_key": API_KEY})
    assert statuses[-1] == "successful", error
    with open(output, encoding="utf-8") as handle:
        text = handle.read()
    inventory = inventory_list(text)
    hostvars = inventory["_meta"]["hostvars"]
    assert sorted(hostvars) == ["batch-1", "batch-2", "notebook", "old", "trainer-1a2b3c4d", "trainer-2b3c4d5e"]
    # AWX's enabled_var / enabled_value: shadeform_status is "active" exactly for the active instances.
    assert sorted(variables["shadeform_id"] for variables in hostvars.values() if variables["shadeform_status"] == "active") \
        == sorted(instance["id"] for instance in MIXED if instance["status"] == "active")
    assert API_KEY not in text and API_KEY not in error
    assert request_paths(shadeform_api) == INVENTORY_FETCH and all(request["api_key_ok"] for request in shadeform_api.requests)


@pytest.mark.parametrize("credential_inputs, message", [
    ({"api_key": "wrong-key-4242"}, "rejected the API key (HTTP 401"),
    (None, "No Shadeform API key"),
])
def test_failed_sync_is_reported_as_failed(installed_collection, shadeform_api, tmp_path, monkeypatch, credential_inputs, message):
    statuses, output, response, error = sync(installed_collection, shadeform_api, tmp_path, monkeypatch, credential_inputs)
    assert statuses[-1] == "failed", (response, error)
    assert message in " ".join(error.split()), error
    assert "Traceback" not in error
    assert not output.exists()  # AWX gets no inventory to import
    for secret in (API_KEY, "wrong-key-4242"):
        assert secret not in error and secret not in str(response)
