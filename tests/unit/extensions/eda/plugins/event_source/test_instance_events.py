# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The event source shadeform.cloud.instance_events: main() driven with an asyncio queue against the simulator.

Each test runs its scenario with asyncio.run: main() is a task on that loop, polling the simulator (or a hostile
server) every 0.05 seconds over real HTTP, while the test changes the fleet through the simulator's methods and reads
the events off the queue. A poll is one GET /instances; the request log tells when a poll has been made.
"""

import asyncio
import copy
import json
import logging
import os
import subprocess
import sys
import time

import pytest
import yaml

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

from ansible_collections.shadeform.cloud.extensions.eda.plugins.event_source import instance_events
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import REDACTED

from functional.hostile_servers import LoopbackServer, silent
from helpers import API_KEY, encoded_forms, key_leaks, load_fixture, requests_for, write_inventory

EXAMPLE = load_fixture("instances-example.json")["instances"][0]
INTERVAL = 0.05
# Long enough for any event of a test to arrive on a loaded machine; only a failing test waits that long.
PATIENCE = 10.0


def instance(index, name=None, status="active", **fields):
    """The API reference's example instance as instance number ``index``: active at 192.0.2.<index>, or without an
    address in another status, unless told."""
    result = copy.deepcopy(EXAMPLE)
    result.update(id="00000000-0000-4000-8000-%012d" % index, name=name or "gpu-%d" % index, status=status,
                  status_details="running", ip="192.0.2.%d" % index if status == "active" else None, tags=[])
    result.update(fields)
    return result


def arguments(server, **more):
    """The source's arguments for ``server``: a quick interval, and no retries unless told."""
    return dict({"api_url": server.url, "api_key": API_KEY, "interval": INTERVAL, "timeout": 5, "retries": 0}, **more)


def summary(events):
    """(event type, host, meta.hosts or None) of each event."""
    return [(event["shadeform"]["event"], event["shadeform"]["host"], event["meta"].get("hosts")) for event in events]


class Source:
    """main() running as a task on the test's loop, with its queue."""

    def __init__(self, args):
        self.queue = asyncio.Queue()
        self.task = asyncio.ensure_future(instance_events.main(self.queue, args))

    async def take(self, count):
        """The next ``count`` events; fails when they do not come (or the source ended) within PATIENCE seconds."""
        events = []
        deadline = time.monotonic() + PATIENCE
        while len(events) < count:
            if self.task.done():
                self.task.result()  # raises what ended the source
                pytest.fail("the source ended after {0} events: {1}".format(len(events), summary(events)))
            try:
                events.append(await asyncio.wait_for(self.queue.get(), 0.05))
            except asyncio.TimeoutError:
                if time.monotonic() > deadline:
                    pytest.fail("{0} events of {1} came: {2}".format(len(events), count, summary(events)))
        return events

    async def quiet(self, server, polls=3):
        """Assert that ``polls`` more polls give no event."""
        await polled(server, len(requests_for(server)) + polls)
        assert self.queue.empty(), summary([self.queue.get_nowait() for _unused in range(self.queue.qsize())])
        assert not self.task.done()

    async def ended(self):
        """The exception that ended the source (it must end within PATIENCE seconds)."""
        with pytest.raises(instance_events.InstanceEventsError) as ended:
            await asyncio.wait_for(self.task, PATIENCE)
        return ended.value

    async def stop(self):
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


async def polled(server, count):
    """Wait until ``server`` has answered ``count`` polls. Once poll n+1 is asked for, poll n has been handled: waiting
    for 2 polls makes sure that the first (which learns the fleet) is done before the test changes anything."""
    deadline = time.monotonic() + PATIENCE
    while len(requests_for(server)) < count:
        assert time.monotonic() < deadline, "the source made {0} polls, not {1}".format(len(requests_for(server)), count)
        await asyncio.sleep(0.01)


def run(scenario):
    return asyncio.run(scenario())


# --- each event type -----------------------------------------------------------------------------------------------


