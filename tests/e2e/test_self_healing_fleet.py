# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rulebook shadeform.cloud.heal_fleet end to end, with the real ansible-rulebook: a fleet that heals itself.

The simulator hands the addresses of three loopback OpenSSH daemons to the instances the fleet module launches (the
first free one each time). The collection's playbook shadeform.cloud.heal_fleet_replace makes a fleet of two, on
daemons 0 and 1; then ansible-rulebook runs the rulebook (source shadeform.cloud.instance_events polling every second)
with the inventory file and playbooks/heal_fleet_configure.yml as its configure playbook, and the simulator preempts
the member on daemon 0. Within HEAL_BOUND seconds of the preemption:

- the rulebook has run the fleet module: exactly one instance launched (one loss, one replacement, although the loss
  gives two events, ``preempted`` and then ``deleted`` once the instance is gone: the second run finds the fleet
  whole), and the fleet is two active members again, the lost one gone;
- the configure playbook has run over SSH on the replacement and on no other machine: the note it leaves is named
  after the address of the daemon its SSH session reached, and holds the host's instance id.

ansible-rulebook runs in a process group of its own and is stopped, with every process it started, at the end.

Run on the newest ansible-core only (noxfile.py installs tests/requirements-eda.txt there and leaves this file out of
the older core's e2e session): what ansible-rulebook does does not depend on the core, the playbooks it starts are
ansible-playbook runs like those the other e2e tests check on both cores, and it adds about 20 packages and a Java
runtime for CI's time budget.
"""

import json
import os
import re
import shutil
import time

import pytest

# pylint: disable=import-error
from e2e_helpers import (
    BIN_DIR, E2E_API_KEY, PLAYBOOKS_DIR, ansible_environment, background_cli, describe, launching_simulator,
    missing_prerequisite, run_cli,
)
from helpers import REPO_ROOT

pytestmark = pytest.mark.e2e

COUNT = 2
FLEET = {
    "name": "healers",
    "count": COUNT,
    "gpu_type": "A6000",
    "num_gpus": 1,
    "max_hourly_price": 1.5,
    "wait_timeout": 60,
    "poll_interval": 0.5,
}
INTERVAL = 1  # seconds between two looks of the event source at the workspace
# The lost member stays `deleting` for 2 s: longer than the interval, so that the source sees it `preempted` first
# and `deleted` later, two events for one loss; shorter than its replacement takes to become active (ansible-playbook
# starting, then 1 s in the simulator), so that the replacement, which the fleet module names as the member it
# replaces, never shares its host name with it (two listed instances of one name are both renamed <name>-<id>).
DELETING_DELAY = 2
# From the preemption to the replacement configured and the second event's run done. Measured: about 10 s on a machine
# shared with other test runs (one poll, ansible-playbook for fleet, which launches and waits 1 s for the simulator
# plus the SSH check, ansible-playbook again for the second event, ansible-playbook for the configure playbook over
# SSH); the rest is room for CI's load.
HEAL_BOUND = 60
STARTUP_BOUND = 60  # ansible-rulebook started (Java, the rule engine) and the source's first look at the workspace done


def require_rulebook():
    """The path of ansible-rulebook; skips the test where it or Java is missing (fails it when CI=true)."""
    rulebook = os.path.join(BIN_DIR, "ansible-rulebook")
    if not os.path.exists(rulebook):
        missing_prerequisite("ansible-rulebook is not installed in this Python environment: "
                             "pip install -r tests/requirements-eda.txt (nox -s 'e2e(2.21)' does)")
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and os.path.exists(os.path.join(java_home, "bin", "java"))):
        missing_prerequisite("ansible-rulebook needs a Java runtime, 17 or newer, and `java` is not on PATH: "
                             "apt-get install openjdk-17-jre-headless (scripts/test.sh installs it when missing)")
    return rulebook


def listed_gets(api):
    return sum(1 for request in api.requests if request["method"] == "GET" and request["path"] == "/v1/instances")


def launches(api):
    return [request for request in api.requests if request["method"] == "POST" and request["path"] == "/v1/instances/create"]


def members(api):
    return [i for i in api.instances if f"fleet={FLEET['name']}" in (i.get("tags") or []) and i.get("status") != "deleting"]


def wait_for(what, bound, check, log_path):
    """Poll ``check()`` until it returns something true, for at most ``bound`` seconds; fail with the rulebook's output."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"not within {bound} s: {what}\n--- ansible-rulebook ---\n{read(log_path)}", pytrace=False)
    return None


def read(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def notes(proof_dir):
    """{server address: note} of the notes the configure playbook left."""
    found = {}
    for name in os.listdir(proof_dir):
        if name.startswith("configured-"):
            with open(os.path.join(proof_dir, name), encoding="utf-8") as handle:
                found[name[len("configured-"):].removesuffix(".json")] = json.load(handle)
    return found


def fleet_runs(log):
    """The summary line of each run of shadeform.cloud.heal_fleet_replace in ansible-rulebook's output."""
    return re.findall(r"Fleet healers: (\d+) of 2 members ready, (changed|nothing to do)", log)


def test_a_preempted_member_is_replaced_and_only_its_replacement_is_configured(ssh_daemons, tmp_path):
    rulebook = require_rulebook()
    addresses = [daemon.address for daemon in ssh_daemons.daemons]
    with launching_simulator(ssh_daemons, tmp_path, daemons=3, deleting_delay=DELETING_DELAY) as (api, _play, proof_dir):
        workdir = str(tmp_path / "run")  # where launching_simulator wrote the inventory file shadeform.yml
        variables = tmp_path / "heal_fleet_vars.json"
        variables.write_text(json.dumps({
            "fleet": FLEET, "api_url": api.url, "interval": INTERVAL,
            "configure_playbook": os.path.join(PLAYBOOKS_DIR, "heal_fleet_configure.yml"),
        }), encoding="utf-8")
        env = ansible_environment(ssh_daemons, tmp_path)
        env.update(SHADEFORM_API_KEY=E2E_API_KEY, HEAL_FLEET_PROOF_DIR=proof_dir)

        # The fleet is made as the guide says: with the playbook the rulebook runs on a loss, and its variables file.
        made = run_cli(workdir, env, "ansible-playbook", "shadeform.cloud.heal_fleet_replace", "-e", f"@{variables}")
        assert made.returncode == 0, describe(made)
        first = {i["id"]: i for i in members(api)}
        assert sorted(i["ip"] for i in first.values()) == addresses[:COUNT], first
        [lost] = [i for i in first.values() if i["ip"] == addresses[0]]
        log_path = str(tmp_path / "ansible-rulebook.log")
        gets_before = listed_gets(api)
        launches_before = len(launches(api))
        with background_cli(workdir, env, log_path, os.path.basename(rulebook), "--rulebook", "shadeform.cloud.heal_fleet",
                            "--inventory", "shadeform.yml", "--vars", str(variables), "--print-events") as process:
            # The source's first look is its starting point: a change is what differs from it.
            wait_for("the event source's first GET /instances", STARTUP_BOUND,
                     lambda: listed_gets(api) > gets_before or process.poll() is not None, log_path)
            assert process.poll() is None, read(log_path)

            def healed():
                """The fleet's members once COUNT are active, a note is left and the second event's run is done."""
                now = members(api)
                done = len(now) == COUNT and all(i["status"] == "active" for i in now)
                return now if done and notes(proof_dir) and len(fleet_runs(read(log_path))) >= 2 else None

            api.preempt(lost["id"])
            now = wait_for("a replacement active and configured, and the run for the second event of the loss done",
                           HEAL_BOUND, healed, log_path)
            assert process.poll() is None, read(log_path)
            log = read(log_path)

        # One loss, two events (preempted, then deleted), one replacement: the second run launched nothing.
        assert "'event': 'preempted'" in log and "'event': 'deleted'" in log, log  # as --print-events shows them
        assert fleet_runs(log) == [("2", "changed"), ("2", "nothing to do")], log
        assert len(launches(api)) == launches_before + 1, log
        [survivor] = [i for i in first.values() if i is not lost]
        [replacement] = [i for i in now if i["id"] not in first]
        assert sorted(i["id"] for i in now) == sorted([survivor["id"], replacement["id"]])
        assert lost["id"] not in [i["id"] for i in api.instances]
        # The configure playbook ran over SSH on the replacement's machine only, and knew it as that instance.
        assert list(notes(proof_dir)) == [replacement["ip"]], notes(proof_dir)
        note = notes(proof_dir)[replacement["ip"]]
        assert (note["id"], note["host"], int(note["server_port"])) == (
            replacement["id"], replacement["name"], replacement["ssh_port"]), note
        assert E2E_API_KEY not in log


@pytest.mark.parametrize("rulebook", ["heal_fleet", "heal_fleet_controller"])
def test_ansible_rulebook_accepts_the_rulebook(rulebook):
    """ansible-rulebook's own checks, which it has no command for: its schema, then its parser, which compiles the
    conditions with the variables (vars.fleet.name) as it does at start. The controller's rulebook runs nowhere in the
    tests: this is its one check beyond ansible-lint's schema."""
    require_rulebook()
    # pylint: disable=import-error,import-outside-toplevel
    import yaml
    from ansible_rulebook import rules_parser
    from ansible_rulebook.conf import settings
    from ansible_rulebook.json_generator import generate_dict_rulesets
    from ansible_rulebook.validators import Validate

    settings.ansible_galaxy_path = os.path.join(BIN_DIR, "ansible-galaxy")  # how the source's collection is found
    with open(os.path.join(REPO_ROOT, "extensions", "eda", "rulebooks", rulebook + ".yml"), encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    Validate.rulebook(data)
    variables = {"fleet": FLEET}
    parsed = rules_parser.parse_rule_sets(data, variables)
    assert [each.execution_strategy.name for each in parsed] == ["SEQUENTIAL"]  # one action at a time: see the guide
    [ruleset] = generate_dict_rulesets(parsed, variables)
    rules = [rule["Rule"] for rule in ruleset["RuleSet"]["rules"]]
    assert [rule["name"] for rule in rules] == ["Replace a lost member of the fleet", "Configure a member that became active"]
    # Both rules are for this fleet only: vars.fleet.name became the fleet's name.
    for rule in rules:
        [condition] = rule["condition"]["AllCondition"]
        assert condition["AndExpression"]["lhs"] == {
            "EqualsExpression": {"lhs": {"Event": "shadeform.fleet"}, "rhs": {"String": FLEET["name"]}}}, rule
