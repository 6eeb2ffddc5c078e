# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""volume against the simulator."""

from ansible_collections.shadeform.cloud.plugins.modules import instance, volume

VOLUME = dict(name="cache", cloud="hyperstack", region="canada-1", size_in_gb=100)


def posts(sim, suffix):
    return [r for r in sim.requests if r["method"] == "POST" and r["path"].endswith(suffix)]


def test_volume_is_created_once_by_name_with_check_mode_and_diff(run_module, sim, warned):
    checked = run_module(volume.main, VOLUME, check_mode=True, diff=True)
    assert checked["changed"] is True and checked["diff"]["after"] == VOLUME and sim.volumes == []
    created = run_module(volume.main, VOLUME)
    assert created["rc"] == 0 and created["changed"] is True, created
    assert created["volume"]["id"] and created["volume"]["mounted_by"] is None
    again = run_module(volume.main, dict(VOLUME, size_in_gb=200))
    assert again["changed"] is False and again["volume"]["id"] == created["volume"]["id"]
    assert len(warned) == 1 and "size_in_gb 100 (not 200)" in warned[0] and "volumes cannot be changed" in warned[0]
    assert len(posts(sim, "/volumes/create")) == 1
    missing = run_module(volume.main, {"name": "other"})
    assert missing["rc"] == 1 and "cloud, region, size_in_gb are required" in missing["msg"]


def test_a_mounted_volume_is_never_deleted(run_module, sim):
    created = run_module(volume.main, VOLUME)["volume"]
    from shadeform_simulator import filter_instance_types  # pylint: disable=import-outside-toplevel

    item = next(t for t in filter_instance_types(sim.instance_types, "cloud=hyperstack&available=true")
                if any(e["region"] == "canada-1" and e["rental_type"] == "on_demand" for e in t["availability"]))
    launched = run_module(instance.main, {"name": "uses-cache", "cloud": "hyperstack", "region": "canada-1",
                                          "shade_instance_type": item["shade_instance_type"], "volume": "cache",
                                          "poll_interval": 0.1})
    assert launched["rc"] == 0, launched
    for check_mode in (True, False):
        refused = run_module(volume.main, {"name": "cache", "state": "absent"}, check_mode=check_mode)
        assert refused["rc"] == 1 and "is mounted by instance {0}".format(launched["instance"]["id"]) in refused["msg"]
    assert not posts(sim, "/volumes/{0}/delete".format(created["id"]))
    run_module(instance.main, {"name": "uses-cache", "state": "absent", "poll_interval": 0.1})
    deleted = run_module(volume.main, {"name": "cache", "state": "absent"}, diff=True)
    assert deleted["rc"] == 0 and deleted["changed"] is True and deleted["diff"]["before"]["id"] == created["id"]
    assert sim.volumes == []
    assert run_module(volume.main, {"name": "cache", "state": "absent"})["changed"] is False


def test_a_refused_create_reports_no_change(run_module, sim):
    refused = run_module(volume.main, dict(VOLUME, region="no-such-region"))
    assert refused["rc"] == 1 and "HTTP 400" in refused["msg"]
    assert refused["changed"] is False and sim.volumes == []
