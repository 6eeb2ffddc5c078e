# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the shadeform inventory plugin against the floor of a static inventory script.

Run with the Python of the virtual environment whose ansible-core is measured, for example::

    /tmp/venvs/v219/bin/python benchmarks/run.py --sizes 100,1000,10000 --repeat 5

See benchmarks/README.md for what is measured and how.  Standard library and ansible-core only; all traffic
goes to the API simulator on 127.0.0.1.
"""

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
SIMULATOR = os.path.join(REPO_ROOT, "tests", "simulator", "shadeform_simulator.py")
sys.path.insert(0, os.path.join(REPO_ROOT, "tests"))
from collection_tree import collection_tree  # noqa: E402  pylint: disable=wrong-import-position
API_KEY = "benchmark-key"
SEED = 1

CONFIGS = {
    "default": "plugin: shadeform.cloud.shadeform\n",
    # The "typical configuration": two compose entries, three keyed_groups, one filters conditional.
    "typical": textwrap.dedent("""\
        plugin: shadeform.cloud.shadeform
        filters:
          - shadeform_status != 'deleting'
        compose:
          ansible_ssh_private_key_file: "'~/.ssh/shadeform'"
          gpu_total_vram_gb: (shadeform_num_gpus | default(0) | int) * (shadeform_vram_per_gpu_in_gb | default(0) | int)
        keyed_groups:
          - key: shadeform_labels.team | default('none')
            prefix: team
          - key: shadeform_gpu_type
            prefix: model
          - key: shadeform_cloud ~ '_' ~ shadeform_region
            prefix: site
        """),
    # Expressions that are not pure (format, map, regex_findall): every host evaluates them anew, so only the
    # compile-once shortcut helps; "impure_core" is the same file with every shortcut off (same output, asserted).
    "impure": textwrap.dedent("""\
        plugin: shadeform.cloud.shadeform
        filters:
          - shadeform_status != 'deleting'
        compose:
          gpu_summary: "'%s x %s' | format(shadeform_num_gpus | default(0), shadeform_gpu_type | default('none'))"
          tag_words: shadeform_tags | default([]) | map('lower') | list
          name_parts: shadeform_name | default('') | regex_findall('[a-z]+')
        keyed_groups:
          - key: shadeform_tags | default([]) | map('regex_replace', '[=:].*', '') | list
            prefix: tagkey
          - key: "'%s-%s' | format(shadeform_cloud, shadeform_region)"
            prefix: site
        """),
    # Default options with the inventory cache on; used for the cache-hit measurement.
    "cache": textwrap.dedent("""\
        plugin: shadeform.cloud.shadeform
        cache: true
        cache_plugin: ansible.builtin.jsonfile
        cache_connection: {cache_dir}
        cache_timeout: 86400
        """),
}
CONFIGS["impure_core"] = CONFIGS["impure"] + "constructed_fast_path: false\n"

# Targets from the issues (#12 tightened default and typical to 0.6 and added the impure case; #24 set the impure case
# to 1.2), as (wall ratio, peak memory ratio); None: not a target.
TARGETS = {
    ("default", "list"): (0.6, 1.1),
    ("default", "graph"): (0.6, 1.1),
    ("typical", "list"): (0.6, None),
    ("typical", "graph"): (0.6, None),
    ("impure", "list"): (1.2, None),
    ("impure", "graph"): (1.2, None),
    ("cache", "list"): (1.0, None),
}


# ---------------------------------------------------------------------------------------------------------------
# Set-up: collection path, simulator, configuration files, floor scripts
# ---------------------------------------------------------------------------------------------------------------

class Workspace:
    """A temp dir with ansible_collections/shadeform/cloud -> the working tree, configs and floor scripts."""

    def __init__(self, keep=False):
        self.root = tempfile.mkdtemp(prefix="shadeform-bench-")
        self.keep = keep
        self.collections = os.path.join(self.root, "collections")
        collection_tree(self.collections)
        self.cache_dir = os.path.join(self.root, "cache")
        self.home = os.path.join(self.root, "ansible-home")
        os.makedirs(self.home)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def config(self, name):
        path = self.path(name + ".shadeform.yml")
        if not os.path.exists(path):
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(CONFIGS[name].format(cache_dir=self.cache_dir))
        return path

    def floor_script(self, name, json_path):
        """An executable inventory script printing the saved --list JSON, and {} for --host."""
        path = self.path("floor_" + name + ".py")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("#!{0}\nimport sys\n\nif '--list' in sys.argv:\n"
                         "    with open({1!r}, 'rb') as handle:\n        sys.stdout.buffer.write(handle.read())\n"
                         "else:\n    sys.stdout.write('{{}}')\n".format(sys.executable, json_path))
        os.chmod(path, 0o755)
        return path

    def close(self):
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


class SimulatorProcess:
    """The simulator's CLI as a subprocess; the fleet is replaced through PUT /_sim/instances."""

    def __init__(self, workspace):
        ready = workspace.path("simulator.url")
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, SIMULATOR, "--host", "127.0.0.1", "--port", "0", "--api-key", API_KEY,
             "--generate", "0", "--seed", str(SEED), "--ready-file", ready],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not os.path.exists(ready):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit("the simulator did not start")
            time.sleep(0.05)
        with open(ready, encoding="utf-8") as handle:
            self.url = handle.read().strip()
        self.base_url = self.url[:-len("/v1")]

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=600) as response:  # 127.0.0.1 only
            return json.loads(response.read())

    def generate(self, count):
        self._call("PUT", "/_sim/instances", {"generate": count, "seed": SEED})

    def api_requests(self):
        return [entry for entry in self._call("GET", "/_sim/requests")["requests"] if entry["path"].startswith("/v1")]

    def clear_requests(self):
        self._call("DELETE", "/_sim/requests")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def environment(workspace, simulator):
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("ANSIBLE_") or name.startswith("SHADEFORM_"):
            del env[name]
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": workspace.collections,
        "ANSIBLE_HOME": workspace.home,
        "ANSIBLE_LOCAL_TEMP": workspace.path("tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
        "SHADEFORM_API_KEY": API_KEY,
        "SHADEFORM_API_URL": simulator.url,
        "PYTHONDONTWRITEBYTECODE": "",
        "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1",
    })
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    return env


