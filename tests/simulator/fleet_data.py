# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The simulator's data: fleets (read from files or generated), the instance type catalogue and the ip pool.

Pure functions of their arguments (and a seed); nothing here knows about HTTP.

Generated fleets (:func:`generate_fleet`) are deterministic per seed and look like real ones: many clouds and
regions (the same region name on several clouds), GPU types, every status, pending instances without an
address, repeated names, ``key=value`` and plain tags, rental terms as the published document has them (no
``hourly_price`` for a commitment; a reclaimed spot instance ``deleting`` with ``status_details: preempted``),
docker launch configurations whose env values, registry password and startup scripts hold fake secrets containing
``SECRET_MARKER``, so that tests can check that no secret leaks.  Addresses come from the documentation ranges
unless ``ip_pool`` is given.

The catalogue (:func:`generate_instance_types`) lists one availability entry per region and rental type: types
that offer spot list a region twice (``rental_type`` ``on_demand`` and ``spot``, the spot entry with its own
``hourly_price`` in dollars), and the two entries can differ in ``available``, as on the real service.  Each entry's
``display_name`` reads as the real ones do (``US, Wichita, KS``; :data:`REGION_DISPLAY_NAMES`).
The cluster catalogue (:func:`generate_cluster_types`) is made from it: whole clusters of 8-GPU machines.

A fleet file is ``{"instances": [...]}`` or a bare list; the object form may also carry ``"variants"`` (see
``api_endpoints.VARIANTS``) to pick how the simulated service answers where the real one is undocumented.
"""

import base64
import json
import random
import time
import urllib.parse

SECRET_MARKER = "SIMULATED-SECRET"
STATUSES = ("creating", "pending_provider", "pending", "active", "error", "deleting")
PENDING_STATUSES = ("creating", "pending_provider", "pending")
DOCUMENTATION_NETWORKS = ("192.0.2.", "198.51.100.", "203.0.113.")
INSTANCE_TYPES_SEED = 7


class SimulatorError(ValueError):
    """A request to the simulator that cannot be honoured (bad fleet, bad fault, bad address)."""


def load_fleet(path):
    """Read a fleet file: ``{"instances": [...]}`` or a bare list of instances."""
    return load_fleet_file(path)[0]


def load_fleet_file(path):
    """Read a fleet file; return (instances, variants), variants {} unless the file names some."""
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except ValueError as exc:
            raise SimulatorError(f"{path}: not JSON: {exc}") from exc
    variants = data.get("variants") if isinstance(data, dict) else None
    if variants is not None and not isinstance(variants, dict):
        raise SimulatorError(f"{path}: variants must be an object")
    return fleet_list(data, path), variants or {}


def fleet_list(data, origin):
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
    "error": ("provider_error", "out_of_capacity", "launch_failed"),  # a reclaimed spot instance is deleting, not error
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
        if rental_type == "commitment":  # the published document: no hourly_price in a commitment's terms
            instance["rental_terms"] = {"rental_type": rental_type, "ending_at": _timestamp(_BASE_TIME + 90 * 86400, 0)}
        else:
            instance["rental_terms"] = {"rental_type": rental_type, "hourly_price": f"{hourly_price / 100:.2f}", "ending_at": None}
        if rental_type == "spot" and status == "deleting":
            instance["status_details"] = "preempted"  # a spot reclaim, as the API shows it (and Simulator.preempt plays it)
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

    Types of 1 or 2 GPUs on the clouds where Shadeform's own account dominates also offer spot, region by region.

    Deterministic per seed.  Prices are in cents per hour, as in the API; each cloud adds its own margin, so the
    same GPU costs differently on different clouds.
    """
    rng = random.Random(seed)
    types = []
    for cloud, regions, _users, _ports, share, gpu_names in _CLOUDS:
        margin = _between(rng, 0, 30)
        spot_cloud = share >= 0.9  # spot is offered on some of Shadeform's own accounts
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
                    "availability": _availability(rng, regions, (cents + margin) * num_gpus, spot=spot_cloud and num_gpus <= 2),
                    "boot_time": {"min_boot_in_sec": low, "max_boot_in_sec": low * 2},
                })
    return types


