# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules through the real ansible-playbook, against the simulator: one short play, as a user would write it.

* ``module_defaults`` of ``group/shadeform.cloud.shadeform`` with the wait options works for every module, the info
  modules included (#21.9).
* A refused create reports ``changed: false`` (#21.1); ``purge_tags: false`` keeps tags the task does not name (#21.4);
  a changed ``os`` or container image of an existing instance is reported in ``drifted`` with a warning (#21.12).
"""

import json
import subprocess
import sys
import textwrap

import pytest

from helpers import API_KEY, NO_PROXY_ENV, cli_env, cli_path

pytestmark = pytest.mark.functional

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/shadeform.cloud.shadeform:
      api_url: "{{ sim_url }}"
      poll_interval: 0.2
      wait_timeout: 120
  tasks:
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
        sim_url=sim.url, out=str(tmp_path / "out.json"),
        offer=dict(cloud=kind["cloud"], region=slot["region"], shade_instance_type=kind["shade_instance_type"], os=os_options[0],
                   other_os=os_options[1]),
        refused=dict(cloud=other_kind["cloud"], region=other_slot["region"], shade_instance_type=other_kind["shade_instance_type"]))
    playbook = tmp_path / "play.yml"
    playbook.write_text(textwrap.dedent(PLAYBOOK))
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    run = subprocess.run([cli_path("ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook), "-e", "@" + str(tmp_path / "vars.json"),
                          "-e", "ansible_python_interpreter=" + sys.executable],
                         env=cli_env(NO_PROXY_ENV), capture_output=True, text=True, timeout=300, check=False, cwd=str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    assert API_KEY not in run.stdout + run.stderr and "Traceback" not in run.stdout + run.stderr
    out = json.loads((tmp_path / "out.json").read_text())

    assert out["before"]["instances"] == [] and [key["managed"] for key in out["keys"]["ssh_keys"]] == [True]
    assert out["refused"]["failed"] is True and out["refused"]["changed"] is False and "HTTP 409" in out["refused"]["msg"]
    assert out["launched"]["changed"] is True and out["launched"]["instance"]["status"] == "active"
    assert out["tagged"]["changed"] is True and sorted(out["tagged"]["instance"]["tags"]) == ["env=test", "owner=ops", "team=ml"]
    assert out["drifted"]["changed"] is False
    assert sorted(entry["field"] for entry in out["drifted"]["drifted"]) == ["launch_configuration.docker_configuration.image", "os"]
    assert "differs from the task in" in run.stdout + run.stderr
    assert [item["name"] for item in sim.instances] == ["play-1"]
