# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Instance helpers shared by the inventory plugin (controller) and the modules (target): redaction and filters.

Every field of an instance may be absent, null or of the wrong type; only ``id`` is expected.
"""

import difflib
import functools
import math
import re

from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import quoted_value
from ansible_collections.shadeform.cloud.plugins.module_utils.ssh_endpoint import ssh_endpoint

REDACTED = "<redacted>"
# Words that make a field's value a secret wherever the field appears, including fields the API may add later.
# They are looked for in the field's name split into words (secret_name_words), so that privateKey, api-key,
# API_KEY, authToken and client_secret are all found; "tokens" and "secrets" too, as part of a longer word.
SECRET_WORDS = re.compile(r"private_?key|api_?key|access_?key|password|passwd|passphrase|token|secret|credential|authorization")
# Objects that hold secrets and keep their shape when redacted (the registry user name is no secret); when the API
# gives one of them as a plain value (a string such as "HF_TOKEN=..."), the whole value is taken for a secret.
SECRET_HOLDERS = ("envs", "script_configuration", "registry_credentials")
# camelCase and PascalCase word boundaries: "privateKey" -> "private_Key", "APIKey" -> "API_Key".
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")


@functools.lru_cache(maxsize=4096)
def is_secret_name(name):
    """Whether a field named ``name`` holds a secret: its words, in any style (camelCase, kebab-case, snake_case,
    any case), name one (``privateKey``, ``api-key``, ``PASSWORD``, ``authToken``, ``client_secret``, ...).

    Remembered: an API object repeats the same few field names in every instance.
    """
    words = _SEPARATORS.sub("_", _CAMEL_BOUNDARY.sub("_", name)).lower()
    return SECRET_WORDS.search(words) is not None


def redact_secrets(data):
    """Return ``data`` (an instance, an SSH key, any API object) with every secret replaced by REDACTED.

    Secrets are the ``value`` of each entry of an ``envs`` list (the docker envs of a launch configuration,
    and the top-level envs that ``GET /instances/{id}/info`` adds), every value of ``envs`` given as an object
    (``{NAME: value}``), the startup script (``base64_script``), ``envs``, ``script_configuration`` and
    ``registry_credentials`` given as plain values instead of objects, and the value of any field named like a
    secret (``private_key``, ``privateKey``, ``api-key``, ``PASSWORD``, ``accessToken``, ``client_secret``,
    ``credentials``, ...: see is_secret_name), at any depth. The input is left untouched, and only the objects
    on the way to a secret are copied: a deep copy of every instance would dominate the inventory's run
    time on large fleets.
    """
    return _redacted(data)


def _secret(value):
    """REDACTED for a value that is there; an absent (null or empty) one stays as it is, so that it says "none"."""
    return value if value is None or value == "" or value == REDACTED else REDACTED


def _redacted(value):
    if isinstance(value, dict):
        copy = None
        for key, item in value.items():
            if key == "envs" and isinstance(item, list):
                replacement = _same_or_new(item, [_redacted_env(env) for env in item])
            elif key == "envs" and isinstance(item, dict):
                replacement = dict((name, _secret(env_value)) for name, env_value in item.items())
                replacement = item if all(replacement[name] is item[name] for name in item) else replacement
            elif key in SECRET_HOLDERS:
                replacement = _redacted(item) if isinstance(item, (dict, list)) else _secret(item)
            elif isinstance(key, str) and (key == "base64_script" or is_secret_name(key)):
                replacement = _secret(item)
            elif isinstance(item, (dict, list)):
                replacement = _redacted(item)
            else:
                continue
            if replacement is not item:
                if copy is None:
                    copy = dict(value)
                copy[key] = replacement
        return value if copy is None else copy
    if isinstance(value, list):
        return _same_or_new(value, [_redacted(item) if isinstance(item, (dict, list)) else item for item in value])
    return value


def _redacted_env(env):
    if isinstance(env, str):
        return _secret(env)  # "NAME=value" written as a string
    env = _redacted(env)
    if isinstance(env, dict) and env.get("value") is not _secret(env.get("value")):
        return dict(env, value=REDACTED)
    return env


def _same_or_new(old, new):
    """``old`` when every item of ``new`` is the same object, so that unchanged lists are shared, not copied."""
    return old if all(after is before for after, before in zip(new, old)) else new


# Statuses of an instance on its way out: billing has stopped, and it leaves GET /instances soon.
GONE_STATUSES = ("deleting", "deleted")


# status_details of an active instance whose container is still starting (docker launch configurations).
WORKLOAD_STARTING = ("downloading",)


# The names of fleets (the fleet module's name option): letters, digits, "-" and "_", so that the tag makes a usable
# inventory group (tag_fleet_<name>). A fleet's members carry the tag fleet=<name> (fleet_tag): its identity of them.
FLEET_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
FLEET_TAG_PREFIX = "fleet="


def fleet_tag(name):
    """The tag that makes an instance a member of the fleet ``name``."""
    return FLEET_TAG_PREFIX + name


def fleet_name(instance):
    """The name of the fleet the instance belongs to, from its first tag ``fleet=<name>`` whose name the fleet module
    accepts (FLEET_NAME); None when it has none."""
    tags = instance.get("tags")
    for tag in tags if isinstance(tags, list) else ():
        if isinstance(tag, str) and tag.startswith(FLEET_TAG_PREFIX) and FLEET_NAME.match(tag[len(FLEET_TAG_PREFIX):]):
            return tag[len(FLEET_TAG_PREFIX):]
    return None


def is_ready(instance, wait_for_workload=False):
    """Whether the API says the instance can be reached: ``active`` and an address (as Shadeform's own clients wait) that
    the one SSH parser accepts; with ``wait_for_workload``, also its container started (status_details not starting)."""
    return (instance.get("status") == "active" and ssh_endpoint(instance).address is not None
            and not (wait_for_workload and instance.get("status_details") in WORKLOAD_STARTING))


def hourly_price_usd(instance):
    """The instance's hourly price in dollars (a float), or None when the API gives none that is usable.

    The API's ``hourly_price`` is cents, but a spot instance's rate is its rental terms' ``hourly_price`` (dollars, as a
    string). The API fields keep their name and unit wherever they are shown: this is a separate value, named ``_usd``.
    """
    terms = instance.get("rental_terms")
    if isinstance(terms, dict) and terms.get("rental_type") == "spot":
        dollars = finite_number(terms.get("hourly_price"))
        return dollars if dollars is not None and dollars >= 0 else None
    cents = instance.get("hourly_price")  # documented as an integer: a string here is not read as cents
    cents = finite_number(cents) if isinstance(cents, (int, float)) else None
    return cents / 100.0 if cents is not None and cents >= 0 else None


def finite_number(value):
    """A number the API gives as a number or a decimal string (dollars, cents), as a float; None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def status_details_note(instance):
    """``, <status_details>`` to follow a status in a message, or nothing."""
    details = instance.get("status_details")
    return ", {0}".format(details) if isinstance(details, str) and details else ""


