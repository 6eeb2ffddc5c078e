# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calls for the Shadeform volumes and templates, on top of ShadeformClient's ``get`` and ``post``.

Every answer is untrusted: a list that is not a list fails with a clear message, and elements that are not
objects are left out.
"""

from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformAPIError, path_segment


def _list(client, path, field, action):
    body = client.get(path, action=action)
    items = body.get(field) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ShadeformAPIError("The Shadeform API at {0}{1} answered without a {2!r} list. Check that api_url points at the "
                                "Shadeform API.".format(client.api_url, path, field))
    return [item for item in items if isinstance(item, dict)]


def _created_id(answer, what, name):
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), str) or not answer["id"]:
        raise ShadeformAPIError("The Shadeform API accepted the {0} {1!r} but did not answer with its id. Look for it before "
                                "trying again; running the task again finds it by name.".format(what, name))
    return answer["id"]


def list_volumes(client):
    return _list(client, "/volumes", "volumes", "list volumes")


def list_volume_types(client):
    return _list(client, "/volumes/types", "volume_types", "list volume types")


def create_volume(client, body):
    return _created_id(client.post("/volumes/create", body, action="create volumes", idempotent=False), "volume", body.get("name"))


def delete_volume(client, volume_id):
    client.post("/volumes/{0}/delete".format(path_segment(volume_id)), action="delete volume {0}".format(volume_id))


def list_templates(client, featured=False):
    path = "/templates/featured" if featured else "/templates"
    return _list(client, path, "templates", "list templates")


def template_info(client, template_id):
    info = client.get("/templates/{0}/info".format(path_segment(template_id)), action="read template {0}".format(template_id))
    if not isinstance(info, dict):
        raise ShadeformAPIError("The Shadeform API answered the template {0} with JSON that is not an object.".format(template_id))
    return info


def save_template(client, body):
    return _created_id(client.post("/templates/save", body, action="save templates", idempotent=False), "template", body.get("name"))


def update_template(client, template_id, body):
    client.post("/templates/{0}/update".format(path_segment(template_id)), body, action="update template {0}".format(template_id))


def delete_template(client, template_id):
    client.post("/templates/{0}/delete".format(path_segment(template_id)), action="delete template {0}".format(template_id))
