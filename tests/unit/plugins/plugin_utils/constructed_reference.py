# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plugin and its reference, ansible.builtin.constructed, parsed in-process over the same hosts.

``run`` parses a Shadeform source with constructed options; ``reference`` parses one with none and then lets
ansible-core's constructed plugin apply the same options to the hosts it added; ``snapshot`` makes two
inventories comparable; ``jsonfile_fact_cache`` gives both the facts an earlier play could have cached. The tests
that use them mock the API's answer.
"""

import contextlib
import os
import textwrap
from unittest import mock

from ansible import constants as C
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import cache_loader, inventory_loader


def parse_source(inventory, plugin_name, path):
    """Parse one source as InventoryManager.parse_source does (current_source set: inventory_file and
    inventory_dir are real), with the plugin's warnings silenced."""
    plugin = inventory_loader.get(plugin_name)
    inventory.current_source = str(path)
    try:
        with mock.patch.object(plugin.display, "warning"):
            plugin.parse(inventory, DataLoader(), str(path), cache=False)
    finally:
        inventory.current_source = None
    inventory.processed_sources.append(str(path))
    return inventory


def run(tmp_path, config, inventory=None):
    # One file name for the plugin's run and the reference's, so that inventory_file and inventory_dir agree.
    path = tmp_path / "fleet.shadeform.yml"
    path.write_text("plugin: shadeform.cloud.shadeform\napi_key: k\napi_url: http://127.0.0.1:9/v1\n" + textwrap.dedent(config))
    return parse_source(InventoryData() if inventory is None else inventory, "shadeform.cloud.shadeform", path)


def reference(tmp_path, config, inventory=None):
    """ansible.builtin.constructed with ``config``, over the hosts the plugin adds with no constructed options."""
    inventory = run(tmp_path, "", inventory)
    path = tmp_path / "core.config"
    path.write_text("plugin: ansible.builtin.constructed\n" + textwrap.dedent(config))
    return parse_source(inventory, "ansible.builtin.constructed", path)


def snapshot(inventory):
    groups = {}
    for name, group in inventory.groups.items():
        groups[name] = (sorted(host.name for host in group.hosts), sorted(child.name for child in group.child_groups))
    hostvars = {name: dict(host.vars) for name, host in inventory.hosts.items()}
    return groups, hostvars


@contextlib.contextmanager
def jsonfile_fact_cache(directory, facts_by_host):
    """Within the block, the configured fact cache is a jsonfile cache in ``directory`` holding ``facts_by_host``, as an
    earlier play with fact caching leaves it. The facts are written by the cache plugin itself: each core has its own
    file format (2.19+ prefixes the keys and wraps the values)."""
    with mock.patch.object(C, "CACHE_PLUGIN", "jsonfile"), \
            mock.patch.dict(os.environ, {"ANSIBLE_CACHE_PLUGIN_CONNECTION": str(directory)}):
        cache = cache_loader.get("jsonfile")
        for name, facts in facts_by_host.items():
            cache.set(name, facts)
        yield
