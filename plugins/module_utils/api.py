# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The named calls of the Shadeform API, for the inventory plugin and the modules alike.

:class:`ShadeformClient` adds one method per endpoint the collection uses to the transport of
``api_transport.py`` (deadline, retries, redirects refused, the key masked in every message). Each named call
checks the shape of the answer with one of two checks, the same for instances, SSH keys, volumes and
templates: a list under its field (``_listed``) and the id of something just created (``_created_id``).
The elements of a list are still untrusted data: every field of them may be absent, null or of another type.
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import (DEFAULT_API_URL, ApiTransport, ShadeformAPIError,
                                                                                    json_type, path_segment)


class ShadeformClient(ApiTransport):
    """A client for the Shadeform API: the transport's ``get`` and ``post``, plus one named call per endpoint."""

    # -- instances -------------------------------------------------------------------------------------------------

    def list_instances(self):
        """The raw instance list of ``GET /instances``; elements that are not objects are kept, for the caller to report."""
        return self._listed("/instances", "instances", "list instances", objects_only=False)

    def instance_info(self, instance_id, missing_ok=False):
        """``GET /instances/{id}/info``: the instance with its launch details; None if unknown and ``missing_ok``."""
        return self._object("/instances/{0}/info".format(path_segment(instance_id)), "read instance {0}".format(instance_id),
                            missing_ok)

    def create_instance(self, body):
        """``POST /instances/create``; return the new instance's id."""
        return self._created_id("/instances/create", body, "instance")

    def update_instance(self, instance_id, body):
        self.post("/instances/{0}/update".format(path_segment(instance_id)), body, action="update instance {0}".format(instance_id))

    def delete_instance(self, instance_id):
        self.post("/instances/{0}/delete".format(path_segment(instance_id)), action="delete instance {0}".format(instance_id))

    def restart_instance(self, instance_id):
        self.post("/instances/{0}/restart".format(path_segment(instance_id)), action="restart instance {0}".format(instance_id))

    def list_instance_types(self, params=None):
        return self._listed("/instances/types", "instance_types", "list instance types", params=params)

    # -- SSH keys --------------------------------------------------------------------------------------------------

    def list_ssh_keys(self):
        return self._listed("/sshkeys", "ssh_keys", "list SSH keys")

    def add_ssh_key(self, name, public_key):
        return self._created_id("/sshkeys/add", {"name": name, "public_key": public_key}, "SSH key")

    def ssh_key_info(self, key_id, missing_ok=False):
        return self._object("/sshkeys/{0}/info".format(path_segment(key_id)), "read SSH key {0}".format(key_id), missing_ok)

    def set_default_ssh_key(self, key_id):
        self.post("/sshkeys/{0}/setdefault".format(path_segment(key_id)), action="change the default SSH key")

    def delete_ssh_key(self, key_id):
        self.post("/sshkeys/{0}/delete".format(path_segment(key_id)), action="delete SSH key {0}".format(key_id))

    # -- volumes ---------------------------------------------------------------------------------------------------

    def list_volumes(self):
        return self._listed("/volumes", "volumes", "list volumes")

    def list_volume_types(self):
        return self._listed("/volumes/types", "volume_types", "list volume types")

    def create_volume(self, body):
        return self._created_id("/volumes/create", body, "volume")

    def delete_volume(self, volume_id):
        self.post("/volumes/{0}/delete".format(path_segment(volume_id)), action="delete volume {0}".format(volume_id))

    # -- templates -------------------------------------------------------------------------------------------------

    def list_templates(self, featured=False):
        return self._listed("/templates/featured" if featured else "/templates", "templates", "list templates")

    def template_info(self, template_id):
        return self._object("/templates/{0}/info".format(path_segment(template_id)), "read template {0}".format(template_id))

    def save_template(self, body):
        return self._created_id("/templates/save", body, "template")

    def update_template(self, template_id, body):
        self.post("/templates/{0}/update".format(path_segment(template_id)), body, action="update template {0}".format(template_id))

    def delete_template(self, template_id):
        self.post("/templates/{0}/delete".format(path_segment(template_id)), action="delete template {0}".format(template_id))

    # -- the two shape checks --------------------------------------------------------------------------------------

    def _listed(self, path, field, action, params=None, objects_only=True):
        """The list under ``field`` of the object ``GET path`` answers (null: an empty list).

        With ``objects_only``, elements that are not objects are left out (nothing can be done with them); the
        instance list keeps them so that the inventory can name each one it skips.
        """
        body = self.get(path, params=params, action=action)
        url = self.api_url + path
        if not isinstance(body, dict):
            raise ShadeformAPIError(
                "The Shadeform API at {0} answered with JSON that is not an object (got {1}). "
                "Check that api_url points at the Shadeform API, for example {2}.".format(url, json_type(body), DEFAULT_API_URL))
        if field not in body:
            raise ShadeformAPIError(
                "The Shadeform API at {0} answered without an {1!r} list. "
                "Check that api_url points at the Shadeform API, for example {2}.".format(url, field, DEFAULT_API_URL))
        items = body[field]
        if items is None:
            return []
        if not isinstance(items, list):
            raise ShadeformAPIError(
                "The Shadeform API at {0} answered with {1!r} as {2}, not a list. "
                "Check that api_url points at the Shadeform API, for example {3}.".format(url, field, json_type(items), DEFAULT_API_URL))
        return [item for item in items if isinstance(item, dict)] if objects_only else items

    def _object(self, path, action, missing_ok=False):
        """The object ``GET path`` answers; None on HTTP 404 when ``missing_ok``."""
        body = self.get(path, action=action, missing_ok=missing_ok)
        if body is None and missing_ok:
            return None
        if not isinstance(body, dict):
            raise ShadeformAPIError(
                "The Shadeform API at {0} answered with JSON that is not an object (got {1}). "
                "Check that api_url points at the Shadeform API, for example {2}.".format(
                    self.api_url + path, json_type(body), DEFAULT_API_URL))
        return body

    def _created_id(self, path, body, what):
        """``POST path`` (never repeated once it may have reached the service) and return the id the answer gives."""
        answer = self.post(path, body, action="create {0}s".format(what), idempotent=False)
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str) or not answer["id"]:
            raise ShadeformAPIError(
                "The Shadeform API accepted the new {0} {1!r} but did not answer with its id (got {2}). Look for it before "
                "trying again; running the task again finds it by name.".format(what, body.get("name"), json_type(answer)))
        return answer["id"]
