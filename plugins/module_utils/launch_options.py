# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The launch options (doc fragment shadeform.cloud.launch) as an argument spec, for the modules that create instances."""

LAUNCH_FIELDS = ("os", "ssh_key_id", "envs", "launch_configuration", "auto_delete", "alert")

_ENV = dict(type="list", elements="dict", options=dict(name=dict(type="str", required=True), value=dict(type="str", required=True, no_log=True)))
_THRESHOLDS = dict(date_threshold=dict(type="str"), spend_threshold=dict(type="str"))


def launch_argument_spec():
    """The options of the doc fragment shadeform.cloud.launch."""
    return dict(
        os=dict(type="str"),
        ssh_key_id=dict(type="str", no_log=False),
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
    )


def without_none(value):
    """The value with every None left out of its dicts (AnsibleModule fills unset suboptions with None)."""
    if isinstance(value, dict):
        return dict((key, without_none(item)) for key, item in value.items() if item is not None)
    if isinstance(value, list):
        return [without_none(item) for item in value]
    return value


def launch_problem(launch_configuration):
    """Why the API would refuse this launch_configuration, or None: it takes docker or script, never both."""
    if not launch_configuration:
        return None
    kind = launch_configuration.get("type")
    docker = launch_configuration.get("docker_configuration")
    script = launch_configuration.get("script_configuration")
    if docker and script:
        return "launch_configuration has both docker_configuration and script_configuration; give only the one its type names."
    if kind == "docker" and not docker:
        return "launch_configuration.type is docker: give launch_configuration.docker_configuration."
    if kind == "script" and not script:
        return "launch_configuration.type is script: give launch_configuration.script_configuration."
    if kind == "docker" and script or kind == "script" and docker:
        return "launch_configuration.type is {0}, but the configuration given is for the other type.".format(kind)
    return None
