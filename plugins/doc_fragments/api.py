# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """The options every shadeform.cloud module shares: how to reach and authenticate to the Shadeform API."""

    DOCUMENTATION = r"""
options:
  api_key:
    description:
      - "The Shadeform API key. It has admin rights over the workspace: keep it in Ansible Vault or in the environment."
      - When not set, the value of the E(SHADEFORM_API_KEY) environment variable of the host the module runs on is used
        (usually C(localhost), that is the controller).
      - Set it once for every module of this collection with C(module_defaults) and the action group
        C(group/shadeform.cloud.shadeform).
      - The key never appears in output or logs.
    type: str
  api_url:
    description:
      - Base URL of the Shadeform API, up to and including C(/v1); it must start with C(https://).
      - C(http://) is accepted only for a loopback host (C(localhost), C(127.0.0.0/8), C(::1)), or with O(allow_insecure_http).
      - When not set, the E(SHADEFORM_API_URL) environment variable is used, then the default.
      - The key and request bodies go to this host only. Redirects are never followed; a redirect is an error naming both URLs.
      - An answer's body is read up to 256 MiB, counted after decompression (100,000 instances take about 113 MB); a larger
        one is an error.
    type: str
    default: https://api.shadeform.ai/v1
  allow_insecure_http:
    description:
      - Allow an C(http://) O(api_url) whose host is not this machine.
      - B(The API key then crosses the network unencrypted), readable by anyone on the way. Use it only for a test
        service on a network you trust; without it such an O(api_url) is refused before any connection is made.
    type: bool
    default: false
  timeout:
    description:
      - Seconds one request may take in all, from connecting to the last byte of the answer. Must be positive, at most 3600.
    type: int
    default: 30
  retries:
    description:
      - How many times to try again after HTTP 429, an HTTP 5xx answer, a timeout or a connection error. Nothing else is
        tried again. From 0 to 100.
      - A C(Retry-After) header is honoured; otherwise the waits are 1, 2, 4, ... seconds, never longer than 60 seconds. One
        API call therefore ends within (O(retries) + 1) x O(timeout) + O(retries) x 60 seconds.
      - Requests that create something (a new instance, a new SSH key) are repeated only when the service cannot have
        acted on them (HTTP 429, or no connection made), so that a retry never launches a second instance.
    type: int
    default: 3
  validate_certs:
    description: Whether to verify the API's TLS certificate. Only turn this off on a network you trust.
    type: bool
    default: true
attributes:
  action_group:
    description: Use C(group/shadeform.cloud.shadeform) in C(module_defaults) to set options of all the modules of this collection at once.
    support: full
    membership:
      - shadeform.cloud.shadeform
requirements:
  - requests
notes:
  - The modules of this collection belong to the action group C(shadeform.cloud.shadeform), so
    C(module_defaults) with C(group/shadeform.cloud.shadeform) sets O(api_key) and O(api_url) once for all of them.
  - Modules talk to the API from the host they run on; run them on C(localhost) (C(delegate_to) or C(hosts) C(localhost)).
"""
