# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenSSH daemons on loopback addresses that stand in for Shadeform instances.

One ``sshd -D -e`` per address on 127.0.0.x, each with its own host key and a generated ``sshd_config``,
all trusting one client key pair made for the run.  As root, the daemons accept root with that key only
(``PermitRootLogin prohibit-password``); otherwise each daemon runs unprivileged and accepts only the
current user.

Used by the end-to-end tests (tests/e2e/conftest.py imports it) and by scripts/demo.sh, which runs it as a
program: it starts the daemons, writes their addresses as JSON to ``--ready-file`` and stops them all on
SIGTERM or SIGINT.  Standard library only, so that it runs in any Python environment with Ansible.
"""

import argparse
import dataclasses
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SSHD_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])
HOW_TO_GET_SSHD = (
    "install OpenSSH with `apt-get install openssh-server` (or `dnf install openssh-server`, "
    "`brew install openssh`), or run ./scripts/test.sh, which installs it when missing"
)
START_TIMEOUT = 20.0
# Exit status of the program when OpenSSH is missing (scripts/demo.sh then goes on without SSH).
EXIT_SSHD_MISSING = 3


class SshdMissing(Exception):
    """An OpenSSH program is not installed; the message says how to install it."""


class SshdFailed(Exception):
    """A daemon did not start; the message carries its log."""


def find_program(name, search_path=None):
    path = shutil.which(name, path=search_path)
    if path is None:
        raise SshdMissing(f"`{name}` was not found: {HOW_TO_GET_SSHD}")
    return path


def port_is_free(address, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def free_port(address):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def _banner(address, port):
    """The server's SSH identification line, or None when nothing answers yet."""
    try:
        with socket.create_connection((address, port), timeout=1.0) as sock:
            sock.settimeout(2.0)
            data = sock.recv(256)
    except OSError:
        return None
    return data if data.startswith(b"SSH-") else None


def _children(pid):
    """The process ids whose parent is ``pid`` (none where there is no /proc)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ")".
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry))
    return found


@dataclasses.dataclass
class SshDaemon:
    """One running sshd."""

    address: str
    port: int
    user: str
    config_path: str
    log_path: str
    process: subprocess.Popen = dataclasses.field(repr=False)

    @property
    def bin_dir(self):
        """First on the PATH of this daemon's sessions (SetEnv in its configuration): programs of the machine it stands for."""
        return os.path.join(os.path.dirname(self.config_path), "bin")

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self):
        if self.process.poll() is None:
            # Each connection's sshd leads a session of its own and outlives the listener: end those first,
            # which also ends the SSH clients that keep a connection open (ControlPersist).
            for pid in _children(self.process.pid):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@dataclasses.dataclass
class SshDaemons:
    """The running daemons and the client key that logs into all of them."""

    daemons: list
    user: str
    client_key: str
    known_hosts: str
    workdir: str

    def ssh_command(self, daemon, *remote_command):
        return [
            find_program("ssh"),
            "-F", "/dev/null",
            "-i", self.client_key,
            "-p", str(daemon.port),
            "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=no",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "ConnectTimeout=10",
            f"{self.user}@{daemon.address}",
            *remote_command,
        ]

    def stop(self):
        """Stop every daemon and remove the keys, configurations and logs."""
        for daemon in self.daemons:
            daemon.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def ssh_keygen(keygen, path, comment):
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path], check=True, capture_output=True, timeout=60)


