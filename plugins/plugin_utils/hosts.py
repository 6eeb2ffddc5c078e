# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions from Shadeform API instances to inventory hosts.

Nothing here talks HTTP or touches Ansible's inventory or templar: the inventory plugin fetches the instance
list, maps it with :func:`fleet_variables`, renders its ``hostname_template`` over those variables (when set),
names and filters the hosts with :func:`inventory_hosts`, and adds what it returns.  Every value that comes from the API is
untrusted: it is copied, never interpreted as a template, and the plugin marks it unsafe before it
reaches Ansible.  Every field may be absent, null or of the wrong type; only ``id`` is expected.
"""

import collections
import functools
import ipaddress
import json
import math
import re

from jinja2.defaults import DEFAULT_NAMESPACE

from ansible import constants as C
from ansible.plugins.inventory import to_safe_group_name
from ansible.vars.reserved import get_reserved_names

from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import escape_controls, quoted_value
from ansible_collections.shadeform.cloud.plugins.module_utils.cluster_data import members as cluster_members
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import (
    FILTER_OPTIONS, hourly_price_usd, lookup, matches, unmatched_filter_values)
from ansible_collections.shadeform.cloud.plugins.module_utils.ssh_endpoint import ssh_endpoint

# (group prefix, path of the instance field) for the groups every host gets by default.
DEFAULT_GROUP_FIELDS = (
    ("cloud", ("cloud",)),
    ("region", ("region",)),
    ("gpu", ("configuration", "gpu_type")),
    ("status", ("status",)),
    ("instance_type", ("shade_instance_type",)),
)
# Flat host variables for what playbooks need most, taken from the configuration object.
CONFIGURATION_SHORTCUTS = ("gpu_type", "num_gpus", "gpu_manufacturer", "vram_per_gpu_in_gb")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _template_globals():
    """The globals of every template, as ansible-core names them (2.19+ counts them among the reserved names itself)."""
    reserved = get_reserved_names()
    if "lookup" in reserved:
        return reserved
    # Before 2.19 only: the template globals come from a Templar's environment.
    from ansible.template import Templar  # pylint: disable=import-outside-toplevel
    return reserved.union(Templar(loader=None).environment.globals)


# Names a host variable from the API must never take, taken from ansible-core itself: the playbook keywords
# (name, loop, tags, port, ... : its "reserved name" warning), the globals of every template (lookup, query,
# omit, ...), the magic variables (inventory_hostname, groups, hostvars, ...) and Jinja's own globals; plus
# "item", which ansible-core sets per loop without listing it. A host variable of one of these names would hide
# it: default(omit) would pass an API value, lookup() would stop working, and compose or filters would read the
# API's inventory_hostname instead of the host's.
RESERVED_VARIABLE_NAMES = frozenset(_template_globals()).union(C.INTERNAL_STATIC_VARS, DEFAULT_NAMESPACE, ("item",))
LABEL_SEPARATOR = re.compile(r"[=:]")
# Jinja delimiters all start with "{": a host name without braces can never become a template,
# not even through derived values such as inventory_hostname_short on ansible-core < 2.19.
# The rest is ansible-core's pattern syntax (inventory/manager.py): whitespace and "," separate
# patterns, ":" separates them too unless the whole pattern parses as an address, "[" and "]" make
# ranges and subscripts; in first place "!" excludes, "&" intersects, "~" starts a regex, "@" names a
# --limit file and "-" reads as a command-line option. Each such character becomes "_", so a host
# name always selects itself and only itself in a pattern, --limit or --host. Control characters (C0, DEL and C1
# such as U+009B, a terminal's CSI) become "_" too, so that no host name can drive the terminal it is shown on.
UNSAFE_HOSTNAME_CHARACTERS = re.compile(r"[{}\s,:\[\]\x00-\x1f\x7f-\x9f]|^[!&~@-]")
# ansible_host of an instance the API gives no address for yet (creating, pending, error). Without one Ansible
# would connect to the host's *name*, which the API does not control: a pending instance named like a machine
# on the user's network would get the play. RFC 6761 reserves .invalid: this name never resolves, so such a
# host is reported UNREACHABLE with "no-address-yet" in the message and the play goes on with the others.
NO_ADDRESS = "shadeform-no-address-yet.invalid"
# Host names with a meaning of their own in Ansible: the implicit localhost and the built-in groups.
RESERVED_HOSTNAMES = frozenset(("localhost", "127.0.0.1", "::1", "all", "ungrouped"))


# Past this many, renamed-host warnings are summed up in one line (a large fleet may repeat many names).
MAX_RENAME_WARNINGS = 3

Fleet = collections.namedtuple("Fleet", "instances variables groups skipped refused warnings")
Fleet.__doc__ = """Every instance that is an object (``instances``, cluster members the list lacks appended), with, at the same
index, its host ``variables``, default ``groups``, the fields ``skipped`` as variables and the SSH fields ``refused``;
``warnings`` for what was left out (an element that is not an object)."""
Mapping = collections.namedtuple("Mapping", "hosts warnings details")
Mapping.__doc__ = """What to add: ``hosts``, a list of (name, variables, groups); ``warnings`` for the user; ``details`` for -vvv."""


def fleet_variables(instances, options, clusters=None):
    """The plugin's first step: a :class:`Fleet` of the API's instance list (without NaN and Infinity: see
    without_non_finite), in API order.

    ``clusters`` (the API's cluster list, or None) puts each cluster's members in the group ``cluster_<name>`` (one of
    the default groups) with the host variables ``<prefix>cluster_id<suffix>`` and ``<prefix>cluster_name<suffix>``.
    Whether members also appear in the instance list is undocumented: a member listed there (the same id) is that host,
    and a member that is not is added after the listed instances, from the cluster's ``instances``. A member is one
    host, never two. ``options`` holds hostvars_prefix and hostvars_suffix.
    """
    warnings = []
    valid = []
    for position, instance in enumerate(instances):
        if isinstance(instance, dict):
            valid.append(instance)
        else:
            warnings.append("Skipping Shadeform instance #{0}: the API gave {1}, not an object.".format(
                position + 1, type(instance).__name__))
    cluster_of = _clusters_of_members(clusters or (), valid)
    prefix, suffix = options["hostvars_prefix"], options["hostvars_suffix"]
    fleet = Fleet(valid, [], [], [], [], warnings)
    for instance in valid:
        instance_id = instance.get("id")
        cluster = cluster_of.get(instance_id) if isinstance(instance_id, str) else None
        variables, skipped, refused = host_variables(instance, prefix, suffix)
        if cluster is not None:
            variables[prefix + "cluster_id" + suffix] = cluster.get("id")
            variables[prefix + "cluster_name" + suffix] = cluster.get("name")
        fleet.variables.append(variables)
        fleet.groups.append(default_groups(instance) + cluster_groups(cluster))
        fleet.skipped.append(skipped)
        fleet.refused.append(refused)
    return fleet


def inventory_hosts(fleet, options, preferred=None):
    """The plugin's second step: the hosts to add from a :class:`Fleet`, in API order, with the warnings to show.

    Every instance is named first (``hostnames``; ``preferred``, when given, holds a name or None for each instance,
    preferred to the hostnames fields: the plugin's rendered ``hostname_template``), so that a host keeps its name
    whatever the filters; then the plain filters (statuses, clouds, ...) keep the hosts they match. ``options`` holds
    hostnames, default_groups and those filters; the Jinja ``filters`` need Ansible's templar and are the plugin's.
    """
    warnings = list(fleet.warnings)
    names, notes = assign_hostnames(fleet.instances, options["hostnames"], {"shadeform"}.union(*fleet.groups), preferred=preferred)
    plain_filters = dict((option, options.get(option)) for option in FILTER_OPTIONS)
    warnings.extend(unmatched_filter_values(fleet.instances, plain_filters))
    with_default_groups = options["default_groups"]
    skipped_fields = set()
    refused_endpoints = []
    kept = []
    for name, instance, variables, groups, skipped, refused in zip(names, *fleet[:5]):
        if not matches(instance, **plain_filters):
            continue
        skipped_fields.update(str(field) for field in skipped)
        if refused:
            refused_endpoints.append((name, refused))
        kept.append((name, variables, groups if with_default_groups else []))
    warnings.extend(notes[:MAX_RENAME_WARNINGS])
    if len(notes) > MAX_RENAME_WARNINGS:
        warnings.append("{0} more names are shared by several Shadeform instances or reserved; run with -vvv to see how "
                        "those hosts are named.".format(len(notes) - MAX_RENAME_WARNINGS))
    if skipped_fields:
        warnings.append("Shadeform instance fields not made host variables (invalid names, or names Ansible or Jinja "
                        "define, such as ansible_*, name, loop, omit or lookup): {0}".format(
                            ", ".join(sorted(quoted_value(field) for field in skipped_fields))))
    warnings.extend(_refused_endpoint_warnings(refused_endpoints))
    return Mapping(kept, warnings, notes[MAX_RENAME_WARNINGS:])


def _clusters_of_members(clusters, instances):
    """{member id: its cluster} over ``clusters``; each member not in ``instances`` (by id) is appended to it, once.

    A member without an id cannot be told apart from a listed instance, and is left out; a member listed by two clusters
    belongs to the first.
    """
    listed = set(instance.get("id") for instance in instances if isinstance(instance.get("id"), str))
    cluster_of = {}
    for cluster in clusters:
        if not isinstance(cluster, dict):
            continue
        for member in cluster_members(cluster):
            member_id = member.get("id")
            if not isinstance(member_id, str) or not member_id or member_id in cluster_of:
                continue
            cluster_of[member_id] = cluster
            if member_id not in listed:
                listed.add(member_id)
                instances.append(member)
    return cluster_of


def cluster_groups(cluster):
    """The sanitized name of a cluster's group, ``cluster_<name>`` (its id when it has no name), as a list; [] for None."""
    if cluster is None:
        return []
    text = _scalar_text(cluster.get("name")) or _scalar_text(cluster.get("id"))
    return [safe_group_name("cluster_" + text)] if text and text.strip() else []


def _refused_endpoint_warnings(refused_endpoints):
    """One warning per host whose ip, ssh_user or ssh_port the API gave in a form that is no address, user or port."""
    warnings = []
    for name, fields in refused_endpoints[:MAX_RENAME_WARNINGS]:
        warnings.append("Shadeform host {0}: its {1} from the API {2} not a valid {3}, so it is not used ({4}). The host "
                        "stays in the inventory.".format(
                            quoted_value(name), " and ".join(fields), "is" if len(fields) == 1 else "are",
                            " / ".join(ENDPOINT_FIELDS[field][0] for field in fields),
                            "; ".join(ENDPOINT_FIELDS[field][1] for field in fields)))
    if len(refused_endpoints) > MAX_RENAME_WARNINGS:
        warnings.append("{0} more Shadeform hosts have an ip, ssh_user or ssh_port that is not used, as above.".format(
            len(refused_endpoints) - MAX_RENAME_WARNINGS))
    return warnings


# What each SSH field must be, and what a host gets instead when it is not (ssh_endpoint.py decides).
ENDPOINT_FIELDS = {
    "ip": ("IP address or host name", "ansible_host is " + NO_ADDRESS),
    "ssh_user": ("user name", "no ansible_user is set"),
    "ssh_port": ("port (1-65535)", "no ansible_port is set"),
}


def without_non_finite(instances):
    """``(instances, warning)``: the instances without NaN and Infinity values, and one warning naming them, or None.

    Python's json reads NaN and Infinity, but standard JSON has neither: ``ansible-inventory --list`` would print
    output that strict parsers refuse. Such a value is taken for an absent field: its key is left out of its
    object, and in a list it becomes null (so that positions stay). Only the objects on the way are copied.
    """
    try:
        json.dumps(instances, allow_nan=False)
        return instances, None
    except (TypeError, ValueError):
        pass  # ValueError: a NaN or an Infinity somewhere (TypeError: not JSON data, walked all the same)
    found = []
    cleaned = []
    for instance in instances:
        paths = []
        cleaned.append(_finite(instance, (), paths))
        if paths:
            instance_id = instance.get("id") if isinstance(instance, dict) else None
            found.append("{0}: {1}".format(quoted_value(instance_id), ", ".join(paths)))
    if not found:
        return instances, None
    shown = "; ".join(found[:MAX_RENAME_WARNINGS])
    if len(found) > MAX_RENAME_WARNINGS:
        shown += "; and {0} more instances".format(len(found) - MAX_RENAME_WARNINGS)
    return cleaned, ("Shadeform instance values that are NaN or Infinity (not standard JSON) are left out, as if the API "
                     "had not given them: {0}".format(shown))


def _finite(value, path, found):
    if isinstance(value, float) and not math.isfinite(value):
        found.append(".".join(escape_controls(str(part)) for part in path))
        return None
    if isinstance(value, dict):
        copy = None
        for key, item in value.items():
            if not isinstance(item, (dict, list, float)):
                continue
            replacement = _finite(item, path + (key,), found)
            if replacement is item:
                continue
            if copy is None:
                copy = dict(value)
            if replacement is None:
                del copy[key]
            else:
                copy[key] = replacement
        return value if copy is None else copy
    if isinstance(value, list):
        new = [_finite(item, path + (index,), found) if isinstance(item, (dict, list, float)) else item
               for index, item in enumerate(value)]
        return value if all(after is before for after, before in zip(new, value)) else new
    return value


def parse_labels(tags):
    """Map ``key=value`` and ``key:value`` tags to a dict; the first separator splits, later tags win."""
    labels = {}
    if not isinstance(tags, list):
        return labels
    for tag in tags:
        if not isinstance(tag, str):
            continue
        parts = LABEL_SEPARATOR.split(tag, maxsplit=1)
        if len(parts) == 2 and parts[0]:
            labels[parts[0]] = parts[1]
    return labels


HostVariables = collections.namedtuple("HostVariables", "variables skipped refused")
HostVariables.__doc__ = """``variables`` of one host; ``skipped``: the top-level fields not made variables; ``refused``: the
SSH fields (ip, ssh_user, ssh_port) whose value the API gave in a form that is not used."""


def host_variables(instance, prefix="shadeform_", suffix=""):
    """Return the host variables of one instance: connection variables, API fields and shortcuts.

    Top-level fields whose names are not valid variable names, or would name an ``ansible_*``
    variable or one of RESERVED_VARIABLE_NAMES (possible with an empty prefix), are left out and
    returned in ``skipped``, so the caller can say so once: only the API's ip, ssh_user and
    ssh_port ever drive the connection, and no API field hides a name Ansible or Jinja defines.
    """
    variables, refused = connection_variables(instance)
    skipped_fields = []
    for field, value in instance.items():
        name = prefix + field + suffix if isinstance(field, str) else ""
        if VARIABLE_NAME.fullmatch(name) and not name.startswith("ansible_") and name not in RESERVED_VARIABLE_NAMES:
            variables[name] = value
        else:
            skipped_fields.append(field)
    configuration = instance.get("configuration")
    if isinstance(configuration, dict):
        for field in CONFIGURATION_SHORTCUTS:
            name = prefix + field + suffix
            if name not in variables and configuration.get(field) is not None:
                variables[name] = configuration[field]
    labels_name = prefix + "labels" + suffix
    if labels_name not in variables:
        variables[labels_name] = parse_labels(instance.get("tags"))
    price_name = prefix + "hourly_price_usd" + suffix
    if price_name not in variables:
        price = hourly_price_usd(instance)
        if price is not None:
            variables[price_name] = price
    return HostVariables(variables, skipped_fields, refused)


def connection_variables(instance):
    """``(variables, refused)``: ansible_host (NO_ADDRESS unless the API gives a valid address), and ansible_user and
    ansible_port when the API gives a valid user name and port, as ssh_endpoint reads them; ``refused`` names the
    fields whose values were not used."""
    endpoint = ssh_endpoint(instance)
    variables = {"ansible_host": endpoint.address or NO_ADDRESS}
    if endpoint.user is not None:
        variables["ansible_user"] = endpoint.user
    if endpoint.port is not None:
        variables["ansible_port"] = endpoint.port
    return variables, endpoint.refused


def default_groups(instance):
    """The sanitized names of the groups an instance belongs to out of the box, besides ``shadeform``."""
    groups = []
    for prefix, path in DEFAULT_GROUP_FIELDS:
        value = _scalar_text(lookup(instance, path))
        if value:
            groups.append(safe_group_name(prefix + "_" + value))
    tags = instance.get("tags")
    if isinstance(tags, list):
        for tag in tags:
            text = _scalar_text(tag)
            if text:
                groups.append(safe_group_name("tag_" + text))
    return list(dict.fromkeys(groups))


# ansible-core's own rule for the group names inventory plugins make (invalid characters become "_",
# whatever TRANSFORM_INVALID_GROUP_CHARS says), remembered: a fleet has far fewer group names than hosts.
_remembered_safe_group_name = functools.lru_cache(maxsize=4096)(to_safe_group_name)


def safe_group_name(name):
    """to_safe_group_name(name), remembered for the names that can be (a keyed group's parent_group may give a dict:
    ansible-core's own error then, not the cache's)."""
    try:
        return _remembered_safe_group_name(name)
    except TypeError:
        return to_safe_group_name(name)


def assign_hostnames(instances, sources=("name",), group_names=frozenset(), preferred=None):
    """Give every instance a unique host name, deterministically.

    ``preferred`` (one entry per instance, from the hostname_template option) names the host when its
    entry is a non-empty text; otherwise the first source with a non-empty value does, then the id.
    Every name is made safe with ``safe_hostname``.  Instances that would
    share a name, take a name Ansible reserves (``localhost`` would become the controller's
    implicit localhost, ``all`` is a pattern) or the name of one of ``group_names`` (Ansible looks
    a name up among groups first, so the host's variables would go to the group) get
    ``<name>-<first 8 characters of the id>`` (the full id when that still collides), so no two
    instances are ever merged into one host.

    Returns ``(names, notes)``: one name per instance, in order, and messages for the user about
    renamed hosts.
    """
    bases = [_base_hostname(instance, sources, preferred[index] if preferred else None) for index, instance in enumerate(instances)]
    reserved = RESERVED_HOSTNAMES.union(group_names)
    notes = []
    names = list(bases)
    by_base = {}
    for index, base in enumerate(bases):
        by_base.setdefault(base, []).append(index)
    taken = set(reserved).union(base for base, indexes in by_base.items() if len(indexes) == 1 and base not in reserved)
    for base, indexes in by_base.items():
        if len(indexes) == 1 and base not in reserved:
            continue
        renamed = []
        for index in sorted(indexes, key=lambda i: (_id_text(instances[i]), i)):
            names[index] = _unique_name(base, _id_text(instances[index]), taken)
            taken.add(names[index])
            renamed.append(names[index])
        if base in reserved:
            notes.append("Shadeform instances named {0!r}, a name Ansible reserves or a group's name, are added as {1}.".format(
                base, ", ".join(renamed)))
        else:
            notes.append("{0} Shadeform instances would be named {1!r}; they are added as {2}. Give them unique names, or "
                         "set hostnames to [id].".format(len(indexes), base, ", ".join(renamed)))
    return names, notes


def _unique_name(base, instance_id, taken):
    # An IPv6 address keeps its colons only as a whole: with a suffix, it is made safe like any name.
    base = safe_hostname(base + "-")[:-1]
    for candidate in (base + "-" + instance_id[:8], base + "-" + instance_id):
        if instance_id and candidate not in taken:
            return candidate
    counter = 2
    while "{0}-{1}".format(base, counter) in taken:
        counter += 1
    return "{0}-{1}".format(base, counter)


def _base_hostname(instance, sources, preferred=None):
    if isinstance(preferred, str) and preferred.strip():
        return safe_hostname(preferred)
    for source in tuple(sources) + ("id",):
        text = _scalar_text(instance.get(source))
        if text and text.strip():
            return safe_hostname(text)
    return "shadeform-instance"


def safe_hostname(text):
    """``text`` without surrounding whitespace, with every character of pattern or template syntax
    replaced by ``_``; an IPv6 address (``hostnames: [ip]``) keeps its colons, since ansible-core
    reads a pattern that parses as an address as one host."""
    text = text.strip()
    if ":" in text and "%" not in text and _is_ipv6_address(text):  # a scope (fe80::1%eth0) is no pattern ansible-core reads
        return text
    return UNSAFE_HOSTNAME_CHARACTERS.sub("_", text)


def _is_ipv6_address(text):
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _id_text(instance):
    return safe_hostname(_scalar_text(instance.get("id")) or "")


def _scalar_text(value):
    """The text of a string or number; None for anything else (objects, lists, booleans, null)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None
