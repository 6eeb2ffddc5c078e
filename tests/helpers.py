# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small helpers shared by the test modules (tests/ is on sys.path through tests/conftest.py)."""

import base64
import binascii
import contextlib
import copy
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import textwrap
import urllib.request

from unittest import mock
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import yaml

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
FIXTURES_DIR = os.path.join(TESTS_DIR, "fixtures")
# The key the simulator fixture accepts.
API_KEY = "sim-test-key-0123456789"


def load_fixture(name):
    with open(os.path.join(FIXTURES_DIR, name), encoding="utf-8") as handle:
        return json.load(handle)


def cli_path(name):
    """An ansible-* command of the Python environment running the tests."""
    # The in-process nox sessions run on every ansible-core; tests that start commands run on three of them.
    if os.environ.get("SHADEFORM_TESTS_IN_PROCESS_ONLY"):
        raise AssertionError(f"this test starts {name}: mark it @pytest.mark.functional (or e2e when it needs sshd)")
    return os.path.join(os.path.dirname(sys.executable), name)


# Unsets every proxy variable when merged into a CLI's environment: no proxy may stand between a CLI and 127.0.0.1.
NO_PROXY_ENV = {name: None for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")}


# A source that cannot be parsed fails the command, as CI and AWX users are told to set.
FAIL_ENV = dict(NO_PROXY_ENV, ANSIBLE_INVENTORY_UNPARSED_FAILED="true")


def one_line(text):
    """ansible-core < 2.19 wraps warnings at 79 columns; compare messages with whitespace collapsed."""
    return re.sub(r"\s+", " ", text)


def assert_clean_failure(result, *phrases, secrets=()):
    """Non-zero exit, no traceback, every phrase in the message, no secret anywhere in the output."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, result.stderr
    message = one_line(result.stderr)
    for phrase in phrases:
        assert phrase in message, result.stderr
    for secret in (API_KEY,) + tuple(secrets):
        assert secret not in output, "secret {0!r} leaked:\n{1}".format(secret, output)
    return message


def free_port(address="127.0.0.1"):
    """A TCP port on ``address`` that nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def cache_options(tmp_path):
    """Inventory file options for a jsonfile cache in ``<tmp_path>/cache``."""
    return "cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: {0}\ncache_timeout: 300\n".format(tmp_path / "cache")


# Where a forged inventory cache entry sends a host (documentation range): seen in a host's variables, the entry was read.
FORGED_ADDRESS = "203.0.113.66"


def forge_cache_entry(entry):
    """Rewrite an inventory cache entry (a jsonfile file) as someone else could: its first instance at FORGED_ADDRESS, as root."""
    outer = json.loads(entry.read_text())
    # ansible-core 2.19+ wraps the entry's JSON in a "__payload__" string.
    data = json.loads(outer["__payload__"]) if "__payload__" in outer else outer
    data["instances"][0].update(ip=FORGED_ADDRESS, ssh_user="root")
    if "__payload__" in outer:
        outer["__payload__"] = json.dumps(data)
    entry.write_text(json.dumps(outer))


class InventoryApi:
    """What the inventory plugin's two API calls answer in an in-process parse(): ``instances`` (GET /instances) and
    ``clusters`` (GET /clusters), each a list (a copy is answered at each call), a function giving one, or an exception
    to raise; a test may change them between runs. ``list_instances`` and ``list_clusters`` are the mocks, to count
    the calls."""

    def __init__(self, instances, clusters):
        self.instances = instances
        self.clusters = clusters
        self.list_instances = self.list_clusters = None

    @staticmethod
    def answer(given):
        """One call's answer from ``instances`` or ``clusters``."""
        if isinstance(given, BaseException):
            raise given
        return given() if callable(given) else copy.deepcopy(list(given))


@contextlib.contextmanager
def inventory_api(instances=(), clusters=()):
    """Within the block, ShadeformClient.list_instances and .list_clusters answer as an InventoryApi(instances,
    clusters) says, which the block gets: the plugin's only seams, both patched, so that an in-process inventory test
    never opens a connection (the plugin reads GET /clusters by default, and the default api_url is the real API)."""
    # Imported here: the simulator's own tests import this module without ansible-core.
    from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient  # pylint: disable=import-outside-toplevel

    api = InventoryApi(instances, clusters)
    with mock.patch.object(ShadeformClient, "list_instances", autospec=True,
                           side_effect=lambda client: api.answer(api.instances)) as list_instances, \
            mock.patch.object(ShadeformClient, "list_clusters", autospec=True,
                              side_effect=lambda client: api.answer(api.clusters)) as list_clusters:
        api.list_instances, api.list_clusters = list_instances, list_clusters
        yield api


# The requests of one inventory run that fetches: GET /instances, then GET /clusters (the clusters option is on by default).
INVENTORY_FETCH = ["/v1/instances", "/v1/clusters"]


def request_paths(server):
    """The paths of the requests a server (the simulator, a hostile server) has logged, in order."""
    return [request["path"] for request in server.requests]


def requests_for(server, path="/v1/instances"):
    """The logged requests for ``path`` only: the instance listings unless told, whatever else a run asked for."""
    return [request for request in server.requests if request["path"] == path]


def cli_env(env=None):
    """The environment for a CLI run: the simulator's key, no colours; ``None`` values unset a variable."""
    result = dict(os.environ, SHADEFORM_API_KEY=API_KEY, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    for name, value in (env or {}).items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def ansible_inventory(path, *args, env=None, timeout=120):
    return subprocess.run([cli_path("ansible-inventory"), "-i", str(path)] + list(args), env=cli_env(env),
                          capture_output=True, text=True, timeout=timeout, check=False)


def write_inventory(directory, simulator, extra="", name="shadeform.yml"):
    """An inventory file for the simulator; ``extra`` is more YAML for the file."""
    path = os.path.join(str(directory), name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("plugin: shadeform.cloud.shadeform\napi_url: {0}\n".format(simulator.url) + textwrap.dedent(extra))
    return path


def _plain(value):
    # ansible-core 2.19+ marks untrusted strings this way in ansible-inventory's JSON output.
    if isinstance(value, dict) and list(value) == ["__ansible_unsafe"]:
        return value["__ansible_unsafe"]
    return value


def inventory_list(stdout):
    """ansible-inventory's JSON output as plain data on every ansible-core version."""
    return json.loads(stdout, object_hook=_plain)


def run_checked(command, env, cwd, timeout=300):
    """Run a command of the test environment (``command[0]`` is looked up next to pytest's Python) and fail
    the test, with the command's output, unless it exits 0."""
    command = [cli_path(command[0])] + list(command[1:])
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{command} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def galaxy_metadata():
    """galaxy.yml of the working tree."""
    with open(os.path.join(REPO_ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def encoded_forms(text):
    """``text`` in every form the key mask knows, each whole: raw, repr/ascii/JSON escapes, URL-encoded (quote and quote_plus,
    ``/`` safe or not, upper- and lower-case ``%xx``), base64 (standard and URL-safe, padded or not) and hex (both cases).
    What a hostile server echoes, and what the mask's property test embeds."""
    forms = [text, repr(text)[1:-1], ascii(text)[1:-1], json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]]
    for encode in (quote, quote_plus):
        for safe in ("", "/"):
            encoded = encode(text, safe=safe)
            forms.extend([encoded, re.sub(r"%[0-9A-F]{2}", lambda match: match.group().lower(), encoded)])
    data = text.encode("utf-8", "surrogatepass")
    for encoder in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encoder(data).decode("ascii")
        forms.extend([encoded, encoded.rstrip("=")])
    forms.extend([data.hex(), data.hex().upper()])
    return forms


def _key_windows(key):
    """Every piece of the key that must not survive: all of 8 characters (all of a shorter key)."""
    length = min(8, len(key))
    return {key[start:start + length] for start in range(len(key) - length + 1)}


def _escaped(piece):
    """The piece as repr(), ascii() and JSON write it, whichever quote repr() chose for the text around it."""
    both_quotes = "'\""
    return [piece, repr(piece)[1:-1], repr(piece + both_quotes)[1:-4], ascii(piece)[1:-1], ascii(piece + both_quotes)[1:-4],
            json.dumps(piece)[1:-1], json.dumps(piece, ensure_ascii=False)[1:-1]]


def _decoded_bytes(text):
    """Everything base64 (either alphabet, from each of the 4 starts) and hex (both starts) in ``text`` decodes to."""
    found = []
    for alphabet, altchars in ((r"[A-Za-z0-9+/]+", None), (r"[A-Za-z0-9_-]+", b"-_")):
        for run in re.findall(alphabet, text):
            for offset in range(4):
                chunk = run[offset:]
                rest = len(chunk) % 4
                chunk = chunk[:-1] if rest == 1 else chunk + "=" * ((4 - rest) % 4)
                try:
                    found.append(base64.b64decode(chunk, altchars=altchars))
                except binascii.Error:
                    pass
    for run in re.findall(r"[0-9a-fA-F]+", text):
        for offset in (0, 1):
            digits = run[offset:]
            found.append(bytes.fromhex(digits[:len(digits) // 2 * 2]))
    return found


def key_leaks(key, text):
    """The pieces of ``key`` (8 characters in a row, or all of a shorter key) that ``text`` still shows, and how: raw or
    escaped, once URL-decoded, or in what any base64 or hex in it decodes to. Empty when the key never shows."""
    found = []
    decoded_text = (unquote(text), unquote_plus(text))
    binary = _decoded_bytes(text)
    for piece in _key_windows(key):
        found.extend(("escaped", piece) for form in _escaped(piece) if form in text)
        found.extend(("url", piece) for decoded in decoded_text if piece in decoded)
        found.extend(("bytes", piece) for data in binary if piece.encode("utf-8", "surrogatepass") in data)
    return found


# --- A GPU host: a stand-in nvidia-smi (gpu_facts's unit tests, the end-to-end training cluster) -------------

NVIDIA_SMI_FIXTURES = os.path.join(FIXTURES_DIR, "nvidia-smi")
# The query the fixtures answer (their columns, in this order); the stand-in refuses any other.
QUERY_ARGS = ["--query-gpu=index,name,uuid,memory.total,memory.used,driver_version,temperature.gpu,utilization.gpu,"
              "ecc.errors.uncorrected.volatile.total,mig.mode.current", "--format=csv,noheader,nounits"]

STAND_IN = """#!/bin/sh
printf '%s\\n' "$*" >> {log}
if [ "$#" -eq 0 ]; then
    {plain}
fi
if [ "$#" -eq 2 ] && [ "$1" = {query} ] && [ "$2" = {format} ]; then
    {answer}
fi
echo 'Field "unexpected" is not a valid field to query.'
exit 2
"""


def nvidia_smi_fixture(name):
    """The path of a replayed nvidia-smi output (tests/fixtures/nvidia-smi/, SOURCES.md says where each comes from)."""
    return os.path.join(NVIDIA_SMI_FIXTURES, name)


class StandIn:
    """A stand-in nvidia-smi written into ``directory`` (to be put first on PATH): its path and the calls it got.

    It answers the query form with the fixture ``<shape>.csv`` and plain ``nvidia-smi`` with ``<shape>.txt`` (the header
    with the CUDA version), logs every call, and refuses any other arguments as the real one refuses an unknown field;
    without a shape it fails as nvidia-smi does without a driver (exit ``exit_status``).
    """

    def __init__(self, directory, shape=None, exit_status=0):
        self.path = os.path.join(str(directory), "nvidia-smi")
        self.log = os.path.join(str(directory), "calls.log")
        if shape:
            plain = "cat %s; exit 0" % shlex.quote(nvidia_smi_fixture(shape + ".txt"))
            answer = "cat %s; exit 0" % shlex.quote(nvidia_smi_fixture(shape + ".csv"))
        else:  # no driver: every call fails as nvidia-smi does then
            plain = answer = "cat %s; exit %d" % (shlex.quote(nvidia_smi_fixture("no-driver.txt")), exit_status)
        with open(self.path, "w", encoding="utf-8") as handle:
            handle.write(STAND_IN.format(log=shlex.quote(self.log), plain=plain, answer=answer,
                                         query=shlex.quote(QUERY_ARGS[0]), format=shlex.quote(QUERY_ARGS[1])))
        os.chmod(self.path, 0o755)

    def calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as handle:
            return handle.read().splitlines()


# --- The integration targets (tests/integration/targets): what each may launch, and the cost guard's check ------------

INTEGRATION_DIR = os.path.join(TESTS_DIR, "integration")


def declared_launches():
    """What each integration target says it launches (``shadeform_launches`` of setup_shadeform/vars/main.yml)."""
    with open(os.path.join(INTEGRATION_DIR, "targets", "setup_shadeform", "vars", "main.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["shadeform_launches"]


def _launching_target(name, prefix, targets):
    """The target that made something named ``<prefix>-<target>[-...]`` (a fleet names its members ``<fleet>-<n>``)."""
    rest = name[len(prefix) + 1:] if isinstance(name, str) and name.startswith(prefix + "-") else None
    if rest is None:
        return None
    return max((target for target in targets if rest == target or rest.startswith(target + "-")), key=len, default=None)


def launches_by_target(requests, prefix):
    """What each target created in a run of the integration targets, from a request log: {(target, kind): count}, kind
    ``instances``, ``volumes`` or ``clusters`` (the path of the create); a create whose name is not ``<prefix>-<target>...``
    of a declared target counts under target None."""
    declared = declared_launches()
    counts = {}
    for request in requests:
        if request["method"] == "POST" and request["path"].endswith("/create"):
            key = (_launching_target((request.get("body") or {}).get("name"), prefix, declared), request["path"].split("/")[-2])
            counts[key] = counts.get(key, 0) + 1
    return counts


def launch_problems(requests, prefix, real_api=False):
    """What breaks the integration targets' cost guard in the request log of a run (the simulator's ``requests``): an
    instance launch (``POST /v1/instances/create``) without an ``auto_delete`` that has both a date and a spend threshold,
    anything created under a name that is not ``<prefix>-<target>...`` of a target, a target that launched more instances
    or volumes than it declares (``declared_launches``), and with ``real_api`` any cluster (its create takes no
    auto_delete). Empty when the run kept the guard."""
    declared = declared_launches()
    problems = []
    for request in requests:
        body = request.get("body") or {}
        if request["method"] == "POST" and request["path"] == "/v1/instances/create":
            thresholds = body.get("auto_delete") or {}
            if not (thresholds.get("date_threshold") and thresholds.get("spend_threshold")):
                problems.append(f"launch of {body.get('name')!r} without auto_delete (a date and a spend threshold): "
                                f"{thresholds!r}")
    for (target, kind), count in sorted(launches_by_target(requests, prefix).items(), key=str):
        if target is None:
            problems.append(f"{count} {kind} created under a name that is not {prefix}-<target>")
        elif kind == "clusters" and real_api:
            problems.append(f"target {target} created {count} clusters in real-API mode: a cluster create takes no auto_delete")
        elif kind in ("instances", "volumes") and count > (declared[target] or {}).get(kind, 0):
            problems.append(f"target {target} launched {count} {kind}, declares {(declared[target] or {}).get(kind, 0)} "
                            "(setup_shadeform/vars/main.yml)")
    return problems


def check_integration_launches(api_url, prefix):
    """For noxfile.py, after ``ansible-test integration`` against a simulator in another process: its request log
    (``GET /_sim/requests``, through no proxy) through ``launch_problems``. Prints the result; 0 when the guard held."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(api_url.rsplit("/v1", 1)[0] + "/_sim/requests", timeout=30) as answer:
        requests = json.load(answer)["requests"]
    problems = launch_problems(requests, prefix)
    launches = [request for request in requests if request["method"] == "POST" and request["path"] == "/v1/instances/create"]
    print("\n".join(problems) or f"cost guard: {len(launches)} instance launches, every one with auto_delete")
    return 1 if problems else 0
