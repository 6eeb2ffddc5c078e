# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every shadeform.cloud module shares: the API options (doc fragment shadeform.cloud.api), the client and the module structure."""

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient
from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import DEFAULT_API_URL, ShadeformAPIError, requests_is_missing


def api_argument_spec():
    """The options of the doc fragment shadeform.cloud.api, as an argument spec to extend."""
    return dict(
        api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["SHADEFORM_API_KEY"])),
        api_url=dict(type="str", default=DEFAULT_API_URL, fallback=(env_fallback, ["SHADEFORM_API_URL"])),
        timeout=dict(type="int", default=30),
        retries=dict(type="int", default=3),
        validate_certs=dict(type="bool", default=True),
        allow_insecure_http=dict(type="bool", default=False),
    )


def client_from_module(module):
    """A ShadeformClient from the module's API options; fails the module with a clear message when the key is missing."""
    if requests_is_missing():
        module.fail_json(msg=missing_required_lib("requests"))
    params = module.params
    api_key = (params.get("api_key") or "").strip()
    if not api_key:
        module.fail_json(msg="No Shadeform API key: set api_key (once for all shadeform.cloud modules with module_defaults and "
                             "group/shadeform.cloud.shadeform), or export SHADEFORM_API_KEY where the module runs.")
    # The client itself refuses a bad api_url, timeout or validate_certs, naming the option, before anything is sent.
    return ShadeformClient(
        api_key=api_key,
        api_url=(params.get("api_url") or "").strip(),
        timeout=params["timeout"],
        retries=params["retries"],
        validate_certs=params["validate_certs"],
        allow_insecure_http=params["allow_insecure_http"],
    )


def run_module(argument_spec, run, **module_kwargs):
    """The one structure of every shadeform.cloud module: ``main()`` is ``run_module(argument_spec(), run)``.

    ``run(module, client, result)`` fills ``result`` (it starts as ``{"changed": False}``) and may fail the module
    itself with a clear message; an API error ends the module with its message and the result so far (for example
    the id of an instance created before a later call failed).
    """
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **module_kwargs)
    client = client_from_module(module)
    result = dict(changed=False)
    try:
        run(module, client, result)
    except ShadeformAPIError as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


def without_none(value):
    """The value with every None left out of its dicts (AnsibleModule fills unset suboptions with None)."""
    if isinstance(value, dict):
        return dict((key, without_none(item)) for key, item in value.items() if item is not None)
    if isinstance(value, list):
        return [without_none(item) for item in value]
    return value


def has_the_given(item, params, fields):
    """Whether ``item`` has, in each of ``fields``, the value of the option of that name, where the option is given."""
    return all(params[field] is None or item.get(field) == params[field] for field in fields)


def find_by_name(module, items, name, what, result):
    """The one item named ``name``, or None; fails the module when several carry it (names are not unique at Shadeform)."""
    named = [item for item in items if isinstance(item, dict) and item.get("name") == name]
    if len(named) > 1:
        module.fail_json(msg="{0} Shadeform {1}s are named {2!r} (ids {3}): give id to choose one, or rename the others.".format(
            len(named), what, name, ", ".join(str(item.get("id")) for item in named)), **result)
    return named[0] if named else None


_ENV = dict(type="list", elements="dict", options=dict(name=dict(type="str", required=True), value=dict(type="str", required=True, no_log=True)))
_THRESHOLDS = dict(date_threshold=dict(type="str"), spend_threshold=dict(type="str"))


def launch_argument_spec():
    """The launch options instances and templates share: envs, launch_configuration, auto_delete, alert, volume_mount."""
    return dict(
        envs=_ENV,
        launch_configuration=dict(type="dict", options=dict(
            type=dict(type="str", required=True, choices=["docker", "script"]),
            docker_configuration=dict(type="dict", options=dict(
                image=dict(type="str", required=True),
                args=dict(type="str"),
                shared_memory_in_gb=dict(type="int"),
                envs=_ENV,
                port_mappings=dict(type="list", elements="dict", options=dict(
                    host_port=dict(type="int", required=True), container_port=dict(type="int", required=True))),
                volume_mounts=dict(type="list", elements="dict", options=dict(
                    host_path=dict(type="str", required=True), container_path=dict(type="str", required=True))),
                registry_credentials=dict(type="dict", no_log=False, options=dict(
                    username=dict(type="str", required=True), password=dict(type="str", required=True, no_log=True))),
            )),
            script_configuration=dict(type="dict", options=dict(base64_script=dict(type="str", required=True, no_log=True))),
        )),
        auto_delete=dict(type="dict", options=_THRESHOLDS),
        alert=dict(type="dict", options=_THRESHOLDS),
        volume_mount=dict(type="dict", options=dict(auto=dict(type="bool", required=True))),
    )


def check_launch_configuration(module, result):
    """Refuse, before any call, a launch_configuration with both or neither of a container and a script."""
    launch = module.params.get("launch_configuration")
    if not launch:
        return
    wanted, other = ("docker_configuration", "script_configuration")
    if launch["type"] == "script":
        wanted, other = other, wanted
    if not launch.get(wanted) or launch.get(other):
        module.fail_json(msg="launch_configuration of type {0} needs {1} and no {2}: Shadeform runs either a container or "
                             "a startup script, never both.".format(launch["type"], wanted, other), **result)
