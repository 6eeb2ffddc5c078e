# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the API key, SSH connections and secrets may go, proved with the real ansible-* commands.

The servers are real and on loopback: the API simulator, and the hostile servers of hostile_servers.py
(redirecting, trickling, silent, or only counting connections), a "second host" being 127.0.0.2.
"""

import json
import os
import stat
import subprocess
import textwrap

import pytest

from helpers import (API_KEY, FAIL_ENV, FORGED_ADDRESS, NO_PROXY_ENV, ansible_inventory, assert_clean_failure, cache_options, cli_env,
                     cli_path, encoded_forms, forge_cache_entry, inventory_list, key_leaks, load_fixture, one_line, write_inventory)
from hostile_servers import LoopbackServer, answering, counting, fleet, redirecting, silent, trickling

pytestmark = pytest.mark.functional

EXAMPLE = load_fixture("instances-example.json")["instances"]
# Keys with no common start, so that any 8 characters of one found in the output are a leak.
ODD_KEYS = ["Zq7Xw9LpR3tV\nKm2Nb8Hc", "Zq7Xw9LpR3tV\r\nKm2Nb8Hc", "Zq7Xw9Lp R3tV\x07Km2Nb8Hc", "Zq7Xw9LpR3tVé2Nb8Hc"]
QUOTED_KEY = 'Yv4Tq8Mn"Ws2\\Jd6Kp0Lx'
# A key whose characters every escaping changes, after its 8th character: the old mask left its tail in clear.
SLASHED_KEY = "sfk_ABCDEFGH/9fK2+qLm=Rt%7e'Zq"


def inventory_file(tmp_path, url, extra=""):
    path = tmp_path / "shadeform.yml"
    path.write_text("plugin: shadeform.cloud.shadeform\napi_url: {0}\n{1}".format(url, textwrap.dedent(extra)))
    return str(path)


def run_failing(path, *args, env=None, timeout=120):
    return ansible_inventory(path, "--list", *args, env=dict(FAIL_ENV, **(env or {})), timeout=timeout)


def run_module(module, arguments, env=None, timeout=120):
    """``ansible localhost -m <module> -a <arguments as JSON>``."""
    return subprocess.run([cli_path("ansible"), "localhost", "-m", module, "-a", json.dumps(arguments)],
                          env=cli_env(dict(NO_PROXY_ENV, **(env or {}))), capture_output=True, text=True, timeout=timeout,
                          check=False)


def assert_key_absent(output, key):
    """No 8 characters in a row of the key, in any form: raw, escaped, URL-encoded, base64 or hex."""
    leaks = key_leaks(key, output)
    assert not leaks, "the key leaked: {0!r}\n{1}".format(leaks, output)


# --- The API key goes to the host of api_url only ------------------------------------------------------------

@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_elsewhere_is_refused_and_the_key_never_follows(tmp_path, status):
    with LoopbackServer(fleet(EXAMPLE), host="127.0.0.2") as elsewhere:
        with LoopbackServer(redirecting(elsewhere.url + "/instances", status)) as api:
            result = run_failing(inventory_file(tmp_path, api.url))
        assert elsewhere.connections == 0, elsewhere.requests
    assert_clean_failure(result, "HTTP {0}".format(status), api.url + "/instances", elsewhere.url + "/instances",
                         "api_url")


def test_https_redirect_to_plain_http_on_the_same_host_is_refused(tmp_path):
    with LoopbackServer(fleet(EXAMPLE)) as plain:
        with LoopbackServer(redirecting(plain.url.replace("http:", "https:") + "/instances", 301)) as api:
            # The https:// target is this same plain server: following it would be a TLS error, not a listing.
            result = run_failing(inventory_file(tmp_path, api.url))
    assert_clean_failure(result, "HTTP 301", "redirecting to https://")
    assert len(api.requests) == 1


def test_module_post_body_and_key_never_follow_a_307(tmp_path):
    with LoopbackServer(fleet(EXAMPLE), host="127.0.0.2") as elsewhere:
        with LoopbackServer(fleet(EXAMPLE, posts=(307, b"", [("Location", elsewhere.url + "/sshkeys/add")]))) as api:
            result = run_module("shadeform.cloud.ssh_key", {
                "name": "deploy", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk2lKlDrQmGqCMNbPKAZc0ogLFlTsUlHdDTd2kD0Ypn",
                "api_url": api.url})
        assert elsewhere.connections == 0, elsewhere.requests
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "redirecting to {0}/sshkeys/add".format(elsewhere.url) in one_line(output)
    assert [request["method"] for request in api.requests] == ["GET", "POST"]
    assert API_KEY not in output


# --- The key never shows --------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ODD_KEYS, ids=["lf", "crlf", "space-bel", "non-ascii"])
def test_key_a_header_cannot_carry_is_refused_at_once_without_echoing_it(shadeform_api, tmp_path, key):
    result = run_failing(write_inventory(tmp_path, shadeform_api, "retries: 3\n"), "-vvvv", env={"SHADEFORM_API_KEY": key})
    assert_clean_failure(result, "HTTP header cannot carry", "SHADEFORM_API_KEY")
    assert_key_absent(result.stdout + result.stderr, key)
    assert "attempts" not in one_line(result.stderr)
    assert shadeform_api.requests == []


def test_module_refuses_a_key_a_header_cannot_carry_without_echoing_it(shadeform_api):
    key = ODD_KEYS[0]
    result = run_module("shadeform.cloud.instance_info", {"api_url": shadeform_api.url}, env={"SHADEFORM_API_KEY": key})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "HTTP header cannot carry" in one_line(output) and "Traceback" not in output
    assert_key_absent(output, key)
    assert shadeform_api.requests == []


@pytest.mark.parametrize("body, content_type", [
    # Messages used to be cut at 80 characters before the key was scrubbed, leaving its start.
    ({"message": "The gateway refused it after a review of the workspace; the key " + QUOTED_KEY
                 + " is not valid: create a new one in the console."}, "application/json"),
    ("<html><body>proxy error " + json.dumps({"seen": QUOTED_KEY}) + "</body></html>", "text/html"),
    ("<html>" + "x" * 50 + " key=" + QUOTED_KEY + "</html>", "text/html"),
    ("<html>rejected {0!r}</html>".format(QUOTED_KEY), "text/html"),
    ("<html>rejected " + QUOTED_KEY[:12] + "... (cut by the proxy)</html>", "text/html"),
], ids=["json-message", "json-escaped-in-html", "past-the-old-cut", "repr-escaped", "prefix-only"])
def test_a_key_echoed_by_the_server_never_shows_in_any_form(tmp_path, body, content_type):
    with LoopbackServer(answering(lambda request: (401, body, [("Content-Type", content_type)]))) as api:
        result = run_failing(inventory_file(tmp_path, api.url), "-vvvv", env={"SHADEFORM_API_KEY": QUOTED_KEY})
    output = result.stdout + result.stderr
    assert "HTTP 401" in one_line(output), output
    assert_key_absent(output, QUOTED_KEY)
    assert api.requests[0]["headers"]["x-api-key"] == QUOTED_KEY  # the key itself was fine, and sent


def echoing_every_form(request):
    """401 with the key the request carried, and pieces of it, in every form the mask knows."""
    key = request["headers"]["x-api-key"]
    echoed = [form for text in (key, key[3:], key[:12], key[9:]) for form in encoded_forms(text)]
    return 401, {"message": "refused key(s): " + " | ".join(echoed)}, [("Content-Type", "application/json")]


@pytest.mark.parametrize("command", ["ansible-inventory", "module"])
@pytest.mark.parametrize("key", [QUOTED_KEY, SLASHED_KEY], ids=["quoted", "slashed"])
def test_a_key_echoed_in_every_form_never_shows(tmp_path, command, key):
    with LoopbackServer(answering(echoing_every_form)) as api:
        if command == "module":
            result = run_module("shadeform.cloud.instance_info", {"api_url": api.url}, env={"SHADEFORM_API_KEY": key})
        else:
            result = run_failing(inventory_file(tmp_path, api.url), "-vvvv", env={"SHADEFORM_API_KEY": key})
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "HTTP 401: refused key(s): ********" in one_line(output), output
    assert "Traceback" not in output
    assert_key_absent(output, key)
    assert api.requests[0]["headers"]["x-api-key"] == key


def test_control_characters_from_the_server_never_reach_the_terminal(tmp_path):
    # Sent as the UTF-8 of U+009B (the terminal's CSI), which requests reads as latin-1: "\u00c2\x9b". A lone 0x9b byte
    # is no UTF-8 at all, a clear error of its own (test_api_transport.py).
    with LoopbackServer(redirecting("http://127.0.0.2/\x1b]0;owned\x07\x1b[2J\u00c2\x9b6n")) as api:
        result = run_failing(inventory_file(tmp_path, api.url))
    output = result.stdout + result.stderr
    assert not set("\x1b\x07\x9b") & set(output), repr(output)
    assert_clean_failure(result, "redirecting to http://127.0.0.2/\\x1b]0;owned\\x07\\x1b[2J\u00c2\\u009b6n")


@pytest.fixture
def recording_proxy():
    """A proxy on loopback for the environment of a command: a request for another host would land here, not on the network."""
    with LoopbackServer(fleet([])) as proxy:
        address = "http://{0}:{1}".format(proxy.host, proxy.port)
        yield proxy, dict(HTTP_PROXY=address, http_proxy=address, NO_PROXY=None, no_proxy=None)


@pytest.mark.parametrize("command", ["ansible-inventory", "module"])
def test_plain_http_to_another_host_is_refused_before_any_connection(tmp_path, recording_proxy, command):
    proxy, env = recording_proxy
    url = "http://192.0.2.1/v1"
    if command == "module":
        result = run_module("shadeform.cloud.instance_info", {"api_url": url}, env=env)
    else:
        result = ansible_inventory(inventory_file(tmp_path, url), "--list", env=dict(FAIL_ENV, **env))
    output = one_line(result.stdout + result.stderr)
    assert result.returncode != 0 and "Traceback" not in output, output
    assert "api_url 'http://192.0.2.1/v1' is plain http:// to a host that is not this machine" in output, output
    assert "set allow_insecure_http: true if you really mean it" in output and "attempt" not in output
    assert proxy.connections == 0


def test_allow_insecure_http_lets_the_inventory_use_plain_http(tmp_path, recording_proxy):
    proxy, env = recording_proxy
    result = ansible_inventory(inventory_file(tmp_path, "http://192.0.2.1/v1", "allow_insecure_http: true\n"), "--list",
                               env=dict(FAIL_ENV, **env))
    assert result.returncode == 0, result.stderr
    assert [request["path"] for request in proxy.requests] == ["http://192.0.2.1/v1/instances", "http://192.0.2.1/v1/clusters"]


@pytest.mark.parametrize("option, value, phrase", [
    ("timeout", "0", "timeout must be a positive number of seconds, at most 3600, not 0."),
    ("retries", "-1", "retries must be a whole number from 0 to 100, not -1."),
    ("timeout", "100000000", "timeout must be a positive number of seconds, at most 3600, not 100000000."),
])
def test_timeout_and_retries_out_of_bounds_fail_at_once_naming_the_option(shadeform_api, tmp_path, option, value, phrase):
    result = run_failing(write_inventory(tmp_path, shadeform_api, "{0}: {1}\n".format(option, value)))
    assert_clean_failure(result, phrase)
    assert shadeform_api.requests == []


def test_the_whole_server_explanation_is_shown(tmp_path):
    explanation = ("Your workspace was suspended for review. " * 4) + "Write to support to have it reinstated."
    with LoopbackServer(answering(lambda request: (403, {"error": {"message": explanation}, "error_code": "SUSPENDED"},
                                                   [("Content-Type", "application/json")]))) as api:
        result = run_failing(inventory_file(tmp_path, api.url))
    assert_clean_failure(result, "HTTP 403: SUSPENDED: " + explanation)


# --- Mistakes in the settings fail at once, naming the option ----------------------------------------------------

@pytest.mark.parametrize("url", ["127.0.0.1:{port}/v1", "ftp://127.0.0.1:{port}/v1", "https:///v1"])
def test_url_without_an_http_scheme_fails_at_once_naming_api_url(shadeform_api, tmp_path, url):
    result = run_failing(inventory_file(tmp_path, url.format(port=shadeform_api.port), "retries: 3\n"))
    message = assert_clean_failure(result, "api_url", "is not an http:// or https:// URL")
    assert "attempts" not in message
    assert shadeform_api.requests == []


def test_https_to_a_server_without_tls_says_so_and_is_not_retried(shadeform_api, tmp_path):
    result = run_failing(inventory_file(tmp_path, shadeform_api.url.replace("http:", "https:"), "retries: 3\n"))
    message = assert_clean_failure(result, "does not speak TLS", "api_url")
    assert "certificate" not in message and "attempts" not in message


@pytest.mark.parametrize("value", ["ture", "maybe", "2"])
def test_validate_certs_that_is_not_a_boolean_is_an_error_naming_it(shadeform_api, tmp_path, value):
    result = run_failing(write_inventory(tmp_path, shadeform_api, "validate_certs: {0}\n".format(value)))
    assert_clean_failure(result, "validate_certs", value)
    assert shadeform_api.requests == []


@pytest.mark.parametrize("value", ["ture", "maybe", "2"])
def test_module_validate_certs_that_is_not_a_boolean_is_an_error_naming_it(shadeform_api, value):
    result = run_module("shadeform.cloud.instance_info", {"api_url": shadeform_api.url, "validate_certs": value})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "validate_certs" in output and "Traceback" not in output
    assert shadeform_api.requests == []


# --- Every run ends in bounded time ---------------------------------------------------------------------------

@pytest.mark.parametrize("serve", [trickling(start_with_body=True), trickling(start_with_body=False), silent],
                         ids=["body-trickle", "header-trickle", "silent"])
def test_slow_servers_are_cut_off_after_timeout_per_attempt(tmp_path, serve):
    # Without a total deadline the trickling servers keep the command alive past the subprocess timeout.
    with LoopbackServer(serve) as api:
        result = run_failing(inventory_file(tmp_path, api.url, "timeout: 2\nretries: 1\n"), timeout=60)
    assert_clean_failure(result, "no answer within 2 seconds (timeout)", "after 2 attempts")
    assert api.connections == 2


# --- SSH never reaches a machine that is not the instance ---------------------------------------------------------

def ssh_fleet(pending_port, active_port):
    """A pending instance named like a machine on the network (127.0.0.9), and an active one on 127.0.0.10."""
    base = dict(EXAMPLE[0], ssh_user="root", tags=[])
    return [dict(base, id="pending-1", name="127.0.0.9", status="pending", ip=None, ssh_port=pending_port),
            dict(base, id="active-1", name="active-box", status="active", ip="127.0.0.10", ssh_port=active_port)]


@pytest.mark.parametrize("command", ["ansible", "ansible-playbook"])
def test_an_instance_without_an_address_is_never_connected_to_by_name(shadeform_api, tmp_path, command):
    with LoopbackServer(counting, host="127.0.0.9") as named, LoopbackServer(counting, host="127.0.0.10") as active:
        shadeform_api.set_instances(ssh_fleet(named.port, active.port))
        inventory = write_inventory(tmp_path, shadeform_api)
        if command == "ansible":
            args = [cli_path("ansible"), "all", "-i", inventory, "-m", "ansible.builtin.ping"]
        else:
            playbook = tmp_path / "play.yml"
            playbook.write_text("- hosts: all\n  gather_facts: true\n  tasks:\n    - ansible.builtin.ping:\n")
            args = [cli_path("ansible-playbook"), "-i", inventory, str(playbook)]
        env = dict(NO_PROXY_ENV, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_TIMEOUT="5",
                   ANSIBLE_SSH_ARGS="-o ControlMaster=no -o BatchMode=yes", ANSIBLE_SSH_RETRIES="0")
        result = subprocess.run(args, env=cli_env(env), capture_output=True, text=True, timeout=180, check=False)
        output = result.stdout + result.stderr
        assert named.connections == 0, output
        assert active.connections >= 1, output  # the play went on with the other host
    assert "UNREACHABLE" in output and "shadeform-no-address-yet.invalid" in output, output
    graph = ansible_inventory(inventory, "--graph", env=NO_PROXY_ENV)
    assert "127.0.0.9" in graph.stdout.split("@status_pending:")[1].split("@")[0], graph.stdout


# --- Host variables never shadow Ansible or Jinja names -------------------------------------------------------

SHADOWING_FIELDS = ("omit", "item", "inventory_dir", "inventory_hostname", "inventory_hostname_short", "group_names", "groups",
                    "hostvars", "playbook_dir", "lookup", "query", "q", "range", "dict", "now", "lipsum", "cycler", "joiner",
                    "namespace", "undef")


@pytest.fixture
def shadowing_inventory(shadeform_api, tmp_path):
    fields = dict((field, "from-the-api") for field in SHADOWING_FIELDS)
    shadeform_api.set_instances([dict(EXAMPLE[0], name="box-1", **fields)])
    return write_inventory(tmp_path, shadeform_api, """\
        hostvars_prefix: ""
        filters:
          - inventory_hostname != 'from-the-api'
        compose:
          seen_name: inventory_hostname
          seen_groups: group_names
        """)


def test_api_fields_named_like_ansible_or_jinja_names_make_no_variable(shadowing_inventory):
    result = ansible_inventory(shadowing_inventory, "--list", env=NO_PROXY_ENV)
    assert result.returncode == 0, result.stderr
    variables = inventory_list(result.stdout)["_meta"]["hostvars"]["box-1"]  # the filter saw the real name
    assert not set(SHADOWING_FIELDS) & set(variables), variables
    assert variables["seen_name"] == "box-1"
    assert "shadeform" in variables["seen_groups"] and "from-the-api" not in variables["seen_groups"]
    warning = one_line(result.stderr)
    assert warning.count("not made host variables") == 1, result.stderr
    for field in SHADOWING_FIELDS:
        assert repr(field) in warning, field


def test_templates_keep_ansible_and_jinja_names_whatever_the_api_sends(shadowing_inventory, tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(textwrap.dedent("""\
        - hosts: all
          connection: local
          gather_facts: false
          tasks:
            - ansible.builtin.debug:
                msg: "{{ nothing_here | default(omit) }}"
            - ansible.builtin.debug:
                msg: "env={{ lookup('ansible.builtin.env', 'SHADEFORM_PROBE') }} q={{ query('ansible.builtin.env', 'SHADEFORM_PROBE') | first }}"
            - ansible.builtin.debug:
                msg: "range={{ range(3) | list }} dict={{ dict(a=1) }} now={{ now().year > 2000 }} name={{ inventory_hostname }}"
            - ansible.builtin.debug:
                msg: "item={{ item }}"
              loop: [looped]
            - ansible.builtin.debug:
                msg: "groups={{ groups['shadeform'] }} names={{ group_names }} hostvars={{ hostvars['box-1']['seen_name'] }}"
        """))
    result = subprocess.run([cli_path("ansible-playbook"), "-i", shadowing_inventory, str(playbook)],
                            env=cli_env(dict(NO_PROXY_ENV, SHADEFORM_PROBE="probe-value")), capture_output=True, text=True,
                            timeout=180, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Hello world!" in output  # debug's own default: omit really omitted msg
    assert "env=probe-value q=probe-value" in output
    assert "range=[0, 1, 2] dict={'a': 1} now=True name=box-1" in output
    assert "item=looped" in output and "groups=['box-1']" in output and "hostvars=box-1" in output
    assert "from-the-api" not in result.stdout


# --- Secrets stay secret --------------------------------------------------------------------------------------

RECORDING_CACHE = '''

import json as _json
import os as _os
import stat as _stat

_JsonFileCache = CacheModule


class CacheModule(_JsonFileCache):  # noqa: F811
    """jsonfile, noting how open the entry's file and directory are the moment it was written."""

    def set(self, key, value):
        super().set(key, value)
        path = self._get_cache_file_name(key)
        modes = {"file": _stat.S_IMODE(_os.stat(path).st_mode),
                 "directory": _stat.S_IMODE(_os.stat(_os.path.dirname(path)).st_mode)}
        with open(_os.environ["SHADEFORM_CACHE_RECORD"], "a") as record:
            record.write(_json.dumps(modes) + "\\n")
