# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every shadeform.cloud module shares: the API options (doc fragment shadeform.cloud.api), the client and the module structure."""

import datetime
import decimal
import time

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient
from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import (DEFAULT_API_URL, ShadeformAPIError, check_number,
                                                                                    escape_controls, requests_is_missing)
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import hourly_price_usd, redact_secrets
from ansible_collections.shadeform.cloud.plugins.module_utils.ssh_endpoint import ssh_endpoint


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


def wait_argument_spec():
    """The wait options (doc fragment shadeform.cloud.wait): every module of the group accepts them, so that
    ``module_defaults`` of ``group/shadeform.cloud.shadeform`` can set them once; the modules that never wait ignore them."""
    return dict(
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=3600),
        poll_interval=dict(type="float", default=10),
    )


# The longest wait_timeout and poll_interval accepted: a week is far beyond any launch, and far below what the
# clock and time.sleep() can hold on every platform.
MAX_WAIT_SECONDS = 7 * 24 * 3600


def wait_options_problem(params, least_wait_timeout=0):
    """What is wrong with wait_timeout or poll_interval (None when both are usable): below the least (``least_wait_timeout``
    for wait_timeout, above 0 for poll_interval), not finite or too large."""
    for name, least in (("wait_timeout", least_wait_timeout), ("poll_interval", None)):
        value = params.get(name)
        problem = None if value is None else check_number(name, value, MAX_WAIT_SECONDS, least=least)
        if problem:
            return problem
    return None


class ShadeformModule(AnsibleModule):
    """The AnsibleModule of every shadeform.cloud module: its failure messages and warnings, which quote what the API or a
    server said (names, status_details, error bodies), reach the terminal with every control character escaped."""

    def warn(self, warning):
        super(ShadeformModule, self).warn(escape_controls(warning))

    def fail_json(self, msg, **kwargs):
        super(ShadeformModule, self).fail_json(msg=escape_controls(msg), **kwargs)


def run_module(argument_spec, run, least_wait_timeout=0, **module_kwargs):
    """The one structure of every shadeform.cloud module: ``main()`` is ``run_module(argument_spec(), run)``.

    ``run(module, client, result)`` fills ``result`` (it starts as ``{"changed": False}``) and may fail the module
    itself with a clear message; an API error ends the module with its message and the result so far (for example
    the id of an instance created before a later call failed). ``changed`` is set by the run only after the API
    accepted a change, so that a refused call reports ``changed: false``.

    The wait options are checked before the run; ``least_wait_timeout`` is the shortest wait_timeout the module
    accepts, for a module whose every wait ends in a rollback at the deadline (fleet deletes a launch not ready by
    then, so that 0 would only launch in order to delete).
    """
    module = ShadeformModule(argument_spec=argument_spec, supports_check_mode=True, **module_kwargs)
    result = dict(changed=False)
    problem = wait_options_problem(module.params, least_wait_timeout)
    if problem:
        module.fail_json(msg=problem, **result)
    client = client_from_module(module)
    try:
        run(module, client, result)
    except ShadeformAPIError as exc:
        Task(module, client, result).fail(str(exc))
    module.exit_json(**result)


class Task:
    """One run of a module: the module, its client and the result so far, with what every module does with them.

    ``waiter`` holds the run's one deadline (``wait_timeout`` in all, from the start of the run), for every wait
    of the run: for an instance to be ready, for a refused delete to be accepted, for it to be gone.
    """

    def __init__(self, module, client, result):
        self.module = module
        self.params = module.params
        self.client = client
        self.result = result
        self.waiter = Waiter(self.params.get("wait_timeout") or 0, self.params.get("poll_interval") or 1)
        self.warned = set()

    def warn_once(self, key, message):
        """Warn ``message`` the first time ``key`` comes up in this run (an instance is looked at at every poll)."""
        if key not in self.warned:
            self.warned.add(key)
            self.module.warn(message)

    def instance_result(self, instance):
        """:func:`instance_result`, warning once per instance whose SSH fields the one parser refused."""
        return instance_result(instance, warn=lambda message: self.warn_once(instance.get("id"), message))

    def fail(self, msg, **extra):
        """Fail with ``msg`` and the result so far (what was created or deleted before stays named in it)."""
        fields = dict(self.result, **extra)
        fields["msg"] = msg  # a result may carry a msg of its own (restarted's note): the failure's wins
        self.module.fail_json(**fields)

    def find_one(self, items, what, item_id=None, name=None, skip=None):
        """The item of ``items`` with the id ``item_id``, or else the one named ``name`` (not ``skip(item)``), or None.

        Names are not unique at Shadeform: when several items carry the name, the module fails listing their ids.
        """
        items = [item for item in items if isinstance(item, dict)]
        if item_id:
            return next((item for item in items if item.get("id") == item_id), None)
        named = [item for item in items if item.get("name") == name and not (skip and skip(item))]
        if len(named) > 1:
            self.fail("{0} Shadeform {1}s are named {2!r} (ids {3}): give id to choose one, or rename the others.".format(
                len(named), what, name, ", ".join(str(item.get("id")) for item in named)))
        return named[0] if named else None

    def listed_instance(self, instance_id):
        """The instance of that id as GET /instances lists it, or None (the list is the one answer the same everywhere)."""
        return next((item for item in self.client.list_instances() if isinstance(item, dict) and item.get("id") == instance_id), None)


