# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the end-to-end tests: the fleet that points at the loopback OpenSSH daemons, running the CLIs.

The daemons themselves are started by loopback_sshd.py, which scripts/demo.sh runs too.

Kept out of conftest.py so that test modules can import them by a name no other conftest shares.
"""

import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import tempfile

import pytest

# loopback_sshd.py lies beside this file (tests/e2e/conftest.py puts it on sys.path).
import loopback_sshd  # pylint: disable=import-error
from shadeform_simulator import Simulator  # put on sys.path by tests/conftest.py

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
PLAYBOOKS_DIR = os.path.join(E2E_DIR, "playbooks")
BIN_DIR = os.path.dirname(sys.executable)
E2E_API_KEY = "sim-e2e-key-5f0c2a7d9b"

# Addresses of the daemons; the last one is not in the API's fleet at first (the scale-out target).
DAEMON_ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6")
PORT_22_ADDRESS = "127.0.0.4"  # uses port 22 when running as root and 22 is free there
CLI_TIMEOUT = 300


def missing_prerequisite(reason):
    """Skip, or fail when CI=true: in CI the end-to-end tests must run."""
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def find_program(name, search_path=None):
    """loopback_sshd.find_program for a test: a missing program skips it (fails it in CI)."""
    try:
        return loopback_sshd.find_program(name, search_path)
    except loopback_sshd.SshdMissing as exc:
        missing_prerequisite(str(exc))


# --- The fleet -------------------------------------------------------------------------------------------

def _instance(number, name, gpu_type, count, cloud, region, status, tags, address=None, port=None, user=None):
    vram = {"H100": 80, "A100": 80, "A6000": 48}[gpu_type]
    shade_type = f"{gpu_type}_{vram}Gx{count}" if count > 1 else gpu_type
    active = status == "active"
    return {
        "id": f"5e2e{number:04d}-6c54-4b01-90e6-d701748f{number:04d}",
        "cloud": cloud,
        "region": region,
        "shade_instance_type": shade_type,
        "cloud_instance_type": f"gpu_{count}x_{gpu_type.lower()}",
        "cloud_assigned_id": f"{cloud}-{number:08d}",
        "shade_cloud": True,
        "name": name,
        "configuration": {
            "memory_in_gb": 224 * count,
            "storage_in_gb": 512 * count,
            "vcpus": 26 * count,
            "num_gpus": count,
            "gpu_type": gpu_type,
            "interconnect": "sxm5" if gpu_type == "H100" else "pcie",
            "nvlink": gpu_type == "H100",
            "vram_per_gpu_in_gb": vram,
            "gpu_manufacturer": "nvidia",
            "os": "ubuntu22.04_cuda12.2_shade_os",
        },
        "ip": address if active else (None if number % 2 else ""),
        "ssh_user": user or "shadeform",
        "ssh_port": port if port is not None else 22,
        "status": status,
        "status_details": {"active": "ready", "pending": "downloading", "creating": "", "pending_provider": "provisioning"}[status],
        "cost_estimate": "12.7" if active else "0",
        "hourly_price": 249 * count,
        "rental_terms": {"rental_type": "on_demand", "hourly_price": f"{2.49 * count:.2f}", "ending_at": None},
        "tags": tags,
        "port_mappings": [],
        "created_at": "2025-06-02T08:15:00Z",
        "active_at": "2025-06-02T08:21:44Z" if active else None,
        "deleted_at": None,
        "boot_time": {"min_boot_in_sec": 180, "max_boot_in_sec": 600},
    }


def build_fleet(daemons):
    """Active instances on the first four daemons, plus instances that are not ready (no address yet)."""
    d = daemons.daemons
    user = daemons.user
    return [
        _instance(1, "llm-train-h100-01", "H100", 8, "lambdalabs", "us-east-1", "active",
                  ["env=prod", "training", "team:research"], d[0].address, d[0].port, user),
        _instance(2, "llm-train-h100-02", "H100", 8, "hyperstack", "canada-1", "active",
                  ["env=prod", "training", "team:research"], d[1].address, d[1].port, user),
        _instance(3, "notebook-a100-01", "A100", 1, "datacrunch", "FIN-01", "active",
                  ["env=dev", "jupyter"], d[2].address, d[2].port, user),
        _instance(4, "notebook-a100-02", "A100", 1, "massedcompute", "us-central-2", "active",
                  ["env=dev", "jupyter"], d[3].address, d[3].port, user),
        # Not ready: no address yet; must never be contacted.
        _instance(5, "llm-train-h100-03", "H100", 8, "lambdalabs", "us-east-1", "pending",
                  ["env=prod", "training", "team:research"]),
        _instance(6, "llm-train-h100-04", "H100", 8, "hyperstack", "canada-1", "creating",
                  ["env=prod", "training"]),
        _instance(7, "eval-a6000-01", "A6000", 1, "paperspace", "ny2", "pending_provider",
                  ["env=dev"]),
    ]


ACTIVE = ("llm-train-h100-01", "llm-train-h100-02", "notebook-a100-01", "notebook-a100-02")
NOT_READY = ("llm-train-h100-03", "llm-train-h100-04", "eval-a6000-01")
SCALE_OUT = "llm-train-h100-03"  # made active on the last daemon by the refresh_inventory playbook


@dataclasses.dataclass
class E2E:
    """Everything one end-to-end test needs."""

    daemons: loopback_sshd.SshDaemons
    api: Simulator
    fleet: list
    inventory: str
    proof_dir: str
    workdir: str
    env: dict

    def instance(self, name):
        return next(i for i in self.api.instances if i["name"] == name)

    def run(self, program, *args):
        """Run an Ansible CLI of the running Python environment in the run directory, as a user types it."""
        return run_cli(self.workdir, self.env, program, *args)

    def write_inventory(self, *extra_lines):
        """Rewrite shadeform.yml with more options."""
        write_ssh_inventory(self.inventory, self.api.url, self.daemons.client_key, extra_lines)

    def proofs(self):
        """{file name without .json: proof dict} written by the playbooks on the hosts they reached."""
        found = {}
        for name in sorted(os.listdir(self.proof_dir)):
            with open(os.path.join(self.proof_dir, name), encoding="utf-8") as handle:
                found[name.removesuffix(".json")] = json.load(handle)
        return found


def write_ssh_inventory(path, api_url, client_key, extra_lines=()):
    """The inventory file a user writes (YAML); json.dumps gives YAML-safe quoted scalars."""
    text = "\n".join([
        "plugin: shadeform.cloud.shadeform",
        f"api_url: {json.dumps(api_url)}",
        "keyed_groups:",
        "  - key: shadeform_labels.env",
        "    prefix: env",
        "compose:",
        f"  ansible_ssh_private_key_file: {json.dumps(repr(client_key))}",
        *extra_lines,
        "",
    ])
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def describe(result):
    """A finished command's exit status and output, for assertion messages."""
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"


