# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cost guard of the integration targets' real-API mode (tests/integration, docs/architecture.md), against the simulator.

* The targets whose launches differ from run to run or by mode, run as on the real service (``shadeform_real_api``):
  ``instance_info``, ``fleet`` (whose failover could launch on other offers), the inventory target's launch, and the
  cluster targets (which create a cluster on the simulator only). Every instance launch carries ``auto_delete`` with a
  date and a spend threshold, each target launches exactly what setup_shadeform declares (which the dry listing prices),
  only the cheapest available type, and no cluster is created (a cluster create takes no auto_delete). The CI run of
  every target (``nox -s "integration(...)"``, against the simulator) checks auto_delete and the declared counts too.
* The dry listing (tests/integration/launch_plan.yml, what ``nox -s "integration(2.21)" -- --list-targets`` runs) only
  reads, and prints per target what would be launched and the price.

The targets' own assertions run as well; ``nox -s "integration(...)"`` runs every target through ansible-test.
"""

import json
import os
import re
import secrets

import pytest

from helpers import API_KEY, INTEGRATION_DIR, cli_env, declared_launches, launch_problems, launches_by_target, run_checked

pytestmark = pytest.mark.functional

TARGETS_DIR = os.path.join(INTEGRATION_DIR, "targets")
# The role targets run here (the inventory target is a runme.sh: its launch playbook runs after them); the others launch
# as instance_info does (instance) or make volumes, which cost a fraction of a cent an hour.
ROLE_TARGETS = ("instance_info", "fleet", "cluster", "cluster_info")
LAUNCH_PLAYBOOK = os.path.join(TARGETS_DIR, "inventory_shadeform", "playbooks", "launch.yml")


def integration_vars(simulator, tmp_path):
    """What nox writes to tests/integration/integration_config.yml for a real-API run, pointed at the simulator."""
    return {"shadeform_api_url": simulator.url, "shadeform_api_key": API_KEY, "shadeform_real_api": True,
            "shadeform_resource_prefix": f"cost-guard-{secrets.token_hex(3)}", "shadeform_poll_interval": 0.1,
            "shadeform_wait_timeout": 60, "output_dir": str(tmp_path)}


def run_playbook(playbook, variables, tmp_path):
    config = tmp_path / "integration_config.json"
    config.write_text(json.dumps(variables))
    return run_checked(["ansible-playbook", str(playbook), "-e", f"@{config}"],
                       env=cli_env({"ANSIBLE_ROLES_PATH": TARGETS_DIR, "ANSIBLE_LOCALHOST_WARNING": "false",
                                    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false"}), cwd=str(tmp_path))


def cheapest_on_demand_price(simulator):
    """The lowest on-demand price, in dollars per hour, of a type available now in the simulator's catalogue."""
    return min(item["hourly_price"] / 100 for item in simulator.instance_types
               for entry in item["availability"] if entry["available"] and entry["rental_type"] == "on_demand")


def test_real_api_mode_launches_only_what_is_declared_and_with_auto_delete(shadeform_api, tmp_path):
    variables = integration_vars(shadeform_api, tmp_path)
    playbook = tmp_path / "launching_targets.yml"
    playbook.write_text("- hosts: localhost\n  gather_facts: false\n  roles: [{0}]\n- import_playbook: {1}\n".format(
        ", ".join(ROLE_TARGETS), LAUNCH_PLAYBOOK))

    run_playbook(playbook, variables, tmp_path)

    requests = shadeform_api.requests
    prefix = variables["shadeform_resource_prefix"]
    assert launch_problems(requests, prefix, real_api=True) == []
    declared = {(target, kind): plan[kind] for target, plan in declared_launches().items()
                if target in ROLE_TARGETS + ("inventory_shadeform",) for kind in ("instances", "volumes") if plan.get(kind)}
    assert launches_by_target(requests, prefix) == declared
    launches = [request["body"] for request in requests if request["path"] == "/v1/instances/create"]
    assert len(launches) == sum(count for (target, kind), count in declared.items() if kind == "instances") > 0
    cheapest = cheapest_on_demand_price(shadeform_api)
    catalogue = {(item["cloud"], item["shade_instance_type"]): item["hourly_price"] / 100 for item in shadeform_api.instance_types}
    assert {catalogue[(body["cloud"], body["shade_instance_type"])] for body in launches} == {cheapest}
    # The spend threshold is the price of the auto_delete window (60 minutes by default), the same for every launch.
    assert {body["auto_delete"]["spend_threshold"] for body in launches} == {f"{cheapest:.2f}"}


def test_dry_listing_launches_nothing_and_prints_the_price(shadeform_api, tmp_path):
    variables = integration_vars(shadeform_api, tmp_path)

    result = run_playbook(os.path.join(INTEGRATION_DIR, "launch_plan.yml"), variables, tmp_path)

    assert {request["method"] for request in shadeform_api.requests} == {"GET"}
    output = result.stdout
    price = f"${cheapest_on_demand_price(shadeform_api):.2f}/h"
    assert "(the real API: it bills)" in output
    for target, plan in declared_launches().items():
        if plan.get("instances"):
            assert re.search(r'"{0}: {1} x \S+ at {2} for ~\d+ min .*: ~\$\d+\.\d\d, at most \$\d+\.\d\d"'.format(
                target, plan["instances"], re.escape(price)), output), output
        elif plan.get("volumes"):
            assert re.search(r'"{0}: {1} x \d+ GB volume .* at \$[\d.]+/GB/h'.format(target, plan["volumes"]), output), output
    for target in ("gpu_facts", "ssh_key", "template"):
        assert f'"{target}: launches nothing"' in output
    assert re.search(r'"Total: \d+ launches of \S+, ~\$\d+\.\d\d expected, at most \$\d+\.\d\d', output), output


def test_the_check_names_every_breach():
    """launch_problems, which the CI run of the targets and the test above rely on, fails a run that breaks the guard."""
    prefix = "cost-guard-0"

    def create(kind, name, **body):
        return {"method": "POST", "path": f"/v1/{kind}/create", "body": dict(body, name=name)}

    thresholds = {"date_threshold": "2030-01-01T00:00:00Z", "spend_threshold": "0.50"}
    requests = [
        create("instances", f"{prefix}-instance", auto_delete=thresholds),
        create("instances", f"{prefix}-instance", auto_delete={"date_threshold": "2030-01-01T00:00:00Z"}),
        create("instances", f"{prefix}-fleet-1"),
        create("instances", "someone-else"),
        create("clusters", f"{prefix}-cluster"),
    ]

    problems = launch_problems(requests, prefix, real_api=True)

    assert len(problems) == 6, problems
    assert sum("without auto_delete" in problem for problem in problems) == 3
    assert any("target instance launched 2 instances, declares 1" in problem for problem in problems)
    assert any("not cost-guard-0-<target>" in problem for problem in problems)
    assert any("target cluster created 1 clusters in real-API mode" in problem for problem in problems)
    assert launch_problems(requests[:1], prefix) == []
