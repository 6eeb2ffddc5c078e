# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one parser of where an instance is reached over SSH: its address, user and port, as the API gives them.

The inventory plugin (ansible_host, ansible_user, ansible_port), fleet's readiness probe and every module's
result take these three values from here only. API data is untrusted: a value that ssh, a shell or Ansible could
read as anything but an address, a user name or a port (``-oProxyCommand=...``, ``root@evil``, a space, a
newline) is refused, never cleaned up into something else. Runs on targets too: Python 3.9+, standard library.
"""

import collections
import ipaddress
import re

# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens, 63 characters each, 253 in all.
HOST_NAME_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
MAX_HOST_NAME_LENGTH = 253
# POSIX portable user names (the portable filename character set, no leading hyphen), as useradd accepts them.
USER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$")
# str.isdigit() also accepts digits int() reads differently, such as superscripts.
ASCII_DIGITS = re.compile(r"^[0-9]{1,5}$")

Endpoint = collections.namedtuple("Endpoint", "address user port refused")
Endpoint.__doc__ = """``address``, ``user`` and ``port`` of an instance, each None when the API gives no usable value;
``refused``: the names of the fields (``ip``, ``ssh_user``, ``ssh_port``) that held a value that is not usable."""


def ssh_endpoint(instance):
    """The instance's SSH endpoint, from its ``ip``, ``ssh_user`` and ``ssh_port``.

    Absent, null and empty values are simply missing (an instance that is not ready has no address yet);
    a value that is present but not usable is missing too, and its field is named in ``refused`` so that the
    caller can warn once.
    """
    refused = []
    values = []
    for field, parse in (("ip", address), ("ssh_user", user_name), ("ssh_port", port_number)):
        raw = instance.get(field) if isinstance(instance, dict) else None
        value = parse(raw)
        if value is None and not _is_missing(raw):
            refused.append(field)
        values.append(value)
    return Endpoint(values[0], values[1], values[2], tuple(refused))


def address(value):
    """An IPv4 or IPv6 literal or an RFC 1123 host name (surrounding whitespace removed); None for anything else."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_HOST_NAME_LENGTH + 1:
        return None
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        # A scoped IPv6 address (fe80::1%eth0) names an interface of the controller, not the instance.
        return text if "%" not in text else None
    labels = (text[:-1] if text.endswith(".") else text).split(".")
    if len(text.rstrip(".")) > MAX_HOST_NAME_LENGTH or not all(HOST_NAME_LABEL.match(label) for label in labels):
        return None
    return text


def user_name(value):
    """A plain POSIX user name (surrounding whitespace removed); None for anything else."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if USER_NAME.match(text) else None


def port_number(value):
    """A TCP port, 1 to 65535, given as an integer or as a string of ASCII digits (``"18022"``); None for anything else."""
    if isinstance(value, str) and ASCII_DIGITS.match(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value < 65536 else None


def _is_missing(value):
    return value is None or (isinstance(value, str) and not value.strip())
