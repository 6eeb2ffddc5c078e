# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local simulator of the Shadeform API, for the demo, the tests and the benchmarks.

Standard library only; it never contacts api.shadeform.ai and only binds loopback addresses.  It is split by what
the parts are: ``fleet_data`` (fleets, the instance type catalogue, the ip pool), ``http_server`` (the server,
routing, faults, the request log and the contract hook) and ``api_endpoints`` (the Shadeform API itself, with the
variants of what the API leaves undocumented).  This file puts them together and is the command line.

In-process use (the pytest fixture ``shadeform_api`` in tests/conftest.py wraps this)::

    from shadeform_simulator import Simulator, generate_fleet, load_fleet

    with Simulator(api_key="secret", instances=generate_fleet(50, seed=1), variants={"error_body": "error"}) as sim:
        sim.url                                 # "http://127.0.0.1:PORT/v1"
        sim.inject("rate_limit", retry_after=2)
        sim.update_instance(some_id, status="active", ip="192.0.2.10")
        sim.set_capacity("hyperstack", "canada-1", "A6000", "refuse")
        sim.requests                            # what the client sent, without the key

Out-of-process use (a playbook, a benchmark script)::

    python tests/simulator/shadeform_simulator.py --port 0 --api-key KEY --generate 10000 --seed 3 \\
        --ready-file /tmp/sim.url --variant deleted_info=status_deleted

and the control endpoints under ``/_sim/`` (no API key, loopback clients only), those the benchmarks and the
end-to-end playbooks use:

    GET    /_sim/requests             {"requests": [...]}            the request log
    DELETE /_sim/requests             clear the request log
    PUT    /_sim/instances            {"instances": [...]} or a bare list: replace the fleet;
                                      or {"generate": N, "seed": S, "ip_pool": [...]}: a generated fleet
    PATCH  /_sim/instances/<id>       {fields}: update top-level fields of one instance (404 if unknown)

A missing or wrong ``X-API-KEY`` gives 401 ``{"message": "Invalid API key"}`` (checked first); then unknown paths
give 404 and known paths with another method 405 (with ``Allow``), both with a JSON body.

The demo fleet ``tests/simulator/fleets/demo.json`` was generated with::

    python tests/simulator/shadeform_simulator.py --generate 24 --seed 2024 --dump tests/simulator/fleets/demo.json

(``DEMO_COUNT`` and ``DEMO_SEED``; a unit test checks that the file still matches the generator).
"""

import argparse
import json
import os
import signal
import sys
import threading

from api_endpoints import DEFAULT_CREATING_DELAY, DEFAULT_DELETING_DELAY, DEFAULT_PENDING_DELAY, VARIANTS, ShadeformApi
from fleet_data import (SimulatorError, apply_ip_pool, filter_instance_types, fleet_list, generate_fleet, generate_instance_types,
                        load_fleet, load_fleet_file)
from http_server import DEFAULT_HOST, HttpServer, check_loopback, json_response, message_response, route

# What tests, benchmarks and scripts import from here: the simulator and the fleet and catalogue helpers.
__all__ = ["Simulator", "SimulatorError", "filter_instance_types", "generate_fleet", "generate_instance_types", "load_fleet", "main"]

DEFAULT_API_KEY = "demo-key"
API_KEY_ENV = "SHADEFORM_SIMULATOR_API_KEY"
SIMULATOR_DIR = os.path.dirname(os.path.abspath(__file__))
DEMO_FLEET_PATH = os.path.join(SIMULATOR_DIR, "fleets", "demo.json")
DEMO_COUNT = 24
DEMO_SEED = 2024


class Simulator(ShadeformApi, HttpServer):
    """A Shadeform API on a loopback port; see the module documentation.  Use as a context manager."""

    CONTROL_ROUTES = (
        route("GET", r"^/_sim/requests$", "_ctl_get_requests"),
        route("DELETE", r"^/_sim/requests$", "_ctl_clear_requests"),
        route("PUT", r"^/_sim/instances$", "_ctl_put_instances"),
        route("PATCH", r"^/_sim/instances/(?P<instance_id>[^/]+)$", "_ctl_patch_instance"),
    )

    def __init__(self, api_key=DEFAULT_API_KEY, instances=None, host=DEFAULT_HOST, port=0, verbose=False,  # pylint: disable=too-many-arguments
                 ip_pool=None, creating_delay=DEFAULT_CREATING_DELAY, pending_delay=DEFAULT_PENDING_DELAY,
                 deleting_delay=DEFAULT_DELETING_DELAY, instance_types=None, ssh_keys=None, variants=None):
        HttpServer.__init__(self, api_key, host=host, port=port, verbose=verbose)
        self._init_api(instances, ip_pool, {"creating": creating_delay, "pending": pending_delay, "deleting": deleting_delay},
                       instance_types, ssh_keys, variants)

    # -- control endpoints ------------------------------------------------------------------------------------------
    def _ctl_get_requests(self, request):
        return json_response(200, {"requests": self.requests})

    def _ctl_clear_requests(self, request):
        self.clear_requests()
        return json_response(200, {"requests": []})

    def _ctl_put_instances(self, request):
        data = request.json()
        if isinstance(data, dict) and "generate" in data:
            count = data["generate"]
            if isinstance(count, bool) or not isinstance(count, int):
                raise SimulatorError("generate must be an integer")
            instances = generate_fleet(count, seed=data.get("seed", 0), ip_pool=data.get("ip_pool"))
        else:
            instances = fleet_list(data, "the body")
        self.set_instances(instances)
        return json_response(200, {"count": len(instances)})

    def _ctl_patch_instance(self, request):
        fields = request.json()
        if not isinstance(fields, dict):
            raise SimulatorError("expected a JSON object of fields")
        try:
            return json_response(200, self.update_instance(request.params["instance_id"], **fields))
        except KeyError:
            return message_response(404, f"no instance {request.params['instance_id']}")


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
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=VALUE",
                        help="how to answer where the real API is undocumented (repeatable): " + "; ".join(
                            f"{name}={'|'.join(str(value) for value in values)}" for name, values in VARIANTS.items()))
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request on stderr")
    return parser, parser.parse_args(argv)


def _parse_variants(items):
    """``NAME=VALUE`` strings as {name: value}, the value converted to the type of the variant's choices."""
    variants = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in VARIANTS:
            raise SimulatorError(f"--variant {item!r}: expected NAME=VALUE with NAME one of {', '.join(VARIANTS)}")
        choices = {str(value): value for value in VARIANTS[name]}
        if text not in choices:
            raise SimulatorError(f"--variant {name}: one of {', '.join(choices)}")
        variants[name] = choices[text]
    return variants


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
        variants = {}
        if args.generate is not None:
            instances = generate_fleet(args.generate, seed=args.seed)
        else:
            instances, variants = load_fleet_file(args.fleet or DEMO_FLEET_PATH)
        variants.update(_parse_variants(args.variant))
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
                              pending_delay=args.pending_delay, deleting_delay=args.deleting_delay, variants=variants)
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
