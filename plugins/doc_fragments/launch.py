# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """The launch options instances and templates share (argument spec: module_utils/common.py, launch_argument_spec)."""

    DOCUMENTATION = r"""
options:
  envs:
    description: Environment variables for the instance. The values are secrets; they never appear in the output.
    type: list
    elements: dict
    suboptions:
      name:
        description: The variable's name.
        type: str
        required: true
      value:
        description: The variable's value.
        type: str
        required: true
  launch_configuration:
    description:
      - What to run once the instance is up, a container or a startup script, never both (checked before any call).
      - For an instance, set at creation only.
      - The docker C(envs) values, the registry password and the startup script are secrets; they never appear in the output.
    type: dict
    suboptions:
      type:
        description: V(docker) runs O(launch_configuration.docker_configuration); V(script) runs O(launch_configuration.script_configuration).
        type: str
        required: true
        choices: [docker, script]
      docker_configuration:
        description: The container to run.
        type: dict
        suboptions:
          image:
            description: The image, for example V(vllm/vllm-openai:latest).
            type: str
            required: true
          args:
            description: Arguments for the container.
            type: str
          shared_memory_in_gb:
            description: Shared memory of the container.
            type: int
          envs:
            description: Environment variables of the container.
            type: list
            elements: dict
            suboptions:
              name:
                description: The variable's name.
                type: str
                required: true
              value:
                description: The variable's value.
                type: str
                required: true
          port_mappings:
            description: Ports of the host forwarded to the container.
            type: list
            elements: dict
            suboptions:
              host_port:
                description: Port on the instance.
                type: int
                required: true
              container_port:
                description: Port in the container.
                type: int
                required: true
          volume_mounts:
            description: Host directories mounted in the container.
            type: list
            elements: dict
            suboptions:
              host_path:
                description: Directory on the instance.
                type: str
                required: true
              container_path:
                description: Directory in the container.
                type: str
                required: true
          registry_credentials:
            description: Credentials of a private registry.
            type: dict
            suboptions:
              username:
                description: Registry user name (optional, as in the API).
                type: str
              password:
                description: Registry password or token (optional, as in the API).
                type: str
      script_configuration:
        description: The startup script.
        type: dict
        suboptions:
          base64_script:
            description: The script, base64-encoded, for example V({{ lookup('ansible.builtin.file', 'setup.sh'\) | b64encode }}).
            type: str
            required: true
  auto_delete:
    description:
      - Delete the instance automatically past a date or past an amount spent.
      - V({}) (an empty dict) removes the thresholds of an existing instance.
    type: dict
    suboptions:
      date_threshold:
        description: An RFC 3339 date and time, for example V(2026-01-31T18:00:00Z).
        type: str
      spend_threshold:
        description: Dollars, as a decimal in a string, for example V("100.00").
        type: str
  alert:
    description:
      - Send an alert past a date or past an amount spent.
      - V({}) (an empty dict) removes the thresholds of an existing instance.
    type: dict
    suboptions:
      date_threshold:
        description: An RFC 3339 date and time.
        type: str
      spend_threshold:
        description: Dollars, as a decimal in a string.
        type: str
  volume_mount:
    description: How disks are mounted at creation.
    type: dict
    suboptions:
      auto:
        description: V(true) mounts the unmounted disks to a default file system.
        type: bool
        required: true
"""
