# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Instance helpers shared by the inventory plugin (controller) and the modules (target): redaction and filters.

Every field of an instance may be absent, null or of the wrong type; only ``id`` is expected.
"""

REDACTED = "<redacted>"


def redact_secrets(instance):
    """Return the instance with launch secrets replaced by REDACTED; the input is left untouched.

    Secrets are the values of the docker ``envs``, the registry password and the startup script.
    Only the objects on the way to a secret are copied: a deep copy of every launch configuration
    would dominate the inventory's run time on large fleets.
    """
    launch = instance.get("launch_configuration")
    if not isinstance(launch, dict):
        return instance
    launch = dict(launch)
    docker = launch.get("docker_configuration")
    if isinstance(docker, dict):
        docker = launch["docker_configuration"] = dict(docker)
        if isinstance(docker.get("envs"), list):
            docker["envs"] = [_redacted(env, "value") for env in docker["envs"]]
        if "registry_credentials" in docker:
            docker["registry_credentials"] = _redacted(docker["registry_credentials"], "password")
    if "script_configuration" in launch:
        launch["script_configuration"] = _redacted(launch["script_configuration"], "base64_script")
    redacted = dict(instance)
    redacted["launch_configuration"] = launch
    return redacted


def redact_instance_details(instance):
    """redact_secrets, and also the values of the top-level ``envs`` that ``GET /instances/{id}/info`` adds."""
    redacted = redact_secrets(instance)
    if isinstance(redacted.get("envs"), list):
        redacted = dict(redacted)
        redacted["envs"] = [_redacted(env, "value") for env in redacted["envs"]]
    return redacted


def _redacted(value, secret_field):
    if isinstance(value, dict) and value.get(secret_field) is not None:
        return dict(value, **{secret_field: REDACTED})
    return value


# The plain filters, named as the options of the inventory plugin and of instance_info.
FILTER_OPTIONS = ("statuses", "clouds", "regions", "gpu_types", "tags")


def matches(instance, statuses=(), clouds=(), regions=(), gpu_types=(), tags=()):
    """True when the instance passes the plain (non-Jinja) filters; an empty filter keeps everything."""
    if statuses and instance.get("status") not in statuses:
        return False
    if clouds and instance.get("cloud") not in clouds:
        return False
    if regions and instance.get("region") not in regions:
        return False
    if gpu_types and lookup(instance, ("configuration", "gpu_type")) not in gpu_types:
        return False
    if tags:
        carried = instance.get("tags")
        if not isinstance(carried, list) or not all(tag in carried for tag in tags):
            return False
    return True


def lookup(data, path):
    """The value at ``path`` (a sequence of keys) in nested dicts, or None."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
