# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An Event-Driven Ansible (ansible-rulebook) event source: the lifecycle of a Shadeform workspace's instances.

It polls ``GET /instances`` and emits one event per change between two polls. The HTTP client, the redaction of
secrets and the host naming are the collection's own (``plugins/module_utils/api.py``, ``instance_data.py``,
``plugins/plugin_utils/hosts.py``), so that events show what the inventory plugin shows, under its host names.
"""

import asyncio
import copy
import difflib
import json
import logging
import os
import sys
import threading
import time
import types

DOCUMENTATION = r"""
---
short_description: Events for the lifecycle of Shadeform GPU instances
version_added: 1.0.0
description:
  - >-
    An ansible-rulebook event source that polls the Shadeform API's C(GET /instances), one request per poll for the
    whole workspace, every O(interval) seconds, and emits one event per change it sees between two polls.
  - >-
    The first poll that succeeds only learns the fleet (with O(emit_existing=true) it also emits one C(existing) event
    per instance). From then on, the events are
    C(created) (an instance that was not listed before),
    C(status_changed) (its status changed; C(previous.status) holds the old one),
    C(active) (it became active with an address, so a playbook can reach it now; also when an active instance gets its
    address, or gets one again after losing it),
    C(preempted) (a spot instance reclaimed by its provider, which the API shows as status C(deleting) with
    C(status_details) C(preempted)),
    C(error) (its status became C(error)),
    C(address_changed) (an instance that was and still is reachable has another address, SSH port or SSH user) and
    C(deleted) (it is no longer listed; the instance in the event is the last one seen).
  - >-
    Several changes of one instance between two polls give several events, always in this order, at most three of
    them. First C(created) (a new instance) or C(status_changed) (a known one whose status changed); then C(active),
    C(preempted) or C(error) when the instance has just come into that state (each excludes the others); then
    C(address_changed). So pending to active gives C(status_changed) then C(active); a new instance already active gives
    C(created) then C(active); an active spot instance reclaimed gives C(status_changed) then C(preempted), and
    C(deleted) at the first poll that no longer lists it (an instance deleted and gone between two polls gives C(deleted)
    alone). An active instance that loses its address gives no event. The instances are taken in the order the API lists
    them, then the ones that are gone, in the order they were listed.
  - >-
    Each event is C({"shadeform": {"event": <type>, "instance": <the instance>, "previous": <changed fields>,
    "fleet": <name or null>, "host": <host name>}, "meta": {"hosts": <host name>}}).
  - >-
    C(instance) is the API's instance object with its secrets (docker C(envs) values, the registry password, the
    startup script and any field named like a secret) replaced by C(<redacted>), as the inventory plugin shows it.
    C(previous) holds the fields among C(status), C(status_details), C(ip), C(ssh_port) and C(ssh_user) whose value
    changed since the last poll, with their old value (the same in every event of that instance and poll); it is
    empty for C(created) and C(existing), and holds the last status seen for C(deleted).
    C(fleet) is the name of the C(shadeform.cloud.fleet) the instance belongs to (its tag C(fleet=<name>)), or null.
    C(host) is the name the inventory plugin C(shadeform.cloud.shadeform) gives the instance with the same
    O(hostnames), duplicate names included (instances that share a name are all named
    C(<name>-<first 8 characters of the id>)), so a host's name can change when another instance takes or leaves its
    name; C(instance.id) never changes.
  - >-
    C(meta.hosts), which ansible-rulebook makes the limit of a rule's C(run_playbook), is set only where a playbook can
    reach the host, in C(active), C(address_changed) and C(existing) events of an instance that is active with an
    address. The other events carry no C(meta.hosts) and name the host in C(shadeform.host) only, so a rule on them runs
    its playbook on C(localhost) (for example the C(shadeform.cloud.fleet) module, to replace a lost member).
  - >-
    The filters O(statuses), O(clouds), O(regions), O(gpu_types) and O(tags) are the inventory plugin's. A change is
    reported when the instance matches them before or after it, so that with V([active]) an instance that becomes active
    and one that stops being active are both reported, and a change between two statuses outside the list is not. An
    instance that only comes to match them (its tags changed) is reported at its next change.
  - >-
    When the API fails, each poll is first tried again as the inventory plugin's requests are (O(retries), O(timeout)).
    A poll that still fails emits one C(api_error) event, C({"shadeform": {"event": "api_error", "error": <message>,
    "status": <HTTP status or null>, "instance": null, "previous": {}, "fleet": null, "host": null}, "meta": {}}), for
    the first failed poll of an outage only. The source then polls again after 2, 4, 8, ... times O(interval), at most
    300 seconds (or O(interval), when longer) apart, until the API answers; the changes made during the outage are then
    reported as those of one poll.
  - >-
    HTTP 401 (the key is missing, wrong, revoked or expired) or 403 (the key may not list the workspace's instances)
    ends the source with an error that says what to fix, and so does a wrong setting (an unknown argument, a status the
    API never gives, an O(api_url) that is no URL or is plain C(http://) to another host, ...), before any request.
  - >-
    The API key is never part of an event or a log line; the API's error messages are shown with the key masked.
  - >-
    It needs ansible-core and the Python library C(requests) beside ansible-rulebook.
  - >-
    The host names are the inventory plugin's when it has the same O(hostnames) and no C(hostname_template). The
    inventory plugin also reads C(GET /clusters) unless C(clusters=false), and the source does not. So members of
    Shadeform's clusters that C(GET /instances) does not list give no event, and an instance named like a cluster group
    (C(cluster_<name>)) keeps its own name here where the inventory renames it.
options:
  api_key:
    description:
      - The Shadeform API key. It has admin rights over the workspace. When unset or empty, the environment variable
        E(SHADEFORM_API_KEY) is used; one of the two is required.
    type: str
  api_url:
    description:
      - Base URL of the Shadeform API, up to and including C(/v1). When unset, the environment variable
        E(SHADEFORM_API_URL), else V(https://api.shadeform.ai/v1).
      - It must start with C(https://); C(http://) is accepted only for a loopback host. Redirects are never followed.
    type: str
  interval:
    description:
      - Seconds from the start of one poll to the start of the next (more when a poll takes longer). Each poll is one
        C(GET /instances) request (and its retries), so V(30) makes 2,880 requests a day.
      - A positive number, at most 86400.
    type: float
    default: 30
  statuses:
    description:
      - Report only instances whose C(status) is in this list (before or after the change), for example V([active]).
        Empty reports all.
      - The statuses are C(creating), C(pending_provider), C(pending), C(active), C(error) and C(deleting); any other
        value ends the source with an error naming the closest status.
    type: list
    elements: str
    default: []
  clouds:
    description: Report only instances whose C(cloud) is in this list, whatever the case.
    type: list
    elements: str
    default: []
  regions:
    description: Report only instances whose C(region) is in this list, whatever the case.
    type: list
    elements: str
    default: []
  gpu_types:
    description: Report only instances whose C(configuration.gpu_type) is in this list, whatever the case (V([h100]) keeps H100).
    type: list
    elements: str
    default: []
  tags:
    description:
      - Report only instances that carry every tag in this list, for example V([fleet=trainers]) for the members of the
        fleet C(trainers).
    type: list
    elements: str
    default: []
  emit_existing:
    description:
      - Whether the first poll emits one C(existing) event per instance that matches the filters, in the API's order
        (with C(meta.hosts) for those active with an address), so that a rulebook can act on what is already there.
    type: bool
    default: false
  hostnames:
    description:
      - Where host names come from, as the inventory plugin's O(hostnames) option (set both the same).
    type: list
    elements: str
    choices: [name, id, ip, cloud_assigned_id]
    default: [name]
  timeout:
    description: Seconds one request may take in all, as the inventory plugin's option. At most 3600.
    type: float
    default: 30
  retries:
    description:
      - How many times one poll's request is tried again after HTTP 429, an HTTP 5xx answer, a timeout or a
        connection error, as the inventory plugin's option (a C(Retry-After) header is honoured, else waits of 1, 2,
        4, ... seconds). From 0 to 100.
    type: int
    default: 3
  validate_certs:
    description: Whether to verify the API's TLS certificate. Only turn this off on a network you trust.
    type: bool
    default: true
"""

EXAMPLES = r"""
# A rulebook: replace the lost members of the fleet "trainers", configure each member that becomes reachable.
# The collection's own rulebook, shadeform.cloud.heal_fleet, does this with the fleet module; see its guide.
- name: Heal the fleet trainers
  # A loss event names no reachable host (no meta.hosts): ansible-rulebook then limits the playbook to the ruleset's
  # hosts, and "localhost,all" keeps the localhost that runs shadeform.cloud.fleet.
  hosts: localhost,all
  execution_strategy: sequential
  sources:
    - shadeform.cloud.instance_events:
        interval: 30
        tags: [fleet=trainers]
  rules:
    - name: A member was lost
      condition: event.shadeform.event in ["preempted", "error", "deleted"]
      action:
        run_playbook:
          name: replace_member.yml         # runs shadeform.cloud.fleet on localhost
    - name: A member is reachable
      condition: event.shadeform.event == "active"
      action:
        run_playbook:
          name: configure.yml              # limited to event.meta.hosts: that host only

# Every instance of the workspace, and one event per instance at start; the key from SHADEFORM_API_KEY.
- shadeform.cloud.instance_events:
    emit_existing: true
    statuses: [active, error]
    gpu_types: [H100]
"""

SOURCE = "shadeform.cloud.instance_events"
NAMESPACE, NAME = "shadeform", "cloud"


def _collections_root():
    """The directory holding ``ansible_collections/shadeform/cloud`` when this file is in such a tree (an installed
    collection, or a checkout kept there as ansible-test wants it); else None (a checkout of another name)."""
    collection = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), *[os.pardir] * 4))
    namespace = os.path.dirname(collection)
    top = os.path.dirname(namespace)
    if (os.path.basename(top), os.path.basename(namespace), os.path.basename(collection)) == ("ansible_collections", NAMESPACE, NAME):
        return os.path.dirname(top), collection
    return None, collection


def _make_collection_importable():
    """Make ``ansible_collections.shadeform.cloud`` this file's own collection, importable.

    ansible-rulebook loads an event source by its path (runpy.run_path of the file it found with
    ``ansible-galaxy collection list``), without ansible-core's collection loader, and nothing puts the collections
    path on sys.path: the collection's Python code is importable only once the directory above
    ``ansible_collections`` is on it. It goes first, so that this file's own collection wins over another copy
    elsewhere (``ansible_collections`` is a namespace package). Run by hand from a checkout that is not kept under
    ``ansible_collections/shadeform/cloud``, the package names are bound to the checkout itself instead. Where the
    package is importable already (ansible-core's collection loader, in the tests), nothing changes.
    """
    package = "ansible_collections.{0}.{1}".format(NAMESPACE, NAME)
    if package in sys.modules:
        return
    root, collection = _collections_root()
    if root is not None:
        if root not in sys.path:
            sys.path.insert(0, root)
        return
    for name, path in (("ansible_collections", None), ("ansible_collections." + NAMESPACE, None), (package, collection)):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = [path] if path else []
            sys.modules[name] = module


_make_collection_importable()
# pylint: disable=wrong-import-position
try:
    from ansible.module_utils.parsing.convert_bool import boolean
    from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient
    from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import (
        DEFAULT_API_URL, ShadeformAPIError, check_number, quoted_value, requests_is_missing)
    from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import (
        FILTER_OPTIONS, check_filter_values, fleet_name, is_ready, matches, redact_secrets)
    from ansible_collections.shadeform.cloud.plugins.module_utils.ssh_endpoint import ssh_endpoint
    from ansible_collections.shadeform.cloud.plugins.plugin_utils import hosts
except ImportError as import_error:
    raise ImportError("{0} needs ansible-core and the Python library requests in ansible-rulebook's Python environment "
                      "(pip install ansible-core requests): {1}".format(SOURCE, import_error)) from None
# pylint: enable=wrong-import-position

logger = logging.getLogger(SOURCE)

# The arguments (rulebooks depend on their names); ansible-rulebook adds its own, named eda_*, which are left alone.
ARGUMENTS = ("api_url", "api_key", "interval", "emit_existing", "hostnames", "timeout", "retries", "validate_certs") + FILTER_OPTIONS
HOSTNAME_SOURCES = ("name", "id", "ip", "cloud_assigned_id")
DEFAULT_INTERVAL = 30
MAX_INTERVAL = 86400
# After a failed poll the next waits twice as long as the last, up to this many seconds (or interval, when longer).
MAX_BACKOFF = 300
# The fields whose old value an event carries in "previous" when they changed.
WATCHED_FIELDS = ("status", "status_details", "ip", "ssh_port", "ssh_user")
# Options of the inventory's host mapping that the source does not offer: the inventory plugin's defaults.
HOST_MAPPING_OPTIONS = {"hostvars_prefix": "shadeform_", "hostvars_suffix": "", "default_groups": True}


class InstanceEventsError(Exception):
    """What ends the source: a setting to fix, or the API refusing the key (HTTP 401 or 403)."""


def settings(args):
    """The source's settings from its arguments (and the environment), checked; InstanceEventsError names what is wrong."""
    unknown = sorted(str(name) for name in args if name not in ARGUMENTS and not str(name).startswith("eda_"))
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, ARGUMENTS, n=1)
            hints.append("{0}{1}".format(quoted_value(name), " (did you mean {0!r}?)".format(close[0]) if close else ""))
        raise InstanceEventsError("{0} does not know the argument{1} {2}. Its arguments are {3}.".format(
            SOURCE, "s" if len(unknown) > 1 else "", ", ".join(hints), ", ".join(ARGUMENTS)))
    result = {
        "api_key": _text(args.get("api_key")) or os.environ.get("SHADEFORM_API_KEY", "").strip(),
        "api_url": _text(args.get("api_url")) or os.environ.get("SHADEFORM_API_URL", "").strip() or DEFAULT_API_URL,
        "interval": _number(args, "interval", DEFAULT_INTERVAL, MAX_INTERVAL),
        "emit_existing": _boolean(args, "emit_existing", False),
        "validate_certs": _boolean(args, "validate_certs", True),
        "timeout": args.get("timeout", 30),
        "retries": args.get("retries", 3),
        "hostnames": _strings(args, "hostnames") or ["name"],
        "filters": dict((option, _strings(args, option)) for option in FILTER_OPTIONS),
    }
    if not result["api_key"]:
        raise InstanceEventsError("No Shadeform API key: set the api_key argument of {0} or export SHADEFORM_API_KEY in "
                                  "ansible-rulebook's environment.".format(SOURCE))
    wrong = [name for name in result["hostnames"] if name not in HOSTNAME_SOURCES]
    if wrong:
        raise InstanceEventsError("hostnames may hold {0}, not {1}.".format(
            ", ".join(HOSTNAME_SOURCES), ", ".join(quoted_value(name) for name in wrong)))
    try:
        check_filter_values(result["filters"])
    except ValueError as exc:
        raise InstanceEventsError(str(exc)) from None
    return result


def _text(value):
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value).strip())


def _number(args, name, default, maximum):
    value = args.get(name, default)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    problem = check_number(name, value, maximum)
    if problem:
        raise InstanceEventsError(problem)
    return value


def _boolean(args, name, default):
    value = args.get(name, default)
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise InstanceEventsError("{0} must be true or false, not {1}.".format(name, quoted_value(value))) from None


def _strings(args, name):
    """A list of strings; one string is a list of one, null an empty list."""
    value = args.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InstanceEventsError("{0} must be a list of strings, not {1}.".format(name, quoted_value(value)))
    return list(value)


class Seen:  # pylint: disable=too-few-public-methods
    """One instance at one poll: the redacted instance, its host name, and whether it matches the filters."""

    __slots__ = ("instance", "host", "matched")

    def __init__(self, instance, host, matched):
        self.instance = instance
        self.host = host
        self.matched = matched


class InstanceWatch:
    """The source without I/O: ``update(instances)`` takes one poll's ``GET /instances`` list and returns its events."""

    def __init__(self, filters, hostnames=("name",), emit_existing=False):
        self.filters = filters
        self.hostnames = list(hostnames)
        self.emit_existing = emit_existing
        self.known = None  # id -> Seen, in the order of the last list; None before the first poll
        self._told = set()

    def update(self, listed):
        current = self._snapshot(listed)
        known, self.known = self.known, current
        if known is None:
            if not self.emit_existing:
                return []
            return [_event("existing", seen, reachable=is_ready(seen.instance)) for seen in current.values() if seen.matched]
        events = []
        for instance_id, seen in current.items():
            events.extend(_changes(known.get(instance_id), seen))
        for instance_id, seen in known.items():
            if instance_id not in current and seen.matched:
                events.append(_event("deleted", seen, {"status": seen.instance.get("status")}))
        return events

    def _snapshot(self, listed):
        """{id: Seen} of one list: every instance redacted and named as the inventory plugin names it (over the whole list,
        before any filter, as the inventory does), then filtered. Instances without an id cannot be followed from one poll
        to the next: they are named (they take part in the naming of the others) but give no event."""
        listed, warning = hosts.without_non_finite(listed)
        warnings = [warning] if warning else []
        instances = [redact_secrets(instance) if isinstance(instance, dict) else instance for instance in listed]
        fleet = hosts.fleet_variables(instances, HOST_MAPPING_OPTIONS)
        mapping = hosts.inventory_hosts(fleet, dict(HOST_MAPPING_OPTIONS, hostnames=self.hostnames))
        warnings.extend(mapping.warnings)
        current = {}
        for instance, (name, _variables, _groups) in zip(fleet.instances, mapping.hosts):
            instance_id = instance.get("id")
            if not isinstance(instance_id, str) or not instance_id or instance_id in current:
                warnings.append("A Shadeform instance without an id of its own (host {0}) gives no events.".format(quoted_value(name)))
                continue
            current[instance_id] = Seen(instance, name, matches(instance, **self.filters))
        for text in warnings:
            if text not in self._told:  # each once: the same fleet repeats them at every poll
                self._told.add(text)
                logger.warning("%s", text)
        return current


def _changes(old, new):
    """The events of one instance between two polls (``old`` is None for a new one), in the documented order."""
    if old is None:
        if not new.matched:
            return []
        previous = {}
        events = [("created", previous)]
    else:
        if not (old.matched or new.matched):
            return []
        was = old.instance
        previous = dict((field, was.get(field)) for field in WATCHED_FIELDS if was.get(field) != new.instance.get(field))
        events = [("status_changed", previous)] if "status" in previous else []
    now = new.instance
    was = old.instance if old is not None else None
    for kind, test in (("active", is_ready), ("preempted", _is_preempted), ("error", _is_error)):
        if test(now) and not (was is not None and test(was)):
            events.append((kind, previous))
    if was is not None and is_ready(was) and is_ready(now) and _endpoint(was) != _endpoint(now):
        events.append(("address_changed", previous))
    return [_event(kind, new, changed, reachable=kind in ("active", "address_changed")) for kind, changed in events]


def _is_preempted(instance):
    return instance.get("status") == "deleting" and instance.get("status_details") == "preempted"


def _is_error(instance):
    return instance.get("status") == "error"


def _endpoint(instance):
    endpoint = ssh_endpoint(instance)
    return endpoint.address, endpoint.port, endpoint.user


def _event(kind, seen, previous=None, reachable=False):
    """One event of the documented shape; ``meta.hosts`` only when a playbook can reach the host."""
    event = {"shadeform": {"event": kind, "instance": copy.deepcopy(seen.instance), "previous": copy.deepcopy(previous or {}),
                           "fleet": fleet_name(seen.instance), "host": seen.host},
             "meta": {}}
    if reachable:
        event["meta"]["hosts"] = seen.host
    return event


def api_error_event(message, status):
    return {"shadeform": {"event": "api_error", "error": message, "status": status, "instance": None, "previous": {},
                          "fleet": None, "host": None},
            "meta": {}}


def backoff(interval, failures):
    """Seconds before the next poll after ``failures`` failed polls in a row: 2, 4, 8, ... times interval, bounded."""
    return min(interval * 2 ** min(failures, 30), max(interval, MAX_BACKOFF))


async def in_thread(function):
    """``function()`` in a daemon thread of its own, awaited: the event loop stays responsive while the synchronous client
    waits, and neither a cancelled source nor the interpreter's exit waits for a request in flight (a thread of asyncio's
    default executor would be joined at exit, up to (retries + 1) x timeout later)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(setter, value):
        if not future.done():
            setter(value)

    def run():
        try:
            outcome = (future.set_result, function())
        except Exception as exc:  # pylint: disable=broad-except
            outcome = (future.set_exception, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:
            pass  # the loop is closed: nobody waits for the answer any more

    threading.Thread(target=run, name=SOURCE, daemon=True).start()
    return await future


async def main(queue, args):
    """Poll GET /instances and put one event per change on ``queue`` (see DOCUMENTATION); ends only on InstanceEventsError."""
    config = settings(args)
    if requests_is_missing():
        raise InstanceEventsError("{0} needs the Python library requests in ansible-rulebook's Python environment (pip "
                                  "install requests).".format(SOURCE))
    client = ShadeformClient(api_key=config["api_key"], api_url=config["api_url"], timeout=config["timeout"],
                             retries=config["retries"], validate_certs=config["validate_certs"])
    if client.configuration_error:
        raise InstanceEventsError("{0}: {1}".format(SOURCE, client.configuration_error))
    watch = InstanceWatch(config["filters"], config["hostnames"], config["emit_existing"])
    interval = config["interval"]
    logger.info("%s: polling %s/instances every %s seconds", SOURCE, client.scrub(client.api_url), interval)
    failures = 0
    while True:
        started = time.monotonic()
        try:
            listed = await in_thread(client.list_instances)
        except ShadeformAPIError as exc:
            message = client.scrub(str(exc))
            if exc.status in (401, 403):
                raise InstanceEventsError("{0} stopped: {1}".format(SOURCE, message)) from None
            failures += 1
            wait = backoff(interval, failures)
            logger.warning("%s: polling failed (%d in a row; next poll in %s seconds): %s", SOURCE, failures, wait, message)
            if failures == 1:
                await queue.put(api_error_event(message, exc.status))
            await asyncio.sleep(wait)
            continue
        if failures:
            logger.warning("%s: polling works again, after %d failed polls", SOURCE, failures)
            failures = 0
        for event in watch.update(listed):
            await queue.put(event)
        await asyncio.sleep(max(0.0, started + interval - time.monotonic()))


if __name__ == "__main__":

    class PrintQueue:  # pylint: disable=too-few-public-methods
        """Prints each event as one line of JSON."""

        async def put(self, event):
            print(json.dumps(event, sort_keys=True), flush=True)

    # python instance_events.py '{"emit_existing": true, "interval": 10}'  (the key from SHADEFORM_API_KEY)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        asyncio.run(main(PrintQueue(), json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}))
    except InstanceEventsError as error:
        sys.exit(str(error))
    except KeyboardInterrupt:
        pass
