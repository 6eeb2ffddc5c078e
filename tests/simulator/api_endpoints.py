# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The simulator's Shadeform API: the workspace's state and the ``/v1`` endpoints, as the API notes describe them.

:class:`ShadeformApi` is mixed into ``shadeform_simulator.Simulator`` with ``http_server.HttpServer``.  Routing is the
table ``API_ROUTES``: a ``route(method, regex, handler name)`` row and an ``_api_*`` method serve an endpoint.

Behaviour (documented by Shadeform unless a variant says otherwise):

* ``GET /instances`` lists every instance not deleted (``deleting`` ones too); the body is serialized once per change.
* ``POST /instances/create`` answers ``{"id"}``; the instance goes ``creating`` -> ``pending`` -> ``active``
  (``creating_delay``, ``pending_delay`` seconds) and gets an address from ``ip_pool`` when it becomes active (the
  first entry no other instance uses, else round robin; 203.0.113.x port 22 without a pool).  It needs a catalogue
  entry of the ``rental_type`` asked for (``on_demand`` by default) that is available in the region; ``spot`` also
  needs ``shade_cloud: true``.  ``launch_configuration`` holds docker or script, never both; ``volume_ids`` exactly
  one volume of the same cloud and region, not mounted elsewhere; ``volume_mount`` is ``{"auto": bool}``.
  ``balance_low = True`` refuses with 409 ``{"error_code": "INSUFFICIENT_FUNDS", "error": ...}``.
* ``GET /instances/{id}/info`` adds volume_ids, ssh_key_id, auto_delete, alert, volume_mount and envs (no top-level
  ``os`` or ``template_id``: the real API has none).
* ``POST /instances/{id}/update`` takes name, tags, auto_delete, alert: a value sets, ``null`` deletes.
* ``POST /instances/{id}/delete`` makes it ``deleting``; it is gone ``deleting_delay`` seconds later and frees its volume.
  :meth:`ShadeformApi.preempt` plays a spot reclaim: ``deleting`` with ``status_details: preempted``.
* An instance with a docker ``launch_configuration`` is ``active`` with ``status_details: downloading`` for another
  ``pending_delay`` seconds (its container starting), then ``running``.
* ``POST /instances/{id}/restart`` keeps the instance ``active`` (nothing in the API tells when it is back).
* ``GET /instances/types``: see ``fleet_data.filter_instance_types``.
* SSH keys: every workspace starts with a Shadeform-managed key, the default, whose list and info answers carry its
  ``private_key``.  The managed key, the default key and any key an instance uses refuse deletion.
* Volumes (``/volumes``, ``/volumes/types``, create, info, delete; a mounted volume refuses deletion) and templates
  (``/templates``, ``/templates/featured``, save, info, update, delete).
* Clusters (``/clusters``, ``/clusters/types``, create, info, delete): the catalogue comes from the instance type
  catalogue (``fleet_data.generate_cluster_types``, or :meth:`ShadeformApi.set_cluster_types`); a new cluster's
  members are full instances that go ``creating`` -> ``pending`` -> ``active`` (``creating_delay``, then twice
  ``pending_delay``: clusters boot slower) and get their addresses as instances do; ``launch_error`` sends them and
  the cluster to ``error``.  Delete makes the cluster and its members ``deleting``, gone ``deleting_delay`` later.
* Per-offer capacity (:meth:`ShadeformApi.set_capacity`): an offer (cloud, region, type[, rental type]) can refuse
  creation with 409, send its instances to ``error``, or leave them pending forever, at once or after some launches.

