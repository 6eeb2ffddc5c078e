# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""scripts/demo.sh, run as a newcomer runs it: what it shows, and that it leaves nothing behind.

The script runs with DEMO_VENV set to the Python environment running the tests (so no virtualenv is made
and the ansible-core under test is the one shown) and with TMPDIR set to a directory of its own: every
file and process the demo starts (simulator, loopback sshd, Ansible's SSH connections) is below or names
that directory, which is how the tests find leftovers.
"""

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from helpers import TESTS_DIR

sys.path.insert(0, os.path.join(TESTS_DIR, "e2e"))
# pylint: disable=wrong-import-position,import-error
from e2e_helpers import find_program, recap  # noqa: E402
from loopback_sshd import SSHD_SEARCH_PATH  # noqa: E402

REPO_ROOT = os.path.dirname(TESTS_DIR)
DEMO = os.path.join(REPO_ROOT, "scripts", "demo.sh")
DEMO_FLEET = os.path.join(TESTS_DIR, "simulator", "fleets", "demo.json")
# The statuses demo/shadeform.yml keeps, and the group the demo's playbook run is limited to.
DEMO_STATUSES = ("active", "pending", "creating")
PLAYBOOK_LIMIT_GPU = "H100"
# A bound for a hung demo, not a measure of its speed.
RUN_TIMEOUT = 180

pytestmark = pytest.mark.skipif(not os.path.exists(DEMO), reason="scripts/ is left out of the built collection (build_ignore)")


def demo_fleet():
    with open(DEMO_FLEET, encoding="utf-8") as handle:
        return [i for i in json.load(handle)["instances"] if i["status"] in DEMO_STATUSES]


def processes_naming(text):
    """Command lines of the running processes that contain ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in command:
            found.append(f"{entry}: {command}")
    return found


def run_demo(extra_env=None):
    """Run scripts/demo.sh; return (exit status, stdout and stderr together); assert that it left nothing."""
    # Short: Ansible's SSH control sockets live below it.
    tmpdir = tempfile.mkdtemp(prefix="sfdemo-")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("ANSIBLE_", "SHADEFORM_"))}
    env.update({"DEMO_VENV": os.path.dirname(os.path.dirname(sys.executable)), "TMPDIR": tmpdir}, **(extra_env or {}))
    try:
        result = subprocess.run([DEMO], env=env, cwd=tmpdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=RUN_TIMEOUT, check=False)
        assert processes_naming(tmpdir) == [], result.stdout
        assert os.listdir(tmpdir) == [], result.stdout
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return result.returncode, result.stdout


def check_groups_summary(output):
    fleet = demo_fleet()
    assert f"{len(fleet)} hosts (demo/shadeform.yml keeps active, pending and creating instances)" in output
    summary = output.split("== 1.", 1)[1].split("== 2.", 1)[0]
    for field, prefix in (("status", "status_"), ("cloud", "cloud_")):
        for value, count in collections.Counter(i[field] for i in fleet).items():
            assert re.search(rf"\b{prefix}{re.escape(value)} {count}\b", summary), (prefix + value, summary)
    gpus = collections.Counter(i["configuration"]["gpu_type"] for i in fleet)
    for gpu_type, count in gpus.items():
        assert re.search(rf"\bgpu_{re.escape(gpu_type)} {count}\b", summary), (gpu_type, summary)


def shown_host(output):
    """The host of step 2 and the variables shown for it (the part of the trimmed JSON that is JSON)."""
    section = output.split("== 2.", 1)[1].split("== 3.", 1)[0]
    host = re.search(r"^\$ ansible-inventory -i demo/shadeform.yml --host (\S+)", section, re.M)[1]
    variables = dict(re.findall(r'^    "(ansible_\w+|shadeform_status)": "?([^",]+)"?,?$', section, re.M))
    return host, variables


def active_fleet_host(host):
    """The demo fleet's instance that ``host`` stands for, found by its name (or its name plus the id's start)."""
    return next(i for i in demo_fleet() if host in (i["name"], f"{i['name']}-{i['id'][:8]}"))


@pytest.mark.e2e
def test_demo_shows_the_fleet_an_active_host_and_a_playbook_run_over_ssh():
    find_program("sshd", SSHD_SEARCH_PATH)
    status, output = run_demo()
    assert status == 0, output
    assert "Traceback" not in output
    assert "demo-key-not-a-secret" not in output

    check_groups_summary(output)

    daemons = re.search(r"^  sshd on (.+)  \(stand-ins for the active instances\)$", output, re.M)[1].split(", ")
    addresses = {entry.split("@")[1] for entry in daemons}
    host, variables = shown_host(output)
    assert active_fleet_host(host)["status"] == "active"
    assert variables["shadeform_status"] == "active"
    assert f"{variables['ansible_host']}:{variables['ansible_port']}" in addresses
    assert variables["ansible_host"].startswith("127.")

    assert "$ ansible-playbook -i demo/shadeform.yml demo/check_fleet.yml --limit gpu_H100" in output
    hosts = recap(output)
    expected = [i for i in demo_fleet() if i["status"] == "active" and i["configuration"]["gpu_type"] == PLAYBOOK_LIMIT_GPU]
    assert len(hosts) == len(expected) > 0, output
    assert all(counts == {"ok": 3, "changed": 0, "unreachable": 0, "failed": 0} for counts in hosts.values()), hosts
    assert sorted(active_fleet_host(name)["id"] for name in hosts) == sorted(i["id"] for i in expected)
    # Each host reports the daemon it reached.
    reached = re.findall(r'"msg": "\S+ on \S+ \S+, \S+@(127\.[0-9.]+:\d+): ', output)
    assert len(reached) == len(expected) and set(reached) <= addresses, output


@pytest.mark.functional
def test_demo_without_sshd_says_how_to_install_it_and_shows_the_rest():
    status, output = run_demo({"DEMO_SSHD": "/nonexistent/sshd"})
    assert status == 0, output
    assert "Traceback" not in output
    check_groups_summary(output)
    host, variables = shown_host(output)
    instance = active_fleet_host(host)
    # Without stand-ins, the host keeps the address the fleet file gives it.
    assert variables["ansible_host"] == instance["ip"]
    step_3 = output.split("== 3.", 1)[1]
    assert "apt-get install openssh-server" in step_3
    assert "PLAY RECAP" not in step_3
