# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Instance helpers shared by the inventory plugin (controller) and the modules (target): redaction and filters.

Every field of an instance may be absent, null or of the wrong type; only ``id`` is expected.
"""

import math
import re

REDACTED = "<redacted>"
# Fields whose value is a secret wherever they appear, including fields the API may add later.
SECRET_FIELD_NAME = re.compile(r"private_key|password|passwd|token|secret", re.IGNORECASE)
# Objects that hold secrets: when the API gives one of them as a plain value (a string such as "HF_TOKEN=..."),
# the whole value is taken for a secret.
SECRET_HOLDERS = ("envs", "script_configuration", "registry_credentials")


def redact_secrets(data):
    """Return ``data`` (an instance, an SSH key, any API object) with every secret replaced by REDACTED.

    Secrets are the ``value`` of each entry of an ``envs`` list (the docker envs of a launch configuration,
    and the top-level envs that ``GET /instances/{id}/info`` adds), the startup script (``base64_script``),
    ``envs``, ``script_configuration`` and ``registry_credentials`` given as plain values instead of objects,
    and the value of any field named like a secret (``private_key``, ``password``, ``token``, ``secret``, in
    any case and as part of a longer name), at any depth. The input is left untouched, and only the objects
    on the way to a secret are copied: a deep copy of every instance would dominate the inventory's run
    time on large fleets.
    """
    return _redacted(data)


def _redacted(value):
    if isinstance(value, dict):
        copy = None
        for key, item in value.items():
            if isinstance(key, str) and (key == "base64_script" or SECRET_FIELD_NAME.search(key)):
                replacement = item if item is None or item == "" or item == REDACTED else REDACTED
            elif key == "envs" and isinstance(item, list):
                replacement = _same_or_new(item, [_redacted_env(env) for env in item])
            elif key in SECRET_HOLDERS and not isinstance(item, (dict, list)):
                replacement = item if item is None or item == "" or item == REDACTED else REDACTED
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
    if isinstance(env, str) and env not in ("", REDACTED):
        return REDACTED  # "NAME=value" written as a string
    env = _redacted(env)
    if isinstance(env, dict) and env.get("value") not in (None, "", REDACTED):
        return dict(env, value=REDACTED)
    return env


def _same_or_new(old, new):
    """``old`` when every item of ``new`` is the same object, so that unchanged lists are shared, not copied."""
    return old if all(after is before for after, before in zip(new, old)) else new


# Statuses of an instance on its way out: billing has stopped, and it leaves GET /instances soon.
GONE_STATUSES = ("deleting", "deleted")


# status_details of an active instance whose container is still starting (docker launch configurations).
WORKLOAD_STARTING = ("downloading",)


def is_ready(instance):
    """Whether the API says the instance can be reached: ``active`` and an address (as Shadeform's own clients wait)."""
    return instance.get("status") == "active" and isinstance(instance.get("ip"), str) and bool(instance["ip"])


def hourly_price_usd(instance):
    """The instance's hourly price in dollars (a float), or None: the API's ``hourly_price`` is cents, but a spot
    instance's rate is its rental terms' ``hourly_price`` (dollars, as a string). A price below 0 is none."""
    terms = instance.get("rental_terms")
    if isinstance(terms, dict) and terms.get("rental_type") == "spot":
        dollars = finite_number(terms.get("hourly_price"))
        return None if dollars is None or dollars < 0 else dollars
    cents = finite_number(instance.get("hourly_price"))
    return None if cents is None or cents < 0 else cents / 100.0


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


def matches(instance, statuses=(), clouds=(), regions=(), gpu_types=(), tags=()):
    """True when the instance passes the plain (non-Jinja) filters; an empty filter keeps everything."""
    if statuses and instance.get("status") not in statuses:
        return False
    if clouds and instance.get("cloud") not in clouds:
        return False
    if regions and instance.get("region") not in regions:
        return False
    if gpu_types and lookup(instance, ("configuration", "gpu_type")) not in gpu_types:
        return False
    if tags:
        carried = instance.get("tags")
        if not isinstance(carried, list) or not all(tag in carried for tag in tags):
            return False
    return True


def lookup(data, path):
    """The value at ``path`` (a sequence of keys) in nested dicts, or None."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
