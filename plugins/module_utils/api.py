# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The named calls of the Shadeform API, for the inventory plugin and the modules alike.

:class:`ShadeformClient` adds one method per endpoint the collection uses to the transport of
``api_transport.py`` (deadline, retries, redirects refused, the key masked in every message). Each named call
checks the shape of the answer with one of three checks, the same for instances, SSH keys, volumes,
templates and clusters: a list under its field (``_listed``), one object (``_object``) and the id of something just created
(``_created_id``). What the callers act on is checked here: an object read by id carries that id, and every element
of a list of things the modules change (SSH keys, volumes, templates, clusters) carries an id. Every other field is still
untrusted data: it may be absent, null or of another type.
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import DEFAULT_API_URL, ApiTransport, json_type, path_segment

CHECK_API_URL = "Check that api_url points at the Shadeform API, for example {0}.".format(DEFAULT_API_URL)


class ShadeformClient(ApiTransport):
    """A client for the Shadeform API: the transport's ``get`` and ``post``, plus one named call per endpoint."""

    # -- instances -------------------------------------------------------------------------------------------------

    def list_instances(self):
        """The raw instance list of ``GET /instances``; elements that are not objects are kept, for the caller to report."""
        return self._listed("/instances", "instances", "list instances", objects_only=False)

    def instance_info(self, instance_id, missing_ok=False):
        """``GET /instances/{id}/info``: the instance with its launch details; None if unknown and ``missing_ok``."""
        return self._object(instance_id, "instance", missing_ok)

    def create_instance(self, body):
        """``POST /instances/create``; return the new instance's id."""
        return self._created_id("/instances/create", body, "instance")

    def update_instance(self, instance_id, body):
        self._post_to(instance_id, "instance", "update", body)

    def delete_instance(self, instance_id):
        self._post_to(instance_id, "instance", "delete")

    def restart_instance(self, instance_id):
        self._post_to(instance_id, "instance", "restart")

    def list_instance_types(self, params=None):
        return self._listed("/instances/types", "instance_types", "list instance types", params=params)

    # -- SSH keys --------------------------------------------------------------------------------------------------

    def list_ssh_keys(self):
        return self._listed("/sshkeys", "ssh_keys", "list SSH keys", with_ids=True)

    def add_ssh_key(self, name, public_key):
        return self._created_id("/sshkeys/add", {"name": name, "public_key": public_key}, "SSH key")

    def ssh_key_info(self, key_id, missing_ok=False):
        return self._object(key_id, "SSH key", missing_ok)

    def set_default_ssh_key(self, key_id):
        self._post_to(key_id, "SSH key", "setdefault", action="change the default SSH key")

    def delete_ssh_key(self, key_id):
        self._post_to(key_id, "SSH key", "delete")

    # -- volumes ---------------------------------------------------------------------------------------------------

    def list_volumes(self):
        return self._listed("/volumes", "volumes", "list volumes", with_ids=True)

    def list_volume_types(self):
        return self._listed("/volumes/types", "volume_types", "list volume types")

    def create_volume(self, body):
        return self._created_id("/volumes/create", body, "volume")

    def delete_volume(self, volume_id):
        self._post_to(volume_id, "volume", "delete")

    # -- templates -------------------------------------------------------------------------------------------------

    def list_templates(self, featured=False):
        # Featured templates are Shadeform's own, listed without ids (the published document); the workspace's own carry one.
        return self._listed("/templates/featured" if featured else "/templates", "templates", "list templates", with_ids=not featured)

    def template_info(self, template_id):
        return self._object(template_id, "template")

    def save_template(self, body):
        return self._created_id("/templates/save", body, "template")

    def update_template(self, template_id, body):
        self._post_to(template_id, "template", "update", body)

    def delete_template(self, template_id):
        self._post_to(template_id, "template", "delete")

    # -- clusters --------------------------------------------------------------------------------------------------

    def list_clusters(self):
        """``GET /clusters``: each cluster carries its members (full instances, without a cluster id) under ``instances``."""
        return self._listed("/clusters", "clusters", "list clusters", with_ids=True)

    def list_cluster_types(self):
        """``GET /clusters/types``: each entry is one region (``availability`` is one object, not a list)."""
        return self._listed("/clusters/types", "cluster_types", "list cluster types")

    def create_cluster(self, body):
        return self._created_id("/clusters/create", body, "cluster")

    def cluster_info(self, cluster_id, missing_ok=False):
        return self._object(cluster_id, "cluster", missing_ok)

    def delete_cluster(self, cluster_id):
        self._post_to(cluster_id, "cluster", "delete")

    # -- the three shape checks ------------------------------------------------------------------------------------

    def _listed(self, path, field, action, params=None, objects_only=True, with_ids=False):
        """The list under ``field`` of the object ``GET path`` answers (null: an empty list).

        With ``objects_only``, elements that are not objects are left out (nothing can be done with them); the
        instance list keeps them so that the inventory can name each one it skips. With ``with_ids``, an object
        without an id is an error: a module that found it by name could neither change it nor tell it apart.
        """
        body = self.get(path, params=params, action=action)
        url = self.api_url + path
        if not isinstance(body, dict):
            raise self._error("The Shadeform API at {0} answered with JSON that is not an object (got {1}). {2}".format(
                url, json_type(body), CHECK_API_URL))
        if field not in body:
            raise self._error("The Shadeform API at {0} answered without an {1!r} list. {2}".format(url, field, CHECK_API_URL))
        items = body[field]
        if items is None:
            return []
        if not isinstance(items, list):
            raise self._error("The Shadeform API at {0} answered with {1!r} as {2}, not a list. {3}".format(
                url, field, json_type(items), CHECK_API_URL))
        if not objects_only:
            return items
        items = [item for item in items if isinstance(item, dict)]
        if with_ids:
            for position, item in enumerate(items):
                if not _is_id(item.get("id")):
                    raise self._error("The Shadeform API at {0} listed element {1} of {2!r} without an id (got {3}). {4}".format(
                        url, position + 1, field, json_type(item.get("id")), CHECK_API_URL))
        return items

    # Collection paths of the things the API names by id, as ``_post_to`` and ``_object`` build them.
    _PATHS = {"instance": "/instances", "SSH key": "/sshkeys", "volume": "/volumes", "template": "/templates", "cluster": "/clusters"}

    def _post_to(self, item_id, what, verb, body=None, action=None):
        """``POST /<things>/{id}/<verb>``: a 404 says that the ``what`` of that id is gone (not that api_url is wrong)."""
        self.post("{0}/{1}/{2}".format(self._PATHS[what], path_segment(item_id), verb), body,
                  action=action or "{0} {1} {2}".format(verb, what, item_id), subject="{0} {1}".format(what, item_id))

    def _object(self, wanted_id, what, missing_ok=False):
        """The object ``GET /<things>/{id}/info`` answers, which must carry ``wanted_id`` as its id; None on HTTP 404 when
        ``missing_ok`` (else a 404 says that the ``what`` of that id is gone)."""
        path = "{0}/{1}/info".format(self._PATHS[what], path_segment(wanted_id))
        body = self.get(path, action="read {0} {1}".format(what, wanted_id), missing_ok=missing_ok, subject="{0} {1}".format(what, wanted_id))
        if body is None and missing_ok:
            return None
        url = self.api_url + path
        if not isinstance(body, dict):
            raise self._error("The Shadeform API at {0} answered with JSON that is not an object (got {1}). {2}".format(
                url, json_type(body), CHECK_API_URL))
        if body.get("id") != wanted_id:
            got = "none" if "id" not in body else ("{0!r}".format(body["id"][:80]) if _is_id(body["id"]) else json_type(body["id"]))
            raise self._error("The Shadeform API at {0} answered without the id asked for ({1!r}; the answer's id: {2}), so "
                              "nothing was done with it. {3}".format(url, wanted_id, got, CHECK_API_URL))
        return body

    def _created_id(self, path, body, what):
        """``POST path`` (never repeated once it may have reached the service) and return the id the answer gives."""
        answer = self.post(path, body, action="create {0}s".format(what), idempotent=False)
        if not isinstance(answer, dict) or not _is_id(answer.get("id")):
            raise self._error(
                "The Shadeform API accepted the new {0} {1!r} but did not answer with its id (got {2}). Look for it before "
                "trying again; running the task again finds it by name.".format(what, body.get("name"), json_type(answer)))
        return answer["id"]


def _is_id(value):
    return isinstance(value, str) and bool(value.strip())
