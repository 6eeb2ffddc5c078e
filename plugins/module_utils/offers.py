# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offers: one (instance type, region, rental type) of ``GET /instances/types`` with its hourly price in dollars (``hourly_price_usd``).

A type lists each region once per rental type it offers, and the two entries can differ in ``available``;
on-demand prices are the type's ``hourly_price`` in cents, spot prices the entry's ``hourly_price`` in dollars
(a string). Everything here is a pure function of the API's answer, so the modules agree on what is cheapest.
"""

from decimal import Decimal, InvalidOperation

RENTAL_TYPES = ("on_demand", "spot")
DEPLOYMENT_TYPES = ("vm", "container", "baremetal")


def entry_price(instance_type, entry):
    """Dollars per hour of one availability entry, or None when the API gives no usable price."""
    if entry.get("rental_type", "on_demand") == "spot":
        price = entry.get("hourly_price")
        if isinstance(price, bool) or not isinstance(price, (str, int, float)):
            return None
        try:
            value = Decimal(str(price))
        except InvalidOperation:
            return None
        return float(value) if value.is_finite() and value >= 0 else None
    cents = instance_type.get("hourly_price")
    if isinstance(cents, bool) or not isinstance(cents, (int, float)) or cents < 0:
        return None
    return cents / 100.0


def offers_os(instance_type, os_name):
    """Whether the type offers the operating system ``os_name`` (one of its ``configuration.os_options``); any when None."""
    if os_name is None:
        return True
    configuration = instance_type.get("configuration")
    options = configuration.get("os_options") if isinstance(configuration, dict) else None
    return isinstance(options, list) and os_name in options


def offers(instance_types, rental_type="on_demand", clouds=None, regions=None, max_hourly_price=None, os_name=None, deployment_types=None):
    """(offers cheapest first, why_empty): every available entry that fits, and what emptied the list if nothing does.

    Each offer is a plain dict: cloud, region, shade_instance_type, rental_type, hourly_price_usd (dollars, a float),
    display_name, boot_time.  Ties are broken by cloud, region and type, so the order is the same on every run.
    ``os_name`` keeps the types whose ``os_options`` hold it, ``deployment_types`` those of these ``deployment_type`` s:
    a launch asking for an OS the type lacks is refused, so such an offer is never worth a try.
    """
    steps = [
        ("the GPU type, GPU count and instance type asked for", lambda item, entry: True),
        ("os {0}".format(os_name), lambda item, entry: offers_os(item, os_name)),
        ("deployment_types {0}".format(", ".join(deployment_types or [])),
         lambda item, entry: not deployment_types or item.get("deployment_type") in deployment_types),
        ("rental_type {0}".format(rental_type), lambda item, entry: entry.get("rental_type", "on_demand") == rental_type),
        ("clouds {0}".format(", ".join(clouds or [])), lambda item, entry: not clouds or item.get("cloud") in clouds),
        ("regions {0}".format(", ".join(regions or [])), lambda item, entry: not regions or entry.get("region") in regions),
        ("available capacity", lambda item, entry: entry.get("available") is True),
        ("a known price", lambda item, entry: entry_price(item, entry) is not None),
        ("max_hourly_price {0}".format(max_hourly_price),
         lambda item, entry: max_hourly_price is None or entry_price(item, entry) <= max_hourly_price),
    ]
    candidates = [(item, entry) for item in instance_types if isinstance(item, dict)
                  for entry in (item.get("availability") if isinstance(item.get("availability"), list) else [])
                  if isinstance(entry, dict)]
    why_empty = None
    for description, keep in steps:
        if not candidates:
            break
        candidates = [(item, entry) for item, entry in candidates if keep(item, entry)]
        if not candidates:
            why_empty = description
    if not candidates and why_empty is None:
        why_empty = steps[0][0]
    found = [dict(
        cloud=item.get("cloud"),
        region=entry.get("region"),
        shade_instance_type=item.get("shade_instance_type"),
        rental_type=rental_type,
        hourly_price_usd=entry_price(item, entry),
        display_name=entry.get("display_name"),
        boot_time=item.get("boot_time"),
    ) for item, entry in candidates]
    found.sort(key=lambda offer: (offer["hourly_price_usd"], str(offer["cloud"]), str(offer["region"]), str(offer["shade_instance_type"])))
    return found, (None if found else why_empty)


def offer_key(offer):
    """What tells two offers apart: an offer that failed in a run is not tried again in that run."""
    return (offer.get("cloud"), offer.get("region"), offer.get("shade_instance_type"), offer.get("rental_type"))
