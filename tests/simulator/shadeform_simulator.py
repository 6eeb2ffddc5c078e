# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local simulator of the Shadeform API, for the demo, the tests and the benchmarks.

Standard library only; it never contacts api.shadeform.ai and only binds loopback addresses.

In-process use (the pytest fixture ``shadeform_api`` in tests/conftest.py wraps this)::

    from shadeform_simulator import Simulator, generate_fleet, load_fleet

    with Simulator(api_key="secret", instances=generate_fleet(50, seed=1)) as sim:
        sim.url                                 # "http://127.0.0.1:PORT/v1"
        sim.inject("rate_limit", retry_after=2)
        sim.update_instance(some_id, status="active", ip="192.0.2.10")
        sim.requests                            # what the client sent, without the key

Out-of-process use (a playbook, a benchmark script)::

    python tests/simulator/shadeform_simulator.py --port 0 --api-key KEY --generate 10000 --seed 3 \\
        --ready-file /tmp/sim.url

and the control endpoints under ``/_sim/`` (no API key, loopback clients only):

    GET    /_sim/requests             {"requests": [...]}            the request log
    DELETE /_sim/requests             clear the request log
    GET    /_sim/instances            {"instances": [...]}           the fleet
    PUT    /_sim/instances            {"instances": [...]} or a bare list: replace the fleet;
                                      or {"generate": N, "seed": S, "ip_pool": [...]}: a generated fleet
    PATCH  /_sim/instances/<id>       {fields}: update top-level fields of one instance (404 if unknown)
    DELETE /_sim/instances/<id>       remove one instance
    GET    /_sim/faults               {"faults": [...]}              the pending fault queue
    POST   /_sim/faults               {"kind": ..., "count": 1, <params>}: queue faults
    DELETE /_sim/faults               clear the fault queue

API behaviour (``/v1``):

* ``GET /v1/instances`` answers ``{"instances": [...]}``; the body is serialized once per fleet change.
* The lifecycle endpoints the modules use behave like the real service, with short delays:
  ``POST /v1/instances/create`` answers ``{"id"}`` and the instance goes ``creating`` -> ``pending`` -> ``active``
  (``creating_delay`` and ``pending_delay`` seconds each), receiving an address from ``ip_pool`` when it becomes
  active (the first entry no other instance uses, else round robin; 203.0.113.x port 22 without a pool);
  ``POST /v1/instances/{id}/delete`` makes it ``deleting``, and it is gone ``deleting_delay`` seconds later;
  ``/restart`` takes an active instance through ``pending`` back to ``active``; ``/update`` changes name, tags,
  auto_delete and alert; ``GET /v1/instances/{id}/info`` adds volume_ids, ssh_key_id, auto_delete, alert, envs,
  os and template_id to the instance.  Unknown ids give 404 ``{"message": "Instance not found"}``; invalid
  bodies give 400 with a message.  Delays are measured from the request that started a step, and applied
  whenever the fleet is read (no background thread).
* ``GET /v1/instances/types`` serves a deterministic catalogue (:func:`generate_instance_types`, or the
  ``instance_types`` given) filtered by ``cloud``, ``region``, ``gpu_type``, ``num_gpus``, ``shade_instance_type``
  and ``available``, sorted by ``hourly_price`` with ``sort=price``.  Creating an instance needs a type of the
  catalogue that is available in the region asked for.
* ``/v1/sshkeys`` (list), ``/v1/sshkeys/add``, ``/v1/sshkeys/{id}/info``, ``/setdefault`` and ``/delete`` keep SSH
  keys ``{"id", "name", "public_key", "is_default"}``; the first key added becomes the default.
* A missing or wrong ``X-API-KEY`` gives 401 ``{"message": "Invalid API key"}`` (checked first); then unknown
  paths give 404 and known paths with another method 405 (with ``Allow``), both with a JSON body.  Routing is the table ``API_ROUTES``: add
  ``Route(method, regex, handler name)`` rows and a ``_api_*`` method to serve more endpoints.
* Faults are queued with :meth:`Simulator.inject` and consumed one per ``/v1`` request, before authentication
  (they model a proxy or a rate limiter in front of the service):

  ``rate_limit(retry_after=1)``           429 with ``Retry-After`` (omitted when None)
  ``server_error(status=503, retry_after=None)``  a 5xx JSON error; ``count=3`` makes a burst
  ``slow(delay=2.0)``                     wait, then answer normally
  ``drop``                                200 headers announcing the full body, half of it, then close
  ``reset``                               close the connection (TCP reset) without any response
  ``not_json(status=200, body=None)``     an HTML proxy page
  ``json(body={}, status=200)``           any JSON value as the body, e.g. a list or ``{"instances": "x"}``
  ``status(status=403, body=None)``       any status; body is a JSON value, or a str sent as text/plain

  Every kind but ``slow``, ``drop`` and ``reset`` also takes ``headers`` (a dict of extra headers).
* Every request except the control endpoints is recorded as
  ``{"method", "path", "api_key_ok", "user_agent", "status"}`` (``status`` None for ``reset``); the key itself
  is never stored.

Generated fleets (:func:`generate_fleet`) are deterministic per seed and look like real ones: many clouds and
regions (the same region name on several clouds), GPU types, every status, pending instances without an
address, repeated names, ``key=value`` and plain tags, docker launch configurations whose env values,
registry password and startup scripts hold fake secrets containing ``SECRET_MARKER``, so that tests can
check that no secret leaks.  Addresses come from the documentation ranges unless ``ip_pool`` is given.

The demo fleet ``tests/simulator/fleets/demo.json`` was generated with::

    python tests/simulator/shadeform_simulator.py --generate 24 --seed 2024 --dump tests/simulator/fleets/demo.json