Variants, for what the API notes mark undocumented (``Simulator(variants={...})``, ``set_variants(...)``, a fleet
file's ``"variants"``, or ``--variant NAME=VALUE``); the first value is the default:
"""

import datetime
import decimal
import json
import time
import uuid

from fleet_data import (PENDING_STATUSES, SECRET_MARKER, SimulatorError, fleet_list, filter_instance_types,
                        generate_cluster_types, generate_instance_types, parse_ip_pool, region_display_name)
from http_server import Response, json_response, route

VARIANTS = {
    # The body of a refusal: {"message"}, {"error_code", "error": "..."} or {"error_code", "error": {"message"}}.
    "error_body": ("message", "error", "error_object"),
    # GET /instances/{id}/info of a deleted instance: 404, 400, or 200 with status "deleted".
    "deleted_info": ("not_found", "bad_request", "status_deleted"),
    # Deleting an instance that is not yet active: allowed, or refused with 409 (as an older document said).
    "delete_before_active": ("allowed", "refused"),
    # Whether the first key a user adds becomes the default.
    "first_key_default": (False, True),
    # The status of a refused SSH key deletion.
    "key_delete_refusal": (400, 409),
    # What uploaded keys carry as private_key: nothing, or an empty string.
    "uploaded_private_key": ("absent", "empty"),
    # Whether an update's tags replace the instance's tags or are added to them.
    "tags_update": ("replace", "merge"),
    # Thresholds (auto_delete, alert) as sent, or normalised: the date as UTC with "Z", the dollars with two decimals.
    "thresholds": ("as_sent", "normalised"),
    # Whether a cluster's members also appear in GET /instances (the same objects, the same ids), or only in the cluster.
    "cluster_members_listed": ("no", "yes"),
    # Whether the account may use /clusters at all: served, or every /clusters path refused with 403 or 404.
    "clusters_endpoint": ("served", "forbidden", "not_found"),
}
__doc__ += "".join(f"\n* ``{name}``: {', '.join(repr(value) for value in values)}" for name, values in VARIANTS.items())

DEFAULT_CREATING_DELAY = 0.5
DEFAULT_PENDING_DELAY = 0.5
DEFAULT_DELETING_DELAY = 0.5
LAUNCH_NETWORK = "203.0.113."  # addresses of new instances when no ip_pool is given
CREATE_FIELDS = frozenset(("cloud", "region", "shade_instance_type", "shade_cloud", "name", "rental_type", "os", "template_id",
                           "launch_configuration", "volume_ids", "volume_mount", "ssh_key_id", "auto_delete", "alert", "tags", "envs"))
UPDATE_FIELDS = frozenset(("name", "tags", "auto_delete", "alert"))
# Fields only GET /instances/{id}/info shows, with their value when not given at creation.
DETAIL_FIELDS = {"volume_ids": [], "ssh_key_id": None, "auto_delete": None, "alert": None, "volume_mount": None, "envs": []}
TEMPLATE_FIELDS = frozenset(("name", "description", "public", "launch_configuration", "auto_delete", "alert", "volume_mount", "tags",
                             "envs", "networking"))
CAPACITY_OUTCOMES = ("refuse", "error", "never_ready")
CLUSTER_CREATE_FIELDS = frozenset(("name", "cloud", "region", "cluster_type", "num_instances", "ssh_key_id", "os"))
# How many times pending_delay a cluster's members stay pending: clusters boot slower than single instances.
CLUSTER_BOOT_FACTOR = 2
MANAGED_KEY_NAME = "shadeform-managed-key"
MANAGED_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNpbXVsYXRlZC1tYW5hZ2VkLWtleS1wdWJsaWM shadeform"
MANAGED_PRIVATE_KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\n"
                       f"{SECRET_MARKER}-managed-private-key\n"
                       "-----END OPENSSH PRIVATE KEY-----\n")
FEATURED_TEMPLATES = (
    # Featured templates carry no id in the published document.
    {"name": "vLLM server", "description": "OpenAI-compatible vLLM", "public": True,
     "launch_configuration": {"type": "docker", "docker_configuration": {
         "image": "vllm/vllm-openai:latest", "args": "--model mistralai/Mistral-7B-v0.1",
         "port_mappings": [{"host_port": 80, "container_port": 8000}]}},
     "auto_delete": None, "alert": None, "volume_mount": None, "tags": [], "envs": [], "networking": None},
)
# Where volumes can be made: (cloud, region, supports_multi_mount, fixed_size, dollars per GB-hour).
VOLUME_TYPES = tuple(
    {"cloud": cloud, "region": region, "supports_multi_mount": multi, "fixed_size": fixed, "price_per_gb_per_hour": price}
    for cloud, regions, multi, fixed, price in (
        ("hyperstack", ("canada-1", "norway-1", "us-1"), False, False, "0.00011"),
        ("datacrunch", ("FIN-01", "ICE-01"), False, False, "0.00027"),
        ("lambdalabs", ("us-east-1", "us-west-1"), True, True, "0.00028"),
    ) for region in regions)

_INSTANCE = r"^/v1/instances/(?P<instance_id>[^/]+)"
_SSH_KEY = r"^/v1/sshkeys/(?P<key_id>[^/]+)"
_VOLUME = r"^/v1/volumes/(?P<volume_id>[^/]+)"
_TEMPLATE = r"^/v1/templates/(?P<template_id>[^/]+)"
_CLUSTER = r"^/v1/clusters/(?P<cluster_id>[^/]+)"
API_ROUTES = (
    route("GET", r"^/v1/instances$", "_api_list_instances"),
    route("POST", r"^/v1/instances/create$", "_api_create_instance"),
    route("GET", r"^/v1/instances/types$", "_api_instance_types"),
    route("GET", _INSTANCE + r"/info$", "_api_instance_info"),
    route("POST", _INSTANCE + r"/update$", "_api_update_instance"),
    route("POST", _INSTANCE + r"/delete$", "_api_delete_instance"),
    route("POST", _INSTANCE + r"/restart$", "_api_restart_instance"),
    route("GET", r"^/v1/sshkeys$", "_api_list_ssh_keys"),
    route("POST", r"^/v1/sshkeys/add$", "_api_add_ssh_key"),
    route("GET", _SSH_KEY + r"/info$", "_api_ssh_key_info"),
    route("POST", _SSH_KEY + r"/setdefault$", "_api_set_default_ssh_key"),
    route("POST", _SSH_KEY + r"/delete$", "_api_delete_ssh_key"),
    route("GET", r"^/v1/volumes$", "_api_list_volumes"),
    route("GET", r"^/v1/volumes/types$", "_api_volume_types"),
    route("POST", r"^/v1/volumes/create$", "_api_create_volume"),
    route("GET", _VOLUME + r"/info$", "_api_volume_info"),
    route("POST", _VOLUME + r"/delete$", "_api_delete_volume"),
    route("GET", r"^/v1/templates$", "_api_list_templates"),
    route("GET", r"^/v1/templates/featured$", "_api_featured_templates"),
    route("POST", r"^/v1/templates/save$", "_api_save_template"),
    route("GET", _TEMPLATE + r"/info$", "_api_template_info"),
    route("POST", _TEMPLATE + r"/update$", "_api_update_template"),
    route("POST", _TEMPLATE + r"/delete$", "_api_delete_template"),
    route("GET", r"^/v1/clusters$", "_api_list_clusters"),
    route("GET", r"^/v1/clusters/types$", "_api_cluster_types"),
    route("POST", r"^/v1/clusters/create$", "_api_create_cluster"),
    route("GET", _CLUSTER + r"/info$", "_api_cluster_info"),
    route("POST", _CLUSTER + r"/delete$", "_api_delete_cluster"),
)
# Answers built from the fleet a test set on purpose (maybe hostile data) are exempt from the contract check.
_FLEET_PATHS = ("/v1/instances",)


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _copy(value):
    return json.loads(json.dumps(value))


def _empty():
    return Response(200, b"", "text/plain; charset=utf-8")


def _check_tags(tags):
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags)):
        raise SimulatorError("tags must be a list of strings")


def _check_launch(launch):
    if launch is None:
        return
    if not isinstance(launch, dict) or launch.get("type") not in ("docker", "script"):
        raise SimulatorError("launch_configuration.type must be docker or script")
    wanted, other = ("docker_configuration", "script_configuration")[::1 if launch["type"] == "docker" else -1]
    if not isinstance(launch.get(wanted), dict) or other in launch:
        raise SimulatorError(f"launch_configuration of type {launch['type']} needs {wanted} and no {other}")


def _check_thresholds(value, name):
    if value is not None and (not isinstance(value, dict) or set(value) - {"date_threshold", "spend_threshold"}):
        raise SimulatorError(f"{name} takes date_threshold and spend_threshold")


def _normalised_thresholds(value):
    """A threshold as a service that parses it answers it back: ``2026-01-01T00:00:00Z`` and ``3.10``."""
    if not isinstance(value, dict):
        return value
    value = dict(value)
    if isinstance(value.get("date_threshold"), str):
        when = datetime.datetime.fromisoformat(value["date_threshold"].replace("Z", "+00:00"))
        value["date_threshold"] = when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value.get("spend_threshold"), str):
        value["spend_threshold"] = "{0:.2f}".format(decimal.Decimal(value["spend_threshold"]))
    return value


def _required_strings(data, fields):
    for field in fields:
        if not isinstance(data.get(field), str) or not data[field]:
            raise SimulatorError(f"{field} is required (a non-empty string)")


def _object_body(request, known):
    data = request.json()
    if not isinstance(data, dict):
        raise SimulatorError("expected a JSON object")
    unknown = set(data) - known
    if unknown:
        raise SimulatorError(f"unknown fields: {', '.join(sorted(unknown))}")
    return data


class ShadeformApi:
    """The workspace (instances, catalogue, SSH keys, volumes, templates) and the endpoints that serve it."""

    API_ROUTES = API_ROUTES

    def _init_api(self, instances, ip_pool, delays, instance_types, ssh_keys, variants):  # pylint: disable=too-many-arguments
        for name, delay in delays.items():
            if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
                raise SimulatorError(f"{name}_delay must be a non-negative number of seconds")
        self._delays = dict(delays)
        self._delays["workload"] = self._delays["pending"]  # how long a container takes to start on an active instance
        self._launch_pool = parse_ip_pool(ip_pool) if ip_pool else None
        self._launch_count = 0
        # When a string, new instances end in status "error" with these status_details instead of becoming pending.
        self.launch_error = None
        # True: creation is refused with 409 INSUFFICIENT_FUNDS, as the real service does below $5 of credit.
        self.balance_low = False
        self._variants = {name: values[0] for name, values in VARIANTS.items()}
        self.set_variants(**(variants or {}))
        self._lifecycle = {}  # id -> {"phase": status, "since": time.monotonic() of the step's start, "outcome": ...}
        self._details = {}  # id -> fields only GET /instances/{id}/info shows
        self._deleted = {}  # id -> the instance as it was when it went away (for deleted_info=status_deleted)
        self._capacity = {}  # (cloud, region, type, rental type or None) -> {"outcome", "after": launches still let by}
        self._instance_types = generate_instance_types() if instance_types is None else _copy(instance_types)
        if ssh_keys is None:
            ssh_keys = [{"id": str(uuid.uuid4()), "name": MANAGED_KEY_NAME, "public_key": MANAGED_PUBLIC_KEY, "is_default": True,
                         "private_key": MANAGED_PRIVATE_KEY}]
        self._ssh_keys = _copy(ssh_keys)
        self._managed_key_ids = {key["id"] for key in self._ssh_keys if key.get("private_key")}
        self._volumes = []
        self._templates = []
        self._instances = []
        self._body = None
        self._fleet_checked = True
        self.set_instances(instances or [])
        self._init_clusters()

    # -- variants and capacity ---------------------------------------------------------------------------------
    def set_variants(self, **variants):
        """Choose how the service answers where the real one is undocumented (see VARIANTS)."""
        for name, value in variants.items():
            if name not in VARIANTS:
                raise SimulatorError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
            if value not in VARIANTS[name]:
                raise SimulatorError(f"variant {name} is one of {', '.join(repr(v) for v in VARIANTS[name])}, not {value!r}")
            self._variants[name] = value

    @property
    def variants(self):
        return dict(self._variants)

    @property
    def instance_types(self):
        """The catalogue ``GET /instances/types`` serves, unfiltered (a copy)."""
        with self._lock:
            return _copy(self._instance_types)

    def set_capacity(self, cloud, region, shade_instance_type, outcome, rental_type=None, after=0):
        """Make one offer fail: ``refuse`` (409 at create), ``error`` (created, then status error) or ``never_ready``.

        ``after`` launches on the offer still go well first: an offer whose capacity runs out part way.
        """
        if outcome not in CAPACITY_OUTCOMES:
            raise SimulatorError(f"outcome is one of {', '.join(CAPACITY_OUTCOMES)}")
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise SimulatorError("after must be a whole number of launches, 0 or more")
        with self._lock:
            self._capacity[(cloud, region, shade_instance_type, rental_type)] = {"outcome": outcome, "after": after}

    def clear_capacity(self):
        with self._lock:
            self._capacity.clear()

    def _capacity_outcome_locked(self, cloud, region, shade_instance_type, rental_type):
        """What set_capacity chose for a launch on this offer now (None: it goes well); counts the launches it lets by."""
        limit = self._capacity.get((cloud, region, shade_instance_type, rental_type)) or self._capacity.get(
            (cloud, region, shade_instance_type, None))
        if limit is None:
            return None
        if limit["after"] > 0:
            limit["after"] -= 1
            return None
        return limit["outcome"]

    def _error(self, status, text, code):
        """A refusal in the body shape the ``error_body`` variant picks."""
        shape = self._variants["error_body"]
        if shape == "message":
            return json_response(status, {"message": text})
        if shape == "error":
            return json_response(status, {"error_code": code, "error": text})
        return json_response(status, {"error_code": code, "error": {"message": text}})

    def _bad_request(self, text):
        return self._error(400, text, "BAD_REQUEST")

    def _not_found(self, what):
        return self._error(404, f"{what} not found", "NOT_FOUND")

    # -- fleet --------------------------------------------------------------------------------------------------
    # The fleet is kept as its serialized response body; the parsed list exists only while something
    # changes single instances, and the body is re-serialized (once) on the next request after a change.
    def set_instances(self, instances):
        """Replace the fleet with a copy of ``instances`` (a list of JSON values, normally instance dicts)."""
        instances = fleet_list(instances, "instances")
        try:
            body = json.dumps({"instances": instances}, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise SimulatorError(f"the instances are not JSON serializable: {exc}") from exc
        with self._lock:
            self._instances = None
            self._body = body
            self._fleet_checked = None

    @property
    def instances(self):
        """A deep copy of the fleet."""
        return json.loads(self._fleet_body())["instances"]

    def _parsed(self):
        # Call with the lock held.
        if self._instances is None:
            self._instances = json.loads(self._body)["instances"]
        return self._instances

    def update_instance(self, instance_id, /, **fields):
        """Update top-level fields of the instance(s) with this id (positional); return a copy of the (first) result.

        KeyError if no instance has this id.
        """
        try:
            fields = _copy(fields)
        except (TypeError, ValueError) as exc:
            raise SimulatorError(f"the fields are not JSON serializable: {exc}") from exc
        with self._lock:
            found = [item for item in self._parsed() if isinstance(item, dict) and item.get("id") == instance_id]
            if not found:
                raise KeyError(instance_id)
            for item in found:
                item.update(fields)
            self._body = None
            self._fleet_checked = None
            return _copy(found[0])

    def remove_instance(self, instance_id):
        """Remove the instance(s) with this id; KeyError if there is none."""
        with self._lock:
            instances = self._parsed()
            kept = [item for item in instances if not (isinstance(item, dict) and item.get("id") == instance_id)]
            if len(kept) == len(instances):
                raise KeyError(instance_id)
            self._instances = kept
            self._body = None

    def preempt(self, instance_id):
        """Play a spot reclaim: the instance goes ``deleting`` with ``status_details: preempted``, then away."""
        with self._lock:
            item = self._find_locked(instance_id)
            if item is None:
                raise KeyError(instance_id)
            item.update(status="deleting", status_details="preempted", deleted_at=_now())
            self._lifecycle[item["id"]] = {"phase": "deleting", "since": time.monotonic(), "outcome": None}
            self._body = None

    @property
    def instance_count(self):
        with self._lock:
            return len(self._parsed())

    def _fleet_body(self):
        with self._lock:
            self._advance_locked()
            if self._body is None:
                self._body = json.dumps({"instances": self._instances}, separators=(",", ":")).encode("utf-8")
            return self._body

    def _drop_body(self):
        return self._fleet_body()

    def _answer_is_checked(self, path, response):
        if not (path in _FLEET_PATHS or (path.startswith("/v1/instances/") and path.endswith("/info"))):
            return True
        with self._lock:
            checked = self._fleet_checked
        if checked is None:
            # Data a test set itself may be hostile on purpose; only a fleet that follows the contract is held to it.
            checked = self.contract.valid_instances(self._fleet_body())
            with self._lock:
                self._fleet_checked = checked
        return checked

    # -- instances ----------------------------------------------------------------------------------------------
    def _api_list_instances(self, request):
        return Response(200, self._fleet_body())

    def _offer_locked(self, data, rental_type):
        catalogue = [item for item in self._instance_types
                     if item.get("cloud") == data["cloud"] and item.get("shade_instance_type") == data["shade_instance_type"]]
        if not catalogue:
            raise SimulatorError(f"instance type {data['shade_instance_type']} is not offered on {data['cloud']}")
        item = catalogue[0]
        entry = next((slot for slot in item.get("availability") or []
                      if slot.get("region") == data["region"] and slot.get("rental_type", "on_demand") == rental_type
                      and slot.get("available")), None)
        if entry is None:
            raise SimulatorError(f"{data['shade_instance_type']} is not available as {rental_type} in {data['region']} on {data['cloud']}")
        return item, entry

    def _volume_for_create_locked(self, data, instance_id):
        volume_ids = data.get("volume_ids")
        if volume_ids is None:
            return None
        if not isinstance(volume_ids, list) or len(volume_ids) != 1 or not isinstance(volume_ids[0], str):
            raise SimulatorError("volume_ids must hold exactly one volume id")
        volume = self._volume_locked(volume_ids[0])
        if volume is None:
            raise SimulatorError(f"unknown volume {volume_ids[0]}")
        if (volume["cloud"], volume["region"]) != (data["cloud"], data["region"]):
            raise SimulatorError(f"volume {volume['id']} is in {volume['cloud']} {volume['region']}, not where the instance is")
        if volume.get("mounted_by") and not volume.get("supports_multi_mount"):
            raise SimulatorError(f"volume {volume['id']} is already mounted by instance {volume['mounted_by']}")
        return lambda: volume.update(mounted_by=instance_id)

    def _api_create_instance(self, request):  # pylint: disable=too-many-locals
        data = _object_body(request, CREATE_FIELDS)
        _required_strings(data, ("cloud", "region", "shade_instance_type", "name"))
        if not isinstance(data.get("shade_cloud"), bool):
            raise SimulatorError("shade_cloud is required (true or false)")
        rental_type = data.get("rental_type", "on_demand")
        if rental_type not in ("on_demand", "spot"):
            raise SimulatorError("rental_type must be on_demand or spot")
        if rental_type == "spot" and not data["shade_cloud"]:
            raise SimulatorError("spot instances need shade_cloud: true")
        _check_tags(data.get("tags"))
        _check_launch(data.get("launch_configuration"))
        for field in ("auto_delete", "alert"):
            _check_thresholds(data.get(field), field)
        self._store_thresholds(data)
        mount = data.get("volume_mount")
        if mount is not None and (not isinstance(mount, dict) or not isinstance(mount.get("auto"), bool) or set(mount) != {"auto"}):
            raise SimulatorError("volume_mount must be {\"auto\": true or false}")
        if self.balance_low:
            return json_response(409, {"error_code": "INSUFFICIENT_FUNDS",
                                       "error": "Balance must be a minimum of $5 to launch an instance. Add credits to your "
                                                "account on the billing page, then try again."})
        with self._lock:
            item, entry = self._offer_locked(data, rental_type)
            outcome = self._capacity_outcome_locked(data["cloud"], data["region"], data["shade_instance_type"], rental_type)
            if outcome == "refuse":
                return self._error(409, f"Out of capacity for {data['shade_instance_type']} in {data['region']} on {data['cloud']}",
                                   "OUT_OF_CAPACITY")
            if data.get("ssh_key_id") is not None and self._ssh_key_locked(data["ssh_key_id"]) is None:
                raise SimulatorError(f"unknown ssh_key_id {data['ssh_key_id']}")
            if data.get("template_id") is not None and self._template_locked(data["template_id"]) is None:
                raise SimulatorError(f"unknown template_id {data['template_id']}")
            os_options = (item.get("configuration") or {}).get("os_options") or []
            if data.get("os") is not None and data["os"] not in os_options:
                raise SimulatorError(f"os must be one of {', '.join(os_options)}")
            instance_id = str(uuid.uuid4())
            mount_volume = self._volume_for_create_locked(data, instance_id)
            configuration = {k: v for k, v in item["configuration"].items() if k != "os_options"}
            configuration["os"] = data.get("os") or (os_options[0] if os_options else None)
            if rental_type == "spot":
                dollars = entry.get("hourly_price") or "0"
                hourly_price = int(round(float(dollars) * 100))
            else:
                hourly_price = item.get("hourly_price")
                dollars = f"{hourly_price / 100:.2f}" if isinstance(hourly_price, int) else None
            instance = {
                "id": instance_id,
                "cloud": data["cloud"],
                "region": data["region"],
                "shade_instance_type": data["shade_instance_type"],
                "cloud_instance_type": item.get("cloud_instance_type"),
                "cloud_assigned_id": str(uuid.uuid4()),
                "shade_cloud": data["shade_cloud"],
                "name": data["name"],
                "configuration": configuration,
                "ip": None,
                "ssh_user": "shadeform",
                "ssh_port": 22,
                "status": "creating",
                "status_details": "provisioning",
                "cost_estimate": "0",
                "hourly_price": hourly_price,
                "rental_terms": {"rental_type": rental_type, "hourly_price": dollars, "ending_at": None},
                "tags": list(data.get("tags") or []),
                "port_mappings": [],
                "created_at": _now(),
                "active_at": None,
                "deleted_at": None,
                "boot_time": item.get("boot_time"),
            }
            if data.get("launch_configuration") is not None:
                instance["launch_configuration"] = data["launch_configuration"]
            if mount_volume:
                mount_volume()
            self._parsed().append(instance)
            self._details[instance_id] = {field: data.get(field, default) for field, default in DETAIL_FIELDS.items()}
            self._lifecycle[instance_id] = {"phase": "creating", "since": time.monotonic(), "outcome": outcome}
            self._body = None
        return json_response(200, {"id": instance_id})

    def _find_locked(self, instance_id):
        self._advance_locked()
        for item in self._parsed():
            if isinstance(item, dict) and item.get("id") == instance_id:
                return item
        return None

    def _missing_instance(self, instance_id):
        """The answer for an instance id that is not (or no longer) listed, as the ``deleted_info`` variant picks."""
        variant = self._variants["deleted_info"]
        if variant == "bad_request":
            return self._error(400, f"Invalid instance id {instance_id}", "INVALID_INSTANCE")
        if variant == "status_deleted" and instance_id in self._deleted:
            return json_response(200, self._deleted[instance_id])
        return self._not_found("Instance")

    def _api_instance_info(self, request):
        with self._lock:
            item = self._find_locked(request.params["instance_id"])
            if item is None:
                return self._missing_instance(request.params["instance_id"])
            info = dict(item)
            info.update(self._details.get(item["id"]) or dict(DETAIL_FIELDS))
            return json_response(200, info)

    def _api_update_instance(self, request):
        data = _object_body(request, UPDATE_FIELDS)
        if "name" in data and (not isinstance(data["name"], str) or not data["name"]):
            raise SimulatorError("name must be a non-empty string")
        _check_tags(data.get("tags"))
        for field in ("auto_delete", "alert"):
            _check_thresholds(data.get(field), field)
        self._store_thresholds(data)
        with self._lock:
            item = self._find_locked(request.params["instance_id"])
            if item is None:
                return self._missing_instance(request.params["instance_id"])
            if "name" in data:
                item["name"] = data["name"]
            if "tags" in data:
                tags = data["tags"] or []
                if self._variants["tags_update"] == "merge":
                    tags = list(dict.fromkeys((item.get("tags") or []) + tags))
                item["tags"] = tags
            details = self._details.setdefault(item["id"], dict(DETAIL_FIELDS))
            for field in ("auto_delete", "alert"):
                if field in data:
                    details[field] = data[field]  # null deletes
            self._body = None
        return _empty()

    def _api_delete_instance(self, request):
        with self._lock:
            item = self._find_locked(request.params["instance_id"])
            if item is None:
                return self._missing_instance(request.params["instance_id"])
            if item.get("status") == "deleting":
                return self._error(409, "Instance is already being deleted", "INSTANCE_DELETING")
            if item.get("status") in PENDING_STATUSES and self._variants["delete_before_active"] == "refused":
                return self._error(409, f"Instance is {item.get('status')}; it can be deleted once it is active",
                                   "INSTANCE_NOT_ACTIVE")
            item.update(status="deleting", status_details="deleting", deleted_at=_now())
            self._lifecycle[item["id"]] = {"phase": "deleting", "since": time.monotonic(), "outcome": None}
            self._body = None
        return _empty()

    def _api_restart_instance(self, request):
        with self._lock:
            item = self._find_locked(request.params["instance_id"])
            if item is None:
                return self._missing_instance(request.params["instance_id"])
            if item.get("status") != "active":
                return self._error(409, f"Only active instances can be restarted (this one is {item.get('status')})",
                                   "INSTANCE_NOT_ACTIVE")
            # The status stays active through a restart: nothing in the API says when the machine is back.
        return _empty()

    def _api_instance_types(self, request):
        with self._lock:
            types = filter_instance_types(self._instance_types, request.query)
            return json_response(200, {"instance_types": types})

    def _advance_locked(self):
        """Move the instances of the lifecycle on by the time that passed (call with the lock held)."""
        self._advance_clusters_locked()  # cluster members may be listed instances too
        if not self._lifecycle:
            return
        now = time.monotonic()
        instances = self._parsed()
        for instance_id in list(self._lifecycle):
            state = self._lifecycle[instance_id]
            while now - state["since"] >= self._delays[state["phase"]]:
                item = next((i for i in instances if isinstance(i, dict) and i.get("id") == instance_id), None)
                if item is None:
                    del self._lifecycle[instance_id]
                    break
                state["since"] += self._delays[state["phase"]]
                self._body = None
                if state["phase"] == "deleting":
                    self._forget_locked(item)
                    instances[:] = [i for i in instances if not (isinstance(i, dict) and i.get("id") == instance_id)]
                    del self._lifecycle[instance_id]
                    break
                if state["phase"] == "creating" and (self.launch_error or state["outcome"] == "error"):
                    item.update(status="error", status_details=self.launch_error or "out_of_capacity")
                    del self._lifecycle[instance_id]
                    break
                if state["phase"] == "creating":
                    item.update(status="pending", status_details="downloading")
                    state["phase"] = "pending"
                    continue
                if state["outcome"] == "never_ready":
                    item.update(status="pending_provider", status_details="waiting_for_capacity")
                    del self._lifecycle[instance_id]
                    break
                if not item.get("ip"):
                    user, address, port = self._launch_address_locked(instances)
                    item.update(ip=address, ssh_port=port)
                    if user:
                        item["ssh_user"] = user
                item["active_at"] = item.get("active_at") or _now()
                if state["phase"] == "pending" and (item.get("launch_configuration") or {}).get("type") == "docker":
                    # A container is still being pulled and started while the instance is already active.
                    item.update(status="active", status_details="downloading")
                    state["phase"] = "workload"
                    continue
                item.update(status="active", status_details="running")
                del self._lifecycle[instance_id]
                break

    def _forget_locked(self, item):
        """An instance leaves the list: its volume is free, and a deleted-info answer remembers it."""
        for volume in self._volumes:
            if volume.get("mounted_by") == item["id"]:
                volume["mounted_by"] = None
        details = self._details.pop(item["id"], None) or dict(DETAIL_FIELDS)
        self._deleted[item["id"]] = dict(item, status="deleted", **details)

    def _launch_address_locked(self, instances):
        """(user, address, port) for an instance becoming active: the first pool entry in no one's use, else round robin."""
        self._launch_count += 1
        if not self._launch_pool:
            return None, f"{LAUNCH_NETWORK}{(self._launch_count - 1) % 254 + 1}", 22
        used = {(i.get("ip"), i.get("ssh_port")) for i in instances if isinstance(i, dict) and i.get("status") != "deleting"}
        for user, address, port in self._launch_pool:
            if (address, port) not in used:
                return user, address, port
        return self._launch_pool[(self._launch_count - 1) % len(self._launch_pool)]

    # -- SSH keys ---------------------------------------------------------------------------------------------------
    @property
    def ssh_keys(self):
        with self._lock:
            return _copy(self._ssh_keys)

    def _api_list_ssh_keys(self, request):
        with self._lock:
            return json_response(200, {"ssh_keys": self._ssh_keys})

    def _api_add_ssh_key(self, request):
        data = _object_body(request, {"name", "public_key"})
        _required_strings(data, ("name",))
        key = data.get("public_key")
        if not isinstance(key, str) or len(key.split()) < 2 or not key.split()[0].startswith(("ssh-", "ecdsa-", "sk-")):
            raise SimulatorError("public_key must be an OpenSSH public key")
        with self._lock:
            key_id = str(uuid.uuid4())
            first = not any(other["id"] not in self._managed_key_ids for other in self._ssh_keys)
            default = first and self._variants["first_key_default"]
            if default:
                for other in self._ssh_keys:
                    other["is_default"] = False
            entry = {"id": key_id, "name": data["name"], "public_key": key.strip(), "is_default": default}
            if self._variants["uploaded_private_key"] == "empty":
                entry["private_key"] = ""
            self._ssh_keys.append(entry)
        return json_response(200, {"id": key_id})

    def _ssh_key_locked(self, key_id):
        return next((key for key in self._ssh_keys if key["id"] == key_id), None)

    def _api_ssh_key_info(self, request):
        with self._lock:
            key = self._ssh_key_locked(request.params["key_id"])
            return json_response(200, key) if key else self._not_found("SSH key")

    def _api_set_default_ssh_key(self, request):
        with self._lock:
            key = self._ssh_key_locked(request.params["key_id"])
            if key is None:
                return self._not_found("SSH key")
            for other in self._ssh_keys:
                other["is_default"] = other is key
        return _empty()

    def _api_delete_ssh_key(self, request):
        with self._lock:
            key = self._ssh_key_locked(request.params["key_id"])
            if key is None:
                return self._not_found("SSH key")
            self._advance_locked()
            users = [item.get("id") for item in self._parsed() if isinstance(item, dict)
                     and (self._details.get(item.get("id")) or {}).get("ssh_key_id") == key["id"]]
            reason = ("the Shadeform-managed key" if key["id"] in self._managed_key_ids
                      else "the default key" if key.get("is_default")
                      else f"in use by instance {users[0]}" if users else None)
            if reason:
                return self._error(self._variants["key_delete_refusal"], f"SSH key cannot be deleted: it is {reason}",
                                   "SSH_KEY_IN_USE")
            self._ssh_keys.remove(key)
        return _empty()

    # -- volumes ----------------------------------------------------------------------------------------------------
    @property
    def volumes(self):
        with self._lock:
            return _copy(self._volumes)

    def _volume_locked(self, volume_id):
        return next((volume for volume in self._volumes if volume["id"] == volume_id), None)

    def _api_list_volumes(self, request):
        with self._lock:
            self._advance_locked()
            return json_response(200, {"volumes": self._volumes})

    def _api_volume_types(self, request):
        return json_response(200, {"volume_types": list(VOLUME_TYPES)})

    def _api_create_volume(self, request):
        data = _object_body(request, {"cloud", "region", "size_in_gb", "name"})
        _required_strings(data, ("cloud", "region", "name"))
        size = data.get("size_in_gb")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise SimulatorError("size_in_gb is required (a positive integer)")
        kind = next((kind for kind in VOLUME_TYPES if (kind["cloud"], kind["region"]) == (data["cloud"], data["region"])), None)
        if kind is None:
            raise SimulatorError(f"volumes cannot be made in {data['region']} on {data['cloud']}")
        with self._lock:
            volume_id = str(uuid.uuid4())
            self._volumes.append({
                "id": volume_id, "cloud": data["cloud"], "cloud_assigned_id": str(uuid.uuid4()), "region": data["region"],
                "name": data["name"], "fixed_size": kind["fixed_size"], "size_in_gb": size, "cost_estimate": "0",
                "supports_multi_mount": kind["supports_multi_mount"], "mounted_by": None,
            })
        return json_response(200, {"id": volume_id})

    def _api_volume_info(self, request):
        with self._lock:
            self._advance_locked()
            volume = self._volume_locked(request.params["volume_id"])
            return json_response(200, volume) if volume else self._not_found("Volume")

    def _api_delete_volume(self, request):
        with self._lock:
            self._advance_locked()
            volume = self._volume_locked(request.params["volume_id"])
            if volume is None:
                return self._not_found("Volume")
            if volume.get("mounted_by"):
                return self._error(409, f"Volume is mounted by instance {volume['mounted_by']}; delete the instance first",
                                   "VOLUME_IN_USE")
            self._volumes.remove(volume)
        return _empty()

    # -- templates --------------------------------------------------------------------------------------------------
    def _template_locked(self, template_id):
        return next((template for template in self._templates + list(FEATURED_TEMPLATES) if template.get("id") == template_id), None)

    def _own_template_locked(self, template_id):
        """A template of the workspace (the featured ones cannot be changed)."""
        return next((template for template in self._templates if template["id"] == template_id), None)

    def _template_body(self, request):
        data = _object_body(request, TEMPLATE_FIELDS)
        _required_strings(data, ("name",))
        _check_tags(data.get("tags"))
        _check_launch(data.get("launch_configuration"))
        for field in ("auto_delete", "alert"):
            _check_thresholds(data.get(field), field)
        self._store_thresholds(data)
        return data

    def _store_thresholds(self, data):
        """The thresholds of a body as the service keeps them (see the ``thresholds`` variant)."""
        if self._variants["thresholds"] == "normalised":
            for field in ("auto_delete", "alert"):
                if data.get(field) is not None:
                    data[field] = _normalised_thresholds(data[field])

    def _api_list_templates(self, request):
        with self._lock:
            return json_response(200, {"templates": self._templates})

    def _api_featured_templates(self, request):
        return json_response(200, {"templates": list(FEATURED_TEMPLATES)})

    def _api_save_template(self, request):
        data = self._template_body(request)
        with self._lock:
            template_id = str(uuid.uuid4())
            self._templates.append(dict({field: None for field in TEMPLATE_FIELDS}, **data, id=template_id))
        return json_response(200, {"id": template_id})

    def _api_template_info(self, request):
        with self._lock:
            template = self._template_locked(request.params["template_id"])
            return json_response(200, template) if template else self._not_found("Template")

    def _api_update_template(self, request):
        data = self._template_body(request)
        with self._lock:
            template = self._own_template_locked(request.params["template_id"])
            if template is None:
                return self._not_found("Template")
            template.update({field: None for field in TEMPLATE_FIELDS}, **data)
        return _empty()

    def _api_delete_template(self, request):
        with self._lock:
            template = self._own_template_locked(request.params["template_id"])
            if template is None:
                return self._not_found("Template")
            self._templates.remove(template)
        return _empty()

    # -- clusters ---------------------------------------------------------------------------------------------------
    def _init_clusters(self):
        self._clusters = []  # the clusters as GET /clusters serves them, members included
        self._cluster_steps = {}  # id -> {"phase", "since"} while a cluster boots or goes away
        self._listed_clusters = set()  # ids of the clusters whose members are in the instance list too
        self._cluster_types = generate_cluster_types(self._instance_types)

    @property
    def clusters(self):
        """A copy of the clusters, members included."""
        with self._lock:
            self._advance_locked()
            return _copy(self._clusters)

    @property
    def cluster_types(self):
        """The catalogue ``GET /clusters/types`` serves (a copy)."""
        with self._lock:
            return _copy(self._cluster_types)

    def set_cluster_types(self, cluster_types):
        """Replace the cluster catalogue (a list of cluster types as the API gives them)."""
        with self._lock:
            self._cluster_types = _copy(fleet_list(cluster_types, "cluster_types"))

    def _clusters_refused(self):
        """The answer of an account that may not use /clusters (the ``clusters_endpoint`` variant), or None."""
        variant = self._variants["clusters_endpoint"]
        if variant == "forbidden":
            return self._error(403, "Clusters are not enabled for this account", "FORBIDDEN")
        if variant == "not_found":
            return self._not_found("Route")
        return None

    def _cluster_locked(self, cluster_id):
        self._advance_locked()
        return next((cluster for cluster in self._clusters if cluster["id"] == cluster_id), None)

    def _api_list_clusters(self, request):
        refused = self._clusters_refused()
        if refused:
            return refused
        with self._lock:
            self._advance_locked()
            return json_response(200, {"clusters": self._clusters})

    def _api_cluster_types(self, request):
        return self._clusters_refused() or json_response(200, {"cluster_types": self.cluster_types})

    def _api_cluster_info(self, request):
        refused = self._clusters_refused()
        if refused:
            return refused
        with self._lock:
            cluster = self._cluster_locked(request.params["cluster_id"])
            return json_response(200, cluster) if cluster else self._not_found("Cluster")

    def _api_create_cluster(self, request):
        refused = self._clusters_refused()
        if refused:
            return refused
        data = _object_body(request, CLUSTER_CREATE_FIELDS)
        _required_strings(data, ("name", "cloud", "region", "cluster_type"))
        size = data.get("num_instances")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise SimulatorError("num_instances is required (a positive integer)")
        if self.balance_low:
            return json_response(409, {"error_code": "INSUFFICIENT_FUNDS",
                                       "error": "Balance must be a minimum of $5 to launch an instance. Add credits to your "
                                                "account on the billing page, then try again."})
        with self._lock:
            offer = next((item for item in self._cluster_types
                          if (item.get("cloud"), item.get("num_instances"), (item.get("availability") or {}).get("region"),
                              (item.get("cluster_type") or {}).get("shade_instance_type"))
                          == (data["cloud"], size, data["region"], data["cluster_type"])), None)
            if offer is None:
                raise SimulatorError(f"no cluster type {data['cluster_type']} of {size} instances in {data['region']} on {data['cloud']}")
            if not offer["availability"].get("available"):
                return self._error(409, f"Out of capacity for a cluster of {size} {data['cluster_type']} in {data['region']}",
                                   "OUT_OF_CAPACITY")
            if data.get("ssh_key_id") is not None and self._ssh_key_locked(data["ssh_key_id"]) is None:
                raise SimulatorError(f"unknown ssh_key_id {data['ssh_key_id']}")
            member_type = offer["cluster_type"]
            os_options = (member_type.get("configuration") or {}).get("os_options") or []
            if data.get("os") is not None and data["os"] not in os_options:
                raise SimulatorError(f"os must be one of {', '.join(os_options)}")
            members = [self._cluster_member(data, member_type, index) for index in range(size)]
            cluster = {
                "id": str(uuid.uuid4()), "cloud": data["cloud"], "name": data["name"], "cloud_cluster_id": str(uuid.uuid4()),
                "region_info": {"region": data["region"],
                                "display_name": offer["availability"].get("display_name") or region_display_name(data["region"])},
                "status": "creating", "status_details": "provisioning", "created_at": _now(), "updated_at": _now(),
                "active_at": None, "instances": members,
                "hourly_price": sum(member["hourly_price"] or 0 for member in members), "cost_estimate": "$0.00",
            }
            listed = self._variants["cluster_members_listed"] == "yes"
            if listed:
                # The same objects: a member changes in GET /instances as it does in the cluster.
                self._parsed().extend(members)
                self._body = None
                self._listed_clusters.add(cluster["id"])
            self._clusters.append(cluster)
            self._cluster_steps[cluster["id"]] = {"phase": "creating", "since": time.monotonic()}
        return json_response(200, {"id": cluster["id"]})

    @staticmethod
    def _cluster_member(data, member_type, index):
        """One member of a new cluster: a full instance of the cluster's type, with no cluster id (as on the real API)."""
        configuration = {k: v for k, v in (member_type.get("configuration") or {}).items() if k != "os_options"}
        os_options = (member_type.get("configuration") or {}).get("os_options") or []
        configuration["os"] = data.get("os") or (os_options[0] if os_options else None)
        cents = member_type.get("hourly_price")
        return {
            "id": str(uuid.uuid4()), "cloud": data["cloud"], "region": data["region"],
            "shade_instance_type": member_type.get("shade_instance_type"),
            "cloud_instance_type": member_type.get("cloud_instance_type"), "cloud_assigned_id": str(uuid.uuid4()),
            "shade_cloud": True, "name": f"{data['name']}-{index}", "configuration": configuration,
            "ip": None, "ssh_user": "shadeform", "ssh_port": 22, "status": "creating", "status_details": "provisioning",
            "cost_estimate": "0", "hourly_price": cents,
            "rental_terms": {"rental_type": "on_demand", "hourly_price": f"{cents / 100:.2f}" if isinstance(cents, int) else None,
                             "ending_at": None},
            "tags": [], "port_mappings": [], "created_at": _now(), "active_at": None, "deleted_at": None,
            "boot_time": member_type.get("boot_time"),
        }

    def _api_delete_cluster(self, request):
        refused = self._clusters_refused()
        if refused:
            return refused
        with self._lock:
            cluster = self._cluster_locked(request.params["cluster_id"])
            if cluster is None:
                return self._not_found("Cluster")
            if cluster["status"] == "deleting":
                return self._error(409, "Cluster is already being deleted", "CLUSTER_DELETING")
            self._set_cluster_status(cluster, "deleting", "deleting")
            for member in cluster["instances"]:
                member["deleted_at"] = _now()
            self._cluster_steps[cluster["id"]] = {"phase": "deleting", "since": time.monotonic()}
        return _empty()

    def _set_cluster_status(self, cluster, status, details):
        cluster.update(status=status, status_details=details, updated_at=_now())
        for member in cluster["instances"]:
            member.update(status=status, status_details=details)
        if cluster["id"] in self._listed_clusters:
            self._parsed()  # the list is parsed before its body is dropped, to be serialized again with the change
            self._body = None

    def _cluster_delay(self, phase):
        return self._delays["pending"] * CLUSTER_BOOT_FACTOR if phase == "pending" else self._delays[phase]

    def _advance_clusters_locked(self):
        """Move the clusters on by the time that passed (call with the lock held): members boot together, and go together."""
        now = time.monotonic()
        for cluster in list(self._clusters):
            step = self._cluster_steps.get(cluster["id"])
            while step is not None and now - step["since"] >= self._cluster_delay(step["phase"]):
                step["since"] += self._cluster_delay(step["phase"])
                if step["phase"] == "deleting":
                    gone = {member["id"] for member in cluster["instances"]}
                    self._clusters.remove(cluster)
                    del self._cluster_steps[cluster["id"]]
                    if cluster["id"] in self._listed_clusters:
                        self._listed_clusters.discard(cluster["id"])
                        self._instances = [item for item in self._parsed() if not (isinstance(item, dict) and item.get("id") in gone)]
                        self._body = None
                    step = None
                elif step["phase"] == "creating" and self.launch_error:
                    self._set_cluster_status(cluster, "error", self.launch_error)
                    del self._cluster_steps[cluster["id"]]
                    step = None
                elif step["phase"] == "creating":
                    self._set_cluster_status(cluster, "pending", "provisioning")
                    step["phase"] = "pending"
                else:
                    others = self._parsed() + [member for each in self._clusters for member in each["instances"]]
                    for member in cluster["instances"]:
                        user, address, port = self._launch_address_locked(others)
                        member.update(ip=address, ssh_port=port, active_at=_now())
                        if user:
                            member["ssh_user"] = user
                    self._set_cluster_status(cluster, "active", "running")
                    cluster["active_at"] = _now()
                    del self._cluster_steps[cluster["id"]]
                    step = None