'''


def readable_by_others(modes):
    """Another user could read the file: it grants read to group or others, and the directory lets them in."""
    return bool((modes["file"] & 0o004 and modes["directory"] & 0o001) or (modes["file"] & 0o040 and modes["directory"] & 0o010))


@pytest.mark.parametrize("directory_exists", [False, True])
def test_cache_entry_is_never_readable_by_others_not_even_while_written(shadeform_api, tmp_path, directory_exists):
    from ansible.plugins.cache import jsonfile  # pylint: disable=import-outside-toplevel

    plugins = tmp_path / "cache_plugins"
    plugins.mkdir()
    with open(jsonfile.__file__, encoding="utf-8") as source:
        (plugins / "recording.py").write_text(source.read() + RECORDING_CACHE)
    cache = tmp_path / "cache"
    if directory_exists:
        cache.mkdir(mode=0o755)
        os.chmod(str(cache), 0o755)
    record = tmp_path / "record.jsonl"
    path = write_inventory(tmp_path, shadeform_api, "cache: true\ncache_plugin: recording\ncache_connection: {0}\n".format(cache))
    result = ansible_inventory(path, "--list", env=dict(NO_PROXY_ENV, ANSIBLE_CACHE_PLUGINS=str(plugins),
                                                        SHADEFORM_CACHE_RECORD=str(record)))
    assert result.returncode == 0, result.stderr
    writes = [json.loads(line) for line in record.read_text().splitlines()]
    assert writes, "the cache plugin was not used"
    for modes in writes:
        assert not readable_by_others(modes), {name: oct(mode) for name, mode in modes.items()}
    assert not stat.S_IMODE(os.stat(str(cache)).st_mode) & 0o077
    for entry in cache.iterdir():
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600


def test_a_cache_directory_of_another_user_holding_a_forged_entry_is_neither_read_nor_written(shadeform_api, tmp_path, other_user):
    path = write_inventory(tmp_path, shadeform_api, cache_options(tmp_path))
    first = ansible_inventory(path, "--list", env=NO_PROXY_ENV)
    assert first.returncode == 0, first.stderr
    cache = tmp_path / "cache"
    [entry] = list(cache.iterdir())
    forge_cache_entry(entry)
    # Another user's directory, open to all as users leave them, holding an entry of theirs: the forged host as root.
    for owned in (cache, entry):
        os.chown(str(owned), *other_user)
    os.chmod(str(cache), 0o777)
    forged, entry_stat = entry.read_text(), entry.stat()
    shadeform_api.clear_requests()

    listed = ansible_inventory(path, "--list", env=NO_PROXY_ENV)
    assert listed.returncode == 0, listed.stderr
    variables = inventory_list(listed.stdout)["_meta"]["hostvars"]["cool-gpu-server"]
    assert (variables["ansible_host"], variables["ansible_user"]) == ("1.0.0.1", "shadeform"), variables
    assert FORGED_ADDRESS not in listed.stdout
    assert [request["path"] for request in shadeform_api.requests if request["method"] == "GET"] == ["/v1/instances", "/v1/clusters"]
    warning = one_line(listed.stderr)
    assert warning.count("The Shadeform inventory cache is not used, neither read nor written") == 1, listed.stderr
    # ansible-core < 2.19 wraps warnings, breaking the path at its hyphens: compare without whitespace.
    assert "{0}belongstoanotheruser".format(cache) in "".join(warning.split()), listed.stderr
    # Nothing written: the entry is as the other user left it, alone in the directory, which keeps its owner and mode.
    assert list(cache.iterdir()) == [entry] and entry.read_text() == forged and entry.stat().st_mtime_ns == entry_stat.st_mtime_ns
    assert (cache.stat().st_uid, stat.S_IMODE(cache.stat().st_mode)) == (other_user[0], 0o777)


# The same secrets in the API's snake_case, and in the other styles a service may add fields in (envs as an object).
SECRET_SHAPES = {
    "snake_case": dict(envs=[{"name": "HUGGING_FACE_HUB_TOKEN", "value": "hf_envs_value_1"}], private_key="pk_value_2",
                       extra={"password": "pw_value_3"}, mapping={"access_token": "tok_value_4"}, client_secret="sec_value_5"),
    "other styles": dict(envs={"HUGGING_FACE_HUB_TOKEN": "hf_envs_value_1"}, privateKey="pk_value_2",
                         extra={"PASSWORD": "pw_value_3", "apiKey": "pw_value_3b"}, mapping={"accessToken": "tok_value_4"},
                         **{"client-secret": "sec_value_5"}),
}


@pytest.mark.parametrize("shape", sorted(SECRET_SHAPES))
def test_top_level_envs_and_fields_named_like_secrets_never_reach_variables_or_cache(shadeform_api, tmp_path, shape):
    fields = dict(SECRET_SHAPES[shape])
    extra, mapping = fields.pop("extra"), fields.pop("mapping")
    leaks = [value for value in fields.values() if isinstance(value, str)] + list(extra.values()) + list(mapping.values())
    leaks.append("hf_envs_value_1")
    shadeform_api.set_instances([dict(
        EXAMPLE[0], configuration=dict(EXAMPLE[0]["configuration"], extra=extra),
        port_mappings=[dict(internal_port=22, external_port=22, **mapping)], **fields)])
    cache = tmp_path / "cache"
    path = write_inventory(tmp_path, shadeform_api, "cache: true\ncache_plugin: ansible.builtin.jsonfile\n"
                                                    "cache_connection: {0}\n".format(cache))
    shown = ansible_inventory(path, "--list", "-vvvv", env=NO_PROXY_ENV)
    assert shown.returncode == 0, shown.stderr
    listed = ansible_inventory(path, "--list", env=NO_PROXY_ENV)  # from the cache
    variables = inventory_list(listed.stdout)["_meta"]["hostvars"]["cool-gpu-server"]
    if shape == "snake_case":
        assert variables["shadeform_envs"] == [{"name": "HUGGING_FACE_HUB_TOKEN", "value": "<redacted>"}]
        assert variables["shadeform_private_key"] == "<redacted>"
    else:
        assert variables["shadeform_envs"] == {"HUGGING_FACE_HUB_TOKEN": "<redacted>"}
        # client-secret is no variable name: the field is left out of the variables (and redacted in the cache).
        assert variables["shadeform_privateKey"] == "<redacted>" and "shadeform_client-secret" not in variables
    stored = "".join(entry.read_text() for entry in cache.iterdir())
    for leak in leaks:
        for text in (shown.stdout + shown.stderr, listed.stdout, stored):
            assert leak not in text, leak
