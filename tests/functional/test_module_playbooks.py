# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules through the real ansible-playbook, against the simulator: one short play, as a user would write it.

* ``module_defaults`` of ``group/shadeform.cloud.shadeform`` with the wait options works for every module, the info
  modules included (#21.9).
* A refused create reports ``changed: false`` (#21.1); ``purge_tags: false`` keeps tags the task does not name (#21.4);
  a changed ``os`` or container image of an existing instance is reported in ``drifted`` with a warning (#21.12).
* ``fleet`` never silently keeps the wrong machines (#21.2): a tag change is made in place (``updated``, shown by
  ``--diff``), ``purge_tags: false`` keeps a member's own tag (#21.4), another ``gpu_type`` with ``on_spec_change: warn``
  lists the members in ``drifted`` with a warning and no change, and a fleet of no GPU or instance type is refused.
  Its members are "ready" at a loopback port that accepts connections (the simulator's ip pool).
"""

import json
import re
import subprocess
import sys
import textwrap

import pytest

from helpers import API_KEY, NO_PROXY_ENV, cli_env, cli_path, one_line
from hostile_servers import LoopbackServer, counting

pytestmark = pytest.mark.functional

# One play on localhost, the simulator's URL and short waits for every module of the group; the tasks follow.
PLAY = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/shadeform.cloud.shadeform:
      api_url: "{{ sim_url }}"
      poll_interval: 0.2
      wait_timeout: 120
  tasks:
"""

PLAYBOOK = PLAY + """
    - name: Info modules accept the group's wait options
      shadeform.cloud.instance_info:
      register: before
    - shadeform.cloud.ssh_key_info:
      register: keys
    - shadeform.cloud.instance_types_info:
        gpu_type: A6000
    - shadeform.cloud.volume_info:
    - shadeform.cloud.template_info:
    - name: A create the API refuses
      shadeform.cloud.instance:
        name: refused-1
        cloud: "{{ refused.cloud }}"
        region: "{{ refused.region }}"
        shade_instance_type: "{{ refused.shade_instance_type }}"
      register: refused_create
      ignore_errors: true
    - name: Launch
      shadeform.cloud.instance:
        name: play-1
        cloud: "{{ offer.cloud }}"
        region: "{{ offer.region }}"
        shade_instance_type: "{{ offer.shade_instance_type }}"
        os: "{{ offer.os }}"
        tags: [env=test, owner=ops]
        launch_configuration:
          type: docker
          docker_configuration:
            image: vllm/vllm-openai:v0.4
      register: launched
    - name: Add a tag, keeping the others
      shadeform.cloud.instance:
        name: play-1
        tags: [team=ml]
        purge_tags: false
      register: tagged
    - name: The same task with another os and image
      shadeform.cloud.instance:
        name: play-1
        cloud: "{{ offer.cloud }}"
        region: "{{ offer.region }}"
        shade_instance_type: "{{ offer.shade_instance_type }}"
        os: "{{ offer.other_os }}"
        launch_configuration:
          type: docker
          docker_configuration:
            image: vllm/vllm-openai:latest
      register: drifted
    - name: Write what the tasks returned
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'before': before, 'keys': keys, 'refused': refused_create, 'launched': launched, 'tagged': tagged,
                      'drifted': drifted} | to_json }}"
"""


def run_playbook(tmp_path, playbook, variables, *options):
    """ansible-playbook on localhost with ``variables`` (``out`` added: where the play writes what it registered); fails the
    test unless it exits 0 without a traceback or the key. (the run, what the play wrote to ``out``)."""
    variables = dict(variables, out=str(tmp_path / "out.json"))
    (tmp_path / "play.yml").write_text(textwrap.dedent(playbook))
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    run = subprocess.run([cli_path("ansible-playbook"), "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml"),
                          "-e", "@" + str(tmp_path / "vars.json"), "-e", "ansible_python_interpreter=" + sys.executable] + list(options),
                         env=cli_env(NO_PROXY_ENV), capture_output=True, text=True, timeout=300, check=False, cwd=str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    assert API_KEY not in run.stdout + run.stderr and "Traceback" not in run.stdout + run.stderr
    return run, json.loads((tmp_path / "out.json").read_text())


def test_module_defaults_changed_purge_tags_and_drift_through_ansible_playbook(tmp_path):
    from shadeform_simulator import Simulator  # pylint: disable=import-outside-toplevel

    with Simulator(api_key=API_KEY, creating_delay=0.2, pending_delay=0.2, deleting_delay=0.2) as sim:
        run_the_play(sim, tmp_path)


def run_the_play(sim, tmp_path):
    from shadeform_simulator import filter_instance_types  # pylint: disable=import-outside-toplevel

    kinds = filter_instance_types(sim.instance_types, "available=true&sort=price")
    slots = [(kind, slot) for kind in kinds for slot in kind["availability"] if slot["available"] and slot["rental_type"] == "on_demand"
             and len(kind["configuration"]["os_options"]) > 1]
    kind, slot = slots[0]
    # Another offer, refused at create: a different type or cloud than the one launched.
    other_kind, other_slot = next((other, where) for other, where in slots
                                  if (other["cloud"], other["shade_instance_type"]) != (kind["cloud"], kind["shade_instance_type"]))
    sim.set_capacity(other_kind["cloud"], other_slot["region"], other_kind["shade_instance_type"], "refuse")
    os_options = kind["configuration"]["os_options"]
    variables = dict(
        sim_url=sim.url,
        offer=dict(cloud=kind["cloud"], region=slot["region"], shade_instance_type=kind["shade_instance_type"], os=os_options[0],
                   other_os=os_options[1]),
        refused=dict(cloud=other_kind["cloud"], region=other_slot["region"], shade_instance_type=other_kind["shade_instance_type"]))
    run, out = run_playbook(tmp_path, PLAYBOOK, variables)

    assert out["before"]["instances"] == [] and [key["managed"] for key in out["keys"]["ssh_keys"]] == [True]
    assert out["refused"]["failed"] is True and out["refused"]["changed"] is False and "HTTP 409" in out["refused"]["msg"]
    assert out["launched"]["changed"] is True and out["launched"]["instance"]["status"] == "active"
    assert out["tagged"]["changed"] is True and sorted(out["tagged"]["instance"]["tags"]) == ["env=test", "owner=ops", "team=ml"]
    assert out["drifted"]["changed"] is False
    assert sorted(entry["field"] for entry in out["drifted"]["drifted"]) == ["launch_configuration.docker_configuration.image", "os"]
    assert "differs from the task in" in run.stdout + run.stderr
    assert [item["name"] for item in sim.instances] == ["play-1"]


FLEET_PLAYBOOK = PLAY + """
    - name: A fleet of two
      shadeform.cloud.fleet:
        name: play
        count: 2
        gpu_type: A6000
        num_gpus: 1
        tags: [env=test]
      register: created
    - name: Another tool tags one member
      shadeform.cloud.instance:
        name: play-1
        tags: [owner=alice]
        purge_tags: false
    - name: A new tag, keeping the member's own
      shadeform.cloud.fleet:
        name: play
        count: 2
        gpu_type: A6000
        num_gpus: 1
        tags: [env=prod]
        purge_tags: false
      register: tagged
    - name: Another GPU type, warned about
      shadeform.cloud.fleet:
        name: play
        count: 2
        gpu_type: H100
        num_gpus: 1
        tags: [env=prod]
        purge_tags: false
        on_spec_change: warn
      register: drifted
    - name: A fleet of any machine at all
      shadeform.cloud.fleet:
        name: anything
        count: 1
      register: untyped
      ignore_errors: true
    - name: Write what the tasks returned
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'created': created, 'tagged': tagged, 'drifted': drifted, 'untyped': untyped} | to_json }}"
"""


def test_fleet_updates_tags_in_place_keeps_others_reports_drift_and_needs_a_type_through_ansible_playbook(tmp_path):
    from shadeform_simulator import Simulator  # pylint: disable=import-outside-toplevel

    # The members' SSH port: a loopback server that accepts each readiness probe and hangs up.
    with LoopbackServer(counting) as ssh_port:
        with Simulator(api_key=API_KEY, ip_pool=["ubuntu@127.0.0.1:{0}".format(ssh_port.port)], creating_delay=0.2, pending_delay=0.2,
                       deleting_delay=0.2) as sim:
            run, out = run_playbook(tmp_path, FLEET_PLAYBOOK, dict(sim_url=sim.url), "--diff")
            members = dict((item["name"], item) for item in sim.instances)
            posts = [request["path"].split("/")[-1] for request in sim.requests if request["method"] == "POST"]
    output = one_line(run.stdout + run.stderr)

    created, tagged, drifted, untyped = out["created"], out["tagged"], out["drifted"], out["untyped"]
    ids = sorted(created["created"])
    assert created["changed"] is True and sorted(item["name"] for item in created["instances"]) == ["play-1", "play-2"]
    assert all(item["ready"] and item["ssh_port"] == ssh_port.port for item in created["instances"]) and ssh_port.connections >= 2
    # In place: both members updated, the tag only play-1 had (set by another tool) kept.
    assert tagged["changed"] is True and sorted(tagged["updated"]) == ids and tagged["created"] == tagged["deleted"] == []
    assert sorted(members["play-1"]["tags"]) == ["env=prod", "env=test", "fleet=play", "fleet_index=0", "owner=alice"]
    assert sorted(members["play-2"]["tags"]) == ["env=prod", "env=test", "fleet=play", "fleet_index=1"]
    assert sorted(tagged["diff"]["before"]["members"]) == sorted(tagged["diff"]["after"]["members"]) == ids
    # --diff shows the members, the new tag among them.
    assert '"name": "play-1"' in run.stdout and re.search(r'^\+\s+"env=prod"', run.stdout, re.MULTILINE), run.stdout
    # Another GPU type: no change, each member listed with how it differs, and a warning.
    assert drifted["changed"] is False and drifted["updated"] == drifted["created"] == drifted["deleted"] == []
    assert sorted((item["name"], item["differences"]["gpu_type"]["member"], item["differences"]["gpu_type"]["wanted"])
                  for item in drifted["drifted"]) == [("play-1", "A6000", "H100"), ("play-2", "A6000", "H100")]
    assert "Fleet 'play': 2 member(s) differ from this task in settings only a new instance can change (gpu_type)" in output
    assert untyped["failed"] is True and untyped["changed"] is False and "A fleet needs gpu_type or shade_instance_type" in untyped["msg"]
    # Two launches and two in-place updates (plus the other tool's): nothing replaced, deleted or launched for "anything".
    assert sorted(members) == ["play-1", "play-2"] and sorted(posts) == ["create", "create", "update", "update", "update"], posts