# The plain filters, named as the options of the inventory plugin and of instance_info.
FILTER_OPTIONS = ("statuses", "clouds", "regions", "gpu_types", "tags")
# The statuses GET /instances gives (a deleted instance is no longer listed), in the order an instance goes through them.
STATUSES = ("creating", "pending_provider", "pending", "active", "error", "deleting")
# Words users write for a status, and the status the API gives for it (so that "runing" is answered with "active").
STATUS_WORDS = {"running": "active", "ready": "active", "started": "active", "up": "active", "failed": "error",
                "provisioning": "creating", "starting": "pending", "terminating": "deleting", "stopping": "deleting"}
# Filters that name a provider's cloud, region or GPU type: the API's spelling varies (H100, h100), the user's too.
FOLDED_FILTERS = (("clouds", ("cloud",)), ("regions", ("region",)), ("gpu_types", ("configuration", "gpu_type")))
# Past this many, the values present are summed up, so that a large fleet's warning stays one readable line.
MAX_VALUES_SHOWN = 20


def check_filter_values(filters):
    """Raise ValueError, with one message that names the closest status, when ``statuses`` holds a status the API
    never gives (``Active``, ``runing``, ``deleted``); run it before fetching. The other filters are free text."""
    unknown = [status for status in filters.get("statuses") or () if status not in STATUSES]
    if not unknown:
        return
    hints = []
    for status in unknown:
        if isinstance(status, str) and status.strip().lower() == "deleted":
            hints.append("{0}: the API never lists deleted instances".format(quoted_value(status)))
            continue
        close = difflib.get_close_matches(status.strip().lower() if isinstance(status, str) else "",
                                          STATUSES + tuple(STATUS_WORDS), n=1, cutoff=0.6)
        hints.append("{0}: did you mean {1}?".format(quoted_value(status), quoted_value(STATUS_WORDS.get(close[0], close[0])))
                     if close else quoted_value(status))
    raise ValueError("statuses holds {0} that the Shadeform API never gives ({1}). The statuses are: {2}.".format(
        "a value" if len(unknown) == 1 else "values", "; ".join(hints), ", ".join(STATUSES)))


