# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pytest set-up: the collection on Ansible's path, the API simulator, and a second local user.

The repository root is the collection itself, but Ansible only finds collections below an
``ansible_collections/<namespace>/<name>`` directory.  Before any test module is imported, a
throw-away collections root is made with ``ansible_collections/shadeform/cloud`` linked to this
checkout, so that in-process imports (unit tests) and the real ``ansible-*`` commands started by
the functional and end-to-end tests load the working tree.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))

sys.path.insert(0, TESTS_DIR)
sys.path.insert(0, os.path.join(TESTS_DIR, "simulator"))
sys.path.insert(0, os.path.join(TESTS_DIR, "contract"))

from collection_tree import collection_tree  # noqa: E402  pylint: disable=wrong-import-position
from contract_check import ContractCheck  # noqa: E402  pylint: disable=wrong-import-position
from helpers import API_KEY, load_fixture  # noqa: E402  pylint: disable=wrong-import-position
from shadeform_simulator import Simulator  # noqa: E402  pylint: disable=wrong-import-position

# Every simulator started in the test run checks the requests it gets and the answers it gives against the
# project's contract of the API (tests/contract/shadeform-api.openapi.yaml); see api_contract below.
CONTRACT = Simulator.contract = ContractCheck()


COLLECTIONS_ROOT = tempfile.mkdtemp(prefix="shadeform-collections-")
collection_tree(COLLECTIONS_ROOT)
# Read by the ansible-* commands that the functional tests start as subprocesses.
os.environ["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS_ROOT
sys.path.insert(0, COLLECTIONS_ROOT)

from ansible.plugins.loader import init_plugin_loader  # noqa: E402  pylint: disable=wrong-import-position

init_plugin_loader([COLLECTIONS_ROOT])


def pytest_unconfigure(config):  # pylint: disable=unused-argument
    shutil.rmtree(COLLECTIONS_ROOT, ignore_errors=True)


@pytest.fixture(autouse=True)
def api_contract():
    """Fail the test when a request it caused, or an answer the simulator gave it, broke the API contract.

    Applies to every simulator, in-process tests and the ansible-* commands a test starts alike (the simulator
    runs in the pytest process).  A test that breaks the contract on purpose takes the violations itself
    (``sim.take_contract_violations()``) and checks them.
    """
    CONTRACT.take_violations()
    yield CONTRACT
    violations = CONTRACT.take_violations()
    if violations:
        pytest.fail("The API contract (tests/contract/shadeform-api.openapi.yaml) was broken:\n" + "\n".join(violations),
                    pytrace=False)


@pytest.fixture
def shadeform_api():
    """A running simulator on 127.0.0.1 serving the API reference's example fleet, checked against the contract.

    Tests replace the fleet (``set_instances``), inject faults and count the requests served.
    """
    with Simulator(api_key=API_KEY) as simulator:
        simulator.set_instances(load_fixture("instances-example.json")["instances"])
        yield simulator


@pytest.fixture
def other_user():
    """A second local user, made for the test with useradd and removed after it, whatever the test's outcome: (uid, gid).

    It owns a directory or file the test user must not trust (the inventory cache). Making it needs root: elsewhere the
    test is skipped, and fails when CI is set (CI runs as root, so the test must run there).
    """
    if os.geteuid() != 0:
        reason = "needs root: the test makes a second local user with useradd (to own the cache directory or entry)"
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail("CI is set and this test did not run: it " + reason, pytrace=False)
        pytest.skip(reason)
    name = "sfcache{0}".format(os.getpid() % 100000)
    made = _user_command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name)
    if made.returncode != 0:
        pytest.fail("useradd {0} failed (exit {1}): {2}".format(name, made.returncode, made.stderr.strip()), pytrace=False)
    try:
        record = pwd.getpwnam(name)
        yield record.pw_uid, record.pw_gid
    finally:
        _user_command("userdel", name)


def _user_command(*command):
    """useradd or userdel, tried again while another one (a test session beside this one) holds /etc/passwd's lock."""
    done = None
    for _attempt in range(20):
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        if done.returncode == 0 or "lock" not in done.stderr:
            break
        time.sleep(0.1)
    return done
