# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End-to-end fixtures: real OpenSSH daemons on loopback, a Shadeform API simulator whose fleet points at them.

``ssh_daemons`` (session scope) starts one ``sshd -D -e`` per address on 127.0.0.x, each with its own host
key and a generated ``sshd_config``, all trusting one client key pair made for the run.  When the tests run
as root (CI does), the daemons accept logins for root with that key only (``PermitRootLogin
prohibit-password``); otherwise each daemon runs unprivileged and accepts only the current user.  The
fleet's ``ssh_user`` is that login user.

``e2e`` (function scope) adds a simulator serving a fleet made of those daemons plus instances that are
not ready yet, an inventory file ``shadeform.yml`` for it, and the environment with which the real
``ansible`` / ``ansible-playbook`` commands of the running Python environment are started.
"""

import os
import pwd
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=wrong-import-position,import-error
from e2e_helpers import (  # noqa: E402
    DAEMON_ADDRESSES, E2E, E2E_API_KEY, PORT_22_ADDRESS, SSHD_SEARCH_PATH, SshDaemons, Simulator,
    ansible_environment, build_fleet, find_program, port_is_free, ssh_keygen, start_daemon, wait_until_ready, write_inventory,
)
from helpers import free_port  # noqa: E402


@pytest.fixture(scope="session")
def ssh_daemons():
    """Start one OpenSSH daemon per address in DAEMON_ADDRESSES; stop them all at the end of the session."""
    sshd = find_program("sshd", SSHD_SEARCH_PATH)
    keygen = find_program("ssh-keygen")
    find_program("ssh")
    is_root = os.geteuid() == 0
    user = pwd.getpwuid(os.geteuid()).pw_name
    if is_root and not os.path.isdir("/run/sshd"):
        # OpenSSH refuses to start as root without its privilege separation directory (the service unit
        # normally makes it).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)

    # Short path: Ansible's SSH control sockets live below it.
    workdir = tempfile.mkdtemp(prefix="sf-e2e-")
    os.chmod(workdir, 0o755)
    client_key = os.path.join(workdir, "id_ed25519")
    ssh_keygen(keygen, client_key, "shadeform-e2e-client")
    authorized_keys = os.path.join(workdir, "authorized_keys")
    shutil.copyfile(client_key + ".pub", authorized_keys)

    daemons = []
    try:
        for index, address in enumerate(DAEMON_ADDRESSES):
            port = 22 if (is_root and address == PORT_22_ADDRESS and port_is_free(address, 22)) else None
            for _attempt in range(5):
                chosen = port or free_port(address)
                daemon = start_daemon(sshd, workdir, index, address, chosen, authorized_keys, user, is_root)
                problem = wait_until_ready(daemon)
                if problem is None:
                    break
                daemon.stop()
                shutil.rmtree(os.path.dirname(daemon.config_path), ignore_errors=True)
                if port is not None or "Address already in use" not in problem:
                    pytest.fail(problem, pytrace=False)
            else:
                pytest.fail(problem, pytrace=False)
            daemons.append(daemon)
        yield SshDaemons(daemons=daemons, user=user, client_key=client_key,
                         known_hosts=os.path.join(workdir, "known_hosts"), workdir=workdir)
    finally:
        for daemon in daemons:
            daemon.stop()
        shutil.rmtree(workdir, ignore_errors=True)


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
        write_inventory(inventory, api.url, ssh_daemons.client_key)
        env = ansible_environment(ssh_daemons, tmp_path)
        env["SHADEFORM_API_KEY"] = E2E_API_KEY
        yield E2E(daemons=ssh_daemons, api=api, fleet=fleet, inventory=inventory, proof_dir=str(proof_dir),
                  workdir=str(workdir), env=env)