def test_each_change_between_two_polls_is_one_event_in_the_documented_order(shadeform_api):
    sim = shadeform_api
    pending = instance(1, status="pending", ssh_port=None)
    spot_terms = {"rental_type": "spot", "hourly_price": "0.61", "ending_at": None}
    spot = instance(2, name="spot", tags=["fleet=trainers"], rental_terms=spot_terms)
    failing = instance(3, status="creating")
    sim.set_instances([pending, spot, failing])

    async def scenario():
        source = Source(arguments(sim))
        await polled(sim, 2)
        await source.quiet(sim)  # the first poll only learns the fleet

        sim.update_instance(pending["id"], status="active", ip="192.0.2.101", ssh_port=22)
        changed, active = await source.take(2)
        assert summary([changed, active]) == [("status_changed", "gpu-1", None), ("active", "gpu-1", "gpu-1")]
        assert changed["shadeform"]["previous"] == active["shadeform"]["previous"] == {
            "status": "pending", "ip": None, "ssh_port": None}
        assert active["shadeform"]["instance"]["ip"] == "192.0.2.101" and active["shadeform"]["fleet"] is None

        sim.update_instance(pending["id"], ip="192.0.2.102", ssh_port=2222)
        moved, = await source.take(1)
        assert summary([moved]) == [("address_changed", "gpu-1", "gpu-1")]
        assert moved["shadeform"]["previous"] == {"ip": "192.0.2.101", "ssh_port": 22}

        sim.update_instance(failing["id"], status="error", status_details="out_of_capacity")
        changed, error = await source.take(2)
        assert summary([changed, error]) == [("status_changed", "gpu-3", None), ("error", "gpu-3", None)]
        assert error["shadeform"]["previous"] == {"status": "creating", "status_details": "running"}

        sim.preempt(spot["id"])  # deleting with status_details preempted, gone after the simulator's deleting delay
        changed, preempted, deleted = await source.take(3)
        assert summary([changed, preempted, deleted]) == [
            ("status_changed", "spot", None), ("preempted", "spot", None), ("deleted", "spot", None)]
        assert preempted["shadeform"]["previous"] == {"status": "active", "status_details": "running"}
        assert preempted["shadeform"]["fleet"] == deleted["shadeform"]["fleet"] == "trainers"
        assert deleted["shadeform"]["previous"] == {"status": "deleting"}
        assert deleted["shadeform"]["instance"]["status_details"] == "preempted"  # the last one seen

        sim.set_instances(sim.instances + [instance(4, name="new"), instance(5, status="creating")])
        created, active, created_pending = await source.take(3)
        assert summary([created, active, created_pending]) == [
            ("created", "new", None), ("active", "new", "new"), ("created", "gpu-5", None)]
        assert created["shadeform"]["previous"] == {} and created["shadeform"]["instance"]["id"] == instance(4)["id"]

        sim.remove_instance(pending["id"])
        deleted, = await source.take(1)
        assert summary([deleted]) == [("deleted", "gpu-1", None)]
        assert deleted["shadeform"]["previous"] == {"status": "active"}
        await source.quiet(sim)
        await source.stop()

    run(scenario)
    # One request per poll, for the whole workspace: GET /instances only.
    assert {request["path"] for request in sim.requests} == {"/v1/instances"}


def test_readiness_is_active_with_an_address_as_the_modules_wait_for_it():
    """InstanceWatch (the source without I/O): an active instance gets its address later, loses it, moves."""
    watch = instance_events.InstanceWatch(dict.fromkeys(("statuses", "clouds", "regions", "gpu_types", "tags"), []))
    no_address = instance(1, ip="")
    assert watch.update([no_address]) == []
    became_reachable = watch.update([dict(no_address, ip="192.0.2.7")])
    assert summary(became_reachable) == [("active", "gpu-1", "gpu-1")]
    assert became_reachable[0]["shadeform"]["previous"] == {"ip": ""}
    # An address lost while active gives no event (a playbook could not reach it); one found again gives active again.
    assert watch.update([dict(no_address, ip=None)]) == []
    assert summary(watch.update([dict(no_address, ip="192.0.2.8")])) == [("active", "gpu-1", "gpu-1")]
    # A value that is no address (ssh would read it as an option) is no address.
    assert watch.update([dict(no_address, ip="-oProxyCommand=x")]) == []
    # status_details alone (the container started) is no event; a new user is a new address.
    assert watch.update([dict(no_address, ip="-oProxyCommand=x", status_details="downloading")]) == []
    assert summary(watch.update([dict(no_address, ip="192.0.2.8", ssh_user="ubuntu")])) == [("active", "gpu-1", "gpu-1")]
    moved = watch.update([dict(no_address, ip="192.0.2.8", ssh_user="root")])
    assert summary(moved) == [("address_changed", "gpu-1", "gpu-1")] and moved[0]["shadeform"]["previous"] == {"ssh_user": "ubuntu"}


