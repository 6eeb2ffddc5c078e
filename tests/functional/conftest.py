# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built collection artifact and one offline install of it, for the tests marked ``artifact``.

``nox -s artifact`` builds the artifact once and passes its path in SHADEFORM_COLLECTION_TARBALL;
without it, the first test that needs it builds one from the working tree. The install is made once per
pytest run and shared: the tests only read it.
"""

import os

import pytest

from helpers import REPO_ROOT, galaxy_metadata, run_checked


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory):
    given = os.environ.get("SHADEFORM_COLLECTION_TARBALL")
    if given:
        return given
    output_dir = tmp_path_factory.mktemp("dist")
    run_checked(["ansible-galaxy", "collection", "build", "--output-path", str(output_dir), REPO_ROOT],
                env=dict(os.environ), cwd=str(output_dir))
    metadata = galaxy_metadata()
    return str(output_dir / f"{metadata['namespace']}-{metadata['name']}-{metadata['version']}.tar.gz")


@pytest.fixture(scope="session")
def installed_collection(tmp_path_factory, collection_tarball):
    """(collections path holding only the installed artifact, environment for ansible-* commands using it)."""
    install_dir = tmp_path_factory.mktemp("installed")
    env = dict(os.environ)
    # tests/conftest.py points ANSIBLE_COLLECTIONS_PATH at the working tree; here only the install counts.
    env["ANSIBLE_COLLECTIONS_PATH"] = str(install_dir)
    env["ANSIBLE_COLLECTIONS_SCAN_SYS_PATH"] = "false"
    env.pop("ANSIBLE_CONFIG", None)
    run_checked(["ansible-galaxy", "collection", "install", "--offline", collection_tarball, "-p", str(install_dir)],
                env=env, cwd=str(install_dir))
    return str(install_dir), env