# ---------------------------------------------------------------------------------------------------------------
# One measured run
# ---------------------------------------------------------------------------------------------------------------

def ansible_inventory():
    candidate = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
    return candidate if os.path.exists(candidate) else shutil.which("ansible-inventory")


def measure(source, mode, env, output_path):
    """Run ansible-inventory once; wall time (perf_counter), CPU time and peak RSS of that one child (wait4)."""
    command = [ansible_inventory(), "-i", source, "--" + mode]
    with open(output_path, "wb") as stdout, open(output_path + ".err", "wb") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)  # pylint: disable=consider-using-with
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        with open(output_path + ".err", encoding="utf-8", errors="replace") as handle:
            raise SystemExit("{0} failed ({1}):\n{2}".format(" ".join(command), process.returncode, handle.read()[-3000:]))
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": peak}


def inventory_shape(json_path):
    """Hosts, groups and group membership of an ansible-inventory --list output, and the output normalized."""
    with open(json_path, encoding="utf-8") as handle:
        data = json.load(handle)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    groups = {name: (sorted(body.get("hosts", [])), sorted(body.get("children", [])))
              for name, body in data.items() if name != "_meta"}
    return data, set(hostvars), groups


def assert_same_inventory(plugin_json, floor_json, what):
    plugin_data, plugin_hosts, plugin_groups = inventory_shape(plugin_json)
    floor_data, floor_hosts, floor_groups = inventory_shape(floor_json)
    if plugin_hosts != floor_hosts or plugin_groups != floor_groups:
        raise SystemExit("{0}: the floor does not give the plugin's hosts and groups ({1} vs {2} hosts, {3} vs {4} groups)".format(
            what, len(plugin_hosts), len(floor_hosts), len(plugin_groups), len(floor_groups)))
    if plugin_data != floor_data:
        raise SystemExit("{0}: the floor's --list output differs from the plugin's".format(what))
    return len(plugin_hosts), len(plugin_groups)


def assert_same_graph(plugin_graph, floor_graph, what):
    with open(plugin_graph, encoding="utf-8") as one, open(floor_graph, encoding="utf-8") as other:
        if one.read() != other.read():
            raise SystemExit("{0}: the floor's --graph output differs from the plugin's".format(what))


