# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions from Shadeform API instances to inventory hosts.

Nothing here talks HTTP or touches Ansible's inventory: the inventory plugin fetches the instance
list, calls :func:`inventory_hosts`, and adds what it returns.  Every value that comes from the API is
untrusted: it is copied, never interpreted as a template, and the plugin marks it unsafe before it
reaches Ansible.  Every field may be absent, null or of the wrong type; only ``id`` is expected.
"""

import collections
import functools
import ipaddress
import re

from jinja2.defaults import DEFAULT_NAMESPACE

from ansible import constants as C
from ansible.plugins.inventory import to_safe_group_name

from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import FILTER_OPTIONS, lookup, matches

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
# Names a host variable from the API must never take: Ansible's magic variables (ansible-core's own list, plus
# those it sets per task or loop), and the globals Jinja and Ansible give every template. A host variable of
# one of these names would hide it: default(omit) would pass an API value, lookup() would stop working, and
# compose or filters would read the API's inventory_hostname instead of the host's.
RESERVED_VARIABLE_NAMES = frozenset(C.INTERNAL_STATIC_VARS).union(DEFAULT_NAMESPACE).union((
    "omit", "item", "vars", "environment", "play_hosts", "ansible_loop_var",
    "lookup", "query", "q", "now", "undef", "finalize",
))
LABEL_SEPARATOR = re.compile(r"[=:]")
# str.isdigit() also accepts digits int() refuses, such as superscripts.
ASCII_DIGITS = re.compile(r"^[0-9]+$")
# Jinja delimiters all start with "{": a host name without braces can never become a template,
# not even through derived values such as inventory_hostname_short on ansible-core < 2.19.
# The rest is ansible-core's pattern syntax (inventory/manager.py): whitespace and "," separate
# patterns, ":" separates them too unless the whole pattern parses as an address, "[" and "]" make
# ranges and subscripts; in first place "!" excludes, "&" intersects, "~" starts a regex, "@" names a
# --limit file and "-" reads as a command-line option. Each such character becomes "_", so a host
# name always selects itself and only itself in a pattern, --limit or --host.
UNSAFE_HOSTNAME_CHARACTERS = re.compile(r"[{}\s,:\[\]\x00-\x1f\x7f]|^[!&~@-]")
# ansible_host of an instance the API gives no address for yet (creating, pending, error). Without one Ansible
# would connect to the host's *name*, which the API does not control: a pending instance named like a machine
# on the user's network would get the play. RFC 6761 reserves .invalid: this name never resolves, so such a
# host is reported UNREACHABLE with "no-address-yet" in the message and the play goes on with the others.
NO_ADDRESS = "shadeform-no-address-yet.invalid"
# Host names with a meaning of their own in Ansible: the implicit localhost and the built-in groups.
RESERVED_HOSTNAMES = frozenset(("localhost", "127.0.0.1", "::1", "all", "ungrouped"))


# Past this many, renamed-host warnings are summed up in one line (a large fleet may repeat many names).
MAX_RENAME_WARNINGS = 3

Mapping = collections.namedtuple("Mapping", "hosts warnings details")
Mapping.__doc__ = """What to add: ``hosts``, a list of (name, variables, groups); ``warnings`` for the user; ``details`` for -vvv."""


def inventory_hosts(instances, options, untrusted=lambda value: value, preferred_names=None):
    """Map the API's instance list and the plugin's options to the hosts to add, in API order.

    ``options`` holds hostnames, hostvars_prefix, hostvars_suffix, default_groups and the plain
    filters (statuses, clouds, ...); the Jinja ``filters`` need Ansible's templar and are the plugin's.
    ``untrusted`` marks API data so that Ansible never templates it. ``preferred_names(instances, variables)``,
    when given, returns a name (or None) for each valid instance, from the instances and their host
    variables, preferred to the ``hostnames`` fields: the plugin's rendered ``hostname_template``.
    """
    warnings = []
    valid = []
    for position, instance in enumerate(instances):
        if isinstance(instance, dict):
            valid.append(instance)
        else:
            warnings.append("Skipping Shadeform instance #{0}: the API gave {1}, not an object.".format(
                position + 1, type(instance).__name__))
    groups_of = [default_groups(instance) for instance in valid]
    prefix, suffix = options["hostvars_prefix"], options["hostvars_suffix"]

    def mapped(instance):
        variables, skipped = host_variables(instance, prefix, suffix)
        return untrusted(variables), skipped

    # Names are chosen over the whole fleet before any filter, so a host keeps its name whatever the filters.
    # Preferred names read every instance's variables: each instance is then mapped once, for both.
    mapped_all = [mapped(instance) for instance in valid] if preferred_names else None
    preferred = preferred_names(valid, [variables for variables, _skipped in mapped_all]) if preferred_names else None
    names, notes = assign_hostnames(valid, options["hostnames"], {"shadeform"}.union(*groups_of), preferred=preferred)
    plain_filters = dict((option, options.get(option)) for option in FILTER_OPTIONS)
    with_default_groups = options["default_groups"]
    skipped_fields = set()
    kept = []
    for index, (name, instance, groups) in enumerate(zip(names, valid, groups_of)):
        if not matches(instance, **plain_filters):
            continue
        variables, skipped = mapped_all[index] if mapped_all else mapped(instance)
        skipped_fields.update(str(field) for field in skipped)
        kept.append((untrusted(name), variables, groups if with_default_groups else []))
    warnings.extend(notes[:MAX_RENAME_WARNINGS])
    if len(notes) > MAX_RENAME_WARNINGS:
        warnings.append("{0} more names are shared by several Shadeform instances or reserved; run with -vvv to see how "
                        "those hosts are named.".format(len(notes) - MAX_RENAME_WARNINGS))
    if skipped_fields:
        warnings.append("Shadeform instance fields not made host variables (invalid names, or names Ansible or Jinja "
                        "define, such as ansible_*, omit or lookup): {0}".format(
                            ", ".join(sorted(repr(field) for field in skipped_fields))))
    return Mapping(kept, warnings, notes[MAX_RENAME_WARNINGS:])


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


def host_variables(instance, prefix="shadeform_", suffix=""):
    """Return the host variables of one instance: connection variables, API fields and shortcuts.

    Top-level fields whose names are not valid variable names, or would name an ``ansible_*``
    variable or one of RESERVED_VARIABLE_NAMES (possible with an empty prefix), are left out and
    returned in the second item, so the caller can say so once: only the API's ip, ssh_user and
    ssh_port ever drive the connection, and no API field hides a name Ansible or Jinja defines.
    """
    variables = connection_variables(instance)
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
    return variables, skipped_fields


def connection_variables(instance):
    """ansible_host (NO_ADDRESS when the API gives none), and ansible_user and ansible_port when the API gives usable values."""
    variables = {"ansible_host": NO_ADDRESS}
    ip = instance.get("ip")
    if isinstance(ip, str) and ip.strip():
        variables["ansible_host"] = ip.strip()
    user = instance.get("ssh_user")
    if isinstance(user, str) and user.strip():
        variables["ansible_user"] = user.strip()
    port = instance.get("ssh_port")
    if isinstance(port, str) and ASCII_DIGITS.match(port.strip()):
        port = int(port)
    if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
        variables["ansible_port"] = port
    return variables


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
