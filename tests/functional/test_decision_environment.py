# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event-Driven Ansible controller: the decision environment, without a container runtime.

ansible-builder turns decision-environment.yml into a build context, as the execution environment's test does with
execution-environment.yml (tests/functional/test_execution_environment.py, which also replays the collection's install
and the gathering of its Python requirements: the same steps for the same artifact). Here: the context installs
ansible-rulebook, a Java runtime and the artifact of this version, and the artifact holds what a rulebook activation
uses (the event source, the rulebooks, the playbooks they run).
"""

import os
import shutil
import tarfile

import pytest
import yaml

from helpers import REPO_ROOT, galaxy_metadata, run_checked

pytestmark = [pytest.mark.functional, pytest.mark.artifact]

DEFINITION = os.path.join(REPO_ROOT, "decision-environment.yml")
EDA_CONTENT = [
    "extensions/eda/plugins/event_source/instance_events.py",
    "extensions/eda/rulebooks/heal_fleet.yml",
    "extensions/eda/rulebooks/heal_fleet_controller.yml",
    "playbooks/heal_fleet_replace.yml",
    "playbooks/heal_fleet_ready.yml",
]


def test_context_installs_ansible_rulebook_java_and_the_artifact(tmp_path, collection_tarball):
    with open(DEFINITION, encoding="utf-8") as handle:
        definition = yaml.safe_load(handle)
    metadata = galaxy_metadata()
    tarball = f"{metadata['namespace']}-{metadata['name']}-{metadata['version']}.tar.gz"
    assert definition["version"] == 3
    assert definition["additional_build_files"] == [{"src": f"build/{tarball}", "dest": "collections"}]
    assert definition["dependencies"]["galaxy"] == {"collections": [{"name": f"collections/{tarball}", "type": "file"}]}

    os.makedirs(tmp_path / "build")
    shutil.copy(collection_tarball, tmp_path / "build" / tarball)
    shutil.copy(DEFINITION, tmp_path / "decision-environment.yml")
    run_checked(["ansible-builder", "create", "--file", "decision-environment.yml", "--context", "context",
                 "--output-filename", "Containerfile"], env=dict(os.environ), cwd=str(tmp_path))
    build = tmp_path / "context" / "_build"
    containerfile = (tmp_path / "context" / "Containerfile").read_text(encoding="utf-8")
    # The user's requirements are the builder stage's input; the final stage installs what it gathers.
    assert "--user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile
    assert "RUN /output/scripts/install-from-bindep" in containerfile
    assert [line.strip() for line in (build / "requirements.txt").read_text(encoding="utf-8").splitlines()] \
        == ["ansible-rulebook>=1.3.2,<2"]
    assert [line.strip() for line in (build / "bindep.txt").read_text(encoding="utf-8").splitlines()] \
        == ["java-17-openjdk-headless [platform:rpm]"]
    assert (build / "collections" / tarball).read_bytes() == open(collection_tarball, "rb").read()


def test_artifact_holds_the_event_source_the_rulebooks_and_their_playbooks(collection_tarball):
    with tarfile.open(collection_tarball) as archive:
        names = [name.removeprefix("./") for name in archive.getnames()]
    assert [name for name in EDA_CONTENT if name not in names] == []
    assert "decision-environment.yml" not in names
