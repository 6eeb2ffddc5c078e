# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's EXAMPLES run as written (#21.8): one play per module, its examples as the play's tasks, in order.

The examples are pasted unchanged into a play on localhost, as a user would, and run by the real ansible-playbook,
each module's play against a simulator of its own. The play adds only what a user's play around them would have:

* ``module_defaults`` of ``group/shadeform.cloud.shadeform`` with the simulator's URL and a short ``poll_interval``
  (every module accepts the group's wait options), the key in ``SHADEFORM_API_KEY``;
* the variables the examples take from elsewhere (``key``, registered by an earlier ssh_key task; ``vault_hf_token``),
  a ``~/.ssh/id_ed25519.pub`` in a home of the test's own, and the volume ``model-cache`` that instance's examples use;
* capacity on the offers the examples name (the simulator's catalogue is random): hyperstack's A6000 in canada-1 and
  a spot A100.

``fleet`` waits for SSH and ``instance`` reaches its instance with ``wait_for_connection``: their instances get the
addresses of the loopback sshd daemons (loopback_sshd.py), the inventory is a shadeform.yml for each simulator, and
they are marked ``e2e``; the other modules' examples reach no instance and are marked ``functional``. Each group is
one ansible-playbook run (one play per module), which each module's test then reads its own play from.
"""

import base64
import contextlib
import dataclasses
import importlib
import json
import os
import struct
import sys
import textwrap
import urllib.request

import pytest
import yaml

from helpers import API_KEY, NO_PROXY_ENV, REPO_ROOT, cli_env

# pylint: disable=import-error
from e2e_helpers import E2E_API_KEY, Simulator, ansible_environment, describe, run_cli, write_ssh_inventory

# gpu_facts runs on a GPU host and calls no API: its examples need an nvidia-smi, not a simulator, and run in
# tests/unit/plugins/modules/test_gpu_facts.py against replayed nvidia-smi outputs.
ON_GPU_HOSTS = ("gpu_facts",)
MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(REPO_ROOT, "plugins", "modules"))
                 if name.endswith(".py") and name[:-3] not in ON_GPU_HOSTS)
OVER_SSH = ("fleet", "instance")
ON_LOCALHOST = tuple(module for module in MODULES if module not in OVER_SSH)
SIMULATOR_OPTIONS = {"creating_delay": 0.1, "pending_delay": 0.1, "deleting_delay": 0.1}

# Offers the examples launch on, given capacity: (cloud, shade_instance_type, region, rental_type, spot price).
NAMED_OFFERS = (
    ("hyperstack", "A6000", "canada-1", "on_demand", None),
    ("hyperstack", "A6000", "canada-1", "spot", "0.53"),
    ("aws", "A100", "us-east-1", "spot", "0.98"),  # fleet's spot batch of gpu_type A100
)

# What each module's examples leave in the workspace (instance names); the others launch nothing.
LEFT_RUNNING = {
    "fleet": [f"batch-{n}" for n in range(1, 9)] + ["inference-1", "inference-2"],
    "instance": ["vllm-01"],
    "instance_types_info": ["notebook-01"],
    "ssh_key": ["notebook-01"],
    "template": ["vllm-01"],
}

PLAY = """\
- name: {title}
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/shadeform.cloud.shadeform:
      api_url: {api_url}
      poll_interval: 0.1
      wait_timeout: 120
  vars: {variables}
  tasks:
{tasks}
"""


def examples(module):
    return importlib.import_module(f"ansible_collections.shadeform.cloud.plugins.modules.{module}").EXAMPLES


def play_title(module):
    return f"The examples of shadeform.cloud.{module}, as written"


def catalogue():
    """The simulator's instance types, with capacity on NAMED_OFFERS."""
    from shadeform_simulator import generate_instance_types  # pylint: disable=import-outside-toplevel

    types = generate_instance_types()
    for cloud, shade_type, region, rental_type, price in NAMED_OFFERS:
        item = next(t for t in types if (t["cloud"], t["shade_instance_type"]) == (cloud, shade_type))
        slot = next((s for s in item["availability"] if (s["region"], s["rental_type"]) == (region, rental_type)), None)
        if slot is None:
            slot = {"region": region, "display_name": region.upper(), "rental_type": rental_type}
            item["availability"].append(slot)
        slot["available"] = True
        if price:
            slot["hourly_price"] = price
    return types


def user_home(directory):
    """A home with what a user has there: ~/.ssh/id_ed25519.pub (ssh_key's examples read it and write beside it)."""
    home = directory / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + bytes(range(32))
    (home / ".ssh" / "id_ed25519.pub").write_text(f"ssh-ed25519 {base64.b64encode(blob).decode()} me@laptop\n", encoding="utf-8")
    return str(home)


def create_volume(sim, api_key, name, cloud, region):
    """A volume made beforehand, through the API."""
    request = urllib.request.Request(sim.url + "/volumes/create", headers={"X-API-KEY": api_key, "Content-Type": "application/json"},
                                     data=json.dumps({"cloud": cloud, "region": region, "size_in_gb": 100, "name": name}).encode())
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as response:  # nosec - loopback
        return json.loads(response.read())["id"]


@dataclasses.dataclass
class ExamplesRun:
    """One ansible-playbook run of several modules' plays: its result, and what each simulator was left with."""

    result: object
    left_running: dict
    api_key: str

    def play_output(self, module):
        """What the run printed for the module's play ('' when the play never started)."""
        output = self.result.stdout
        start = output.find(f"PLAY [{play_title(module)}]")
        if start < 0:
            return ""
        ends = [index for index in (output.find("\nPLAY [", start + 1), output.find("\nPLAY RECAP", start + 1)) if index >= 0]
        return output[start:min(ends, default=len(output))]


@contextlib.contextmanager
def examples_run(modules, api_key, directory, ip_pool=None):
    """Start a simulator per module, write the playbook (one play per module); yield (sims, playbook, finish) where
    ``finish(result)`` makes the ExamplesRun once ansible-playbook has run."""
    variables = {"vault_hf_token": "hf_example_token"}
    with contextlib.ExitStack() as stack:
        sims = {module: stack.enter_context(Simulator(api_key=api_key, instance_types=catalogue(), ip_pool=ip_pool, **SIMULATOR_OPTIONS))
                for module in modules}
        if "instance" in sims:
            create_volume(sims["instance"], api_key, "model-cache", "hyperstack", "canada-1")
        plays = []
        for module, sim in sims.items():
            # The result of an earlier ssh_key task, as the examples register it.
            variables["key"] = {"ssh_key": {"id": sim.ssh_keys[0]["id"]}}
            tasks = textwrap.indent(textwrap.dedent(examples(module)).strip("\n"), "    ")
            plays.append(PLAY.format(title=play_title(module), api_url=json.dumps(sim.url), variables=json.dumps(variables), tasks=tasks))
        playbook = directory / "examples.yml"
        playbook.write_text("\n".join(plays), encoding="utf-8")

        def finish(result):
            return ExamplesRun(result, {module: sorted(i["name"] for i in sim.instances) for module, sim in sims.items()}, api_key)

        yield sims, str(playbook), finish


@pytest.fixture(scope="module")
def run_on_localhost(tmp_path_factory):
    """The plays of the modules whose examples reach no instance, on localhost alone."""
    directory = tmp_path_factory.mktemp("examples-localhost")
    with examples_run(ON_LOCALHOST, API_KEY, directory) as (_sims, playbook, finish):
        env = cli_env(dict(NO_PROXY_ENV, HOME=user_home(directory), ANSIBLE_PYTHON_INTERPRETER=sys.executable))
        return finish(run_cli(str(directory), env, "ansible-playbook", "-i", "localhost,", "-c", "local", playbook))


@pytest.fixture(scope="module")
def run_over_ssh(ssh_daemons, tmp_path_factory):
    """The plays of fleet and instance, whose new instances are the sshd daemons, with a shadeform.yml per simulator."""
    directory = tmp_path_factory.mktemp("examples-ssh")
    inventory = directory / "inventory"
    inventory.mkdir()
    pool = [f"{ssh_daemons.user}@{daemon.address}:{daemon.port}" for daemon in ssh_daemons.daemons]
    with examples_run(OVER_SSH, E2E_API_KEY, directory, ip_pool=pool) as (sims, playbook, finish):
        for module, sim in sims.items():
            write_ssh_inventory(str(inventory / f"{module}.shadeform.yml"), sim.url, ssh_daemons.client_key)
        env = ansible_environment(ssh_daemons, directory)
        env.update(SHADEFORM_API_KEY=E2E_API_KEY, HOME=user_home(directory))
        return finish(run_cli(str(directory), env, "ansible-playbook", "-i", str(inventory), playbook))


@pytest.mark.parametrize("module", [pytest.param(module, marks=pytest.mark.e2e if module in OVER_SSH else pytest.mark.functional)
                                    for module in MODULES])
def test_module_examples_run_as_written(module, request):
    run = request.getfixturevalue("run_over_ssh" if module in OVER_SSH else "run_on_localhost")
    played = run.play_output(module)
    assert played, f"the play of {module}'s examples never started (an earlier play failed?)\n{describe(run.result)}"
    # Every example ran, in order, and none failed or was skipped.
    positions = [played.find(f"TASK [{task['name']}]") for task in yaml.safe_load(examples(module))]
    assert -1 not in positions and positions == sorted(positions), describe(run.result)
    for word in ("fatal:", "failed:", "skipping:", "...ignoring"):
        assert word not in played, describe(run.result)
    assert run.api_key not in run.result.stdout + run.result.stderr
    assert "Traceback" not in run.result.stdout + run.result.stderr, describe(run.result)
    assert run.left_running[module] == LEFT_RUNNING.get(module, []), describe(run.result)
