# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""volume_info against the simulator: volumes made with volume, filtered, and the volume types with their prices."""

from ansible_collections.shadeform.cloud.plugins.modules import volume, volume_info


def test_volume_info_filters_and_lists_types(run_module, sim):
    run_module(volume.main, dict(name="cache", cloud="hyperstack", region="canada-1", size_in_gb=100))
    run_module(volume.main, dict(name="other", cloud="datacrunch", region="FIN-01", size_in_gb=100))
    everything = run_module(volume_info.main, {})
    assert [v["name"] for v in everything["volumes"]] == ["cache", "other"] and "volume_types" not in everything
    only = run_module(volume_info.main, {"cloud": "datacrunch", "types": True})
    assert [v["name"] for v in only["volumes"]] == ["other"]
    assert only["volume_types"] and all(t["cloud"] == "datacrunch" for t in only["volume_types"])
    # The API's dollar string under its own name, the same price as a number beside it.
    assert all(t["price_per_gb_per_hour_usd"] == float(t["price_per_gb_per_hour"]) and isinstance(t["price_per_gb_per_hour"], str)
               for t in only["volume_types"])