# ---------------------------------------------------------------------------------------------------------------
# In-process split of the plugin's own time, and the profile
# ---------------------------------------------------------------------------------------------------------------

def split_worker(args):
    """Runs in a child process: parse() once with timers around the plugin's stages; prints JSON."""
    # pylint: disable=import-outside-toplevel,too-many-locals
    sys.path.insert(0, args.collections)
    from ansible.plugins.loader import init_plugin_loader
    init_plugin_loader([args.collections])
    from ansible.inventory.data import InventoryData
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import inventory_loader
    from ansible_collections.shadeform.cloud.plugins.module_utils import api, api_transport
    from ansible_collections.shadeform.cloud.plugins.plugin_utils import hosts
    from ansible_collections.shadeform.cloud.plugins.inventory import shadeform as plugin_module

    totals = {}

    def timed(owner, attribute, stage):
        original = getattr(owner, attribute)

        def wrapper(*a, **kw):
            start = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                totals[stage] = totals.get(stage, 0.0) + time.perf_counter() - start
        setattr(owner, attribute, wrapper)

    inventory_class = plugin_module.InventoryModule
    timed(api.ShadeformClient, "list_instances", "http_total")
    timed(api.ShadeformClient, "list_clusters", "http_total")  # the second request of every run (clusters: true by default)
    timed(api_transport.json, "loads", "json_decode")  # the json module: covers only this process
    timed(plugin_module, "redact_secrets", "redact")
    timed(hosts, "assign_hostnames", "map_hostnames")
    timed(hosts, "matches", "map_filters")  # the plain filters, applied in hosts.inventory_hosts
    timed(hosts, "host_variables", "map_hostvars")
    timed(hosts, "default_groups", "map_groups")
    timed(plugin_module, "make_untrusted", "map_untrusted")
    timed(inventory_class, "_passes_conditionals", "filters_jinja")
    timed(inventory_class, "_add_hosts", "add_host_total")
    timed(inventory_class, "_set_composite_vars", "compose")
    timed(inventory_class, "_add_host_to_composed_groups", "groups")
    timed(inventory_class, "_add_host_to_keyed_groups", "keyed_groups")
    timed(inventory_class, "_hosts", "hosts_total")

    plugin = inventory_loader.get("shadeform.cloud.shadeform")
    plugin.display.warning = lambda *a, **kw: None
    inventory = InventoryData()
    loader = DataLoader()
    profiler = cProfile.Profile() if args.profile_out else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    plugin.parse(inventory, loader, args.config, cache=True)
    plugin.update_cache_if_changed()
    if profiler:
        profiler.disable()
    parse_total = time.perf_counter() - start
    start = time.perf_counter()
    inventory.reconcile_inventory()
    reconcile = time.perf_counter() - start
    if profiler:
        profiler.dump_stats(args.profile_out)

    t = dict.fromkeys(("http_total", "json_decode", "redact", "map_hostnames", "map_filters", "map_hostvars", "map_groups",
                       "map_untrusted", "filters_jinja", "add_host_total", "compose", "groups", "keyed_groups",
                       "hosts_total"), 0.0)
    t.update(totals)
    constructed = t["compose"] + t["groups"] + t["keyed_groups"]
    stages = {
        "HTTP (request + body transfer)": t["http_total"] - t["json_decode"],
        "JSON decoding": t["json_decode"],
        "secret redaction (deepcopy)": t["redact"],
        "mapping (hostnames, plain filters, host vars, default groups, unsafe marking)":
            t["map_hostnames"] + t["map_filters"] + t["map_hostvars"] + t["map_groups"] + t["map_untrusted"],
        "filters (Jinja conditionals)": t["filters_jinja"],
        # _add_hosts also evaluates the filters (after building each host's constructed view).
        "adding to the inventory (add_host, set_variable, add_group, add_child)": t["add_host_total"] - constructed - t["filters_jinja"],
        "constructed: compose": t["compose"],
        "constructed: groups + keyed_groups": t["groups"] + t["keyed_groups"],
    }
    stages["other (options, config, cache, glue)"] = parse_total - sum(stages.values())
    print(json.dumps({"parse": parse_total, "reconcile": reconcile, "stages": stages,
                      "hosts": len(inventory.hosts), "groups": len(inventory.groups)}))
    return 0


