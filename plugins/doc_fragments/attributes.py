# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """What the modules support, next to ansible.builtin.action_common_attributes (which describes each attribute).

    DOCUMENTATION is for the modules that change something; INFO_MODULE (``shadeform.cloud.attributes.info_module``)
    for those that only read.
    """

    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: all
"""

    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    details: The module changes nothing; it runs the same in check mode.
  diff_mode:
    support: N/A
    details: The module changes nothing.
  platform:
    platforms: all
"""
