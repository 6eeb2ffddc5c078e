# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: shadeform
short_description: Shadeform GPU instances as inventory
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Builds an inventory from every instance of a Shadeform workspace, with one C(GET /instances) call to the
    L(Shadeform API,https://docs.shadeform.ai) and, unless O(clusters=false), one C(GET /clusters) call more, for the
    members and groups of Shadeform's own multi-node clusters.
  - Each instance becomes one host, reachable over SSH as the API describes it (C(ansible_host), C(ansible_user) and
    C(ansible_port) come from the instance's C(ip), C(ssh_user) and C(ssh_port)), grouped by cloud, region, GPU type,
    status, instance type and tag.
  - C(ansible_host) is set from C(ip) only when it is an IPv4 or IPv6 address or an RFC 1123 host name, C(ansible_user)
    from C(ssh_user) only when it is a plain POSIX user name, and C(ansible_port) from C(ssh_port) only when it is a
    port from 1 to 65535 (also given as a string of digits such as C("18022")). Any other value (for example
    C(-oProxyCommand=...), which ssh would read as an option) is not used, with one warning naming the host and the
    field, never the value.
  - An instance the API gives no address yet (creating, pending, error) gets C(ansible_host) set to
    C(shadeform-no-address-yet.invalid), a name that can never resolve (RFC 6761 reserves C(.invalid)), so that
    Ansible never connects to the host's name, which could be another machine. A play that targets such a host
    reports it UNREACHABLE (the message names C(shadeform-no-address-yet.invalid)) and goes on with the others; the
    host stays in the inventory and its groups. Limit plays to C(status_active) to leave such hosts out.
  - Every top-level field of an instance becomes a host variable named C(<hostvars_prefix><field><hostvars_suffix>),
    for example C(shadeform_id), C(shadeform_cloud) and C(shadeform_configuration). The shortcuts C(shadeform_gpu_type),
    C(shadeform_num_gpus), C(shadeform_gpu_manufacturer) and C(shadeform_vram_per_gpu_in_gb) copy those fields of
    C(configuration), and C(shadeform_labels) is a dictionary of the tags written C(key=value) or C(key:value).
  - API fields keep the API's name and unit (C(shadeform_hourly_price) is cents per hour). C(shadeform_hourly_price_usd)
    is the price in dollars per hour, a float, for a spot instance from its rental terms' rate
    (C(rental_terms.hourly_price)), for any other from C(hourly_price) divided by 100.
  - API values that are NaN or Infinity are left out as absent fields, with one warning, so that
    C(ansible-inventory --list) prints standard JSON.
  - Every host is in the group C(shadeform). Unless O(default_groups=false), hosts are also in C(cloud_<cloud>),
    C(region_<region>), C(gpu_<gpu type>), C(status_<status>), C(instance_type_<shade instance type>) and
    C(tag_<tag>) for each tag. Group names are made safe with ansible-core's own rule, for example C(region_canada_1)
    and C(tag_env_prod).
  - Values from the API are never templated. Secrets (C(envs) values, in a list or an object, the startup script, and
    any field whose name, in any style such as C(privateKey), C(api-key) or C(PASSWORD), holds C(private key),
    C(api key), C(access key), C(password), C(passwd), C(passphrase), C(token), C(secret), C(credential) or
    C(authorization), at any depth) are replaced by C(<redacted>) unless O(expose_secrets=true), and never written to
    the cache.
  - With a file cache plugin, the O(cache_connection) directory is made its owner's only (mode 0700) before anything
    is written to it, and the entry's file is 0600, so no other user can read the inventory, not even for a moment.
  - The cache directory and this source's entry must belong to the user running Ansible and must not be symbolic
    links, and the entry must not be writable by others; otherwise the cache is neither read nor written (the API is
    asked instead), with one warning naming the path and the fix. The checks hold for reading as for writing.
  - Warnings and errors escape control characters from API values, and host and group names replace them with C(_).
  - The configuration file name must end in C(shadeform.yml) or C(shadeform.yaml), and C(plugin) must be the full
    name C(shadeform.cloud.shadeform); run with C(-vvv) to see why a file was declined.
  - An option this plugin does not know (for example C(status) for O(statuses)) is reported with the closest valid
    option, as a warning, or as an error when O(strict=true).
  - O(api_url), O(hostname_template), O(statuses), O(clouds), O(regions), O(gpu_types) and O(tags) may be templates
    when written in the file, for example V({{ lookup('ansible.builtin.env', 'FLEET_REGION'\) }}), so that one file
    serves several environments (AWX hands a sync its inputs as environment variables). An element of a list option
    that renders to a list is replaced by its items. Values taken from environment variables are used as they are.
requirements:
  - requests
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - shadeform.cloud.filters
options:
  plugin:
    description: The name of this plugin; it marks the file as a Shadeform inventory source.
    required: true
    type: str
    choices: [shadeform.cloud.shadeform]
  api_key:
    description:
      - The Shadeform API key. It has admin rights over the workspace, so keep it in an environment variable, in
        Ansible Vault (an inline C(!vault) string) or behind a lookup, never in clear in a shared file.
      - May be a template, for example V({{ lookup('ansible.builtin.env', 'MY_KEY'\) }}); the value of the environment
        variable is used as it is, never templated. Do not pass the key as an extra variable (C(-e shadeform_key=...) with
        V({{ shadeform_key }})), since C(ansible-inventory --list) and C(--host) print every extra variable among each
        host's variables, so the key would be in their output.
      - Required; there is no default. The key never appears in output, logs or cache files.
      - A key written in clear in the file gets a warning. A value in the file takes precedence over
        E(SHADEFORM_API_KEY), even when it renders empty, which is an error. Errors about the options of the file never
        show the file's lines.
    type: str
    env:
      - name: SHADEFORM_API_KEY
  api_url:
    description:
      - Base URL of the Shadeform API, up to and including C(/v1); it must start with C(https://). C(http://) is
        accepted only for a loopback host (C(localhost), C(127.0.0.0/8), C(::1)), or with O(allow_insecure_http).
      - The key is sent to this host only. Redirects are never followed, so that neither the key nor a request body
        ever reaches another host; a redirect is an error naming both URLs.
      - An answer's body is read up to 256 MiB, counted after decompression (100,000 instances take about 113 MB); a
        larger one is an error.
      - May be a template when set in the file; the value of the environment variable is used as it is.
    type: str
    default: https://api.shadeform.ai/v1
    env:
      - name: SHADEFORM_API_URL
  allow_insecure_http:
    description:
      - Allow an C(http://) O(api_url) whose host is not this machine.
      - B(The API key then crosses the network unencrypted), readable by anyone on the way. Use it only for a test
        service on a network you trust; without it such an O(api_url) is refused before any connection is made.
    type: bool
    default: false
  timeout:
    description:
      - Seconds one request may take in all, from connecting to the last byte of the answer, however slowly the
        server sends it. Must be positive, at most 3600.
    type: int
    default: 30
  retries:
    description:
      - How many times to try again after HTTP 429, an HTTP 5xx answer, a timeout or a connection error. Nothing else
        is tried again (a redirect, a TLS failure, another HTTP error, a bad setting), since it would fail the same way.
        From 0 to 100.
      - A C(Retry-After) header is honoured; otherwise the waits are 1, 2, 4, ... seconds. No single wait is longer
        than 60 seconds, so the inventory is built, or fails, within (O(retries) + 1) x O(timeout) + O(retries) x 60
        seconds; with the defaults, 5 minutes 0 seconds at most.
    type: int
    default: 3
  validate_certs:
    description:
      - Whether to verify the API's TLS certificate. Only turn this off on a network you trust.
      - Only a boolean is accepted; a misspelt value is an error, never a silent V(false).
    type: bool
    default: true
  hostnames:
    description:
      - Where host names come from, in order of preference; the first instance field with a non-empty value names
        the host, and the instance id when none has one.
      - Instances that would share a name (Shadeform names need not be unique) are added as
        C(<name>-<first 8 characters of the id>), with a warning; no instance is ever merged into another or dropped.
        Names are chosen over the whole fleet before any filter applies, so a host keeps its name whatever the filters.
      - Instances named C(localhost), C(127.0.0.1), C(::1), C(all), C(ungrouped), C(shadeform) or like one of the
        default groups (for example C(tag_gpu)) are renamed the same way, so that no instance ever stands in for the
        controller's implicit localhost, hides behind a group, or hands its variables to one.
      - In host names, the characters C({) and C(}), whitespace, control characters and the pattern syntax C(,),
        C(:), C([) and C(]) are replaced by C(_), and so is a first character C(!), C(&), C(~), C(@) or C(-); an IPv6
        address keeps its colons. So a host name can never become a template, and it selects that host and only that
        host as it is written, in a play's C(hosts), C(--limit) or C(--host).
      - Host names are plain strings in C(ansible-inventory) output on every ansible-core version.
    type: list
    elements: str
    choices: [name, id, ip, cloud_assigned_id]
    default: [name]
  hostname_template:
    description:
      - A Jinja template that names each host, over the host's variables (the instance fields such as
        C(shadeform_name), C(shadeform_region) and C(shadeform_id)) and, with O(use_extra_vars=true), the extra vars.
        For example V({{ shadeform_name }}.{{ shadeform_region }}), or a workspace prefix such as
        V(prod-{{ shadeform_name }}) so that two inventory sources of two workspaces never merge their hosts.
      - It takes precedence over O(hostnames); an instance for which it renders empty is named by O(hostnames). An
        instance for which it fails is named by O(hostnames) with a warning, or fails the inventory when O(strict=true).
      - The result is made safe and unique as O(hostnames) describes.
    type: str
  filters:
    description:
      - Jinja conditionals over each host's variables; a host is kept only when all hold. They see exactly what the
        O(compose) option sees (and what O(groups) sees, but for the results of O(compose)), as
        C(ansible.builtin.constructed) gives it (the host's variables, group variables, and the magic variables
        C(inventory_hostname), C(inventory_hostname_short), C(group_names) (C(shadeform) and the default groups),
        C(inventory_file) and C(inventory_dir), and the host's facts when a persistent fact cache such as
        C(ansible.builtin.jsonfile) holds some). With O(use_extra_vars=true) they also see the extra vars.
      - They are evaluated after the other filters and before O(compose); a host they leave out is in no group.
      - A conditional that cannot be evaluated for a host leaves the host out with a warning, or fails the inventory
        when O(strict=true).
    type: list
    elements: str
    default: []
  hostvars_prefix:
    description:
      - Prefix of the host variables made from instance fields.
      - Prefix and suffix may hold letters, digits and C(_) only. Fields that would name an C(ansible_*) variable are
        never set, so only C(ip), C(ssh_user) and C(ssh_port) drive the connection.
      - Nor are fields that would take a name ansible-core reserves (as the installed ansible-core lists them), a
        playbook keyword (C(name), C(loop), C(tags), C(port), C(when), ...), a magic variable (C(omit), C(item),
        C(inventory_hostname), C(group_names), C(groups), C(hostvars), C(playbook_dir), ...) or a global of every
        template (C(lookup), C(query), C(q), C(range), C(dict), C(now), C(lipsum), C(cycler), C(joiner),
        C(namespace), C(undef)), so that no API field ever hides them; one warning lists the fields left out.
    type: str
    default: shadeform_
  hostvars_suffix:
    description: Suffix of the host variables made from instance fields.
    type: str
    default: ""
  default_groups:
    description:
      - Whether to add hosts to the C(cloud_), C(region_), C(gpu_), C(status_), C(instance_type_) and C(tag_) groups.
        Turn this off to build your own groups with O(keyed_groups). The C(shadeform) group is always made.
    type: bool
    default: true
  constructed_fast_path:
    description:
      - Whether the plugin uses its shortcuts for O(compose), O(keyed_groups) and O(filters). A side-effect-free
        expression is evaluated once per distinct value of the variables it reads (hosts that share them share the
        result), and, on ansible-core 2.19 and later, each expression is compiled once instead of once per host. Host
        variables are also set faster, exactly as ansible-core would set them.
      - The results are the same either way. The shortcuts are used only on the ansible-core versions this collection
        is tested on (2.16 to 2.21) and without O(use_extra_vars); on any other version the plugin takes ansible-core's
        own path, slower, and C(-vvv) says so. The compile-once shortcut stands in for a private ansible-core method;
        it is only used after that method's signature and a test expression have been checked, and otherwise falls
        back to ansible-core's own path by itself (C(-vvv) says why). Set this to V(false) to rule the shortcuts
        out while investigating a problem.
    type: bool
    default: true
  clusters:
    description:
      - Whether to read the workspace's clusters (Shadeform's own multi-node clusters) with C(GET /clusters), one more
        request per inventory run (cached with the instances when the cache is on, one entry holding both answers).
      - On by default because a cluster's members may be missing from C(GET /instances) (see below), and without this
        request such a member would be left out of the inventory without a word.
      - Each cluster's members are then in the group C(cluster_<name>) (made safe as the other group names, the
        cluster's id when it has no name; one of the default groups, so not with O(default_groups=false)), with the host
        variables C(<hostvars_prefix>cluster_id<hostvars_suffix>) and C(<hostvars_prefix>cluster_name<hostvars_suffix>),
        for example C(shadeform_cluster_id) and C(shadeform_cluster_name).
      - Whether members are also listed by C(GET /instances) is undocumented; both are handled. A member listed there is
        that host, with the cluster's variables added; one that is not is added as a host from the cluster's members.
        A member is one host, never two. The plain filters (O(statuses), O(clouds), ...) and O(filters) apply to members too.
      - An account whose C(GET /clusters) is refused with HTTP 403 or 404 still gets its inventory, without cluster groups
        (C(-vvv) says so); any other failure of that request fails the inventory, as one of C(GET /instances) does.
      - Set V(false) to skip the request, for example for a proxy or an API key that only allows C(GET /instances);
        there are then no cluster groups or variables, and a member that C(GET /instances) does not list is no host.
    type: bool
    default: true
  expose_secrets:
    description:
      - Whether to show launch secrets (docker C(envs) values, the registry password and the startup script) in host
        variables instead of C(<redacted>).
      - When true, the cache is not used at all, so that secrets are never written to it.
    type: bool
    default: false
"""

EXAMPLES = r"""
# Each document below is one inventory file on its own.

# shadeform.yml: the smallest file; the key comes from the SHADEFORM_API_KEY environment variable.
plugin: shadeform.cloud.shadeform
---
# shadeform.yml: only running instances, named by id, with the private key set per host.
plugin: shadeform.cloud.shadeform
statuses: [active]
hostnames: [id]
compose:
  ansible_ssh_private_key_file: "'~/.ssh/shadeform'"
---
# shadeform.yml: H100 and A100 machines of production, grouped by the "team=..." label.
plugin: shadeform.cloud.shadeform
gpu_types: [H100, A100]
filters:
  - shadeform_labels.env | default('') == 'prod'
keyed_groups:
  - key: shadeform_labels.team | default('none')
    prefix: team
---
# prod.shadeform.yml: one file per workspace; host names carry the workspace and the region, so two
# workspaces never merge hosts, and the regions to keep come from an environment variable.
plugin: shadeform.cloud.shadeform
api_key: "{{ lookup('ansible.builtin.env', 'SHADEFORM_PROD_KEY') }}"
hostname_template: "prod-{{ shadeform_name }}.{{ shadeform_region }}"
regions: ["{{ lookup('ansible.builtin.env', 'FLEET_REGIONS') | split(',') }}"]
---
# shadeform.yml: only the members of Shadeform's own clusters (read by default: groups cluster_<name>, with
# shadeform_cluster_name on each member).
plugin: shadeform.cloud.shadeform
filters:
  - shadeform_cluster_id is defined
---
# shadeform.yml: the key from Ansible Vault, answers cached for ten minutes.
plugin: shadeform.cloud.shadeform
api_key: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  ...
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible/shadeform
cache_timeout: 600
"""

import contextlib
import difflib
import hashlib
import os
import re
import stat

from ansible import constants as C
from ansible.errors import AnsibleError, AnsibleParserError, AnsibleUndefinedVariable
from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.inventory.group import Group
from ansible.inventory.helpers import get_group_vars
from ansible.inventory.host import Host
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.plugins.loader import cache_loader
from ansible.utils.path import basedir
from ansible.utils.vars import combine_vars

from ansible_collections.shadeform.cloud.plugins.plugin_utils._constructed_shortcuts import shortcuts
from ansible_collections.shadeform.cloud.plugins.plugin_utils import hosts
from ansible_collections.shadeform.cloud.plugins.module_utils.api import ShadeformClient
from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import ShadeformAPIError, escape_controls, quoted_value, requests_is_missing
from ansible_collections.shadeform.cloud.plugins.module_utils.instance_data import (
    FILTER_OPTIONS, check_filter_values, redact_secrets)

try:
    from ansible.parsing.vault import VaultHelper  # ansible-core 2.19+
except ImportError:
    VaultHelper = None
try:
    from ansible.parsing.yaml.objects import AnsibleVaultEncryptedUnicode
except ImportError:
    AnsibleVaultEncryptedUnicode = None

try:
    from ansible.template import trust_as_template  # noqa: F401  pylint: disable=unused-import
except ImportError:
    # Before 2.19 every string is a template unless marked unsafe.
    from ansible.utils.unsafe_proxy import wrap_var as make_untrusted
else:
    # From 2.19 on, data tagging only templates strings marked trusted, and API data never is.
    def make_untrusted(value):
        return value

CACHE_FORMAT = 1
NAME_PART = re.compile(r"^[A-Za-z0-9_]*$")


def _error_text(exc):
    """An exception's own message: without the origin and source lines of ansible-core 2.19+, and without the copy of
    the cause that ansible-core 2.16-2.18 appends ("'x' is undefined. 'x' is undefined")."""
    text = to_native(getattr(exc, "message", None) or exc)
    cause = getattr(exc, "orig_exc", None)
    if cause is not None and text.endswith(". " + to_native(cause)):
        text = text[:-len(to_native(cause)) - 2]
    return text


def _unsafe_path(path, regular=False):
    """Why ``path`` (a cache directory, or an entry when ``regular``) must not be used, or None: it is a symbolic link,
    not of its kind, another user's, or (an entry) writable by other users."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return "cannot be read ({0})".format(to_native(exc.strerror or exc))
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not (stat.S_ISREG(info.st_mode) if regular else stat.S_ISDIR(info.st_mode)):
        return "is not a regular file" if regular else "is not a directory"
    if info.st_uid != os.geteuid():
        return "belongs to another user (uid {0}), not to the user running Ansible (uid {1})".format(info.st_uid, os.geteuid())
    if regular and info.st_mode & 0o022:
        return "is writable by other users (mode {0:04o})".format(stat.S_IMODE(info.st_mode))
    return None


@contextlib.contextmanager
def _private_files():
    """Files and directories made within the block are their owner's only."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "shadeform.cloud.shadeform"

    def __init__(self):
        super().__init__()
        self._cache_key = None

    def verify_file(self, path):
        if not super().verify_file(path):
            return False
        if path.endswith(("shadeform.yml", "shadeform.yaml")):
            return True
        # ansible-core only says the source "could not be verified": say what would make it acceptable.
        self.display.vvv("{0} declined {1}: the file name must end in 'shadeform.yml' or 'shadeform.yaml', for example "
                         "'prod.shadeform.yml'.".format(self.NAME, to_native(path)))
        return False

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        with _private_files():  # a file cache plugin makes its directory here
            config = self._read_config_data(path)
        self._check_option_names(config)
        if requests_is_missing():
            raise AnsibleError(missing_required_lib("requests"))
        prefix, suffix = self._hostvars_affixes()
        if self._written_in_clear(config.get("api_key")):
            self._warn("The Shadeform API key is written in clear in {0}: anyone who can read the file has admin rights over "
                       "the workspace. Export SHADEFORM_API_KEY instead, or encrypt the value with ansible-vault "
                       "encrypt_string, or read it with a lookup.".format(to_native(path)))
        self._template_options_from_file(config)
        try:
            check_filter_values(dict((option, self.get_option(option)) for option in FILTER_OPTIONS))
        except ValueError as exc:
            raise AnsibleParserError(escape_controls(to_native(exc))) from None

        instances, clusters = self._instances(path, cache, key_from_file="api_key" in config, validate_certs=self._validate_certs(config))
        enabled = self.get_option("constructed_fast_path") and not self.get_option("use_extra_vars")
        with shortcuts(self, enabled) as fast:
            for reason in fast.not_used:
                self.display.vvv("Shadeform inventory: for compose, keyed_groups and filters, {0}.".format(reason))
            self._add_hosts(self._hosts(instances, prefix, suffix, clusters), fast.set_variables)

    # Reading the configuration.

    def _check_option_names(self, config):
        """Name each key of the file that is no option (ansible-core ignores them), with the closest option."""
        valid = sorted(self._options)
        for key in config:
            if key in self._options:
                continue
            close = difflib.get_close_matches(to_text(key), valid, n=1)
            message = "Unknown option {0!r} in the Shadeform inventory file: {1}".format(
                to_native(key), "did you mean {0!r}?".format(close[0]) if close else "see ansible-doc -t inventory {0} for the "
                "options.".format(self.NAME))
            if self.get_option("strict"):
                raise AnsibleParserError(message)
            self._warn(message + " It is ignored.")

    def _template_options_from_file(self, config):
        """Render the environment-dependent options written as templates in the file (as api_key is rendered):
        values from environment variables, and defaults, are used as they are."""
        for option in ("api_url",) + FILTER_OPTIONS:
            if option not in config:
                continue
            value = self.get_option(option)
            if isinstance(value, list):
                rendered = []
                for item in value:
                    item = self._render_from_file(option, item)
                    rendered.extend(item if isinstance(item, list) else [item])
                self.set_option(option, [to_text(item) for item in rendered])
            else:
                self.set_option(option, self._render_from_file(option, value))

    def _render_from_file(self, option, value):
        """The option's value as written in the file, rendered when it is a template.

        A failure is one error that names the option and says why, without the exception's origin: from 2.19 on,
        ansible-core prints the lines of the file around an error's origin, and another line of the file may hold the
        API key in clear. Nor is the value written in the message, since it may be the key itself.
        """
        if not (isinstance(value, str) and self.templar.is_template(value)):
            return value
        self.templar.available_variables = self._vars
        try:
            return self.templar.template(value)
        except Exception as exc:  # pylint: disable=broad-except
            reason = _error_text(exc)
            # An undefined variable is named by the message; any other message about api_key may quote the template.
            if option == "api_key" and not isinstance(exc, AnsibleUndefinedVariable):
                reason = "it is not a valid template"
        raise AnsibleParserError("Could not render the {0} option of the Shadeform inventory file: {1}. Define the variables it "
                                 "uses (for example with -e), or fix the template.".format(option, escape_controls(reason)))

    def _written_in_clear(self, value):
        """Whether the file's api_key is the key itself: text that is neither vault-encrypted nor a template (a lookup)."""
        if AnsibleVaultEncryptedUnicode is not None and isinstance(value, AnsibleVaultEncryptedUnicode):
            return False
        if not isinstance(value, str) or not value.strip():
            return False
        if VaultHelper is not None and VaultHelper.get_ciphertext(value, with_tags=False):
            return False
        return not self.templar.is_template(value)

    def _warn(self, message):
        """Every warning of the plugin: a message may hold API values, and no control character reaches the terminal."""
        self.display.warning(escape_controls(message))

    # Fetching, through the cache.

    def _instances(self, path, cache, key_from_file, validate_certs):
        """``(instances, clusters)``: the instance list and the cluster list (None without the clusters option), redacted
        unless expose_secrets; from the cache when allowed and fresh (one entry holds both answers)."""
        client = self._client(key_from_file, validate_certs)
        if self.get_option("expose_secrets"):
            if self.get_option("cache"):
                self._warn("The Shadeform inventory does not use the cache while expose_secrets is true, "
                           "so that secrets are never written to it.")
            return self._fetch(client), self._fetch_clusters(client)

        fetched = None
        if self.get_option("cache"):
            self._cache_key = "{0}_{1}".format(self.get_cache_key(path), self._credentials_digest(client))
            refusal = self._cache_refusal()
            if refusal:
                # Neither read nor written: an entry someone else can write could give any host any address and user.
                self._warn(refusal)
                self._cache_key = None
            elif cache:
                fetched = self._cached_instances()
        if fetched is None:
            instances = [redact_secrets(instance) if isinstance(instance, dict) else instance
                         for instance in self._fetch(client)]
            clusters = self._fetch_clusters(client)
            if clusters is not None:
                clusters = [redact_secrets(cluster) if isinstance(cluster, dict) else cluster for cluster in clusters]
            if self._cache_key:
                self._cache[self._cache_key] = {"format": CACHE_FORMAT, "instances": instances, "clusters": clusters}
            fetched = instances, clusters
        return fetched

    def _cached_instances(self):
        try:
            entry = self._cache[self._cache_key]
        except KeyError:
            return None
        except Exception as exc:  # pylint: disable=broad-except
            # Cache plugins fail in their own ways on a damaged entry (AnsibleError, ValueError, TypeError, ...).
            self._warn("Ignoring the unreadable Shadeform inventory cache entry and fetching again: {0}".format(to_native(exc)))
            return None
        if isinstance(entry, dict) and entry.get("format") == CACHE_FORMAT and isinstance(entry.get("instances"), list):
            if not self.get_option("clusters"):
                return entry["instances"], None
            if isinstance(entry.get("clusters"), list):
                return entry["instances"], entry["clusters"]
            return None  # written while the clusters option was off: both answers are fetched again
        self._warn("Ignoring a Shadeform inventory cache entry in an unknown format and fetching again.")
        return None

    def _fetch(self, client):
        """The API's instance list, without NaN and Infinity (so that neither the output nor the cache holds them)."""
        try:
            instances = client.list_instances()
        except ShadeformAPIError as exc:
            raise AnsibleParserError(to_native(exc)) from None
        instances, warning = hosts.without_non_finite(instances)
        if warning:
            self._warn(warning)
        return instances

    def _fetch_clusters(self, client):
        """The API's cluster list (without NaN and Infinity), or None when the clusters option is off; an empty list for an
        account whose GET /clusters is refused with 403 or 404 (one that rents no clusters still gets its inventory)."""
        if not self.get_option("clusters"):
            return None
        try:
            clusters = client.list_clusters()
        except ShadeformAPIError as exc:
            if exc.status not in (403, 404):
                raise AnsibleParserError(to_native(exc)) from None
            self.display.vvv("Shadeform inventory: GET /clusters answered HTTP {0} for this account, so no host is in a cluster "
                             "group; the instances are all there. Set clusters: false to skip the request.".format(exc.status))
            return []
        clusters, warning = hosts.without_non_finite(clusters)
        if warning:
            self._warn(warning)
        return clusters

    @staticmethod
    def _validate_certs(config):
        """The option as written: ansible-core reads anything that is not a boolean word as false, turning checks off."""
        value = config.get("validate_certs", True)
        try:
            return boolean(value, strict=True)
        except TypeError:
            raise AnsibleParserError("validate_certs must be true or false, not {0!r}: certificate checks are not turned off "
                                     "by a misspelling.".format(to_text(value))) from None

    def _client(self, key_from_file, validate_certs):
        # The client itself refuses a bad api_url or timeout, naming the option, before anything is sent.
        return ShadeformClient(
            api_key=self._api_key(key_from_file),
            api_url=self.get_option("api_url") or "",
            timeout=self.get_option("timeout"),
            retries=self.get_option("retries"),
            validate_certs=validate_certs,
            allow_insecure_http=self.get_option("allow_insecure_http"),
        )

    def _api_key(self, from_file):
        api_key = self.get_option("api_key")
        # Only a value written in the configuration file may be a template (a lookup, or extra vars passed
        # with -e); the environment's value is used literally.
        if from_file:
            api_key = self._render_from_file("api_key", api_key)
        api_key = to_text(api_key or "").strip()
        if not api_key and from_file:
            # The file's value takes precedence over SHADEFORM_API_KEY, even when it is empty.
            raise AnsibleParserError("The api_key option of the Shadeform inventory file gives an empty key, and it takes "
                                     "precedence over SHADEFORM_API_KEY. Remove api_key from the file to use SHADEFORM_API_KEY, "
                                     "or make it give the key (set the variable or environment variable it reads).")
        if not api_key:
            raise AnsibleParserError("No Shadeform API key: export SHADEFORM_API_KEY, or set api_key in the inventory file "
                                     "(preferably vault-encrypted).")
        return api_key

    @staticmethod
    def _credentials_digest(client):
        """Tells cache entries of different keys or URLs apart without writing the key anywhere."""
        material = "{0}\n{1}".format(client.api_url, client.api_key).encode("utf-8")
        return hashlib.sha256(material).hexdigest()[:16]

    def update_cache_if_changed(self):
        if not self._cache_key:
            return  # the cache is not in use for this source, or _cache_refusal refused it
        directory = self._cache_directory()
        with _private_files():
            super().update_cache_if_changed()
        if directory:
            self._restrict_cache_file(directory)

    def _cache_directory(self):
        """cache_connection when it names a directory or a link (a file cache plugin), else None (memory, redis, ...)."""
        directory = os.path.expanduser(os.path.expandvars(self.get_option("cache_connection") or ""))
        if not directory:
            return None
        # normpath: "dir/" would make lstat follow a link.
        directory = os.path.normpath(directory)
        return directory if os.path.isdir(directory) or os.path.islink(directory) else None

    def _cache_refusal(self):
        """None when the file cache may be read and written; otherwise the warning that says why not and what to do.

        The directory and this source's entry must be the user's own (root's chmod succeeds on anyone's directory, so
        the mode alone proves nothing), no symbolic link, and closed to other users' writes: an entry another user can
        write would give a host any address and user, without an API call. The same checks hold for reading and
        writing. An open directory of the user's own is made private (0700), since file cache plugins write each
        entry world-readable before this plugin narrows it.
        """
        directory = self._cache_directory()
        if not directory:
            return None
        fix = "Set cache_connection to a directory of your own that only you can write to (it is made 0700 when missing)."
        problem = _unsafe_path(directory)
        if problem:
            return self._cache_warning(directory, problem, fix)
        if not self._restrict_cache_directory(directory):
            return self._cache_warning(directory, "is open to other users and could not be made private", fix)
        for name in sorted(os.listdir(directory)):
            if name.endswith(self._cache_key):
                entry = os.path.join(directory, name)
                problem = _unsafe_path(entry, regular=True)
                if problem:
                    fix = "Remove {0}: the next run fetches from the API and writes it again, for you only.".format(to_native(entry))
                    return self._cache_warning(entry, problem, fix)
        return None

    @staticmethod
    def _cache_warning(path, problem, fix):
        return ("The Shadeform inventory cache is not used, neither read nor written, and the instances are fetched from the "
                "API: {0} {1}. {2}".format(to_native(path), problem, fix))

    def _restrict_cache_directory(self, directory):
        """Make the user's own cache directory private; False when that cannot be done.

        ansible-core's file cache plugins write each entry, then chmod it to 0644: only a directory
        others cannot enter keeps the entry from them in that moment, and before this plugin's chmod.
        """
        mode = stat.S_IMODE(os.lstat(directory).st_mode)
        if not mode & 0o077:
            return True
        try:
            os.chmod(directory, mode & 0o700)
        except OSError:
            return False
        return True

    def _restrict_cache_file(self, directory):
        """ansible-core writes file caches world-readable (0644); the fleet's entry is for its owner only.

        File cache plugins name the entry's file after the cache key, inside cache_connection
        (ansible-core 2.19+ adds a schema prefix), so the entry is found without their internals.
        """
        for entry in os.listdir(directory):
            if entry.endswith(self._cache_key):
                os.chmod(os.path.join(directory, entry), 0o600)

    # Mapping and filtering.

    def _hostvars_affixes(self):
        prefix = self.get_option("hostvars_prefix") or ""
        suffix = self.get_option("hostvars_suffix") or ""
        for option, value in (("hostvars_prefix", prefix), ("hostvars_suffix", suffix)):
            if not NAME_PART.match(value):
                raise AnsibleParserError("{0} {1!r} may hold only letters, digits and '_', so that host variable names "
                                         "stay valid.".format(option, value))
        if prefix[:1].isdigit():
            raise AnsibleParserError("hostvars_prefix {0!r} must not start with a digit.".format(prefix))
        return prefix, suffix

    def _hosts(self, instances, prefix, suffix, clusters=None):
        """(name, variables, groups) for every instance (and cluster member) that passes the plain filters, in API order;
        warnings shown. The steps: host variables (pure), names (the hostname_template through the templar, then the
        pure naming), plain filters (pure); the Jinja filters come when the hosts are added."""
        options = dict((option, self.get_option(option)) for option in ("hostnames", "default_groups") + FILTER_OPTIONS)
        options.update(hostvars_prefix=prefix, hostvars_suffix=suffix)
        fleet = hosts.fleet_variables(instances, options, clusters)
        # Before 2.19, API values are marked unsafe so that no template (the hostname_template first) renders them.
        fleet = fleet._replace(variables=[make_untrusted(variables) for variables in fleet.variables])
        preferred = self._template_hostnames(fleet.instances, fleet.variables) if self.get_option("hostname_template") else None
        mapping = hosts.inventory_hosts(fleet, options, preferred)
        for warning in mapping.warnings:
            self._warn(warning)
        for detail in mapping.details:
            self.display.vvv(detail)
        return mapping.hosts

    def _template_hostnames(self, instances, host_variables):
        """The hostname_template's text for every instance (None where it fails), from its host variables."""
        template = self.get_option("hostname_template")
        names = []
        failures = []
        for instance, variables in zip(instances, host_variables):
            if self.get_option("use_extra_vars"):
                variables = combine_vars(variables, self._vars)
            self.templar.available_variables = variables
            try:
                name = self.templar.template(template)
            except Exception as exc:  # pylint: disable=broad-except
                message = "Could not render hostname_template for Shadeform instance {0}: {1}".format(
                    quoted_value(instance.get("id")), to_native(exc))
                if self.get_option("strict"):
                    raise AnsibleParserError(escape_controls(message)) from None
                failures.append(message)
                name = None
            # A rendered name is plain text: it is made safe for patterns and templates before use.
            names.append(str(name) if isinstance(name, (str, int, float)) and not isinstance(name, bool) else None)
        for message in failures[:hosts.MAX_RENAME_WARNINGS]:
            self._warn(message + "; the host is named by the hostnames option.")
        if len(failures) > hosts.MAX_RENAME_WARNINGS:
            self._warn("hostname_template failed for {0} more Shadeform instances; they are named by the hostnames "
                       "option.".format(len(failures) - hosts.MAX_RENAME_WARNINGS))
        return names

    def _passes_conditionals(self, name, variables, conditionals):
        for conditional in conditionals:
            try:
                if not self._evaluate_conditional(conditional, variables):
                    return False
            except Exception as exc:  # pylint: disable=broad-except
                message = "Could not evaluate the filter {0!r} for host {1}: {2}".format(conditional, name, to_native(exc))
                if self.get_option("strict"):
                    raise AnsibleParserError(escape_controls(message)) from None
                self._warn(message + "; the host is left out.")
                return False
        return True

    def _evaluate_conditional(self, conditional, variables):
        """Evaluate one conditional as the constructed `groups` option does, on every ansible-core version."""
        if self.get_option("use_extra_vars"):
            variables = combine_vars(variables, self._vars)
        self.templar.available_variables = variables
        if hasattr(self.templar, "evaluate_conditional"):
            return self.templar.evaluate_conditional(conditional)
        return boolean(self.templar.template("{%% if %s %%} True {%% else %%} False {%% endif %%}" % conditional))

    # Adding to the inventory.

    def _add_hosts(self, hosts, set_variables):
        """Add the hosts that pass the filters, then apply compose, groups and keyed_groups with ansible-core's own
        constructed helpers, over what ansible.builtin.constructed gives each host (_host_view). ``set_variables(host,
        variables)`` sets a host's variables as Host.set_variable does, one by one (the shortcuts' entry point gives it)."""
        strict = self.get_option("strict")
        compose, composed_groups, keyed_groups = (self.get_option(option) for option in ("compose", "groups", "keyed_groups"))
        conditionals = self.get_option("filters")
        # As ansible.builtin.constructed, the options see the facts a persistent fact cache (jsonfile, redis, ...) holds.
        facts = cache_loader.get(C.CACHE_PLUGIN) if compose or composed_groups or keyed_groups or conditionals else None
        self.inventory.add_group("shadeform")
        for name, variables, groups in hosts:
            # Host names are sanitized (no braces) and can never be templates: plain text on every ansible-core,
            # so that ansible-inventory prints them as strings (str() would keep AnsibleUnsafeText, whose
            # __str__ returns itself; str's own __str__ copies into a plain str).
            name = str.__str__(name)
            view = None
            if conditionals:
                # The view of the host once added: compose sees the very same, so it is made once for both.
                view = self._host_view(self._unadded_host(name, variables, groups, set_variables), facts)
                if not self._passes_conditionals(name, view, conditionals):
                    continue
            self.inventory.add_host(name, group="shadeform")
            host = self.inventory.get_host(name)
            # As Host.set_variable, not InventoryData.set_variable: that one also formats each value into a debug line,
            # which took 7 s of a 10.6 s --graph at N = 10,000 (benchmarks/RESULTS.md).
            set_variables(host, variables)
            for group in groups:
                self.inventory.add_child(self.inventory.add_group(group), name)
            if not (compose or composed_groups or keyed_groups):
                continue
            try:
                if view is None:
                    view = self._host_view(host, facts)
                if compose:
                    self._set_composite_vars(compose, view, name, strict=strict)
                    view = self._host_view(host, facts)  # groups and keyed_groups see the composed variables too
                self._add_host_to_composed_groups(composed_groups, view, name, strict=strict, fetch_hostvars=False)
                self._add_host_to_keyed_groups(keyed_groups, view, name, strict=strict, fetch_hostvars=False)
            except AnsibleError:
                raise
            except Exception as exc:  # pylint: disable=broad-except
                # ansible-core's constructed code fails so on values of types it does not expect: a parent_group giving
                # a dict, for example (ansible.builtin.constructed fails the whole source too).
                raise AnsibleParserError("Could not apply compose, groups or keyed_groups to Shadeform host {0}: {1}. Each key "
                                         "must give text, a list or a dict, and each parent_group text.".format(
                                             name, to_native(exc))) from None

    @staticmethod
    def _host_view(host, facts):
        """What ansible.builtin.constructed evaluates its options over: group variables, then the host's variables and
        magic variables (inventory_hostname, group_names, ...), then the facts the fact cache holds for the host."""
        view = combine_vars(get_group_vars(host.get_groups()), host.get_vars())
        return combine_vars(view, facts.get(host.name)) if facts is not None and facts.contains(host.name) else view

    def _unadded_host(self, name, variables, groups, set_variables):
        """The host ``name`` as the inventory would hold it once added with ``variables`` to ``groups`` (and
        ``shadeform``), without adding it: the filters see what compose would, and a host they leave out leaves no trace.

        ansible-core has no way to see a host's variables before it is added, nor to take a host back without a trace
        (InventoryData.remove_host leaves the groups made for it, and would remove another source's host of that name).
        So a Host is built as InventoryData.add_host builds one, through Host's own methods: from the host another source
        added, when there is one, else with the inventory_file and inventory_dir that add_host sets first.
        """
        existing = self.inventory.hosts.get(name)
        host = Host(name, gen_uuid=False)
        if existing is None:
            source = self.inventory.current_source
            host.set_variable("inventory_file", source or None)
            host.set_variable("inventory_dir", basedir(source) if source else None)
        else:
            for group in existing.get_groups():
                host.add_group(group)
            set_variables(host, existing.vars)
        set_variables(host, variables)
        for group_name in ["shadeform"] + groups:
            group = self.inventory.groups.get(group_name)
            host.add_group(group if group is not None else Group(group_name))
        return host