def run_split(workspace, env, config, profile_out=None):
    command = [sys.executable, os.path.abspath(__file__), "--_split-worker", "--_config", config,
               "--_collections", workspace.collections]
    if profile_out:
        command += ["--_profile-out", profile_out]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit("the in-process split failed:\n" + result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def profile_report(profile_path, limit):
    out = io.StringIO()
    stats = pstats.Stats(profile_path, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(limit)
    out.write("\n")
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------------------------

def median(values):
    return statistics.median(values) if values else float("nan")


def run_size(count, repeat, args, workspace, simulator, env):  # pylint: disable=too-many-locals,too-many-branches
    """All measurements at one fleet size; returns a list of result rows."""
    simulator.generate(count)
    out = workspace.path("out")
    os.makedirs(out, exist_ok=True)
    samples = {}  # (config, mode, side) -> list of measurements

    def record(config, mode, side, source, keep_as=None):
        target = keep_as or os.path.join(out, "scratch.txt")
        sample = measure(source, mode, env, target)
        samples.setdefault((config, mode, side), []).append(sample)
        # Every sample is also appended to results/samples.jsonl at once, so an interrupted run keeps its data.
        with open(os.path.join(args.results, "samples.jsonl"), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(dict(sample, n=count, config=config, mode=mode, side=side)) + "\n")

    # Reference outputs: the plugin's own --list is what the floor serves; both sides must agree before timing.
    floors = {}
    for config in args.configs:
        plugin_json = os.path.join(out, "{0}-{1}-plugin.json".format(count, config))
        record(config, "list", "plugin", workspace.config(config), keep_as=plugin_json)
        floors[config] = workspace.floor_script("{0}_{1}".format(count, config), plugin_json)
        floor_json = os.path.join(out, "{0}-{1}-floor.json".format(count, config))
        record(config, "list", "floor", floors[config], keep_as=floor_json)
        hosts, groups = assert_same_inventory(plugin_json, floor_json, "N={0} {1}".format(count, config))
        log("N={0} {1}: {2} hosts, {3} groups; floor --list identical".format(count, config, hosts, groups))
        if config == "impure_core" and "impure" in floors:
            # The shortcuts must not change anything: the same inventory with them on and off.
            assert_same_inventory(os.path.join(out, "{0}-impure-plugin.json".format(count)), plugin_json,
                                  "N={0} impure with and without constructed_fast_path".format(count))
        if "graph" in args.modes:
            plugin_graph = os.path.join(out, "{0}-{1}-plugin.graph".format(count, config))
            floor_graph = os.path.join(out, "{0}-{1}-floor.graph".format(count, config))
            record(config, "graph", "plugin", workspace.config(config), keep_as=plugin_graph)
            record(config, "graph", "floor", floors[config], keep_as=floor_graph)
            assert_same_graph(plugin_graph, floor_graph, "N={0} {1}".format(count, config))
    # These reference runs (plugin first) are the first measured round; the later rounds alternate the order.

    cache_ok = cache_requests = None
    if args.cache and "list" in args.modes:
        shutil.rmtree(workspace.cache_dir, ignore_errors=True)
        primed = os.path.join(out, "{0}-cache-prime.json".format(count))
        simulator.clear_requests()
        measure(workspace.config("cache"), "list", env, primed)  # fills the cache (GET /instances, then GET /clusters)
        primed_paths = [entry["path"] for entry in simulator.api_requests()]
        if primed_paths != ["/v1/instances", "/v1/clusters"]:
            raise SystemExit("N={0}: priming the cache made {1}, not one GET /v1/instances and one GET /v1/clusters".format(
                count, primed_paths))
        cache_requests = 0

    for round_number in range(repeat):
        # Alternate which side goes first, so that drift of the machine's load hits both alike.
        order = ("plugin", "floor") if round_number % 2 == 0 else ("floor", "plugin")
        for config in args.configs if round_number else ():
            for mode in args.modes:
                for side in order:
                    source = workspace.config(config) if side == "plugin" else floors[config]
                    record(config, mode, side, source)
        if cache_requests is not None:
            for side in order:
                if side == "plugin":
                    hit = os.path.join(out, "{0}-cache-hit.json".format(count))
                    simulator.clear_requests()
                    record("cache", "list", "plugin", workspace.config("cache"), keep_as=hit)
                    cache_requests += len(simulator.api_requests())
                else:
                    record("cache", "list", "floor", floors["default"])
        log("N={0}: round {1}/{2} done".format(count, round_number + 1, repeat))

    if cache_requests is not None:
        cache_ok = cache_requests == 0
        if not cache_ok:
            raise SystemExit("N={0}: the cache hits made {1} HTTP request(s) to the API".format(count, cache_requests))
        assert_same_inventory(os.path.join(out, "{0}-default-plugin.json".format(count)),
                              os.path.join(out, "{0}-cache-hit.json".format(count)), "N={0} cache hit".format(count))

    rows = []
    for config, mode in [(c, m) for c in args.configs for m in args.modes] + ([("cache", "list")] if cache_ok else []):
        plugin = samples[(config, mode, "plugin")]
        floor = samples[(config, mode, "floor")]
        rows.append({
            "n": count, "config": config, "mode": mode, "runs": len(plugin),
            "plugin_wall": median([s["wall"] for s in plugin]), "floor_wall": median([s["wall"] for s in floor]),
            "plugin_cpu": median([s["cpu"] for s in plugin]), "floor_cpu": median([s["cpu"] for s in floor]),
            "plugin_rss": median([s["rss"] for s in plugin]), "floor_rss": median([s["rss"] for s in floor]),
            "requests": 0 if config == "cache" and cache_ok else None,
            "samples": {"plugin": plugin, "floor": floor},
        })
    return rows


def log(message):
    sys.stderr.write("[{0}] {1}\n".format(time.strftime("%H:%M:%S"), message))
    sys.stderr.flush()


def ratio(one, other):
    return one / other if other else float("nan")


def verdict(value, target):
    if target is None:
        return ""
    return " ok" if value <= target else " **over**"


def render(rows, splits, meta, profile_text):  # pylint: disable=too-many-locals
    lines = ["# shadeform inventory benchmark", ""]
    lines.append("Generated by `{0}` on {1}.".format(meta["command"], meta["date"]))
    lines.append("")
    lines.append("- ansible-core {ansible}, Python {python}, {machine}, {cpus} CPU(s); load average at start {load_start}, "
                 "at end {load_end}.".format(**meta))
    lines.append("- Medians of {0} runs per cell and side, alternating plugin-first and floor-first rounds; "
                 "wall = `time.perf_counter()` around the `ansible-inventory` process, CPU = its user + system time, "
                 "peak = its own `ru_maxrss` (from `os.wait4`).".format(meta["repeat_text"]))
    lines.append("- Floor = the very same `--list` output, served by a static executable inventory script "
                 "(`ansible-inventory -i floor.py`); outputs asserted identical before timing. Ratios are plugin / floor; "
                 "targets apply at N = 10,000.")
    lines.append("- Wall time is noisy when the machine is shared (the load average above); the CPU-time ratio is the "
                 "steadier figure.")
    lines.append("")
    lines.append("| N | configuration | command | plugin wall s | floor wall s | wall ratio (target) | plugin CPU s | "
                 "floor CPU s | CPU ratio | plugin peak MiB | floor peak MiB | peak ratio (target) |")
    lines.append("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    names = {"default": "default options", "typical": "typical (2 compose, 3 keyed_groups, 1 filter)",
             "cache": "default, cache hit (0 HTTP requests)",
             "impure": "impure (format, map, regex_findall)", "impure_core": "impure, constructed_fast_path: false"}
    for row in rows:
        wall_target, rss_target = TARGETS.get((row["config"], row["mode"]), (None, None))
        wall_ratio = ratio(row["plugin_wall"], row["floor_wall"])
        rss_ratio = ratio(row["plugin_rss"], row["floor_rss"])
        at_target = row["n"] >= 10000
        lines.append("| {n:,} | {config} | --{mode} | {pw:.2f} | {fw:.2f} | {wr:.3f}{wt} | {pc:.2f} | {fc:.2f} | {cr:.3f} | "
                     "{pr:.0f} | {fr:.0f} | {rr:.3f}{rt} |".format(
                         n=row["n"], config=names[row["config"]], mode=row["mode"],
                         pw=row["plugin_wall"], fw=row["floor_wall"], wr=wall_ratio,
                         wt=(" (≤{0}){1}".format(wall_target, verdict(wall_ratio, wall_target)) if wall_target and at_target else ""),
                         pc=row["plugin_cpu"], fc=row["floor_cpu"], cr=ratio(row["plugin_cpu"], row["floor_cpu"]),
                         pr=row["plugin_rss"] / 2 ** 20, fr=row["floor_rss"] / 2 ** 20, rr=rss_ratio,
                         rt=(" (≤{0}){1}".format(rss_target, verdict(rss_ratio, rss_target)) if rss_target and at_target else "")))
    lines.append("")

    # Linearity: marginal CPU cost per host between consecutive sizes.
    sizes = sorted({row["n"] for row in rows})
    if len(sizes) > 1:
        lines.append("Cost per host (marginal CPU time between consecutive sizes, ms/host; constant = linear in N):")
        lines.append("")
        header = "| configuration | command | side | " + " | ".join("{0:,}→{1:,}".format(a, b) for a, b in zip(sizes, sizes[1:])) + " |"
        lines.append(header)
        lines.append("|---|---|---|" + "---:|" * (len(sizes) - 1))
        for config, mode in dict.fromkeys((row["config"], row["mode"]) for row in rows):
            by_n = {row["n"]: row for row in rows if row["config"] == config and row["mode"] == mode}
            for side in ("plugin", "floor"):
                cells = []
                for a, b in zip(sizes, sizes[1:]):
                    if a in by_n and b in by_n:
                        cells.append("{0:.3f}".format(1000 * (by_n[b][side + "_cpu"] - by_n[a][side + "_cpu"]) / (b - a)))
                    else:
                        cells.append("")
                lines.append("| {0} | --{1} | {2} | {3} |".format(config, mode, side, " | ".join(cells)))
        lines.append("")

    if splits:
        lines.append("Split of the plugin's own time (in-process `parse()`, one run, timers around the plugin's stages; "
                     "seconds and share of `parse()`):")
        lines.append("")
        keys = list(next(iter(splits.values()))["stages"])
        columns = list(splits)
        lines.append("| stage | " + " | ".join(columns) + " |")
        lines.append("|---|" + "---:|" * len(columns))
        for key in keys:
            cells = []
            for column in columns:
                split = splits[column]
                cells.append("{0:.3f} ({1:.0%})".format(split["stages"][key], ratio(split["stages"][key], split["parse"])))
            lines.append("| {0} | {1} |".format(key, " | ".join(cells)))
        lines.append("| **parse() total** | " + " | ".join("**{0:.3f}**".format(splits[c]["parse"]) for c in columns) + " |")
        lines.append("| (ansible-core's reconcile_inventory, for scale) | " +
                     " | ".join("{0:.3f}".format(splits[c]["reconcile"]) for c in columns) + " |")
        lines.append("")
    if profile_text:
        lines.append("cProfile of `parse()`, {0} (top entries):".format(meta["profile_what"]))
        lines.append("")
        lines.append("```")
        lines.append(profile_text.rstrip())
        lines.append("```")
        lines.append("")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000", help="fleet sizes, comma-separated (default 100,1000,10000)")
    parser.add_argument("--repeat", type=int, default=5, help="measured runs per cell and side (default 5)")
    parser.add_argument("--repeat-for", action="append", default=[], metavar="N=R",
                        help="a different --repeat for one size, e.g. 10000=3 (repeatable)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 instances, --list only, one round, no profile (< 2 minutes on an idle machine)")
    parser.add_argument("--modes", default="list,graph", help="ansible-inventory commands (default list,graph)")
    parser.add_argument("--configs", default="default,typical,impure",
                        help="configurations (default default,typical,impure; also impure_core, the impure file with "
                             "constructed_fast_path: false, whose output is asserted identical to impure's)")
    parser.add_argument("--no-cache", dest="cache", action="store_false", help="skip the cache-hit measurement")
    parser.add_argument("--no-split", dest="split", action="store_false", help="skip the in-process split")
    parser.add_argument("--profile", type=int, default=None, metavar="N",
                        help="cProfile parse() at N instances, typical configuration (default: the largest size; 0: off)")
    parser.add_argument("--profile-lines", type=int, default=30, help="entries of the profile to report (default 30)")
    parser.add_argument("--results", default=os.path.join(BENCH_DIR, "results"), help="directory for latest.md/json")
    parser.add_argument("--no-commit-copy", dest="commit_copy", action="store_false",
                        help="do not also write benchmarks/RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the temp workspace (outputs, floor scripts)")
    parser.add_argument("--_split-worker", dest="split_worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_config", dest="config", help=argparse.SUPPRESS)
    parser.add_argument("--_collections", dest="collections", help=argparse.SUPPRESS)
    parser.add_argument("--_profile-out", dest="profile_out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeat, args.profile, args.modes = "50", 1, 0, "list"
    args.sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size]
    args.modes = [mode for mode in args.modes.split(",") if mode]
    args.configs = [config for config in args.configs.split(",") if config]
    if "default" not in args.configs and args.cache:
        args.configs.insert(0, "default")  # the cache hit is compared with the default floor
    args.repeat_by_size = dict((int(k), int(v)) for k, v in (item.split("=") for item in args.repeat_for))
    if args.profile is None:
        args.profile = max(args.sizes)
    return args


def main(argv=None):  # pylint: disable=too-many-locals
    args = parse_args(argv)
    if args.split_worker:
        return split_worker(args)
    if not ansible_inventory():
        raise SystemExit("ansible-inventory not found next to {0}".format(sys.executable))
    import ansible  # pylint: disable=import-outside-toplevel
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    meta = {
        "command": "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": started, "ansible": ansible.__version__, "python": platform.python_version(),
        "machine": platform.platform(terse=True), "cpus": os.cpu_count(),
        "load_start": "{0:.1f}".format(os.getloadavg()[0]),
        "repeat_text": ", ".join("{1} at N={0:,}".format(n, args.repeat_by_size.get(n, args.repeat)) for n in args.sizes),
    }
    os.makedirs(args.results, exist_ok=True)
    if os.path.exists(os.path.join(args.results, "samples.jsonl")):
        os.unlink(os.path.join(args.results, "samples.jsonl"))
    workspace = Workspace(keep=args.keep)
    simulator = SimulatorProcess(workspace)
    rows, splits, profile_text = [], {}, ""
    try:
        env = environment(workspace, simulator)
        for count in args.sizes:
            log("N={0}: measuring".format(count))
            rows.extend(run_size(count, args.repeat_by_size.get(count, args.repeat), args, workspace, simulator, env))
            if args.split:
                for config in args.configs:
                    split = run_split(workspace, env, workspace.config(config))
                    splits["N={0:,} {1}".format(count, config)] = split
        if args.profile:
            simulator.generate(args.profile)
            os.makedirs(args.results, exist_ok=True)
            profile_path = os.path.join(args.results, "profile-{0}-typical.prof".format(args.profile))
            log("profiling parse() at N={0}, typical configuration".format(args.profile))
            run_split(workspace, env, workspace.config("typical"), profile_out=profile_path)
            profile_text = profile_report(profile_path, args.profile_lines)
            meta["profile_what"] = "N = {0:,}, typical configuration, ansible-core {1} (saved as {2})".format(
                args.profile, ansible.__version__, os.path.relpath(profile_path, REPO_ROOT))
    finally:
        simulator.stop()
        workspace.close()
    meta["load_end"] = "{0:.1f}".format(os.getloadavg()[0])
    report = render(rows, splits, meta, profile_text)
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "latest.md"), "w", encoding="utf-8") as handle:
        handle.write(report + "\n")
    with open(os.path.join(args.results, "latest.json"), "w", encoding="utf-8") as handle:
        json.dump({"meta": meta, "rows": rows, "splits": splits}, handle, indent=1)
    if args.commit_copy and not args.quick:
        with open(os.path.join(BENCH_DIR, "RESULTS.md"), "w", encoding="utf-8") as handle:
            handle.write(report + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
