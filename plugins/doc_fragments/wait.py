# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """The wait options every module of the group accepts (argument spec: module_utils/common.py, wait_argument_spec).

    DOCUMENTATION is for the modules that wait; IGNORED (``shadeform.cloud.wait.ignored``) for those that never do,
    which accept the options only so that C(module_defaults) of C(group/shadeform.cloud.shadeform) can set them once.
    """

    DOCUMENTATION = r"""
options:
  wait:
    description: Wait until what the task asked for is done (see the module's description for what that means).
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds to wait in all, for every wait of the task together, before failing (0 to 604800).
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two looks at the API while waiting (more than 0, at most 604800).
    type: float
    default: 10
"""

    IGNORED = r"""
options:
  wait:
    description:
      - Accepted so that C(module_defaults) of the group C(group/shadeform.cloud.shadeform) can set it for every module;
        this module never waits and ignores it.
    type: bool
    default: true
  wait_timeout:
    description:
      - Accepted for C(module_defaults) of the group and checked (0 to 604800 seconds); this module never waits.
    type: int
    default: 3600
  poll_interval:
    description:
      - Accepted for C(module_defaults) of the group and checked (more than 0, at most 604800 seconds); this module never waits.
    type: float
    default: 10
"""
