# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End-to-end fixtures: real OpenSSH daemons on loopback, a Shadeform API simulator whose fleet points at them.

``ssh_daemons`` (session scope) starts one ``sshd`` per address of DAEMON_ADDRESSES with loopback_sshd.py
(the same code that scripts/demo.sh runs; its docstring says how the daemons are set up).  The fleet's
``ssh_user`` is the user they accept: root when the tests run as root (CI does), else the current user.

``e2e`` (function scope) adds a simulator serving a fleet made of those daemons plus instances that are
not ready yet, an inventory file ``shadeform.yml`` for it, and the environment with which the real
``ansible`` / ``ansible-playbook`` commands of the running Python environment are started.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=wrong-import-position,import-error
from e2e_helpers import (  # noqa: E402
    DAEMON_ADDRESSES, E2E, E2E_API_KEY, PORT_22_ADDRESS, Simulator, ansible_environment, build_fleet, missing_prerequisite,
    write_ssh_inventory,
)
from loopback_sshd import SshdFailed, SshdMissing, start_daemons  # noqa: E402


@pytest.fixture(scope="session")
def ssh_daemons():
    """Start one OpenSSH daemon per address in DAEMON_ADDRESSES; stop them all at the end of the session."""
    try:
        daemons = start_daemons(DAEMON_ADDRESSES, port_22_address=PORT_22_ADDRESS)
    except SshdMissing as exc:
        missing_prerequisite(str(exc))
    except SshdFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield daemons
    finally:
        daemons.stop()


@pytest.fixture
def e2e(ssh_daemons, tmp_path):  # pylint: disable=redefined-outer-name
    """A simulator serving the fleet of ``build_fleet``, ``<tmp>/run/shadeform.yml`` for it, and the CLIs' environment."""
    workdir = tmp_path / "run"
    proof_dir = tmp_path / "proof"
    workdir.mkdir()
    proof_dir.mkdir()
    fleet = build_fleet(ssh_daemons)
    with Simulator(api_key=E2E_API_KEY) as api:
        api.set_instances(fleet)
        inventory = str(workdir / "shadeform.yml")
        write_ssh_inventory(inventory, api.url, ssh_daemons.client_key)
        env = ansible_environment(ssh_daemons, tmp_path)
        env["SHADEFORM_API_KEY"] = E2E_API_KEY
        yield E2E(daemons=ssh_daemons, api=api, fleet=fleet, inventory=inventory, proof_dir=str(proof_dir),
                  workdir=str(workdir), env=env)