# What the catalogue shows of each of its regions, as the API does ("US, Wichita, KS"): country, city, state or province.
REGION_DISPLAY_NAMES = {
    "canada-1": "Canada, Montreal, QC",
    "norway-1": "Norway, Oslo",
    "us-1": "US, Wichita, KS",
    "us-east-1": "US, Ashburn, VA",
    "us-west-1": "US, San Jose, CA",
    "us-central-1": "US, Kansas City, MO",
    "europe-central-1": "Germany, Frankfurt",
    "FIN-01": "Finland, Helsinki",
    "FIN-02": "Finland, Helsinki",
    "ICE-01": "Iceland, Keflavik",
    "us-east-2": "US, Columbus, OH",
    "ny2": "US, New York, NY",
    "ca1": "US, Santa Clara, CA",
    "ams1": "Netherlands, Amsterdam",
    "us-west-2": "US, Portland, OR",
    "eu-central-1": "Germany, Frankfurt",
    "eastus": "US, Boydton, VA",
    "westeurope": "Netherlands, Amsterdam",
    "southcentralus": "US, San Antonio, TX",
    "ewr": "US, Newark, NJ",
    "lax": "US, Los Angeles, CA",
    "ams": "Netherlands, Amsterdam",
    "fr-par-2": "France, Paris",
    "nl-ams-1": "Netherlands, Amsterdam",
    "pl-waw-2": "Poland, Warsaw",
    "us-southcentral-1": "US, Abilene, TX",
    "eu-iceland-1": "Iceland, Reykjavik",
    "eu-ro-1": "Romania, Bucharest",
    "ca-mtl-1": "Canada, Montreal, QC",
}
# For a region not in the table: the country its name starts with, if any, before the name itself.
_REGION_COUNTRIES = {"us": "US", "ca": "Canada", "canada": "Canada", "eu": "Europe", "europe": "Europe", "fin": "Finland",
                     "fr": "France", "nl": "Netherlands", "de": "Germany", "uk": "UK", "no": "Norway", "pl": "Poland"}


def region_display_name(region):
    """The ``display_name`` of an availability entry for ``region``: the table's, else ``<country>, <region>`` when the
    name starts with a country's code, else the region name itself."""
    if region in REGION_DISPLAY_NAMES:
        return REGION_DISPLAY_NAMES[region]
    country = _REGION_COUNTRIES.get(region.split("-")[0].lower())
    return f"{country}, {region}" if country else region


def _availability(rng, regions, cents, spot):
    """One on-demand entry per region, and a spot entry (cheaper, its own availability) when the type offers spot."""
    entries = []
    for region in regions:
        display_name = region_display_name(region)
        entries.append({"region": region, "available": rng.random() < 0.6, "display_name": display_name, "rental_type": "on_demand"})
        if spot:
            entries.append({"region": region, "available": rng.random() < 0.5, "display_name": display_name, "rental_type": "spot",
                            "hourly_price": f"{cents * _pick(rng, (0.4, 0.5, 0.6)) / 100:.2f}"})
    return entries


def parse_query(query):
    """The query string as {name: last value}."""
    return {name: values[-1] for name, values in urllib.parse.parse_qs(query, keep_blank_values=True).items()}


def _query_bool(params, name):
    value = params[name].strip().lower()
    if value not in ("true", "false"):
        raise SimulatorError(f"{name} must be true or false")
    return value == "true"


def filter_instance_types(types, query=""):
    """The catalogue as ``GET /instances/types?<query>`` answers it (raises SimulatorError on bad filters)."""
    params = parse_query(query)
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
        slots = item.get("availability") or []
        if params.get("region") and not any(slot.get("region") == params["region"] for slot in slots):
            continue
        if available is not None:
            # As on the real service, ``available`` filters the individual entries, not the types.
            slots = [slot for slot in slots if slot.get("available") == available]
            if not slots:
                continue
            item = dict(item, availability=slots)
        selected.append(item)
    sort = params.get("sort")
    if sort == "price":
        selected.sort(key=lambda item: item.get("hourly_price", 0))
    elif sort:
        raise SimulatorError(f"unknown sort {sort!r}; known: price")
    return selected


# GPUs Shadeform rents as whole clusters of 8-GPU machines (the published example: H100_sxm5x8), and the sizes offered.
CLUSTER_GPUS = ("H100", "H200", "B200", "A100_80G")
CLUSTER_SIZES = (2, 4)
# How many of a type's on-demand regions offer it as a cluster: clusters are sold where the provider has a fabric.
CLUSTER_REGIONS = 2


def generate_cluster_types(instance_types):
    """The catalogue of ``GET /clusters/types``, from the instance type catalogue: every 8-GPU type of a cluster GPU, in
    the first ``CLUSTER_REGIONS`` regions where its cloud offers it on demand, as clusters of each of ``CLUSTER_SIZES``.

    Unlike an instance type's, a cluster type's ``availability`` is one object (one region, no rental type), and its
    ``cluster_type`` is the members' instance type without an availability list (as in the published example).  A
    cluster is available where its members' type is, the larger sizes only in the type's first region.  Deterministic:
    the same instance catalogue gives the same cluster catalogue.
    """
    cluster_types = []
    for item in instance_types:
        configuration = item.get("configuration") or {}
        if configuration.get("num_gpus") != 8 or configuration.get("gpu_type") not in CLUSTER_GPUS:
            continue
        member_type = {field: value for field, value in item.items() if field != "availability"}
        regions = [entry for entry in item.get("availability") or [] if entry.get("rental_type", "on_demand") == "on_demand"]
        for position, entry in enumerate(regions[:CLUSTER_REGIONS]):
            for size in CLUSTER_SIZES:
                cluster_types.append({
                    "cloud": item["cloud"],
                    "num_instances": size,
                    "availability": {"region": entry["region"], "display_name": region_display_name(entry["region"]),
                                     "available": bool(entry.get("available")) and (size == CLUSTER_SIZES[0] or position == 0)},
                    "cluster_type": json.loads(json.dumps(member_type)),
                })
    return cluster_types
