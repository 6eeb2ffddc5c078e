# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test, lint and build sessions for the shadeform.cloud collection (https://nox.thea.codes/).

    nox -l                      # list the sessions
    nox -s "tests(2.21)"        # unit + functional + end-to-end tests on ansible-core 2.21
    nox -t tests                # the tests on every supported ansible-core
    nox -s sanity docs lint build

Each ansible-core series runs on the Python that its controller supports. The interpreters are looked
up under pyenv ($PYENV_ROOT/versions/X.Y.*) and on PATH; a missing one fails the session with a message
that says how to install it, it is never skipped.
"""

import functools
import glob
import os
import re
import shutil
import subprocess
import tempfile

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|venv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_venv = "yes"

ROOT = os.path.dirname(os.path.abspath(__file__))
NAMESPACE = "shadeform"
NAME = "cloud"

# ansible-core series -> Python for the controller. Keep in step with README.md and meta/runtime.yml.
CORE_PYTHON = {
    "2.16": "3.11",
    "2.17": "3.11",
    "2.18": "3.11",
    "2.19": "3.11",
    "2.20": "3.12",
    "2.21": "3.13",
}
NEWEST_CORE = "2.21"
NEWEST_PYTHON = CORE_PYTHON[NEWEST_CORE]

TEST_REQUIREMENTS = "tests/requirements.txt"
SANITY_SUPPORT = os.path.join(ROOT, "tests", "sanity")


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
    """Make <tmp_dir>/ansible_collections/shadeform/cloud: a symlink to the checkout, or a copy of its files.

    The copy holds what git would commit: tracked files plus untracked files that .gitignore does not
    exclude, so that virtualenvs, caches and test output never reach ansible-test.
    """
    namespace_dir = os.path.join(tmp_dir, "ansible_collections", NAMESPACE)
    collection_dir = os.path.join(namespace_dir, NAME)
    if os.path.lexists(collection_dir):
        if os.path.islink(collection_dir):
            os.unlink(collection_dir)
        else:
            shutil.rmtree(collection_dir)
    os.makedirs(namespace_dir, exist_ok=True)
    if not copy:
        os.symlink(ROOT, collection_dir)
        return collection_dir
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode("utf-8").split("\0")
    for relative in sorted(filter(None, set(listed))):
        source = os.path.join(ROOT, relative)
        if not os.path.isfile(source):  # deleted in the working tree, still in the index
            continue
        target = os.path.join(collection_dir, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)
    return collection_dir


@nox.session(tags=["tests"])
@nox.parametrize(
    "python,core",
    [(session_python(python), core) for core, python in CORE_PYTHON.items()],
    ids=list(CORE_PYTHON),
)
def tests(session, core):
    """Unit, functional and end-to-end tests (pytest) on one ansible-core series."""
    require_python(session, CORE_PYTHON[core])
    session.install(f"ansible-core=={core}.*", "-r", TEST_REQUIREMENTS)
    session.run("ansible", "--version")
    session.run("pytest", *(session.posargs or ["tests"]))


def seed_get_pip_cache(session, home):
    """Put tests/sanity/get_pip_offline.py where ansible-test, run with HOME=home, looks for its cached get-pip.py.

    See that file for why. A real get-pip.py already in the cache (copied from a machine with full
    internet access) is left alone; an older copy of ours is replaced.
    """
    pip_version = session.run(
        "python", "-c",
        # ansible-test's own table of the pip version it installs into the virtualenvs it creates.
        "import types; from ansible_test._internal.python_requirements import get_venv_packages; "
        f"print(get_venv_packages(types.SimpleNamespace(version='{NEWEST_PYTHON}'))['pip'])",
        silent=True,
    ).strip()
    # Same path as ansible_test/_util/target/setup/requirements.py, bootstrap().
    cache_path = os.path.join(home, ".ansible", "test", "cache", f"get_pip_{pip_version.replace('.', '_')}.py")
    seed_path = os.path.join(SANITY_SUPPORT, "get_pip_offline.py")
    with open(seed_path, encoding="utf-8") as handle:
        seed = handle.read()
    if os.path.exists(cache_path):
        with open(cache_path, encoding="utf-8", errors="replace") as handle:
            if "shadeform.cloud offline get-pip" not in handle.read():
                session.log(f"Using the get-pip.py already cached at {cache_path}")
                return
    os.makedirs(os.path.dirname(cache_path), exist_ok=True)
    with open(cache_path, "w", encoding="utf-8") as handle:
        handle.write(seed)
    session.log(f"Seeded {cache_path} (pip {pip_version}) from {os.path.relpath(seed_path, ROOT)}")


@nox.session(python=session_python(NEWEST_PYTHON))
def sanity(session):
    """ansible-test sanity on the newest ansible-core, on a clean copy of the collection, no ignore files."""
    require_python(session, NEWEST_PYTHON)
    if not shutil.which("shellcheck"):
        session.error("ansible-test's shellcheck test needs shellcheck: apt-get install -y shellcheck")
    if glob.glob(os.path.join(SANITY_SUPPORT, "ignore-*.txt")):
        session.error("tests/sanity/ignore-*.txt found: this collection fixes sanity findings instead of ignoring them")
    session.install(f"ansible-core=={NEWEST_CORE}.*")
    # ansible-test keeps its cache and the virtualenvs of each sanity test under ~/.ansible/test. A HOME
    # of this session's own keeps them apart from other ansible-test runs on the machine (two runs that
    # share ~/.ansible/test delete each other's half-made virtualenvs) and out of the user's home; they
    # are reused by the next run of this session.
    home = os.path.join(session.virtualenv.location, "home")
    os.makedirs(home, exist_ok=True)
    seed_get_pip_cache(session, home)
    with tempfile.TemporaryDirectory(prefix="shadeform-sanity-") as tmp_dir:
        collection_dir = collections_root(tmp_dir, copy=True)
        session.chdir(collection_dir)
        session.run(
            "ansible-test", "sanity", "--color", "--truncate", "0",
            "--python", NEWEST_PYTHON, "--venv", "--requirements",
            *session.posargs,
            env={"HOME": home},
        )
        session.chdir(ROOT)


@nox.session(python=session_python(NEWEST_PYTHON))
def build(session):
    """Build the collection artifact, install it offline and check the installed copy works."""
    require_python(session, NEWEST_PYTHON)
    session.install(f"ansible-core=={NEWEST_CORE}.*", "-r", TEST_REQUIREMENTS)
    output_dir = os.path.join(ROOT, "build")
    os.makedirs(output_dir, exist_ok=True)
    session.run("ansible-galaxy", "collection", "build", "--force", "--output-path", output_dir, ROOT)
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        version = re.search(r"^version:\s*(\S+)", handle.read(), re.MULTILINE).group(1)
    tarball = os.path.join(output_dir, f"{NAMESPACE}-{NAME}-{version}.tar.gz")
    # tests/functional/test_galaxy_build.py installs this artifact with
    # `ansible-galaxy collection install --offline` into a temporary directory and runs ansible-doc
    # and ansible-inventory with ANSIBLE_COLLECTIONS_PATH set to that directory only.
    session.run(
        "pytest", "tests/functional/test_galaxy_build.py", *session.posargs,
        env={"SHADEFORM_COLLECTION_TARBALL": tarball},
    )
    session.log(f"Collection artifact: {os.path.relpath(tarball, ROOT)}")


@nox.session(python=session_python(NEWEST_PYTHON))
def docs(session):
    """Plugin documentation renders and passes antsibull-docs; the changelog fragments are valid."""
    require_python(session, NEWEST_PYTHON)
    session.install(f"ansible-core=={NEWEST_CORE}.*", "-r", "requirements.txt", "antsibull-docs", "antsibull-changelog")
    with tempfile.TemporaryDirectory(prefix="shadeform-docs-") as tmp_dir:
        collection_dir = collections_root(tmp_dir)
        env = {"ANSIBLE_COLLECTIONS_PATH": tmp_dir}
        session.run("ansible-doc", "-t", "inventory", f"{NAMESPACE}.{NAME}.shadeform", env=env, silent=True)
        session.chdir(collection_dir)
        session.run("antsibull-docs", "lint-collection-docs", "--plugin-docs", "--check-extra-docs-refs",
                    "--validate-collection-refs", "dependent", "--disallow-unknown-collection-refs", ".", env=env)
        session.run("antsibull-changelog", "lint")
        session.chdir(ROOT)


@nox.session(python=session_python(NEWEST_PYTHON))
def lint(session):
    """ansible-lint on the example playbooks (docs/ and tests/e2e/playbooks/); see .ansible-lint."""
    require_python(session, NEWEST_PYTHON)
    session.install(f"ansible-core=={NEWEST_CORE}.*", "ansible-lint")
    session.run("ansible-lint", "--version")
    # The playbooks use this collection's modules and action group: the working tree must be installed.
    with tempfile.TemporaryDirectory(prefix="shadeform-lint-") as tmp_dir:
        collections_root(tmp_dir)
        session.run("ansible-lint", *session.posargs, env={"ANSIBLE_COLLECTIONS_PATH": tmp_dir})
