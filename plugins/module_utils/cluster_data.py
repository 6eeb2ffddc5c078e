# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster helpers shared by the cluster modules (target) and the inventory plugin (controller).

A Shadeform cluster (``GET /clusters``) is provisioned by the provider as one unit: id, cloud, name, region_info
{region, display_name}, status (a free string), its members under ``instances`` (full instances, without a cluster id),
``hourly_price`` in cents and ``cost_estimate`` in dollars written with a dollar sign (``"$15.00"``). A cluster type
(``GET /clusters/types``) is cloud, num_instances, one availability object and the members' instance type. Every field
but ``id`` may be absent, null or of another type.
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import finite_number, hourly_price_usd, is_ready, lookup, redact_secrets

# Statuses of a cluster (or of a member) that will never become active.
FAILED_STATUSES = ("error", "failed")
# Statuses of a cluster on its way out.
GONE_STATUSES = ("deleting", "deleted")


def members(cluster):
    """The cluster's members: the instances it lists that are objects."""
    listed = cluster.get("instances")
    return [member for member in listed if isinstance(member, dict)] if isinstance(listed, list) else []


def region(cluster):
    """The cluster's region (from its ``region_info``), or None."""
    return lookup(cluster, ("region_info", "region"))


def is_cluster_ready(cluster):
    """Whether the API says the cluster can be used: ``active``, with members, each active with an address the one SSH
    parser accepts (a member without one cannot be reached, whatever the cluster's status says)."""
    listed = members(cluster)
    return cluster.get("status") == "active" and bool(listed) and all(is_ready(member) for member in listed)


def failed_part(cluster):
    """What of the cluster failed: the cluster itself, or the first member in a failed status; None when nothing did."""
    if cluster.get("status") in FAILED_STATUSES:
        return cluster
    return next((member for member in members(cluster) if member.get("status") in FAILED_STATUSES), None)


def cluster_result(cluster, member_result):
    """A cluster as the modules return it: the API's fields with their names and units (``hourly_price`` in cents,
    ``cost_estimate`` as the API writes it) and any secret redacted, with ``hourly_price_usd`` (dollars per hour, a
    float, or None) and ``cost_estimate_usd`` (the same amount as a float) beside them, and every member through
    ``member_result`` (the modules' instance result: secrets redacted, SSH fields parsed)."""
    shown = redact_secrets(dict((field, value) for field, value in cluster.items() if field != "instances"))
    shown["hourly_price_usd"] = hourly_price_usd(cluster)
    shown["cost_estimate_usd"] = cost_estimate_usd(cluster)
    shown["instances"] = [member_result(member) for member in members(cluster)]
    return shown


def cluster_type_price_usd(cluster_type):
    """What a cluster of this type costs per hour in dollars (a float), or None: its members' instance type's
    ``hourly_price`` (cents per member, as for any instance type) times ``num_instances``."""
    count = cluster_type.get("num_instances")
    member_type = cluster_type.get("cluster_type")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1 or not isinstance(member_type, dict):
        return None
    price = hourly_price_usd(member_type)
    return None if price is None else round(price * count, 2)


def cluster_is_in(cluster, cloud=None, region_name=None):
    """Whether the cluster is on this cloud and in this region (None: any), whatever their case."""
    return ((cloud is None or same_text(cluster.get("cloud"), cloud))
            and (region_name is None or same_text(region(cluster), region_name)))


def cluster_type_matches(cluster_type, cloud=None, region_name=None, gpu_type=None, num_instances=None, available=None,
                         shade_instance_type=None, max_hourly_price=None):
    """Whether a cluster type passes the cluster_info filters (None: any); clouds, regions and GPU types whatever their case."""
    member_type = cluster_type.get("cluster_type") if isinstance(cluster_type.get("cluster_type"), dict) else {}
    availability = cluster_type.get("availability") if isinstance(cluster_type.get("availability"), dict) else {}
    checks = (
        (cloud, same_text(cluster_type.get("cloud"), cloud)),
        (region_name, same_text(availability.get("region"), region_name)),
        (gpu_type, same_text(lookup(member_type, ("configuration", "gpu_type")), gpu_type)),
        (shade_instance_type, member_type.get("shade_instance_type") == shade_instance_type),
        (num_instances, cluster_type.get("num_instances") == num_instances),
        (available, availability.get("available") is available),
    )
    if not all(passed for wanted, passed in checks if wanted is not None):
        return False
    if max_hourly_price is not None:
        price = cluster_type_price_usd(cluster_type)
        return price is not None and price <= max_hourly_price
    return True


def cost_estimate_usd(cluster):
    """The cluster's ``cost_estimate`` (``"$15.00"``) as dollars, a float; None when it is no amount."""
    text = cluster.get("cost_estimate")
    if not isinstance(text, str):
        return None
    amount = finite_number(text.strip().lstrip("$").replace(",", ""))
    return amount if amount is not None and amount >= 0 else None


def same_text(value, wanted):
    """Whether an API value is the text ``wanted`` whatever the case (providers spell H100, h100; users too)."""
    return isinstance(value, str) and isinstance(wanted, str) and value.casefold() == wanted.casefold()