(``DEMO_COUNT`` and ``DEMO_SEED``; a unit test checks that the file still matches the generator).
"""

import argparse
import base64
import collections
import hmac
import http
import http.server
import ipaddress
import json
import os
import re
import random
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse
import uuid

DEFAULT_API_KEY = "demo-key"
API_KEY_ENV = "SHADEFORM_SIMULATOR_API_KEY"
DEFAULT_HOST = "127.0.0.1"
SIMULATOR_DIR = os.path.dirname(os.path.abspath(__file__))
DEMO_FLEET_PATH = os.path.join(SIMULATOR_DIR, "fleets", "demo.json")
DEMO_COUNT = 24
DEMO_SEED = 2024
SECRET_MARKER = "SIMULATED-SECRET"
REQUEST_LOG_LIMIT = 100000
STATUSES = ("creating", "pending_provider", "pending", "active", "error", "deleting")
PENDING_STATUSES = ("creating", "pending_provider", "pending")
DOCUMENTATION_NETWORKS = ("192.0.2.", "198.51.100.", "203.0.113.")

# kind -> default parameters; any other parameter is refused.
FAULT_KINDS = {
    "rate_limit": {"retry_after": 1, "headers": None},
    "server_error": {"status": 503, "retry_after": None, "headers": None},
    "slow": {"delay": 2.0},
    "drop": {},
    "reset": {},
    "not_json": {"status": 200, "body": None, "headers": None},
    "json": {"body": {}, "status": 200, "headers": None},
    "status": {"status": 403, "body": None, "headers": None},
}

# Seconds an instance created (or restarted, or deleted) through the API spends in each step by default.
DEFAULT_CREATING_DELAY = 0.5
DEFAULT_PENDING_DELAY = 0.5
DEFAULT_DELETING_DELAY = 0.5
LAUNCH_NETWORK = "203.0.113."  # addresses of new instances when no ip_pool is given
INSTANCE_TYPES_SEED = 7
# Fields of POST /instances/create and POST /instances/{id}/update.
CREATE_FIELDS = frozenset(("cloud", "region", "shade_instance_type", "shade_cloud", "name", "os", "template_id", "launch_configuration",
                           "volume_ids", "ssh_key_id", "auto_delete", "alert", "tags", "envs"))
UPDATE_FIELDS = frozenset(("name", "tags", "auto_delete", "alert"))
# Fields only GET /instances/{id}/info shows, with their value when not given at creation.
DETAIL_FIELDS = {"volume_ids": [], "ssh_key_id": None, "auto_delete": None, "alert": None, "envs": [], "os": None, "template_id": None}

Route = collections.namedtuple("Route", ["method", "pattern", "handler"])

# The API routes: a row here and the matching Simulator method serve an endpoint.
_INSTANCE = r"^/v1/instances/(?P<instance_id>[^/]+)"
_SSH_KEY = r"^/v1/sshkeys/(?P<key_id>[^/]+)"
API_ROUTES = (
    Route("GET", re.compile(r"^/v1/instances$"), "_api_list_instances"),
    Route("POST", re.compile(r"^/v1/instances/create$"), "_api_create_instance"),
    Route("GET", re.compile(r"^/v1/instances/types$"), "_api_instance_types"),
    Route("GET", re.compile(_INSTANCE + r"/info$"), "_api_instance_info"),
    Route("POST", re.compile(_INSTANCE + r"/update$"), "_api_update_instance"),
    Route("POST", re.compile(_INSTANCE + r"/delete$"), "_api_delete_instance"),
    Route("POST", re.compile(_INSTANCE + r"/restart$"), "_api_restart_instance"),
    Route("GET", re.compile(r"^/v1/sshkeys$"), "_api_list_ssh_keys"),
    Route("POST", re.compile(r"^/v1/sshkeys/add$"), "_api_add_ssh_key"),
    Route("GET", re.compile(_SSH_KEY + r"/info$"), "_api_ssh_key_info"),
    Route("POST", re.compile(_SSH_KEY + r"/setdefault$"), "_api_set_default_ssh_key"),
    Route("POST", re.compile(_SSH_KEY + r"/delete$"), "_api_delete_ssh_key"),
)

CONTROL_ROUTES = (
    Route("GET", re.compile(r"^/_sim/requests$"), "_ctl_get_requests"),
    Route("DELETE", re.compile(r"^/_sim/requests$"), "_ctl_clear_requests"),
    Route("GET", re.compile(r"^/_sim/instances$"), "_ctl_get_instances"),
    Route("PUT", re.compile(r"^/_sim/instances$"), "_ctl_put_instances"),
    Route("PATCH", re.compile(r"^/_sim/instances/(?P<instance_id>[^/]+)$"), "_ctl_patch_instance"),
    Route("DELETE", re.compile(r"^/_sim/instances/(?P<instance_id>[^/]+)$"), "_ctl_delete_instance"),
    Route("GET", re.compile(r"^/_sim/faults$"), "_ctl_get_faults"),
    Route("POST", re.compile(r"^/_sim/faults$"), "_ctl_add_faults"),
    Route("DELETE", re.compile(r"^/_sim/faults$"), "_ctl_clear_faults"),
)


class SimulatorError(ValueError):
    """A request to the simulator that cannot be honoured (bad fleet, bad fault, bad address)."""


# ---------------------------------------------------------------------------------------------------------------
# Fleets
# ---------------------------------------------------------------------------------------------------------------

def load_fleet(path):
    """Read a fleet file: ``{"instances": [...]}`` or a bare list of instances."""
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except ValueError as exc:
            raise SimulatorError(f"{path}: not JSON: {exc}") from exc
    return _fleet_list(data, path)


def _fleet_list(data, origin):
    if isinstance(data, dict) and "instances" in data:
        data = data["instances"]
    if not isinstance(data, list):
        raise SimulatorError(f'{origin}: expected {{"instances": [...]}} or a list of instances')
    return data


def parse_ip_pool(ip_pool):
    """Turn ``["addr", "addr:port", "user@[::1]:2222", ...]`` (or one comma-separated str) into (user, addr, port) tuples.

    The port defaults to 22 and the user to None (keep the instance's ``ssh_user``).
    """
    if isinstance(ip_pool, str):
        ip_pool = ip_pool.split(",")
    entries = []
    for raw in ip_pool:
        entry = raw.strip()
        if not entry:
            continue
        user = None
        if "@" in entry:
            user, entry = entry.rsplit("@", 1)
        port = 22
        if entry.startswith("["):
            addr, _sep, rest = entry[1:].partition("]")
            if rest:
                port = rest.lstrip(":")
        elif entry.count(":") == 1:
            addr, port = entry.split(":")
        else:
            addr = entry
        try:
            port = int(port)
        except ValueError:
            raise SimulatorError(f"ip_pool entry {raw!r}: the port is not a number") from None
        if not addr or not 0 < port < 65536:
            raise SimulatorError(f"ip_pool entry {raw!r}: expected addr, addr:port or user@addr:port")
        entries.append((user, addr, port))
    if not entries:
        raise SimulatorError("ip_pool is empty")
    return entries


def apply_ip_pool(instances, ip_pool):
    """Give the active instances, in order, the addresses (and ports, users) of ``ip_pool``, round robin.

    Changes ``instances`` in place and returns it.
    """
    pool = parse_ip_pool(ip_pool)
    index = 0
    for instance in instances:
        if isinstance(instance, dict) and instance.get("status") == "active":
            user, addr, port = pool[index % len(pool)]
            instance["ip"] = addr
            instance["ssh_port"] = port
            if user:
                instance["ssh_user"] = user
            index += 1
    return instances


# name, gpu_type, vram, manufacturer, interconnects, nvlink, vcpus per gpu, memory per gpu, cents per gpu-hour, counts
_GPUS = (
    ("A100", "A100", 40, "nvidia", ("sxm4", "pcie"), True, 12, 85, 129, (1, 2, 4, 8)),
    ("A100_80G", "A100_80G", 80, "nvidia", ("sxm4", "pcie"), True, 14, 120, 179, (1, 2, 4, 8)),
    ("H100", "H100", 80, "nvidia", ("sxm5", "pcie"), True, 26, 225, 249, (1, 2, 4, 8)),
    ("H200", "H200", 141, "nvidia", ("sxm5",), True, 24, 250, 399, (8,)),
    ("B200", "B200", 180, "nvidia", ("sxm6",), True, 28, 280, 599, (8,)),
    ("GH200", "GH200", 96, "nvidia", ("nvlink-c2c",), None, 64, 432, 329, (1,)),
    ("A6000", "A6000", 48, "nvidia", ("pcie",), False, 6, 46, 79, (1, 2, 4, 8)),
    ("A5000", "A5000", 24, "nvidia", ("pcie",), False, 6, 30, 45, (1, 2, 4)),
    ("L40S", "L40S", 48, "nvidia", ("pcie",), False, 8, 62, 99, (1, 2, 4, 8)),
    ("L40", "L40", 48, "nvidia", ("pcie",), None, 8, 58, 89, (1, 2, 4, 8)),
    ("RTX4090", "RTX4090", 24, "nvidia", ("pcie",), False, 8, 32, 49, (1, 2, 4, 8)),
    ("V100", "V100", 16, "nvidia", ("sxm2", "pcie"), True, 8, 61, 55, (1, 4, 8)),
    ("A10", "A10", 24, "nvidia", ("pcie",), None, 30, 200, 75, (1,)),
    ("MI300X", "MI300X", 192, "amd", ("infinity-fabric",), None, 20, 232, 349, (8,)),
)
_GPU_BY_NAME = {gpu[0]: gpu for gpu in _GPUS}

# name, regions, ssh users, ssh ports, share of Shadeform's own account, gpu names
_CLOUDS = (
    ("hyperstack", ("canada-1", "norway-1", "us-1"), ("shadeform", "ubuntu"), (22,), 0.9,
     ("A100_80G", "H100", "A6000", "L40", "RTX4090")),
    ("lambdalabs", ("us-east-1", "us-west-1", "us-central-1", "europe-central-1"), ("shadeform", "ubuntu"), (22,), 0.8,
     ("A100", "A100_80G", "H100", "GH200", "A6000", "A10", "V100")),
    ("datacrunch", ("FIN-01", "FIN-02", "ICE-01"), ("shadeform", "root"), (22,), 0.9,
     ("A100_80G", "H100", "H200", "B200", "A6000", "L40S", "V100")),
    ("massedcompute", ("us-central-1", "us-east-2", "canada-1"), ("shadeform", "ubuntu"), (22, 2222), 1.0,
     ("A100_80G", "H100", "A6000", "L40S", "RTX4090", "A5000")),
    ("paperspace", ("ny2", "ca1", "ams1"), ("shadeform", "paperspace"), (22,), 1.0,
     ("A100_80G", "H100", "A6000", "A5000", "V100")),
    ("aws", ("us-east-1", "us-west-2", "eu-central-1"), ("ubuntu", "ec2-user"), (22,), 0.2,
     ("A100", "A100_80G", "H100", "L40S", "A10", "V100")),
    ("azure", ("eastus", "westeurope", "southcentralus"), ("azureuser", "shadeform"), (22,), 0.3,
     ("A100_80G", "H100", "MI300X", "V100")),
    ("vultr", ("ewr", "lax", "ams"), ("root", "shadeform"), (22,), 0.9,
     ("A100_80G", "H100", "L40S", "MI300X", "A6000")),
    ("scaleway", ("fr-par-2", "nl-ams-1", "pl-waw-2"), ("root", "shadeform"), (22,), 0.9,
     ("H100", "L40S", "RTX4090")),
    ("crusoe", ("us-east-1", "us-southcentral-1", "eu-iceland-1"), ("shadeform", "ubuntu"), (22,), 1.0,
     ("A100_80G", "H100", "H200", "L40S", "MI300X")),
    ("runpod", ("us-central-1", "eu-ro-1", "ca-mtl-1"), ("root",), (22, 10022, 20022, 40122), 1.0,
     ("A100_80G", "H100", "RTX4090", "A6000", "L40S")),
    ("tensordock", ("us-east-1", "fr-par-2"), ("user", "shadeform"), (22, 20001, 44022), 1.0,
     ("A100_80G", "RTX4090", "A6000", "V100")),
)

_OSES = ("ubuntu_22_shade_os", "ubuntu_22_shade_os", "ubuntu_20_shade_os", "ubuntu22.04_cuda12.2", "ubuntu24.04_cuda12.4")
_NAME_PREFIXES = ("cool-gpu-server", "llm-train", "inference", "vllm", "jupyter", "finetune", "batch-worker", "sd-xl",
                  "eval", "dev-box", "ray-head", "ray-worker")
_PLAIN_TAGS = ("tag1", "training", "inference", "spot-ok", "do-not-delete", "jupyter", "gpu-burn", "Benchmark")
_KV_TAGS = ("env=prod", "env=staging", "env=dev", "team=ml", "team=research", "team=platform", "owner=alice",
            "owner:bob", "project:llama", "cost-center=4711")
_STATUS_DETAILS = {
    "creating": ("provisioning", "initializing", ""),
    "pending_provider": ("waiting_for_provider", "queued", ""),
    "pending": ("downloading", "booting", "installing_drivers"),
    "active": ("", "running", "downloading"),
    "error": ("provider_error", "out_of_capacity", "preempted"),
    "deleting": ("deleting", "terminating"),
}
_IMAGES = (
    ("vllm/vllm-openai:latest", "--model mistralai/Mistral-7B-v0.1", 8000),
    ("ghcr.io/huggingface/text-generation-inference:2.4", "--model-id meta-llama/Llama-3.1-8B-Instruct", 80),
    ("jupyter/pytorch-notebook:latest", "", 8888),
    ("registry.example.com/ml/trainer:1.7", "--epochs 3 --batch-size 64", 6006),
)
_SECRET_ENVS = ("WANDB_API_KEY", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY")
_BASE_TIME = 1735689600  # 2025-01-01T00:00:00Z; generated timestamps fall in the 120 days before it.


def _pick(rng, sequence):
    # rng.choice() and rng.randrange() cost several Python calls each; this is one C call.
    return sequence[int(rng.random() * len(sequence))]


def _between(rng, low, high):
    return low + int(rng.random() * (high - low))


def _uuid4(rng):
    value = (rng.getrandbits(128) & ~(0xF000 << 64) & ~(0xC000 << 48)) | (0x4000 << 64) | (0x8000 << 48)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _timestamp(epoch, millis):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis:03d}Z"


def _instance_type(cloud, gpu, count, vcpus):
    name = gpu[0]
    low = name.lower()
    if cloud == "hyperstack":
        return f"n3-{name}x{count}"
    if cloud in ("lambdalabs", "massedcompute"):
        return f"gpu_{count}x_{low}"
    if cloud == "datacrunch":
        return f"{count}{name}.{gpu[2]}S.{vcpus}V"
    if cloud == "aws":
        return f"p{4 if gpu[2] <= 80 else 5}.{count * 3}xlarge" if count > 1 else f"g6e.{vcpus // 2}xlarge"
    if cloud == "azure":
        return f"Standard_ND{count * 12}s_{name}_v5"
    if cloud == "vultr":
        return f"vcg-{low}-{vcpus}c-{gpu[7] * count}g-{gpu[2] * count}vram"
    if cloud == "scaleway":
        return f"{name}-{count}-{gpu[2]}G"
    return f"{low}-{count}x"


def _secret(rng, label):
    return f"{SECRET_MARKER}-{label}-{rng.getrandbits(64):016x}"


def _launch_configuration(rng, kind):
    if kind == "script":
        script = ("#!/bin/bash\nset -e\n"
                  f"export API_TOKEN={_secret(rng, 'script')}\n"
                  "curl -fsSL https://example.com/setup.sh | bash\n")
        return {"type": "script", "script_configuration": {"base64_script": base64.b64encode(script.encode()).decode()}}
    image, args, port = _pick(rng, _IMAGES)
    envs = [{"name": "HUGGING_FACE_HUB_TOKEN", "value": _secret(rng, "env")}]
    if rng.random() < 0.5:
        envs.append({"name": _pick(rng, _SECRET_ENVS), "value": _secret(rng, "env")})
    envs.append({"name": "MODEL_CACHE", "value": "/root/.cache/huggingface"})
    docker = {
        "image": image,
        "args": args,
        "shared_memory_in_gb": _pick(rng, (8, 16, 32)),
        "envs": envs,
        "port_mappings": [{"host_port": 80, "container_port": port}],
        "volume_mounts": [{"host_path": "~/.cache/huggingface", "container_path": "/root/.cache/huggingface"}],
    }
    if image.startswith("registry.example.com") or rng.random() < 0.4:
        docker["registry_credentials"] = {"username": "ci-bot", "password": _secret(rng, "registry")}
    return {"type": "docker", "docker_configuration": docker}


def _make_instance(rng, index, status, names):
    cloud, regions, users, ports, shade_share, gpu_names = _pick(rng, _CLOUDS)
    gpu = _GPU_BY_NAME[_pick(rng, gpu_names)]
    name, gpu_type, vram, maker, interconnects, nvlink, vcpus_per, mem_per, cents, counts = gpu
    num_gpus = _pick(rng, counts)
    vcpus = vcpus_per * num_gpus
    shade_type = name if num_gpus == 1 else f"{name}x{num_gpus}"
    hourly_price = cents * num_gpus + _between(rng, 0, 40)

    if names and index % 7 == 6:
        instance_name = _pick(rng, names)
    else:
        instance_name = f"{_pick(rng, _NAME_PREFIXES)}-{_between(rng, 1, 30)}"
    names.append(instance_name)

    configuration = {
        "memory_in_gb": mem_per * num_gpus,
        "storage_in_gb": _pick(rng, (256, 512, 1024, 2048)) * num_gpus,
        "vcpus": vcpus,
        "num_gpus": num_gpus,
        "gpu_type": gpu_type,
        "interconnect": _pick(rng, interconnects),
        "vram_per_gpu_in_gb": vram,
        "gpu_manufacturer": maker,
        "os": _pick(rng, _OSES),
    }
    if nvlink is not None:
        configuration["nvlink"] = nvlink and num_gpus > 1

    created = _BASE_TIME - _between(rng, 3600, 120 * 86400)
    hours = (_BASE_TIME - created) / 3600.0
    if status in PENDING_STATUSES:
        ip = None if index % 2 else ""
        cost = "0"
    elif status == "error":
        ip = _pick(rng, (None, ""))
        cost = f"{hourly_price * min(hours, 1.0) / 100:.2f}"
    elif rng.random() < 0.04:
        ip = f"gpu-{index}.example.net"
        cost = f"{hourly_price * hours / 100:.2f}"
    else:
        ip = f"{DOCUMENTATION_NETWORKS[index % 3]}{(index // 3) % 254 + 1}"
        cost = f"{hourly_price * hours / 100:.2f}"

    instance = {
        "id": _uuid4(rng),
        "cloud": cloud,
        "region": _pick(rng, regions),
        "shade_instance_type": shade_type,
        "cloud_instance_type": _instance_type(cloud, gpu, num_gpus, vcpus),
        "cloud_assigned_id": (f"i-{rng.getrandbits(68):017x}" if cloud == "aws"
                              else _uuid4(rng)),
        "shade_cloud": rng.random() < shade_share,
        "name": instance_name,
        "configuration": configuration,
        "ip": ip,
        "ssh_user": _pick(rng, users),
        "ssh_port": _pick(rng, ports),
        "status": status,
        "status_details": _pick(rng, _STATUS_DETAILS[status]),
        "cost_estimate": cost,
        "hourly_price": hourly_price,
    }
    if status == "creating" and index % 4 == 0:
        instance["ssh_user"] = None
    roll = rng.random()
    if roll < 0.7:
        rental_type = "on_demand" if roll < 0.5 else ("spot" if roll < 0.62 else "commitment")
        instance["rental_terms"] = {
            "rental_type": rental_type,
            "hourly_price": f"{hourly_price / 100:.2f}",
            "ending_at": _timestamp(_BASE_TIME + 90 * 86400, 0) if rental_type == "commitment" else None,
        }
    roll = rng.random()
    if roll < 0.3:
        instance["launch_configuration"] = _launch_configuration(rng, "docker")
        port = instance["launch_configuration"]["docker_configuration"]["port_mappings"][0]["container_port"]
        instance["port_mappings"] = [{"internal_port": port, "external_port": 80}]
    elif roll < 0.45:
        instance["launch_configuration"] = _launch_configuration(rng, "script")
    roll = rng.random()
    if roll < 0.75:
        tags = []
        for _unused in range(_between(rng, 1, 4)):
            pool = _KV_TAGS if rng.random() < 0.6 else _PLAIN_TAGS
            tag = _pick(rng, pool)
            if tag not in tags:
                tags.append(tag)
        instance["tags"] = tags
    elif roll < 0.9:
        instance["tags"] = []
    if status in ("active", "deleting"):
        instance["active_at"] = _timestamp(created + _between(rng, 120, 900), _between(rng, 0, 1000))
    instance["created_at"] = _timestamp(created, _between(rng, 0, 1000))
    instance["deleted_at"] = _timestamp(_BASE_TIME - _between(rng, 60, 3600), 0) if status == "deleting" else None
    if rng.random() < 0.8:
        low = _pick(rng, (60, 120, 180, 300))
        instance["boot_time"] = {"min_boot_in_sec": low, "max_boot_in_sec": low * 2}
    return instance


def generate_fleet(count, seed=0, ip_pool=None):
    """Return ``count`` instance dicts, the same for the same seed (and a fleet's first N are the N-fleet).

    Statuses are drawn in shuffled blocks of ten (five active, one of each other status), so every block of
    ten holds every status; every seventh instance reuses an earlier name.  ``ip_pool``: see :func:`apply_ip_pool`.
    """
    if count < 0:
        raise SimulatorError("count must not be negative")
    rng = random.Random(seed)
    names = []
    instances = []
    block = []
    for index in range(count):
        if not block:
            block = ["active"] * 5 + [status for status in STATUSES if status != "active"]
            rng.shuffle(block)
        instances.append(_make_instance(rng, index, block.pop(), names))
    if ip_pool:
        apply_ip_pool(instances, ip_pool)
    return instances


def generate_instance_types(seed=INSTANCE_TYPES_SEED):
    """The catalogue of ``GET /instances/types``: every cloud's GPUs in every count, available in some regions.

    Deterministic per seed.  Prices are in cents per hour, as in the API; each cloud adds its own margin, so the
    same GPU costs differently on different clouds.
    """
    rng = random.Random(seed)
    types = []
    for cloud, regions, _users, _ports, _share, gpu_names in _CLOUDS:
        margin = _between(rng, 0, 30)
        for gpu_name in gpu_names:
            gpu = _GPU_BY_NAME[gpu_name]
            name, gpu_type, vram, maker, interconnects, nvlink, vcpus_per, mem_per, cents, counts = gpu
            for num_gpus in counts:
                vcpus = vcpus_per * num_gpus
                configuration = {
                    "memory_in_gb": mem_per * num_gpus,
                    "storage_in_gb": 512 * num_gpus,
                    "vcpus": vcpus,
                    "num_gpus": num_gpus,
                    "gpu_type": gpu_type,
                    "interconnect": interconnects[0],
                    "vram_per_gpu_in_gb": vram,
                    "gpu_manufacturer": maker,
                    "os_options": list(dict.fromkeys(_OSES)),
                }
                if nvlink is not None:
                    configuration["nvlink"] = nvlink and num_gpus > 1
                low = _pick(rng, (60, 120, 180, 300))
                types.append({
                    "cloud": cloud,
                    "shade_instance_type": name if num_gpus == 1 else f"{name}x{num_gpus}",
                    "cloud_instance_type": _instance_type(cloud, gpu, num_gpus, vcpus),
                    "configuration": configuration,
                    "hourly_price": (cents + margin) * num_gpus,
                    "deployment_type": "vm",
                    "availability": [{"region": region, "available": rng.random() < 0.6, "display_name": region.upper()}
                                     for region in regions],
                    "boot_time": {"min_boot_in_sec": low, "max_boot_in_sec": low * 2},
                })
    return types


def _query(query):
    """The query string as {name: last value}."""
    return {name: values[-1] for name, values in urllib.parse.parse_qs(query, keep_blank_values=True).items()}


def _query_bool(params, name):
    value = params[name].strip().lower()
    if value not in ("true", "false"):
        raise SimulatorError(f"{name} must be true or false")
    return value == "true"


def filter_instance_types(types, query=""):
    """The catalogue as ``GET /instances/types?<query>`` answers it (raises SimulatorError on bad filters)."""
    params = _query(query)
    selected = []
    num_gpus = None
    if params.get("num_gpus"):
        try:
            num_gpus = int(params["num_gpus"])
        except ValueError:
            raise SimulatorError("num_gpus must be an integer") from None
    available = _query_bool(params, "available") if params.get("available") else None
    for item in types:
        if params.get("cloud") and item.get("cloud") != params["cloud"]:
            continue
        if params.get("shade_instance_type") and item.get("shade_instance_type") != params["shade_instance_type"]:
            continue
        configuration = item.get("configuration") or {}
        if params.get("gpu_type") and configuration.get("gpu_type") != params["gpu_type"]:
            continue
        if num_gpus is not None and configuration.get("num_gpus") != num_gpus:
            continue
        slots = [slot for slot in item.get("availability") or [] if not params.get("region") or slot.get("region") == params["region"]]
        if params.get("region") and not slots:
            continue
        if available is not None and any(slot.get("available") for slot in slots) != available:
            continue
        selected.append(item)
    sort = params.get("sort")
    if sort == "price":
        selected.sort(key=lambda item: item.get("hourly_price", 0))
    elif sort:
        raise SimulatorError(f"unknown sort {sort!r}; known: price")
    return selected


# ---------------------------------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------------------------------

def check_loopback(host):
    """Return the address family for ``host`` if it is a loopback address; raise SimulatorError otherwise."""
    if host == "localhost":
        return socket.AF_INET
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise SimulatorError(f"refusing to bind {host!r}: give a loopback IP address such as 127.0.0.1") from None
    if not address.is_loopback:
        raise SimulatorError(f"refusing to bind {host!r}: the simulator only listens on loopback addresses (127.0.0.0/8, ::1)")
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _check_tags(tags):
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags)):
        raise SimulatorError("tags must be a list of strings")


class _Request:
    """One parsed request, as the route handlers see it."""

    def __init__(self, method, path, query, body, match):
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.params = match.groupdict() if match else {}

    def json(self):
        if not self.body:
            raise SimulatorError("a JSON body is required")
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise SimulatorError(f"the body is not JSON: {exc}") from exc


class _Response:
    def __init__(self, status, body=b"", content_type="application/json", headers=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def _json_response(status, value, headers=None):
    return _Response(status, json.dumps(value).encode("utf-8"), headers=headers)


def _message(status, message=None):
    return _json_response(status, {"message": message or http.HTTPStatus(status).phrase})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, family, simulator):
        self.address_family = family
        self.simulator = simulator
        self.connections = set()
        self.aborted = set()
        self.lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind would do a reverse DNS lookup (socket.getfqdn); not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def shutdown_request(self, request):
        with self.lock:
            aborted = id(request) in self.aborted
            self.aborted.discard(id(request))
        if not aborted:
            super().shutdown_request(request)
        else:
            self.close_request(request)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)) or self.simulator.stopping:
            return
        super().handle_error(request, client_address)

    def close_connections(self):
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ShadeformSimulator/1.0"
    sys_version = ""
    timeout = 60

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.server.lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.simulator.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _dispatch(self):
        self.server.simulator._handle(self)  # pylint: disable=protected-access

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


# ---------------------------------------------------------------------------------------------------------------
# The simulator
# ---------------------------------------------------------------------------------------------------------------

class Simulator:
    """A Shadeform API on a loopback port; see the module documentation.  Use as a context manager."""

    def __init__(self, api_key=DEFAULT_API_KEY, instances=None, host=DEFAULT_HOST, port=0, verbose=False,  # pylint: disable=too-many-arguments
                 ip_pool=None, creating_delay=DEFAULT_CREATING_DELAY, pending_delay=DEFAULT_PENDING_DELAY,
                 deleting_delay=DEFAULT_DELETING_DELAY, instance_types=None, ssh_keys=None):
        if not api_key or not isinstance(api_key, str):
            raise SimulatorError("api_key must be a non-empty string")
        self._family = check_loopback(host)
        self.host = "127.0.0.1" if host == "localhost" else host
        self._requested_port = port
        self._api_key = api_key.encode("utf-8")
        self.verbose = verbose
        self.stopping = False
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._instances = []
        self._body = None
        self._faults = collections.deque()
        self._requests = collections.deque(maxlen=REQUEST_LOG_LIMIT)
        self._server = None
        self._thread = None
        for name, delay in (("creating_delay", creating_delay), ("pending_delay", pending_delay), ("deleting_delay", deleting_delay)):
            if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
                raise SimulatorError(f"{name} must be a non-negative number of seconds")
        self._delays = {"creating": creating_delay, "pending": pending_delay, "deleting": deleting_delay}
        self._launch_pool = parse_ip_pool(ip_pool) if ip_pool else None
        self._launch_count = 0
        # When a string, new instances end in status "error" with these status_details instead of becoming pending.
        self.launch_error = None
        self._lifecycle = {}  # id -> {"phase": status, "since": time.monotonic() of the step's start}
        self._details = {}  # id -> fields only GET /instances/{id}/info shows
        self._instance_types = generate_instance_types() if instance_types is None else json.loads(json.dumps(instance_types))
        self._ssh_keys = json.loads(json.dumps(ssh_keys or []))
        self.set_instances(instances or [])

    # -- life cycle -------------------------------------------------------------------------------------------
    def start(self):
        if self._server is not None:
            return self
        self.stopping = False
        self._stop_event.clear()
        self._server = _Server((self.host, self._requested_port), self._family, self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="shadeform-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping = True
        self._stop_event.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        self._thread.join(10)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def port(self):
        if self._server is None:
            raise SimulatorError("the simulator is not running")
        return self._server.server_address[1]

    @property
    def base_url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self):
        return self.base_url + "/v1"

    # -- fleet --------------------------------------------------------------------------------------------------
    # The fleet is kept as its serialized response body; the parsed list exists only while something
    # changes single instances, and the body is re-serialized (once) on the next request after a change.
    def set_instances(self, instances):
        """Replace the fleet with a copy of ``instances`` (a list of JSON values, normally instance dicts)."""
        instances = _fleet_list(instances, "instances")
        try:
            body = json.dumps({"instances": instances}, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise SimulatorError(f"the instances are not JSON serializable: {exc}") from exc
        with self._lock:
            self._instances = None
            self._body = body

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
            fields = json.loads(json.dumps(fields))
        except (TypeError, ValueError) as exc:
            raise SimulatorError(f"the fields are not JSON serializable: {exc}") from exc
        with self._lock:
            found = [item for item in self._parsed() if isinstance(item, dict) and item.get("id") == instance_id]
            if not found:
                raise KeyError(instance_id)
            for item in found:
                item.update(fields)
            self._body = None
            return json.loads(json.dumps(found[0]))

    def remove_instance(self, instance_id):
        """Remove the instance(s) with this id; KeyError if there is none."""
        with self._lock:
            instances = self._parsed()
            kept = [item for item in instances if not (isinstance(item, dict) and item.get("id") == instance_id)]
            if len(kept) == len(instances):
                raise KeyError(instance_id)
            self._instances = kept
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

    # -- faults and request log ---------------------------------------------------------------------------------
    def inject(self, kind, count=1, **params):
        """Queue ``count`` faults of ``kind`` (see FAULT_KINDS), consumed one per /v1 request."""
        if kind not in FAULT_KINDS:
            raise SimulatorError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        unknown = set(params) - set(FAULT_KINDS[kind])
        if unknown:
            raise SimulatorError(f"fault {kind!r} takes no parameter {', '.join(sorted(unknown))}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise SimulatorError("count must be a positive integer")
        fault = dict(FAULT_KINDS[kind], **params)
        status = fault.get("status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599):
            raise SimulatorError("status must be an integer between 100 and 599")
        if kind == "slow" and (not isinstance(fault["delay"], (int, float)) or fault["delay"] < 0):
            raise SimulatorError("delay must be a non-negative number")
        if fault.get("headers") is not None and not isinstance(fault["headers"], dict):
            raise SimulatorError("headers must be a dict")
        try:
            json.dumps(fault)
        except (TypeError, ValueError) as exc:
            raise SimulatorError(f"fault parameters must be JSON values: {exc}") from exc
        fault["kind"] = kind
        with self._lock:
            self._faults.extend(dict(fault) for _unused in range(count))

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    @property
    def faults(self):
        """The pending faults, next first."""
        with self._lock:
            return [dict(fault) for fault in self._faults]

    @property
    def requests(self):
        """The request log: dicts with method, path, api_key_ok, user_agent, status."""
        with self._lock:
            return [dict(entry) for entry in self._requests]

    def clear_requests(self):
        with self._lock:
            self._requests.clear()

    # -- request handling -----------------------------------------------------------------------------------------
    def _handle(self, handler):
        method = handler.command
        path, _sep, query = handler.path.partition("?")
        length = handler.headers.get("Content-Length")
        body = b""
        if length:
            try:
                body = handler.rfile.read(int(length))
            except ValueError:
                handler.close_connection = True
        if path == "/_sim" or path.startswith("/_sim/"):
            self._send(handler, self._control(handler, method, path, query, body), None)
            return
        key = handler.headers.get("X-API-KEY")
        record = {
            "method": method,
            "path": handler.path,
            "api_key_ok": key is not None and hmac.compare_digest(key.encode("utf-8", "replace"), self._api_key),
            "user_agent": handler.headers.get("User-Agent"),
            "status": None,
        }
        fault = None
        if path == "/v1" or path.startswith("/v1/"):
            with self._lock:
                fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault["kind"] == "slow":
            if self._stop_event.wait(fault["delay"]):
                self._abort(handler, record)
                return
            fault = None
        if fault is not None:
            self._fault(handler, fault, record)
            return
        if not (path == "/v1" or path.startswith("/v1/")):
            response = _message(404)
        elif not record["api_key_ok"]:
            response = _message(401, "Invalid API key")
        else:
            response = self._route(API_ROUTES, method, path, query, body)
        self._send(handler, response, record)

    def _route(self, routes, method, path, query, body):
        allowed = []
        for route in routes:
            match = route.pattern.match(path)
            if not match:
                continue
            if route.method == method:
                try:
                    return getattr(self, route.handler)(_Request(method, path, query, body, match))
                except SimulatorError as exc:
                    return _message(400, str(exc))
            allowed.append(route.method)
        if allowed:
            response = _message(405)
            response.headers["Allow"] = ", ".join(sorted(set(allowed)))
            return response
        return _message(404)

    def _send(self, handler, response, record):
        if record is not None:
            record["status"] = response.status
            with self._lock:
                self._requests.append(record)
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            handler.send_header(name, str(value))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(response.body)

    def _abort(self, handler, record):
        """Close the connection with a TCP reset and no response."""
        if record is not None:
            with self._lock:
                self._requests.append(record)
        handler.close_connection = True
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with handler.server.lock:
            handler.server.aborted.add(id(handler.connection))

    def _fault(self, handler, fault, record):
        kind = fault["kind"]
        headers = dict(fault.get("headers") or {})
        if kind == "reset":
            self._abort(handler, record)
            return
        if kind == "drop":
            body = self._fleet_body()
            record["status"] = 200
            with self._lock:
                self._requests.append(record)
            handler.close_connection = True
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[:len(body) // 2])
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind in ("rate_limit", "server_error"):
            status = 429 if kind == "rate_limit" else fault["status"]
            if fault["retry_after"] is not None:
                headers["Retry-After"] = fault["retry_after"]
            response = _json_response(status, {"message": http.HTTPStatus(status).phrase}, headers)
        elif kind == "not_json":
            response = _Response(fault["status"], self._html_page(fault), "text/html; charset=utf-8", headers)
        elif kind == "status" and fault["body"] is None:
            response = _message(fault["status"])
            response.headers = headers
        elif isinstance(fault["body"], str) and kind == "status":
            response = _Response(fault["status"], fault["body"].encode("utf-8"), "text/plain; charset=utf-8", headers)
        else:
            response = _json_response(fault["status"], fault["body"], headers)
        self._send(handler, response, record)

    @staticmethod
    def _html_page(fault):
        if fault["body"] is not None:
            return str(fault["body"]).encode("utf-8")
        status = fault["status"]
        title = "Scheduled maintenance" if status == 200 else f"{status} {http.HTTPStatus(status).phrase}"
        return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
                "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n").encode("utf-8")

    # -- API endpoints ----------------------------------------------------------------------------------------------
    def _api_list_instances(self, request):
        return _Response(200, self._fleet_body())

    def _api_create_instance(self, request):
        data = request.json()
        if not isinstance(data, dict):
            raise SimulatorError("expected a JSON object")
        unknown = set(data) - CREATE_FIELDS
        if unknown:
            raise SimulatorError(f"unknown fields: {', '.join(sorted(unknown))}")
        for field in ("cloud", "region", "shade_instance_type", "name"):
            if not isinstance(data.get(field), str) or not data[field]:
                raise SimulatorError(f"{field} is required (a non-empty string)")
        if not isinstance(data.get("shade_cloud"), bool):
            raise SimulatorError("shade_cloud is required (true or false)")
        _check_tags(data.get("tags"))
        launch = data.get("launch_configuration")
        if launch is not None and (not isinstance(launch, dict) or launch.get("type") not in ("docker", "script")):
            raise SimulatorError("launch_configuration.type must be docker or script")
        with self._lock:
            catalogue = [item for item in self._instance_types
                         if item.get("cloud") == data["cloud"] and item.get("shade_instance_type") == data["shade_instance_type"]]
            if not catalogue:
                raise SimulatorError(f"instance type {data['shade_instance_type']} is not offered on {data['cloud']}")
            item = catalogue[0]
            if not any(slot.get("region") == data["region"] and slot.get("available") for slot in item.get("availability") or []):
                raise SimulatorError(f"{data['shade_instance_type']} is not available in {data['region']} on {data['cloud']}")
            if data.get("ssh_key_id") is not None and not any(key["id"] == data["ssh_key_id"] for key in self._ssh_keys):
                raise SimulatorError(f"unknown ssh_key_id {data['ssh_key_id']}")
            instance_id = str(uuid.uuid4())
            configuration = {k: v for k, v in item["configuration"].items() if k != "os_options"}
            configuration["os"] = data.get("os") or (item["configuration"].get("os_options") or _OSES)[0]
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
                "hourly_price": item.get("hourly_price"),
                "tags": list(data.get("tags") or []),
                "port_mappings": [],
                "created_at": _now(),
                "active_at": None,
                "deleted_at": None,
                "boot_time": item.get("boot_time"),
            }
            if launch is not None:
                instance["launch_configuration"] = launch
            self._parsed().append(instance)
            self._details[instance_id] = {field: data.get(field, default) for field, default in DETAIL_FIELDS.items()}
            self._lifecycle[instance_id] = {"phase": "creating", "since": time.monotonic()}
            self._body = None
        return _json_response(200, {"id": instance_id})

    def _find_locked(self, instance_id):
        self._advance_locked()
        for item in self._parsed():
            if isinstance(item, dict) and item.get("id") == instance_id:
                return item
        return None

    def _api_instance_info(self, request):
        with self._lock:
            item = self._find_locked(request.params["instance_id"])
            if item is None:
                return _message(404, "Instance not found")
            info = dict(item)
            info.update(self._details.get(item["id"]) or dict(DETAIL_FIELDS))
            return _json_response(200, info)

    def _api_update_instance(self, request):
        data = request.json()
        if not isinstance(data, dict):
            raise SimulatorError("expected a JSON object")
        unknown = set(data) - UPDATE_FIELDS
        if unknown:
            raise SimulatorError(f"unknown fields: {', '.join(sorted(unknown))}")
        if "name" in data and (not isinstance(data["name"], str) or not data["name"]):
            raise SimulatorError("name must be a non-empty string")
        _check_tags(data.get("tags"))
        with self._lock:
            item = self._find_locked(request.params["instance_id"])
            if item is None:
                return _message(404, "Instance not found")
            for field in ("name", "tags"):
                if field in data:
                    item[field] = data[field]
            details = self._details.setdefault(item["id"], dict(DETAIL_FIELDS))
            for field in ("auto_delete", "alert"):
                if field in data:
                    details[field] = data[field]
            self._body = None
        return _Response(200, b"", "text/plain; charset=utf-8")

    def _api_delete_instance(self, request):
        with self._lock:
            item = self._find_locked(request.params["instance_id"])
            if item is None:
                return _message(404, "Instance not found")
            if item.get("status") == "deleting":
                return _message(409, "Instance is already being deleted")
            item.update(status="deleting", status_details="deleting", deleted_at=_now())
            self._lifecycle[item["id"]] = {"phase": "deleting", "since": time.monotonic()}
            self._body = None
        return _Response(200, b"", "text/plain; charset=utf-8")

    def _api_restart_instance(self, request):
        with self._lock:
            item = self._find_locked(request.params["instance_id"])
            if item is None:
                return _message(404, "Instance not found")
            if item.get("status") != "active":
                return _message(409, f"Only active instances can be restarted (this one is {item.get('status')})")
            item.update(status="pending", status_details="restarting")
            self._lifecycle[item["id"]] = {"phase": "pending", "since": time.monotonic()}
            self._body = None
        return _Response(200, b"", "text/plain; charset=utf-8")

    def _api_instance_types(self, request):
        with self._lock:
            types = filter_instance_types(self._instance_types, request.query)
            return _json_response(200, {"instance_types": types})

    def _advance_locked(self):
        """Move the instances of the lifecycle on by the time that passed (call with the lock held)."""
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
                    instances[:] = [i for i in instances if not (isinstance(i, dict) and i.get("id") == instance_id)]
                    self._details.pop(instance_id, None)
                    del self._lifecycle[instance_id]
                    break
                if state["phase"] == "creating" and self.launch_error:
                    item.update(status="error", status_details=self.launch_error)
                    del self._lifecycle[instance_id]
                    break
                if state["phase"] == "creating":
                    item.update(status="pending", status_details="downloading")
                    state["phase"] = "pending"
                    continue
                if not item.get("ip"):
                    user, address, port = self._launch_address_locked(instances)
                    item.update(ip=address, ssh_port=port)
                    if user:
                        item["ssh_user"] = user
                item.update(status="active", status_details="running")
                item["active_at"] = item.get("active_at") or _now()
                del self._lifecycle[instance_id]
                break

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
            return json.loads(json.dumps(self._ssh_keys))

    def _api_list_ssh_keys(self, request):
        with self._lock:
            return _json_response(200, {"ssh_keys": self._ssh_keys})

    def _api_add_ssh_key(self, request):
        data = request.json()
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
            raise SimulatorError("name is required (a non-empty string)")
        key = data.get("public_key")
        if not isinstance(key, str) or not re.match(r"^(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+ [A-Za-z0-9+/=]+( .*)?$", key.strip()):
            raise SimulatorError("public_key must be an OpenSSH public key")
        with self._lock:
            key_id = str(uuid.uuid4())
            self._ssh_keys.append({"id": key_id, "name": data["name"], "public_key": key.strip(), "is_default": not self._ssh_keys})
        return _json_response(200, {"id": key_id})

    def _ssh_key_locked(self, key_id):
        return next((key for key in self._ssh_keys if key["id"] == key_id), None)

    def _api_ssh_key_info(self, request):
        with self._lock:
            key = self._ssh_key_locked(request.params["key_id"])
            return _json_response(200, key) if key else _message(404, "SSH key not found")

    def _api_set_default_ssh_key(self, request):
        with self._lock:
            key = self._ssh_key_locked(request.params["key_id"])
            if key is None:
                return _message(404, "SSH key not found")
            for other in self._ssh_keys:
                other["is_default"] = other is key
        return _Response(200, b"", "text/plain; charset=utf-8")

    def _api_delete_ssh_key(self, request):
        with self._lock:
            key = self._ssh_key_locked(request.params["key_id"])
            if key is None:
                return _message(404, "SSH key not found")
            self._ssh_keys.remove(key)
        return _Response(200, b"", "text/plain; charset=utf-8")

    # -- control endpoints ------------------------------------------------------------------------------------------
    def _control(self, handler, method, path, query, body):
        try:
            loopback = ipaddress.ip_address(handler.client_address[0].split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return _message(403, "control endpoints are for loopback clients only")
        return self._route(CONTROL_ROUTES, method, path, query, body)

    def _ctl_get_requests(self, request):
        return _json_response(200, {"requests": self.requests})

    def _ctl_clear_requests(self, request):
        self.clear_requests()
        return _json_response(200, {"requests": []})

    def _ctl_get_instances(self, request):
        return _Response(200, self._fleet_body())

    def _ctl_put_instances(self, request):
        data = request.json()
        if isinstance(data, dict) and "generate" in data:
            count = data["generate"]
            if isinstance(count, bool) or not isinstance(count, int):
                raise SimulatorError("generate must be an integer")
            instances = generate_fleet(count, seed=data.get("seed", 0), ip_pool=data.get("ip_pool"))
        else:
            instances = _fleet_list(data, "the body")
        self.set_instances(instances)
        return _json_response(200, {"count": len(instances)})

    def _ctl_patch_instance(self, request):
        fields = request.json()
        if not isinstance(fields, dict):
            raise SimulatorError("expected a JSON object of fields")
        try:
            return _json_response(200, self.update_instance(request.params["instance_id"], **fields))
        except KeyError:
            return _message(404, f"no instance {request.params['instance_id']}")

    def _ctl_delete_instance(self, request):
        try:
            self.remove_instance(request.params["instance_id"])
        except KeyError:
            return _message(404, f"no instance {request.params['instance_id']}")
        return _json_response(200, {"removed": request.params["instance_id"]})

    def _ctl_get_faults(self, request):
        return _json_response(200, {"faults": self.faults})

    def _ctl_add_faults(self, request):
        data = request.json()
        if not isinstance(data, dict) or "kind" not in data:
            raise SimulatorError('expected {"kind": ..., "count": 1, ...}')
        params = dict(data)
        kind = params.pop("kind")
        count = params.pop("count", 1)
        self.inject(kind, count, **params)
        return _json_response(200, {"queued": count, "pending": len(self.faults)})

    def _ctl_clear_faults(self, request):
        self.clear_faults()
        return _json_response(200, {"faults": []})


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------

def _parse_args(argv):
    parser = argparse.ArgumentParser(prog="shadeform_simulator.py",
                                     description="A local simulator of the Shadeform API (loopback only).")
    parser.add_argument("--host", default=DEFAULT_HOST, help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 (default) picks a free one")
    parser.add_argument("--api-key", default=os.environ.get(API_KEY_ENV) or DEFAULT_API_KEY,
                        help=f"the API key clients must send (default: ${API_KEY_ENV} or {DEFAULT_API_KEY!r})")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--fleet", metavar="FILE", help='a JSON file: {"instances": [...]} or a list (default: the demo fleet)')
    source.add_argument("--generate", metavar="N", type=int, help="serve N generated instances")
    parser.add_argument("--seed", type=int, default=0, help="seed for --generate (default 0)")
    parser.add_argument("--ip-pool", action="append", default=[], metavar="ADDR[:PORT][,...]",
                        help="addresses (user@addr:port) given to the active instances, round robin, and to instances "
                             "created through the API when they become active; repeatable")
    parser.add_argument("--creating-delay", type=float, default=DEFAULT_CREATING_DELAY, metavar="SECONDS",
                        help=f"seconds a new instance stays creating (default {DEFAULT_CREATING_DELAY})")
    parser.add_argument("--pending-delay", type=float, default=DEFAULT_PENDING_DELAY, metavar="SECONDS",
                        help=f"seconds it then stays pending before active (default {DEFAULT_PENDING_DELAY})")
    parser.add_argument("--deleting-delay", type=float, default=DEFAULT_DELETING_DELAY, metavar="SECONDS",
                        help=f"seconds a deleted instance stays deleting before it is gone (default {DEFAULT_DELETING_DELAY})")
    parser.add_argument("--ready-file", metavar="PATH", help="write the API URL to PATH once listening")
    parser.add_argument("--dump", metavar="FILE", help="write the fleet as JSON to FILE ('-' for stdout) and exit")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request on stderr")
    return parser, parser.parse_args(argv)


def _write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temp, path)


def main(argv=None):
    parser, args = _parse_args(argv)
    try:
        check_loopback(args.host)
        if args.generate is not None:
            instances = generate_fleet(args.generate, seed=args.seed)
        else:
            instances = load_fleet(args.fleet or DEMO_FLEET_PATH)
        if args.ip_pool:
            apply_ip_pool(instances, ",".join(args.ip_pool))
    except (SimulatorError, OSError) as exc:
        parser.error(str(exc))
    if args.dump:
        text = json.dumps({"instances": instances}, indent=2) + "\n"
        if args.dump == "-":
            sys.stdout.write(text)
        else:
            _write_atomically(args.dump, text)
        return 0

    stop = threading.Event()

    def _on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    if args.ready_file and os.path.exists(args.ready_file):
        os.unlink(args.ready_file)
    try:
        simulator = Simulator(api_key=args.api_key, instances=instances, host=args.host, port=args.port, verbose=args.verbose,
                              ip_pool=",".join(args.ip_pool) or None, creating_delay=args.creating_delay,
                              pending_delay=args.pending_delay, deleting_delay=args.deleting_delay)
        simulator.start()
    except SimulatorError as exc:
        parser.error(str(exc))
    except OSError as exc:
        parser.error(f"cannot listen on {args.host}:{args.port}: {exc}")
    try:
        print(f"Shadeform API simulator listening on {simulator.url}", flush=True)
        if args.ready_file:
            _write_atomically(args.ready_file, simulator.url + "\n")
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
        if args.ready_file and os.path.exists(args.ready_file):
            os.unlink(args.ready_file)
    sys.stderr.write("Shadeform API simulator stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