def _sshd_config(daemon_dir, address, port, host_key, authorized_keys, user, is_root):
    lines = [
        f"ListenAddress {address}",
        f"Port {port}",
        f"HostKey {host_key}",
        f"PidFile {os.path.join(daemon_dir, 'sshd.pid')}",
        f"AuthorizedKeysFile {authorized_keys}",
        f"AllowUsers {user}",
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        f"PermitRootLogin {'prohibit-password' if is_root else 'no'}",
        "Subsystem sftp internal-sftp",
        "PrintMotd no",
        "PrintLastLog no",
        "LogLevel VERBOSE",
        # Programs put in the daemon's own bin directory come first on its sessions' PATH: a test gives each "instance"
        # the programs of the machine it stands for (a stand-in nvidia-smi).
        f"SetEnv PATH={os.path.join(daemon_dir, 'bin')}:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
    ]
    path = os.path.join(daemon_dir, "sshd_config")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def start_daemon(sshd, workdir, index, address, port, authorized_keys, user, is_root):
    keygen = find_program("ssh-keygen")
    daemon_dir = os.path.join(workdir, f"sshd{index}")
    os.makedirs(os.path.join(daemon_dir, "bin"))
    host_key = os.path.join(daemon_dir, "ssh_host_ed25519_key")
    ssh_keygen(keygen, host_key, f"loopback-host-{address}")
    config = _sshd_config(daemon_dir, address, port, host_key, authorized_keys, user, is_root)
    check = subprocess.run([sshd, "-t", "-f", config], capture_output=True, text=True, timeout=60, check=False)
    if check.returncode != 0:
        raise SshdFailed(f"sshd rejects the generated configuration {config}: {check.stderr}")
    log_path = os.path.join(daemon_dir, "sshd.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sshd, "-D", "-e", "-f", config],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    return SshDaemon(address=address, port=port, user=user, config_path=config, log_path=log_path, process=process)


def wait_until_ready(daemon):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            return f"sshd on {daemon.address}:{daemon.port} exited with {daemon.process.returncode}:\n{daemon.log()}"
        if _banner(daemon.address, daemon.port):
            return None
        time.sleep(0.05)
    return f"sshd on {daemon.address}:{daemon.port} did not answer within {START_TIMEOUT}s:\n{daemon.log()}"


def _start_on_free_port(sshd, workdir, index, address, port_22, authorized_keys, user, is_root):
    """Start the daemon of ``address``; another free port when a race took the chosen one."""
    port = 22 if (port_22 and port_is_free(address, 22)) else None
    problem = None
    for _attempt in range(5):
        daemon = start_daemon(sshd, workdir, index, address, port or free_port(address), authorized_keys, user, is_root)
        problem = wait_until_ready(daemon)
        if problem is None:
            return daemon
        daemon.stop()
        shutil.rmtree(os.path.dirname(daemon.config_path), ignore_errors=True)
        if port is not None or "Address already in use" not in problem:
            break
    raise SshdFailed(problem)


def start_daemons(addresses, port_22_address=None, sshd=None):
    """Start one daemon per address (on port 22 for ``port_22_address`` when running as root and 22 is free).

    ``sshd``: the program to run (default: found on PATH or in the sbin directories).  Raises SshdMissing or
    SshdFailed; on success the caller stops them with ``SshDaemons.stop()``.
    """
    sshd = find_program(sshd or "sshd", None if sshd else SSHD_SEARCH_PATH)
    keygen = find_program("ssh-keygen")
    find_program("ssh")
    is_root = os.geteuid() == 0
    user = pwd.getpwuid(os.geteuid()).pw_name
    if is_root and not os.path.isdir("/run/sshd"):
        # OpenSSH refuses to start as root without its privilege separation directory (the service unit
        # normally makes it).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)

    # Short path: Ansible's SSH control sockets live below it.
    workdir = tempfile.mkdtemp(prefix="sf-sshd-")
    os.chmod(workdir, 0o755)
    result = SshDaemons(daemons=[], user=user, client_key=os.path.join(workdir, "id_ed25519"),
                        known_hosts=os.path.join(workdir, "known_hosts"), workdir=workdir)
    try:
        ssh_keygen(keygen, result.client_key, "shadeform-loopback-client")
        authorized_keys = os.path.join(workdir, "authorized_keys")
        shutil.copyfile(result.client_key + ".pub", authorized_keys)
        for index, address in enumerate(addresses):
            result.daemons.append(_start_on_free_port(sshd, workdir, index, address, is_root and address == port_22_address,
                                                      authorized_keys, user, is_root))
    except BaseException:
        result.stop()
        raise
    return result


def _write_atomically(path, text):
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run OpenSSH daemons on loopback addresses until SIGTERM or SIGINT.")
    parser.add_argument("--address", action="append", required=True, help="a 127.x.y.z address; repeatable")
    parser.add_argument("--ready-file", required=True, metavar="PATH",
                        help="once every daemon answers, write JSON here: user, client_key, known_hosts, "
                             "daemons [{address, port}], ip_pool (user@address:port,...)")
    parser.add_argument("--sshd", metavar="PROGRAM", help="the sshd to run (default: found on PATH or in /usr/sbin)")
    args = parser.parse_args(argv)
    for address in args.address:
        if not address.startswith("127."):
            parser.error(f"{address}: only loopback addresses (127.0.0.0/8)")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    try:
        daemons = start_daemons(args.address, sshd=args.sshd)
    except SshdMissing as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_SSHD_MISSING
    except (SshdFailed, OSError, subprocess.SubprocessError) as exc:
        sys.stderr.write(f"loopback sshd: {exc}\n")
        return 1
    try:
        _write_atomically(args.ready_file, json.dumps({
            "user": daemons.user,
            "client_key": daemons.client_key,
            "known_hosts": daemons.known_hosts,
            "daemons": [{"address": d.address, "port": d.port} for d in daemons.daemons],
            "ip_pool": ",".join(f"{daemons.user}@{d.address}:{d.port}" for d in daemons.daemons),
        }) + "\n")
        while not stop.wait(0.2):
            pass
    finally:
        daemons.stop()
        if os.path.exists(args.ready_file):
            os.unlink(args.ready_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
