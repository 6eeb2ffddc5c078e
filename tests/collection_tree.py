# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the checkout becomes a collection Ansible can load, for tests/conftest.py, noxfile.py and benchmarks/run.py.

The repository root is the collection itself, but Ansible only finds collections below an
``ansible_collections/<namespace>/<name>`` directory. Standard library only: noxfile.py imports it before any
virtualenv exists.
"""

import os
import shutil
import subprocess

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMESPACE = "shadeform"
NAME = "cloud"


def collection_tree(root, copy=False):
    """Make ``<root>/ansible_collections/shadeform/cloud`` and return its path: a symlink to the checkout (what the
    tests and the benchmark load: the working tree as it is), or with ``copy`` a copy of what git would commit (tracked
    files plus untracked files that .gitignore does not exclude), so that virtualenvs, caches and test output never
    reach ansible-test, antsibull-changelog or ansible-galaxy."""
    namespace_dir = os.path.join(root, "ansible_collections", NAMESPACE)
    collection_dir = os.path.join(namespace_dir, NAME)
    if os.path.lexists(collection_dir):
        if os.path.islink(collection_dir):
            os.unlink(collection_dir)
        else:
            shutil.rmtree(collection_dir)
    os.makedirs(namespace_dir, exist_ok=True)
    if not copy:
        os.symlink(REPO_ROOT, collection_dir)
        return collection_dir
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, check=True,
    ).stdout.decode("utf-8").split("\0")
    for relative in sorted(filter(None, set(listed))):
        source = os.path.join(REPO_ROOT, relative)
        if not os.path.isfile(source):  # deleted in the working tree, still in the index
            continue
        target = os.path.join(collection_dir, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)
    return collection_dir
