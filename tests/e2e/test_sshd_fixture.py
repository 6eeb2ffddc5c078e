# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The loopback OpenSSH daemons the end-to-end tests rely on: reachable with the run's key, and only with it."""

import os
import subprocess

import pytest

from e2e_helpers import DAEMON_ADDRESSES, find_program, missing_prerequisite  # pylint: disable=import-error

pytestmark = pytest.mark.e2e


def test_daemons_listen_on_distinct_loopback_addresses(ssh_daemons):
    addresses = [daemon.address for daemon in ssh_daemons.daemons]
    assert addresses == list(DAEMON_ADDRESSES)
    assert len(set(addresses)) == len(addresses)
    assert all(address.startswith("127.") for address in addresses)
    assert any(daemon.port != 22 for daemon in ssh_daemons.daemons)
    if os.geteuid() == 0:
        assert ssh_daemons.user == "root"


def test_ssh_reaches_each_daemon_with_the_generated_key(ssh_daemons):
    for daemon in ssh_daemons.daemons:
        result = subprocess.run(
            ssh_daemons.ssh_command(daemon, 'echo "$SSH_CONNECTION"; id -un'),
            capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, f"{daemon}: {result.stderr}\n--- sshd log ---\n{daemon.log()}"
        ssh_connection, user = result.stdout.split("\n")[:2]
        client_ip, _client_port, server_ip, server_port = ssh_connection.split()
        assert client_ip.startswith("127.")
        assert (server_ip, int(server_port)) == (daemon.address, daemon.port)
        assert user == ssh_daemons.user
        assert f"Accepted publickey for {ssh_daemons.user}" in daemon.log()


def test_daemons_refuse_a_key_they_do_not_know(ssh_daemons, tmp_path):
    stranger = str(tmp_path / "stranger")
    subprocess.run([find_program("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", stranger],
                   check=True, capture_output=True, timeout=60)
    daemon = ssh_daemons.daemons[0]
    command = ssh_daemons.ssh_command(daemon, "true")
    command[command.index(ssh_daemons.client_key)] = stranger
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


@pytest.mark.parametrize("ci", ["true", ""])
def test_missing_sshd_skips_locally_and_fails_in_ci(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected, match="apt-get install openssh-server"):
        find_program("sshd-that-does-not-exist", "/nonexistent")
    with pytest.raises(expected):
        missing_prerequisite("no sshd")