# --- emit_existing, filters, host names ----------------------------------------------------------------------------


def test_emit_existing_gives_one_event_per_matching_instance_in_api_order(shadeform_api):
    sim = shadeform_api
    fleet = [instance(1, status="pending"), instance(2, tags=["fleet=web"]), instance(3, status="error"), instance(4)]
    sim.set_instances(fleet)

    async def scenario():
        source = Source(arguments(sim, emit_existing=True, statuses=["active", "pending"]))
        events = await source.take(3)
        assert summary(events) == [("existing", "gpu-1", None), ("existing", "gpu-2", "gpu-2"), ("existing", "gpu-4", "gpu-4")]
        assert [event["shadeform"]["previous"] for event in events] == [{}, {}, {}]
        assert [event["shadeform"]["fleet"] for event in events] == [None, "web", None]
        await source.quiet(sim)
        await source.stop()

    run(scenario)


def test_filters_report_changes_of_instances_that_match_before_or_after(shadeform_api):
    sim = shadeform_api
    h100 = copy.deepcopy(EXAMPLE["configuration"])
    h100["gpu_type"] = "H100"
    watched = instance(1, status="creating", tags=["fleet=a", "env=prod"], configuration=h100, cloud="Lambdalabs")
    other_cloud = instance(2, status="creating", tags=["fleet=a", "env=prod"], configuration=h100, cloud="aws")
    untagged = instance(3, status="creating", configuration=h100, cloud="lambdalabs")
    sim.set_instances([watched, other_cloud, untagged])

    async def scenario():
        # clouds, regions and GPU types whatever the case; tags exactly, every one of them.
        source = Source(arguments(sim, statuses=["active"], clouds=["lambdalabs"], regions=["CANADA-1"], gpu_types=["h100"],
                                  tags=["env=prod", "fleet=a"]))
        await polled(sim, 2)
        for each in (watched, other_cloud, untagged):
            sim.update_instance(each["id"], status="pending")  # outside statuses before and after: not reported
        await source.quiet(sim)
        for each in (watched, other_cloud, untagged):
            sim.update_instance(each["id"], status="active", ip="192.0.2.50")
        assert summary(await source.take(2)) == [("status_changed", "gpu-1", None), ("active", "gpu-1", "gpu-1")]
        await source.quiet(sim)
        for each in (watched, other_cloud, untagged):
            sim.update_instance(each["id"], status="deleting")  # active before: reported, though it no longer matches
        changed, = await source.take(1)
        assert summary([changed]) == [("status_changed", "gpu-1", None)]
        assert changed["shadeform"]["instance"]["status"] == "deleting"
        for each in (watched, other_cloud, untagged):
            sim.remove_instance(each["id"])  # deleting at the last poll: outside statuses, so no deleted
        await source.quiet(sim)
        await source.stop()

    run(scenario)


def test_a_status_the_api_never_gives_ends_the_source_before_any_request(shadeform_api):
    async def scenario():
        ended = await Source(arguments(shadeform_api, statuses=["runing"])).ended()
        assert "did you mean 'active'?" in str(ended)

    run(scenario)
    assert shadeform_api.requests == []


def inventory_names(tmp_path, sim, extra=""):
    """{instance id: host name} of the inventory plugin itself, in process (ansible-core's InventoryManager)."""
    manager = InventoryManager(loader=DataLoader(), sources=[write_inventory(tmp_path, sim, extra)])
    return dict((host.vars["shadeform_id"], host.name) for host in manager.get_hosts("all"))