@contextlib.contextmanager
def launching_simulator(ssh_daemons, tmp_path, playbook=None, daemons=2, deleting_delay=0.5):
    """A simulator with an empty fleet whose new instances get the first ``daemons`` daemons' addresses.

    Yields ``(api, play, proof_dir)``: ``play(**extra_vars)`` runs ``playbooks/<playbook>`` with the inventory
    file (``<tmp_path>/run/shadeform.yml``), the key and ``shadeform_api_url``/``proof_dir`` set, as a user's
    ansible-playbook would run (no ``playbook``: a test that runs its commands itself). Instances are ``creating`` and
    ``pending`` for 0.5 s each, ``deleting`` for ``deleting_delay`` seconds.
    """
    pool = [f"{ssh_daemons.user}@{daemon.address}:{daemon.port}" for daemon in ssh_daemons.daemons[:daemons]]
    workdir = tmp_path / "run"
    proof_dir = tmp_path / "proof"
    workdir.mkdir()
    proof_dir.mkdir()
    with Simulator(api_key=E2E_API_KEY, ip_pool=pool, creating_delay=0.5, pending_delay=0.5, deleting_delay=deleting_delay) as api:
        write_ssh_inventory(str(workdir / "shadeform.yml"), api.url, ssh_daemons.client_key)
        env = ansible_environment(ssh_daemons, tmp_path)
        env["SHADEFORM_API_KEY"] = E2E_API_KEY

        def play(**extra_vars):
            extra_vars.update(shadeform_api_url=api.url, proof_dir=str(proof_dir))
            return run_cli(str(workdir), env, "ansible-playbook", "-i", "shadeform.yml", os.path.join(PLAYBOOKS_DIR, playbook),
                           "-e", json.dumps(extra_vars))

        yield api, play, str(proof_dir)