def unmatched_filter_values(instances, filters):
    """One warning per filter among ``clouds``, ``regions``, ``gpu_types`` and ``tags`` with values that match no
    instance of ``instances`` (all of them, before any filter), listing the values the instances have; none when there
    is no instance at all. A status that matches no instance is no mistake (a fleet may be all pending): statuses
    are checked by check_filter_values instead."""
    if not instances:
        return []
    warnings = []
    for option, path in FOLDED_FILTERS + (("tags", None),):
        wanted = filters.get(option) or ()
        if not wanted:
            continue
        if path is None:
            present = sorted(set(tag for instance in instances if isinstance(instance.get("tags"), list)
                                 for tag in instance["tags"] if isinstance(tag, str)))
            found = set(present)
            unmatched = [value for value in wanted if value not in found]
        else:
            present = sorted(set(value for value in (lookup(instance, path) for instance in instances) if isinstance(value, str)))
            found = set(_folded(value) for value in present)
            unmatched = [value for value in wanted if _folded(value) not in found]
        if not unmatched:
            continue
        shown = ", ".join(quoted_value(value) for value in present[:MAX_VALUES_SHOWN]) or "none"
        if len(present) > MAX_VALUES_SHOWN:
            shown += " and {0} more".format(len(present) - MAX_VALUES_SHOWN)
        warnings.append("{0}: {1} {2} no Shadeform instance; the instances have {3}.".format(
            option, ", ".join(quoted_value(value) for value in unmatched), "matches" if len(unmatched) == 1 else "match", shown))
    return warnings


def matches(instance, statuses=(), clouds=(), regions=(), gpu_types=(), tags=()):
    """True when the instance passes the plain (non-Jinja) filters; an empty filter keeps everything.

    Statuses and tags compare exactly; clouds, regions and GPU types whatever their case (``h100`` keeps H100)."""
    if statuses and instance.get("status") not in statuses:
        return False
    if clouds and _folded(instance.get("cloud")) not in _folded_set(tuple(clouds)):
        return False
    if regions and _folded(instance.get("region")) not in _folded_set(tuple(regions)):
        return False
    if gpu_types and _folded(lookup(instance, ("configuration", "gpu_type"))) not in _folded_set(tuple(gpu_types)):
        return False
    if tags:
        carried = instance.get("tags")
        if not isinstance(carried, list) or not all(tag in carried for tag in tags):
            return False
    return True


def _folded(value):
    return value.casefold() if isinstance(value, str) else None


@functools.lru_cache(maxsize=64)
def _folded_set(values):
    """The case-folded filter values, remembered: matches() is called once per instance with the same filters."""
    return frozenset(_folded(value) for value in values if isinstance(value, str))


def lookup(data, path):
    """The value at ``path`` (a sequence of keys) in nested dicts, or None."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
