# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test, lint and build sessions for the shadeform.cloud collection (https://nox.thea.codes/).

    nox -l                          # list the sessions
    nox -s "inprocess(2.21)"        # unit, parse(), property and module tests on ansible-core 2.21
    nox -s "cli(2.21)"              # tests that start ansible-* commands (marker functional)
    nox -s "e2e(2.21)"              # tests that log in over SSH to loopback sshd daemons (marker e2e)
    nox -s "integration(2.21)"      # ansible-test integration: tests/integration/targets against the simulator
    nox -t inprocess                # the in-process tests on every supported ansible-core
    nox -s sanity artifact docs lint

Which tests run where (the markers are declared in pytest.ini):

- in-process tests run on every supported ansible-core: their results can differ between cores; the
  simulator's own tests (tests/unit/simulator) import nothing of ansible-core and run on the newest only, the
  module_utils tests (plain Python) once per Python, on its newest core, the module tests on MODULE_CORES, the
  event source's on the newest only (SIMULATOR_TESTS, MODULE_UTILS_TESTS, MODULE_TESTS, EVENT_SOURCE_TESTS);
- tests marked ``functional`` start ansible-* commands and run in the ``cli`` sessions on the oldest core, the first
  with data tagging (2.19, without the transport's fault tests: TRANSPORT_FAULT_TESTS) and the newest (CLI_CORES); those
  marked ``e2e`` (sshd) in the ``e2e`` sessions on the oldest and the newest (E2E_CORES);
  the tests of the docs as written on the newest only (DOCS_AS_WRITTEN_TESTS), and so is the end-to-end test of the
  rulebook, with the real ansible-rulebook (RULEBOOK_TESTS, EDA_REQUIREMENTS), and the test of the integration
  targets' cost guard (COST_GUARD_TESTS);
- the integration targets (tests/integration/targets) run through ansible-test integration against the simulator on
  the oldest core and the newest (INTEGRATION_CORES), against the real API only when a maintainer opts in;
- tests marked ``artifact`` use the built collection (Galaxy's importer, ansible-builder, ansible-runner):
  the ``artifact`` session builds it once and runs them.

scripts/test.sh runs the sessions tagged ``ci-a``, ``ci-b`` and ``ci-c`` as three nox processes side by side. CI has
two cores, but about a third of the work waits (simulated launches, SSH logins, servers that trickle): a third lane
fills that time. Each tag holds about a third of the work. ``ci-a`` holds every test that starts sshd (marker e2e,
the e2e sessions): the daemons listen on fixed loopback addresses, so two such runs must not overlap.

Each ansible-core series runs on the Python that its controller supports. The interpreters are looked
up under pyenv ($PYENV_ROOT/versions/X.Y.*) and on PATH; a missing one fails the session with a message
that says how to install it, it is never skipped.
"""

import ast
import contextlib
import functools
import glob
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

import nox

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
from collection_tree import NAME, NAMESPACE, collection_tree  # noqa: E402  pylint: disable=wrong-import-position

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|venv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_venv = "yes"

ROOT = os.path.dirname(os.path.abspath(__file__))

# The supported ansible-core series: the one list is TESTED_CORES in plugins/plugin_utils/_constructed_shortcuts.py, since
# the inventory plugin's shortcuts run only on the cores the suite tests. It is read here without importing ansible.
with open(os.path.join(ROOT, "plugins", "plugin_utils", "_constructed_shortcuts.py"), encoding="utf-8") as _handle:
    TESTED_CORES = ast.literal_eval(re.search(r"^TESTED_CORES = (\(.*?\))$", _handle.read(), re.MULTILINE).group(1))
# The Python each series' controller runs on here. Keep in step with README.md and meta/runtime.yml.
CONTROLLER_PYTHON = {"2.16": "3.11", "2.17": "3.11", "2.18": "3.11", "2.19": "3.11", "2.20": "3.12", "2.21": "3.13"}
_unmapped = set(TESTED_CORES) - set(CONTROLLER_PYTHON)
if _unmapped:
    raise SystemExit(f"noxfile.py: CONTROLLER_PYTHON names no Python for the tested ansible-core {', '.join(sorted(_unmapped))}")
CORE_PYTHON = {core: CONTROLLER_PYTHON[core] for core in TESTED_CORES}
NEWEST_CORE = max(TESTED_CORES, key=lambda core: tuple(int(part) for part in core.split(".")))
NEWEST_PYTHON = CORE_PYTHON[NEWEST_CORE]

# The cores that run the tests marked functional or e2e: the oldest, the first with data tagging, the newest.
CLI_CORES = ("2.16", "2.19", "2.21")
IN_PROCESS_TESTS = "not functional and not e2e"
FUNCTIONAL_TESTS = "functional and not e2e and not artifact"
E2E_TESTS = "e2e and not artifact"
# The end-to-end tests (sshd, playbooks over SSH) add to the functional tests what ansible-core's SSH connection and
# templating do with them: the oldest core and the newest (data tagging, as 2.19) show it; 2.19 runs the functional tests
# but TRANSPORT_FAULT_TESTS.
E2E_CORES = ("2.16", "2.21")
# The faults between ansible-inventory and the API (refused and silent servers, trickles, TLS, DNS, retries): what they
# check is the transport (module_utils, plain Python) and the one error the plugin raises from it, whose display is
# checked on 2.19 by the security tests. They run on the oldest core and the newest, not on 2.19, for CI's time.
TRANSPORT_FAULT_TESTS = ("tests/functional/test_reliability.py",)

# Python versions that target code (modules, module_utils) supports, as tests/config.yml says. Controller code
# (inventory plugin, plugin_utils) is checked on each Python of the controllers that ansible-test knows.
TARGET_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13")
# ansible-test of which core runs which sanity tests. The newest runs every test; the oldest brings the
# Pythons (3.10, 3.11) that only older controllers support, and its compile and import tests are the
# only ones whose result depends on the Python version.
SANITY_TESTS = {
    NEWEST_CORE: (),
    "2.16": ("compile", "import"),
}

TEST_REQUIREMENTS = "tests/requirements.txt"
# Tests of code that uses nothing of ansible-core that differs between its versions run on fewer cores, to keep CI
# within its time: the simulator's own tests once, on the newest core; the module_utils tests (the client, the key
# mask, redaction, the SSH parser: plain Python that modules ship to targets) once per Python, on its newest core.
SIMULATOR_TESTS = "tests/unit/simulator"
MODULE_UTILS_TESTS = "tests/unit/plugins/module_utils"
# The modules use only AnsibleModule's public API: their tests run on the oldest core, the first with data tagging,
# and each newer Python's core, not on 2.17 and 2.18 (the inventory plugin, which reaches into ansible-core's
# constructed and templating code, is tested on every core).
MODULE_TESTS = "tests/unit/plugins/modules"
MODULE_CORES = ("2.16", "2.19", "2.20", "2.21")
# The event source (extensions/eda) uses nothing of ansible-core beyond what it shares with the inventory plugin (the
# host naming of plugin_utils/hosts.py, tested on every core) and a boolean parser: its tests run on the newest core.
EVENT_SOURCE_TESTS = "tests/unit/extensions"
# The docs as written (every module's EXAMPLES run in order, the markup of every plugin's docs) are checked once, on the
# newest core: what they check is the documentation, which is the same for every core.
DOCS_AS_WRITTEN_TESTS = ("tests/e2e/test_module_examples.py", "tests/functional/test_doc_markup.py")
# The end-to-end test of the rulebook extensions/eda/rulebooks/heal_fleet.yml runs the real ansible-rulebook (tests/
# requirements-eda.txt, about 20 packages, and a Java runtime) on the newest core only: what ansible-rulebook does does
# not depend on the core, and the playbooks it starts are ansible-playbook runs like those the other e2e tests check on
# both E2E_CORES.
RULEBOOK_TESTS = ("tests/e2e/test_self_healing_fleet.py",)
# The cost guard of the integration targets' real-API mode (which they run, against the simulator) on the newest core only:
# what it checks is the targets' launches, which the integration sessions run on the oldest core and the newest.
COST_GUARD_TESTS = ("tests/functional/test_integration_cost_guard.py",)
EDA_REQUIREMENTS = "tests/requirements-eda.txt"
ARTIFACT_REQUIREMENTS = "tests/requirements-artifact.txt"
DOCS_REQUIREMENTS = "tests/requirements-docs.txt"
SANITY_SUPPORT = os.path.join(ROOT, "tests", "sanity")
BUILD_DIR = os.path.join(ROOT, "build")


def _version_key(path):
    return [int(part) for part in re.findall(r"\d+", path)]


@functools.lru_cache(maxsize=None)
def find_python(version):
    """Return the absolute path of a working ``python<version>``, or None."""
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = sorted(
        glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*", "bin", f"python{version}")),
        key=_version_key,
        reverse=True,
    )
    # pyenv shims are on PATH too, but they only work for the versions that `pyenv global` lists:
    # every candidate is run once to check that it really is that Python.
    candidates += [shutil.which(f"python{version}"), f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        try:
            found = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30, check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if found == version:
            return candidate
    return None


def session_python(version):
    """The interpreter for a session: its path, or False (no virtualenv) so that require_python can explain."""
    return find_python(version) or False


def require_python(session, version):
    """Fail the session, with instructions, when Python ``version`` is not installed."""
    if not find_python(version):
        session.error(
            f"Python {version} is not installed, and this session needs it. Install it, for example with "
            f"`pyenv install {version}` (found under $PYENV_ROOT/versions/{version}.*), or make python{version} "
            f"available on PATH, then run nox again"
        )


def collections_root(tmp_dir, copy=False):
    """Make <tmp_dir>/ansible_collections/shadeform/cloud: a symlink to the checkout, or a copy of its files (see
    tests/collection_tree.py, shared with the tests and the benchmark)."""
    return collection_tree(tmp_dir, copy=copy)


def install_core(session, core, *requirements):
    session.install(f"ansible-core=={core}.*", *requirements)


@nox.session(tags=["inprocess"])
@nox.parametrize(
    "python,core",
    [nox.param(session_python(python), core, id=core, tags=["ci-b"]) for core, python in CORE_PYTHON.items()],
)
def inprocess(session, core):
    """Tests that run inside pytest's process (unit, parse() over fixtures, properties, modules) on one core."""
    require_python(session, CORE_PYTHON[core])
    install_core(session, core, "-r", TEST_REQUIREMENTS)
    session.run("ansible", "--version")
    paths = ["tests"]
    if core != NEWEST_CORE:
        paths += ["--ignore", SIMULATOR_TESTS]
    if core != max((other for other, python in CORE_PYTHON.items() if python == CORE_PYTHON[core]), key=_version_key):
        paths += ["--ignore", MODULE_UTILS_TESTS]
    if core not in MODULE_CORES:
        paths += ["--ignore", MODULE_TESTS]
    if core != NEWEST_CORE:
        paths += ["--ignore", EVENT_SOURCE_TESTS]
    # helpers.cli_path() refuses to start an ansible-* command here: such a test must be marked functional.
    session.run("pytest", "-m", IN_PROCESS_TESTS, *(session.posargs or paths),
                env={"SHADEFORM_TESTS_IN_PROCESS_ONLY": "1"})


def cli_paths(core):
    """What the CLI sessions of a core run: every test file, but the docs-as-written and cost guard tests only on the newest
    core."""
    paths = ["tests"]
    if core != NEWEST_CORE:
        for path in DOCS_AS_WRITTEN_TESTS + COST_GUARD_TESTS:
            paths += ["--ignore", path]
    if core not in E2E_CORES:
        for path in TRANSPORT_FAULT_TESTS:
            paths += ["--ignore", path]
    return paths


@nox.session(tags=["cli"])
@nox.parametrize(
    "python,core",
    [nox.param(session_python(CORE_PYTHON[core]), core, id=core, tags=["ci-a" if core == NEWEST_CORE else "ci-c"])
     for core in CLI_CORES],
)
def cli(session, core):
    """Tests that start ansible-* commands (marker functional) on one core."""
    require_python(session, CORE_PYTHON[core])
    install_core(session, core, "-r", TEST_REQUIREMENTS)
    session.run("ansible", "--version")
    session.run("pytest", "-m", FUNCTIONAL_TESTS, *(session.posargs or cli_paths(core)))


@nox.session(tags=["cli"])
@nox.parametrize(
    "python,core",
    [nox.param(session_python(CORE_PYTHON[core]), core, id=core, tags=["ci-a"]) for core in E2E_CORES],
)
def e2e(session, core):
    """Tests that log in over SSH to sshd daemons on loopback (marker e2e) on one core; all in one lane (ci-a), since the
    daemons listen on fixed loopback addresses."""
    require_python(session, CORE_PYTHON[core])
    paths = cli_paths(core)
    if core == NEWEST_CORE:
        install_core(session, core, "-r", TEST_REQUIREMENTS, "-r", EDA_REQUIREMENTS)
    else:
        install_core(session, core, "-r", TEST_REQUIREMENTS)
        for path in RULEBOOK_TESTS:
            paths += ["--ignore", path]
    session.run("ansible", "--version")
    session.run("pytest", "-m", E2E_TESTS, *(session.posargs or paths))


# The one use of ansible-test's internals, and why: ansible-test bootstraps pip into each sanity virtualenv with a
# get-pip.py that it downloads from a host CI cannot reach, unless it finds one cached under the name of the pip
# version it wants (see seed_get_pip_cache). That version is only known from ansible-test's private table. A change
# there fails the sanity sessions with the message below (exit status 3), never a traceback or a silent download.
ANSIBLE_TEST_PIP_VERSIONS = f"""
import sys, types
try:
    from ansible_test._internal.python_requirements import get_venv_packages
    versions = {{get_venv_packages(types.SimpleNamespace(version=v))["pip"] for v in {TARGET_PYTHONS!r}}}
except Exception as exc:
    print("CHANGED:", type(exc).__name__, exc)
    sys.exit(3)
print(" ".join(sorted(versions)))
"""


def seed_get_pip_cache(session, home):
    """Put tests/sanity/get_pip_offline.py where ansible-test, run with HOME=home, looks for its cached get-pip.py.

    See that file for why. A real get-pip.py already in the cache (copied from a machine with full
    internet access) is left alone; an older copy of ours is replaced.
    """
    pip_versions = session.run("python", "-c", ANSIBLE_TEST_PIP_VERSIONS, silent=True, success_codes=[0, 3]).split()
    if pip_versions[:1] == ["CHANGED:"]:
        session.error("ansible-test's private table of pip versions (ansible_test._internal.python_requirements.get_venv_packages) "
                      f"is gone or changed ({' '.join(pip_versions[1:])}): update ANSIBLE_TEST_PIP_VERSIONS in noxfile.py to "
                      "this ansible-test's way of choosing the pip it bootstraps, so that the offline get-pip.py is seeded "
                      "for it")
    seed_path = os.path.join(SANITY_SUPPORT, "get_pip_offline.py")
    with open(seed_path, encoding="utf-8") as handle:
        seed = handle.read()
    for pip_version in pip_versions:
        # Same path as ansible_test/_util/target/setup/requirements.py, bootstrap().
        cache_path = os.path.join(home, ".ansible", "test", "cache", f"get_pip_{pip_version.replace('.', '_')}.py")
        if os.path.exists(cache_path):
            with open(cache_path, encoding="utf-8", errors="replace") as handle:
                if "shadeform.cloud offline get-pip" not in handle.read():
                    session.log(f"Using the get-pip.py already cached at {cache_path}")
                    continue
        os.makedirs(os.path.dirname(cache_path), exist_ok=True)
        with open(cache_path, "w", encoding="utf-8") as handle:
            handle.write(seed)
        session.log(f"Seeded {cache_path} (pip {pip_version}) from {os.path.relpath(seed_path, ROOT)}")


def python_bin_dir(session, directory):
    """A directory of pythonX.Y links to every target Python, for ansible-test to find them on PATH."""
    os.makedirs(directory, exist_ok=True)
    for version in TARGET_PYTHONS:
        require_python(session, version)
        link = os.path.join(directory, f"python{version}")
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(find_python(version), link)
    return directory


@nox.session(tags=["sanity"])
@nox.parametrize(
    "python,core",
    [nox.param(session_python(CORE_PYTHON[core]), core, id=core, tags=["ci-b" if core == NEWEST_CORE else "ci-c"])
     for core in SANITY_TESTS],
)
def sanity(session, core):
    """ansible-test sanity on a clean copy of the collection, no ignore files, on every target Python.

    Without --python, ansible-test runs the tests that depend on the Python version (compile, import)
    once for every Python it supports and finds on PATH, and the others once.
    """
    require_python(session, CORE_PYTHON[core])
    if not shutil.which("shellcheck"):
        session.error("ansible-test's shellcheck test needs shellcheck: apt-get install -y shellcheck")
    if glob.glob(os.path.join(SANITY_SUPPORT, "ignore-*.txt")):
        session.error("tests/sanity/ignore-*.txt found: this collection fixes sanity findings instead of ignoring them")
    install_core(session, core)
    # ansible-test keeps its cache and the virtualenvs of each sanity test under ~/.ansible/test. A HOME
    # of this session's own keeps them apart from other ansible-test runs on the machine (two runs that
    # share ~/.ansible/test delete each other's half-made virtualenvs) and out of the user's home; they
    # are reused by the next run of this session.
    home = os.path.join(session.virtualenv.location, "home")
    os.makedirs(home, exist_ok=True)
    seed_get_pip_cache(session, home)
    pythons = python_bin_dir(session, os.path.join(session.virtualenv.location, "pythons"))
    tests = [argument for name in SANITY_TESTS[core] for argument in ("--test", name)]
    with tempfile.TemporaryDirectory(prefix="shadeform-sanity-") as tmp_dir:
        collection_dir = collections_root(tmp_dir, copy=True)
        session.chdir(collection_dir)
        session.run(
            "ansible-test", "sanity", "--color", "--truncate", "0", "--venv", "--requirements",
            *tests, *session.posargs,
            env={"HOME": home, "PATH": os.pathsep.join([os.path.join(session.virtualenv.location, "bin"), pythons,
                                                       os.environ.get("PATH", "")])},
        )
        session.chdir(ROOT)


# ansible-test integration: the targets of tests/integration/targets on the oldest core and the newest, against the API
# simulator, which the session starts; against the real service only when a maintainer opts in (docs/architecture.md).
INTEGRATION_CORES = ("2.16", "2.21")
REAL_API_OPT_IN = "SHADEFORM_INTEGRATION_REAL_API"
REAL_API_URL = "https://api.shadeform.ai/v1"
INTEGRATION_CONFIG = os.path.join("tests", "integration", "integration_config.yml")
# The simulator's delays (creating, pending, deleting) and the targets' poll interval and waits, in seconds, so that a
# launch is active within half a second and the whole run stays short.
SIMULATOR_DELAYS = ("--creating-delay", "0.2", "--pending-delay", "0.2", "--deleting-delay", "0.2")
SIMULATOR_TARGET_VARS = {"shadeform_poll_interval": 0.2, "shadeform_wait_timeout": 60}
# After a run against the simulator, its request log is checked by tests/helpers.check_integration_launches (every launch
# carries auto_delete, no target launches more than setup_shadeform declares), in the session's Python, which has PyYAML.
LAUNCH_CHECK = "import sys; sys.path.insert(0, 'tests'); import helpers; sys.exit(helpers.check_integration_launches(*sys.argv[1:]))"


@contextlib.contextmanager
def simulator_process(session, tmp_dir, collection_dir, api_key):
    """The copy's API simulator on 127.0.0.1 (an unused port, short delays), its URL; stopped on leaving."""
    ready_file = os.path.join(tmp_dir, "simulator.url")
    command = [os.path.join(session.bin, "python"), os.path.join(collection_dir, "tests", "simulator", "shadeform_simulator.py"),
               "--host", "127.0.0.1", "--port", "0", "--ready-file", ready_file, *SIMULATOR_DELAYS]
    # The key goes in the environment, never on a command line that ps shows.
    process = subprocess.Popen(command, env=dict(os.environ, SHADEFORM_SIMULATOR_API_KEY=api_key))  # pylint: disable=consider-using-with
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(ready_file):
            if process.poll() is not None or time.monotonic() > deadline:
                session.error(f"the API simulator did not start (exit status {process.poll()})")
            time.sleep(0.1)
        with open(ready_file, encoding="utf-8") as handle:
            yield handle.read().strip()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@nox.session(tags=["integration"])
@nox.parametrize(
    "python,core",
    [nox.param(session_python(CORE_PYTHON[core]), core, id=core, tags=["ci-a" if core == NEWEST_CORE else "ci-c"])
     for core in INTEGRATION_CORES],
)
def integration(session, core):
    """ansible-test integration over every target of tests/integration/targets, on a copy of the collection.

    Against the API simulator, started here, unless SHADEFORM_INTEGRATION_REAL_API=1 and SHADEFORM_API_KEY are set: then
    against the real service, which bills (docs/architecture.md says what it costs). ``-- --list-targets`` prints what
    each target would launch and its price, launching nothing; other arguments go to ansible-test (target names, -v).
    ansible-test runs from this session's virtualenv (its origin), which already holds ansible-core and requests: --venv
    would build another virtualenv on every run and install requests into it from a package index, adding time and a
    download to a session whose targets take a minute or two.
    """
    require_python(session, CORE_PYTHON[core])
    install_core(session, core, "-r", "requirements.txt")
    real_api = os.environ.get(REAL_API_OPT_IN) == "1"
    if real_api and not os.environ.get("SHADEFORM_API_KEY"):
        session.error(f"{REAL_API_OPT_IN}=1 runs the targets against the real API: set SHADEFORM_API_KEY too")
    dry_run = "--list-targets" in session.posargs
    prefix = f"ansible-test-{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="shadeform-integration-") as tmp_dir, contextlib.ExitStack() as stack:
        collection_dir = collections_root(tmp_dir, copy=True)
        if real_api:
            config = {"shadeform_api_url": os.environ.get("SHADEFORM_API_URL") or REAL_API_URL,
                      "shadeform_api_key": os.environ["SHADEFORM_API_KEY"], "shadeform_real_api": True}
        else:
            api_key = secrets.token_hex(16)
            api_url = stack.enter_context(simulator_process(session, tmp_dir, collection_dir, api_key))
            config = dict(SIMULATOR_TARGET_VARS, shadeform_api_url=api_url, shadeform_api_key=api_key,
                          shadeform_real_api=False)
        config["shadeform_resource_prefix"] = prefix
        config_path = os.path.join(collection_dir, INTEGRATION_CONFIG)
        # JSON is YAML; the file holds the key: the owner's only.
        with open(os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)
        session.chdir(collection_dir)
        try:
            if dry_run:
                session.run("ansible-playbook", "tests/integration/launch_plan.yml", "-e", f"@{INTEGRATION_CONFIG}",
                            env={"ANSIBLE_COLLECTIONS_PATH": tmp_dir, "ANSIBLE_ROLES_PATH": "tests/integration/targets",
                                 "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false"})
            else:
                session.log(f"Integration targets against {config['shadeform_api_url']}, names starting {prefix}")
                session.run("ansible-test", "integration", "--color", "yes", *session.posargs)
                if not real_api:
                    session.run("python", "-c", LAUNCH_CHECK, config["shadeform_api_url"], prefix)
        finally:
            session.chdir(ROOT)


def collection_version():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return re.search(r"^version:\s*(\S+)", handle.read(), re.MULTILINE).group(1)


@nox.session(python=session_python(NEWEST_PYTHON), tags=["ci-c"])
def artifact(session):
    """Build the collection artifact once; the tests marked artifact install and check it.

    They install it offline and use the installed copy, run Galaxy's importer on it, make an
    execution-environment build context from it, and sync the inventory through ansible-runner as AWX does.
    """
    require_python(session, NEWEST_PYTHON)
    install_core(session, NEWEST_CORE, "-r", TEST_REQUIREMENTS, "-r", ARTIFACT_REQUIREMENTS)
    os.makedirs(BUILD_DIR, exist_ok=True)
    session.run("ansible-galaxy", "collection", "build", "--force", "--output-path", BUILD_DIR, ROOT)
    tarball = os.path.join(BUILD_DIR, f"{NAMESPACE}-{NAME}-{collection_version()}.tar.gz")
    session.run("pytest", "-m", "artifact", *(session.posargs or ["tests"]),
                env={"SHADEFORM_COLLECTION_TARBALL": tarball})
    session.log(f"Collection artifact: {os.path.relpath(tarball, ROOT)}")


# The Ansible docs pages that the generated pages link to, as lines of a Sphinx inventory
# (name, domain:role, priority, page#anchor, title). CI reaches no documentation site, so intersphinx
# reads this inventory instead of downloading Ansible's; a new link to those docs is a build warning
# until its target is added here.
ANSIBLE_DOCS_URL = "https://docs.ansible.com/projects/ansible/devel/"
ANSIBLE_DOCS_TARGETS = [
    "ansible_configuration_settings std:label -1 reference_appendices/config.html#ansible-configuration-settings Ansible Configuration Settings",
    "common_return_values std:label -1 reference_appendices/common_return_values.html#common-return-values Return Values",
    "ansible_collections.ansible.builtin.wait_for_connection_module std:label -1 "
    "collections/ansible/builtin/wait_for_connection_module.html#ansible-collections-ansible-builtin-wait-for-connection-module "
    "ansible.builtin.wait_for_connection module",
] + [
    f"{name} std:envvar 1 reference_appendices/config.html#envvar-$ -"
    for name in ("ANSIBLE_CACHE_PLUGIN", "ANSIBLE_CACHE_PLUGIN_CONNECTION", "ANSIBLE_CACHE_PLUGIN_PREFIX",
                 "ANSIBLE_CACHE_PLUGIN_TIMEOUT")
]


def write_ansible_docs_inventory(path):
    """A Sphinx objects.inv (format version 2) of ANSIBLE_DOCS_TARGETS."""
    header = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n" \
             "# The remainder of this file is compressed using zlib.\n"
    with open(path, "wb") as handle:
        handle.write(header.encode("utf-8") + zlib.compress("".join(f"{line}\n" for line in ANSIBLE_DOCS_TARGETS).encode("utf-8")))


def check_changelog_is_generated(session, env):
    """CHANGELOG.rst ships in the collection: it must be what antsibull-changelog makes of changelogs/changelog.yaml.

    It is generated in a copy of the collection, so that the check never rewrites the checkout.
    """
    with tempfile.TemporaryDirectory(prefix="shadeform-changelog-") as tmp_dir:
        copy_dir = collections_root(tmp_dir, copy=True)
        session.chdir(copy_dir)
        session.run("antsibull-changelog", "generate", env=dict(env, ANSIBLE_COLLECTIONS_PATH=tmp_dir))
        session.chdir(ROOT)
        with open(os.path.join(copy_dir, "CHANGELOG.rst"), encoding="utf-8") as generated, \
                open(os.path.join(ROOT, "CHANGELOG.rst"), encoding="utf-8") as committed:
            if generated.read() != committed.read():
                session.error("CHANGELOG.rst is not what changelogs/changelog.yaml gives: run antsibull-changelog generate "
                              "(or, until 1.0.0 is published, antsibull-changelog release --version 1.0.0 to fold new "
                              "fragments into its section) and commit the result")


@nox.session(python=session_python(NEWEST_PYTHON), tags=["ci-c"])
def docs(session):
    """The documentation: ansible-doc, antsibull-docs lint, the changelog, and the docs site (Sphinx, no warnings).

    The site is built the way Ansible's collection docs are: `antsibull-docs sphinx-init` writes a Sphinx
    project whose build.sh has antsibull-docs write the collection's pages, then Sphinx turns them into
    HTML with warnings as errors. Output: build/docsite/build/html/ (not committed).
    """
    require_python(session, NEWEST_PYTHON)
    install_core(session, NEWEST_CORE, "-r", "requirements.txt", "-r", DOCS_REQUIREMENTS)
    site_dir = os.path.join(BUILD_DIR, "docsite")
    with tempfile.TemporaryDirectory(prefix="shadeform-docs-") as tmp_dir:
        collection_dir = collections_root(tmp_dir)
        env = {"ANSIBLE_COLLECTIONS_PATH": tmp_dir}
        session.run("ansible-doc", "-t", "inventory", f"{NAMESPACE}.{NAME}.shadeform", env=env, silent=True)
        session.chdir(collection_dir)
        session.run("antsibull-docs", "lint-collection-docs", "--plugin-docs", "--check-extra-docs-refs",
                    "--validate-collection-refs", "dependent", "--disallow-unknown-collection-refs", ".", env=env)
        session.run("antsibull-changelog", "lint")
        session.chdir(ROOT)
        check_changelog_is_generated(session, env)
        shutil.rmtree(site_dir, ignore_errors=True)
        os.makedirs(site_dir)
        session.run("antsibull-docs", "sphinx-init", "--use-current", "--squash-hierarchy", "--fail-on-error",
                    "--dest-dir", site_dir, f"{NAMESPACE}.{NAME}", env=env)
        inventory = os.path.join(site_dir, "ansible_devel.inv")
        write_ansible_docs_inventory(inventory)
        with open(os.path.join(site_dir, "conf.py"), "a", encoding="utf-8") as handle:
            handle.write(f"\n# Offline: links to the Ansible docs resolve through a local inventory, nothing is downloaded.\n"
                         f"intersphinx_mapping = {{'ansible_devel': ({ANSIBLE_DOCS_URL!r}, {inventory!r})}}\n")
        session.run("bash", os.path.join(site_dir, "build.sh"), env=env, external=True)
    session.log(f"Docs site: {os.path.relpath(os.path.join(site_dir, 'build', 'html', 'index.html'), ROOT)}")


@nox.session(python=session_python(NEWEST_PYTHON), tags=["ci-a"])
def lint(session):
    """ansible-lint on the example playbooks, the module EXAMPLES and the AWX example; see .ansible-lint."""
    require_python(session, NEWEST_PYTHON)
    install_core(session, NEWEST_CORE, "ansible-lint")
    session.run("ansible-lint", "--version")
    # The playbooks use this collection's modules and action group: the working tree must be installed.
    with tempfile.TemporaryDirectory(prefix="shadeform-lint-") as tmp_dir:
        collections_root(tmp_dir)
        session.run("ansible-lint", *session.posargs, env={"ANSIBLE_COLLECTIONS_PATH": tmp_dir})