def test_host_names_are_the_inventory_plugins_duplicates_included(shadeform_api, tmp_path, monkeypatch):
    from shadeform_simulator import generate_fleet  # pylint: disable=import-outside-toplevel

    monkeypatch.setenv("SHADEFORM_API_KEY", API_KEY)
    sim = shadeform_api
    fleet = generate_fleet(30, seed=3)
    names = [item["name"] for item in fleet]
    assert len(set(names)) < len(names)  # every seventh instance reuses a name
    fleet[0]["name"] = "localhost"  # a name Ansible reserves
    sim.set_instances(fleet)

    async def scenario():
        source = Source(arguments(sim, emit_existing=True))
        existing = await source.take(len(fleet))
        by_id = dict((event["shadeform"]["instance"]["id"], event["shadeform"]["host"]) for event in existing)
        assert by_id == inventory_names(tmp_path, sim)
        assert by_id[fleet[0]["id"]] == "localhost-" + fleet[0]["id"][:8]

        # A new instance takes the name of an active one: it is created under the name the inventory now gives it.
        twin = instance(99, name=fleet[1]["name"], status="creating")
        sim.set_instances(sim.instances + [twin])
        created, = await source.take(1)
        assert created["shadeform"]["host"] == inventory_names(tmp_path, sim)[twin["id"]] == "{0}-{1}".format(
            fleet[1]["name"], twin["id"][:8])
        await source.stop()

        source = Source(arguments(sim, emit_existing=True, hostnames=["id"]))
        by_id = dict((event["shadeform"]["instance"]["id"], event["shadeform"]["host"]) for event in await source.take(len(fleet) + 1))
        assert by_id == inventory_names(tmp_path, sim, "hostnames: [id]\n") == dict((key, key) for key in by_id)
        await source.stop()

    run(scenario)


# --- the API failing -----------------------------------------------------------------------------------------------


def test_rate_limits_and_5xx_are_retried_then_one_api_error_then_polling_recovers(shadeform_api):
    sim = shadeform_api
    sim.set_instances([instance(1), instance(2)])

    async def scenario():
        source = Source(arguments(sim, retries=2, interval=0.02))
        await polled(sim, 2)
        # Within the client's retries (Retry-After: 0), a poll still succeeds: no api_error, the change reported.
        sim.inject("rate_limit", count=2, retry_after=0)
        sim.update_instance(instance(1)["id"], status="deleting")
        assert summary(await source.take(1)) == [("status_changed", "gpu-1", None)]
        assert [request["status"] for request in requests_for(sim)[-3:]] == [429, 429, 200]

        # Past them: one api_error for the whole outage, then polls further and further apart, then the changes.
        sim.inject("server_error", count=12, status=503, retry_after=0)
        error, = await source.take(1)
        assert error == {"shadeform": {"event": "api_error", "status": 503, "error": error["shadeform"]["error"],
                                       "instance": None, "previous": {}, "fleet": None, "host": None}, "meta": {}}
        assert "HTTP 503" in error["shadeform"]["error"] and "on all 3 attempts" in error["shadeform"]["error"]
        sim.update_instance(instance(2)["id"], status="error")
        changed, failed = await source.take(2)
        assert summary([changed, failed]) == [("status_changed", "gpu-2", None), ("error", "gpu-2", None)]
        statuses = [request["status"] for request in requests_for(sim)]
        statuses = statuses[statuses.index(503):]
        assert statuses[:13] == [503] * 12 + [200]  # 4 polls of 3 attempts, then the first good one
        await source.stop()

    run(scenario)


def test_polls_back_off_while_the_api_fails(shadeform_api):
    sim = shadeform_api
    sim.inject("server_error", count=4, status=502, retry_after=0)

    async def scenario():
        started = time.monotonic()
        source = Source(arguments(sim, interval=0.02))  # retries 0: each failed request is a failed poll
        error, = await source.take(1)
        assert error["shadeform"]["status"] == 502
        await polled(sim, 5)  # four failures, then the fifth poll is answered
        # Waits of 2, 4, 8 and 16 times the interval, not 4 intervals: 0.6 seconds at least.
        assert time.monotonic() - started >= 30 * 0.02
        await source.quiet(sim)
        await source.stop()

    run(scenario)
    assert instance_events.backoff(30, 1) == 60 and instance_events.backoff(30, 3) == 240
    assert instance_events.backoff(30, 4) == instance_events.backoff(30, 10 ** 6) == instance_events.MAX_BACKOFF
    assert instance_events.backoff(600, 1) == 600  # never more often than interval