class Waiter:
    """One deadline and one poll loop for all the waits of a module run (fleet's included).

    ``poll(look)`` calls ``look()`` until it returns something other than None and returns that; it returns None once
    the deadline has passed. The last look comes at the deadline at the latest (the sleep before it is cut short), so
    a run ends within one poll interval and one look of ``wait_timeout``.
    """

    def __init__(self, timeout, interval, clock=time.monotonic, sleep=time.sleep):
        self.timeout = timeout
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self.deadline = clock() + timeout

    def remaining(self):
        return max(0.0, self.deadline - self.clock())

    def expired(self):
        return self.clock() >= self.deadline

    def poll(self, look):
        while True:
            value = look()
            if value is not None:
                return value
            left = self.deadline - self.clock()
            if left <= 0:
                return None
            self.sleep(min(self.interval, left))


# Statuses of an instance still launching: some providers refuse to delete it until the launch has ended.
PENDING_STATUSES = ("creating", "pending_provider", "pending")
# A refusal of these HTTP statuses is about the key or the account: asking again cannot change it.
FATAL_STATUSES = (401, 402, 403)
# Error codes (ShadeformAPIError.code, the answer's error_code) that no other offer and no retry can fix.
FATAL_CODES = ("INSUFFICIENT_FUNDS",)


def refusal_is_final(exc):
    """Whether a refused call is final: no answer (it may have gone through), the key or account, a 5xx, or a fatal code."""
    return exc.status is None or exc.status in FATAL_STATUSES or exc.status >= 500 or exc.code in FATAL_CODES


class Deletions:
    """Instance deletes, asked again while the API refuses them (some providers refuse while an instance launches).

    ``request(id)`` asks once: an accepted delete joins ``deleted``, a 404 means the instance is already gone, any other
    refusal that is not about the key or the account (:data:`FATAL_STATUSES`) is kept in ``refused`` (id -> message)
    for ``retry()``. A delete that got no answer raises, unless ``keep_unanswered``: then it is kept to ask again too
    (it may have gone through, and asking again then answers 404), for a run that owes several deletes and must not
    stop at the first, forgetting the others. ``instance`` and ``fleet`` share it: ``fleet`` retries at each look of
    its waits, ``instance`` waits for it with the run's :class:`Waiter` (:meth:`wait`).
    """

    def __init__(self, client, keep_unanswered=False):
        self.client = client
        self.keep_unanswered = keep_unanswered
        self.deleted = []
        self.refused = {}

    def request(self, instance_id):
        try:
            self.client.delete_instance(instance_id)
        except ShadeformAPIError as exc:
            if exc.status == 404:
                self.refused.pop(instance_id, None)
                return
            if exc.status in FATAL_STATUSES or (exc.status is None and not self.keep_unanswered):
                raise
            self.refused[instance_id] = str(exc)
            return
        self.refused.pop(instance_id, None)
        if instance_id not in self.deleted:
            self.deleted.append(instance_id)

    def retry(self, listed=None):
        """Ask again for each refused delete; True when none is left refused.

        With ``listed`` (id -> instance, from GET /instances) only those no longer launching are asked again, and those
        no longer listed are forgotten (gone): a provider that refuses while an instance launches refuses until then.
        """
        for instance_id in list(self.refused):
            if listed is not None:
                item = listed.get(instance_id)
                if item is None:
                    del self.refused[instance_id]
                    continue
                if item.get("status") in PENDING_STATUSES:
                    continue
            self.request(instance_id)
        return not self.refused

    def wait(self, waiter):
        """Ask again once each launch has ended, until every refused delete is accepted; False when the deadline comes first."""
        def look():
            listed = dict((item.get("id"), item) for item in self.client.list_instances() if isinstance(item, dict))
            return self.retry(listed) or None
        return bool(waiter.poll(look))