def run_cli(cwd, env, program, *args):
    """Run ``program`` (ansible, ansible-playbook, ...) from the bin directory of the running Python."""
    return subprocess.run(
        [os.path.join(BIN_DIR, program), *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False, stdin=subprocess.DEVNULL,
    )


def process_tree(pid):
    """``pid``'s descendants, children first (loopback_sshd's walk of /proc; none where there is no /proc)."""
    found = []
    for child in loopback_sshd._children(pid):  # pylint: disable=protected-access
        found.append(child)
        found.extend(process_tree(child))
    return found


@contextlib.contextmanager
def background_cli(cwd, env, log_path, program, *args):
    """Run ``program`` of the running Python's bin directory in the background, in a process group of its own, its
    output in ``log_path``; yields the ``Popen``.

    On leaving, it is stopped as a user stops it (SIGINT to its group), killed (SIGKILL) if it has not ended within
    10 seconds, and so is every process it had started that is still there, also those that left its group
    (ansible-runner starts each ansible-playbook in a session of its own).
    """
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [os.path.join(BIN_DIR, program), *args], cwd=cwd, env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        yield process
    finally:
        started = process_tree(process.pid)  # before it ends: its orphans are no longer found under it
        for signum, wait in ((signal.SIGINT, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, signum)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        for pid in started:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def ansible_environment(daemons, tmp_path):
    """os.environ for the Ansible CLIs: the venv's bin first, no stray ANSIBLE_*/SHADEFORM_* settings, no host key checks.

    ANSIBLE_COLLECTIONS_PATH (exported by tests/conftest.py) is kept so that the working tree is the collection.
    """
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("SHADEFORM_") or (name.startswith("ANSIBLE_") and name != "ANSIBLE_COLLECTIONS_PATH"):
            del env[name]
    # A control directory per test: a master connection left by an earlier test (ControlPersist) would
    # otherwise carry this test's tasks without a login the daemons' logs can show. Short path: sockets.
    control_dir = tempfile.mkdtemp(prefix="cp", dir=daemons.workdir)
    config = os.path.join(tmp_path, "ansible.cfg")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("[defaults]\n")
    env.update({
        "PATH": BIN_DIR + os.pathsep + env.get("PATH", ""),
        "ANSIBLE_CONFIG": config,
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        # The user's ssh config and known_hosts stay out of it; connection sharing ends soon after the run.
        "ANSIBLE_SSH_ARGS": (f"-F /dev/null -o UserKnownHostsFile={daemons.known_hosts} -o IdentitiesOnly=yes "
                             "-o ControlMaster=auto -o ControlPersist=10s"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": control_dir,
        "ANSIBLE_TIMEOUT": "20",
        # One SSH round trip per task instead of four: what most fleets run with, and much faster here.
        "ANSIBLE_PIPELINING": "True",
        # The "remote" hosts are this machine: run modules with this Python rather than discover one (login
        # shells may put version shims first on PATH that pick a Python not installed for this user).
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCAL_TEMP": os.path.join(tmp_path, "local_tmp"),
        "ANSIBLE_REMOTE_TEMP": os.path.join(tmp_path, "remote_tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    })
    return env


RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
                        r"failed=(?P<failed>\d+)")


def recap(stdout):
    """{host: {"ok": n, "changed": n, "unreachable": n, "failed": n}} from the PLAY RECAP of a playbook run."""
    hosts = {}
    in_recap = False
    for line in stdout.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        match = RECAP_LINE.match(line) if in_recap else None
        if match:
            hosts[match["host"]] = {k: int(match[k]) for k in ("ok", "changed", "unreachable", "failed")}
    return hosts