def test_timeouts_are_an_api_error_and_the_source_goes_on(shadeform_api):
    sim = shadeform_api
    sim.set_instances([instance(1)])

    async def scenario():
        source = Source(arguments(sim, timeout=0.2))
        await polled(sim, 2)
        sim.inject("slow", count=2, delay=0.6)
        error, = await source.take(1)
        assert error["shadeform"]["status"] is None and "no answer within 0.2 seconds" in error["shadeform"]["error"]
        sim.update_instance(instance(1)["id"], ip="192.0.2.200")
        assert summary(await source.take(1)) == [("address_changed", "gpu-1", "gpu-1")]
        await source.stop()

    run(scenario)


def test_a_silent_server_never_stalls_the_loop_or_the_end_of_the_source():
    with LoopbackServer(silent) as server:

        async def scenario():
            source = Source(arguments(server, timeout=0.5))
            ticks = 0
            until = time.monotonic() + 0.4
            while time.monotonic() < until:  # the request waits in a thread of its own, not on the loop
                await asyncio.sleep(0.01)
                ticks += 1
            assert ticks >= 20
            error, = await source.take(1)
            assert "no answer within 0.5 seconds" in error["shadeform"]["error"]
            while server.connections < 2:  # it polls again
                await asyncio.sleep(0.05)
            assert not source.task.done()
            stopping = time.monotonic()
            await source.stop()  # without waiting for the request in flight
            assert time.monotonic() - stopping < 0.2

        run(scenario)


@pytest.mark.parametrize("status, phrase", [(401, "rejected the API key (HTTP 401"), (403, "refused access (HTTP 403")])
def test_401_or_403_ends_the_source_with_what_to_do(shadeform_api, status, phrase):
    sim = shadeform_api

    async def scenario():
        source = Source(arguments(sim, retries=3))
        await polled(sim, 2)
        sim.inject("status", status=status, body={"message": "no"})
        ended = await source.ended()
        assert str(ended).startswith("shadeform.cloud.instance_events stopped: ") and phrase in str(ended)
        assert ("SHADEFORM_API_KEY" if status == 401 else "right account") in str(ended)

    run(scenario)
    assert [request["status"] for request in sim.requests][-1] == status  # not retried


def test_a_wrong_key_ends_the_source_at_its_first_poll(shadeform_api, monkeypatch):
    monkeypatch.setenv("SHADEFORM_API_KEY", "not-the-key-0123456789")

    async def scenario():
        args = arguments(shadeform_api)
        del args["api_key"]  # from the environment
        ended = await Source(args).ended()
        assert "HTTP 401: Invalid API key" in str(ended) and "not-the-key" not in str(ended)

    run(scenario)
    assert len(shadeform_api.requests) == 1


# --- no key, no secret ---------------------------------------------------------------------------------------------


def test_no_key_or_launch_secret_in_any_event_or_log_line(shadeform_api, caplog):
    from shadeform_simulator import generate_fleet  # pylint: disable=import-outside-toplevel

    caplog.set_level(logging.DEBUG)
    sim = shadeform_api
    fleet = generate_fleet(10, seed=1)
    assert "SIMULATED-SECRET" in json.dumps(fleet)
    sim.set_instances(fleet)

    async def scenario():
        source = Source(arguments(sim, emit_existing=True))
        events = await source.take(len(fleet))
        # A server (or a proxy) that echoes the key, in every form the key mask knows.
        sim.inject("status", status=502, body={"message": "key " + " ".join(encoded_forms(API_KEY))})
        sim.set_instances(fleet[:-1])
        events += await source.take(2)
        await source.stop()
        return events

    events = run(scenario)
    assert [event["shadeform"]["event"] for event in events[-2:]] == ["api_error", "deleted"]
    assert "key " in events[-2]["shadeform"]["error"]
    shown = json.dumps(events) + "\n".join(record.getMessage() for record in caplog.records)
    assert key_leaks(API_KEY, shown) == []
    assert "SIMULATED-SECRET" not in shown and REDACTED in shown
    assert any(record.levelno == logging.WARNING and "polling failed" in record.getMessage() for record in caplog.records)


