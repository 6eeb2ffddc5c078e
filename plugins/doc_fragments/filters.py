# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """The instance filters that the inventory plugin and the instance_info module share."""

    DOCUMENTATION = r"""
options:
  statuses:
    description:
      - Keep only instances whose C(status) is in this list, for example V([active]). Empty keeps all.
      - The statuses are C(creating), C(pending_provider), C(pending), C(active), C(error) and C(deleting), compared
        exactly; any other value is an error naming the closest status (C(deleted) instances are never listed).
      - C(clouds), C(regions) and C(gpu_types) compare whatever the case. A value of C(clouds), C(regions),
        C(gpu_types) or C(tags) that matches no instance gets one warning listing the values the instances have.
    type: list
    elements: str
    default: []
  clouds:
    description: Keep only instances whose C(cloud) is in this list, for example V([hyperstack, lambdalabs]).
    type: list
    elements: str
    default: []
  regions:
    description: Keep only instances whose C(region) is in this list.
    type: list
    elements: str
    default: []
  gpu_types:
    description: Keep only instances whose C(configuration.gpu_type) is in this list, for example V([H100, A100]) (or V([h100])).
    type: list
    elements: str
    default: []
  tags:
    description: Keep only instances that carry every tag in this list.
    type: list
    elements: str
    default: []
"""
