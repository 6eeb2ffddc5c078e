# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Former home of the API client, which now lives in plugins/module_utils/api.py (shared with the modules).

Only re-exports remain, for imports not yet updated; no code that knows the API belongs here.
"""

# pylint: disable=unused-import
from ansible_collections.shadeform.cloud.plugins.module_utils.api import (  # noqa: F401
    DEFAULT_API_URL, MAX_RETRY_DELAY, USER_AGENT, ShadeformAPIError, ShadeformClient, json, requests, requests_is_missing,
)
