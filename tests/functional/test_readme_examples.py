# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's inventory examples are what ansible-inventory prints, and the inventory guide's quick start shows the same.

The examples were made with the README's smallest shadeform.yml against the simulator serving
tests/simulator/fleets/demo.json; these tests make them again the same way.
"""

import json
import os
import re
import textwrap

import pytest

from helpers import TESTS_DIR, ansible_inventory, inventory_list

pytestmark = pytest.mark.functional

REPO_ROOT = os.path.dirname(TESTS_DIR)
README = os.path.join(REPO_ROOT, "README.md")
QUICK_START = os.path.join(REPO_ROOT, "docs", "docsite", "rst", "guide_inventory.rst")
DEMO_FLEET = os.path.join(TESTS_DIR, "simulator", "fleets", "demo.json")
SMALLEST_INVENTORY = "# shadeform.yml\nplugin: shadeform.cloud.shadeform\n"


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def readme_block(command):
    """The README's code block that starts with ``command``, without the closing fence."""
    text = read(README)
    start = text.index(command)
    return text[start:text.index("```", start)]


def quick_start():
    text = read(QUICK_START)
    return text[text.index("Quick start\n==="):text.index("How the inventory is built\n===")]


def inventory(shadeform_api, tmp_path, *args):
    with open(os.path.join(tmp_path, "shadeform.yml"), "w", encoding="utf-8") as handle:
        handle.write(SMALLEST_INVENTORY)
    with open(DEMO_FLEET, encoding="utf-8") as handle:
        shadeform_api.set_instances(json.load(handle)["instances"])
    result = ansible_inventory(os.path.join(tmp_path, "shadeform.yml"), *args, env={"SHADEFORM_API_URL": shadeform_api.url})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_readme_opens_with_the_title_and_links_work_on_the_galaxy_page():
    text = read(README)
    assert text.startswith("# Shadeform Cloud Collection (`shadeform.cloud`)\n")
    # Galaxy shows the README without the repository around it: a relative link leads nowhere there.
    links = re.findall(r"\]\(([^)]*)\)", text)
    assert links and [link for link in links if not link.startswith("https://")] == []


def test_readme_smallest_inventory_is_the_one_the_examples_use():
    assert f"```yaml\n{SMALLEST_INVENTORY}```" in read(README)


def test_readme_graph_example_is_real_output(shadeform_api, tmp_path):
    command = "$ ansible-inventory -i shadeform.yml --graph gpu_H100"
    shown = readme_block(command)
    assert shown == f"{command}\n{inventory(shadeform_api, tmp_path, '--graph', 'gpu_H100')}"


def test_readme_host_example_is_real_output_trimmed(shadeform_api, tmp_path):
    command = "$ ansible-inventory -i shadeform.yml --host ray-worker-8"
    shown = readme_block(command)[len(command) + 1:]
    # The example ends with "...": trimmed. What it shows is JSON once that line goes.
    assert re.search(r",\n    \.\.\.\n}\n$", shown), shown
    trimmed = json.loads(re.sub(r",\n    \.\.\.\n}\n$", "\n}\n", shown))
    real = inventory_list(inventory(shadeform_api, tmp_path, "--host", "ray-worker-8"))
    assert len(trimmed) < len(real)
    assert {name: real[name] for name in trimmed} == trimmed
    assert list(trimmed)[:3] == ["ansible_host", "ansible_port", "ansible_user"]
    assert f"`--host` prints {len(real)} of them" in read(README)


def test_quick_start_shows_the_readme_examples():
    guide = quick_start()
    for command in ("$ ansible-inventory -i shadeform.yml --graph gpu_H100", "$ ansible-inventory -i shadeform.yml --host ray-worker-8"):
        assert textwrap.indent(readme_block(command), "   ") in guide
    assert textwrap.indent(SMALLEST_INVENTORY, "   ") in guide
    for line in ("ansible-galaxy collection install shadeform.cloud", "python3 -m pip install requests",
                 "export SHADEFORM_API_KEY=", "ansible-inventory -i shadeform.yml --graph\n",
                 "ansible -i shadeform.yml status_active -m ansible.builtin.ping"):
        assert line in read(README) and line in guide, line