# --- settings ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    ({"statuse": ["active"]}, "does not know the argument 'statuse' (did you mean 'statuses'?)"),
    ({"interval": 0}, "interval must be a positive number of seconds, at most 86400, not 0."),
    ({"interval": "soon"}, "interval must be a positive number of seconds"),
    ({"emit_existing": "maybe"}, "emit_existing must be true or false, not 'maybe'."),
    ({"tags": [1]}, "tags must be a list of strings, not [1]."),
    ({"hostnames": ["label"]}, "hostnames may hold name, id, ip, cloud_assigned_id, not 'label'."),
    ({"api_url": "http://api.example.com/v1"}, "is plain http:// to a host that is not this machine"),
    ({"retries": 101}, "retries must be a whole number from 0 to 100"),
    ({"api_key": ""}, "No Shadeform API key: set the api_key argument"),
])
def test_a_wrong_setting_ends_the_source_before_any_request(shadeform_api, monkeypatch, args, message):
    monkeypatch.delenv("SHADEFORM_API_KEY", raising=False)

    async def scenario():
        return await Source(dict(arguments(shadeform_api), **args)).ended()

    assert message in str(run(scenario))
    assert shadeform_api.requests == []


def test_settings_take_rulebook_values_and_the_environment(monkeypatch):
    monkeypatch.setenv("SHADEFORM_API_KEY", " env-key ")
    monkeypatch.setenv("SHADEFORM_API_URL", "https://proxy.example/v1")
    # ansible-rulebook's own arguments (eda_*) are left alone; one string is a list of one; a number may be a string.
    config = instance_events.settings({"eda_feedback_queue": object(), "statuses": "active", "interval": "2.5",
                                       "emit_existing": "yes"})
    assert (config["api_key"], config["api_url"], config["interval"], config["emit_existing"]) == (
        "env-key", "https://proxy.example/v1", 2.5, True)
    assert config["filters"] == {"statuses": ["active"], "clouds": [], "regions": [], "gpu_types": [], "tags": []}
    assert instance_events.settings({"api_key": "k", "api_url": "http://127.0.0.1:1/v1"})["api_key"] == "k"
    monkeypatch.delenv("SHADEFORM_API_URL")
    assert instance_events.settings({})["api_url"] == "https://api.shadeform.ai/v1"
    assert (instance_events.settings({})["interval"], instance_events.settings({})["hostnames"]) == (30, ["name"])


# --- loaded as ansible-rulebook loads it -----------------------------------------------------------------------------

LOAD = """
import asyncio, runpy, sys
module = runpy.run_path(sys.argv[1])
api = sys.modules["ansible_collections.shadeform.cloud.plugins.module_utils.api"]
print(asyncio.iscoroutinefunction(module["main"]), api.__file__)
"""


@pytest.mark.parametrize("layout", ["installed", "checkout"])
def test_ansible_rulebook_can_load_it_by_path_without_the_collection_loader(layout):
    """ansible-rulebook runs the file with runpy.run_path, in a Python without ansible-core's collection loader."""
    installed = os.path.abspath(os.path.join(os.path.dirname(instance_events.__file__), *[os.pardir] * 4))
    # The checkout itself, under its own name (the tests load it through a link named ansible_collections/shadeform/cloud).
    collection = installed if layout == "installed" else os.path.realpath(installed)
    path = os.path.join(collection, "extensions", "eda", "plugins", "event_source", "instance_events.py")
    env = dict(os.environ, PYTHONPATH="")
    env.pop("ANSIBLE_COLLECTIONS_PATH")
    done = subprocess.run([sys.executable, "-c", LOAD, path], capture_output=True, text=True, env=env, cwd="/", timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    coroutine, api_file = done.stdout.split()
    assert coroutine == "True"
    assert api_file == os.path.join(collection, "plugins", "module_utils", "api.py")  # its own collection's code


def test_documentation_is_yaml_and_documents_every_argument_with_its_default(monkeypatch):
    monkeypatch.setenv("SHADEFORM_API_KEY", API_KEY)
    monkeypatch.delenv("SHADEFORM_API_URL", raising=False)
    options = yaml.safe_load(instance_events.DOCUMENTATION)["options"]
    assert sorted(options) == sorted(instance_events.ARGUMENTS)
    config = instance_events.settings({})
    defaults = dict(config, **config["filters"])
    for name, option in options.items():
        if name not in ("api_key", "api_url"):
            assert option["default"] == defaults[name], name
    sources = [source for rulebook_or_source in yaml.safe_load(instance_events.EXAMPLES)
               for source in rulebook_or_source.get("sources", [rulebook_or_source])]
    assert len(sources) == 2
    for source in sources:
        assert set(source["shadeform.cloud.instance_events"]) <= set(options)
        instance_events.settings(source["shadeform.cloud.instance_events"])