# The fields of an instance that say where SSH reaches it, in the order ssh_endpoint() reads them.
SSH_FIELDS = ("ip", "ssh_user", "ssh_port")


def instance_result(instance, warn=None):
    """An instance as every module returns it: secrets redacted, beside the API's ``hourly_price`` (cents) its price
    in dollars, ``hourly_price_usd`` (a spot instance's from its rental terms), and its ``ip``, ``ssh_user`` and
    ``ssh_port`` as the one SSH parser reads them (a value it refuses is null, so that a play that connects to what a
    module returned never hands ssh an option; ``warn(message)`` is told which fields were refused)."""
    shown = redact_secrets(instance)
    if "hourly_price" in instance or "rental_terms" in instance:
        shown = dict(shown, hourly_price_usd=hourly_price_usd(instance))
    endpoint = ssh_endpoint(instance)
    # A refused value becomes null; a missing one (null, "") stays as the API gave it; "18022" becomes the port 18022.
    shown = dict(shown, **dict((field, value) for field, value in zip(SSH_FIELDS, endpoint[:3])
                               if field in instance and (value is not None or field in endpoint.refused)))
    if endpoint.refused and warn:
        warn("Shadeform instance {0}: the API gave an unusable {1}; it is returned as null.".format(
            instance.get("id"), " and ".join(endpoint.refused)))
    return shown


# The fields of an SSH key the modules return: never its private half (the Shadeform-managed key's answers carry it).
SSH_KEY_FIELDS = ("id", "name", "public_key", "is_default")


def is_managed_key(key):
    """The Shadeform-managed key is the one whose answers carry its private half (uploaded keys carry none, or "")."""
    return isinstance(key.get("private_key"), str) and bool(key["private_key"].strip())


def ssh_key_result(key):
    """An SSH key as the modules return it: the API's fields but ``private_key`` (not even redacted), and ``managed``."""
    return dict(dict((field, key.get(field)) for field in SSH_KEY_FIELDS if field in key), managed=is_managed_key(key))


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


# The fields of a threshold (auto_delete, alert), as the options and the API's Thresholds name them.
THRESHOLD_FIELDS = ("date_threshold", "spend_threshold")


def threshold_key(value):
    """A threshold (``auto_delete``, ``alert``) as the API compares it: the date as an instant, the dollars as a decimal.

    The API may give back ``2026-01-01T00:00:00Z`` for ``2026-01-01T01:00:00+01:00`` and ``3.10`` for ``3.1``: the same
    threshold, which must not read as a change on a rerun. No threshold (null or ``{}``) is ``{}``, a field that is
    null is one not set, and only the threshold fields count. A value that does not parse is compared as it is.
    """
    if not value:
        return {}
    if not isinstance(value, dict):
        return value
    key = dict((field, value[field]) for field in THRESHOLD_FIELDS if value.get(field) is not None)
    date = value.get("date_threshold")
    if isinstance(date, str):
        try:
            when = datetime.datetime.fromisoformat(date.strip().replace("Z", "+00:00").replace("z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=datetime.timezone.utc)  # RFC 3339 without an offset: taken as UTC
            key["date_threshold"] = when.astimezone(datetime.timezone.utc)
        except ValueError:
            pass
    spend = value.get("spend_threshold")
    if isinstance(spend, str):
        try:
            key["spend_threshold"] = decimal.Decimal(spend.strip())
        except decimal.InvalidOperation:
            pass
    return key


_ENV = dict(type="list", elements="dict", options=dict(name=dict(type="str", required=True), value=dict(type="str", required=True, no_log=True)))
_THRESHOLDS = dict((field, dict(type="str")) for field in THRESHOLD_FIELDS)


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
                    username=dict(type="str"), password=dict(type="str", no_log=True))),
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
