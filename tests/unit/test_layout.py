# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tests are laid out as the code is: a reader finds the tests of a file at the same relative path.

``plugins/<type>/<name>.py`` is tested by ``tests/unit/plugins/<type>/test_<name>.py`` (a private module's leading
underscore dropped), its property tests beside it in ``test_<name>_properties.py``; the event source likewise under
``tests/unit/extensions/``. The documentation fragments hold only text. No test module imports another: shared helpers
live in modules without the test_ prefix.
"""

import ast
import os
import re

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(TESTS_DIR)
CODE_DIRS = ("plugins", os.path.join("extensions", "eda", "plugins"))
TEXT_ONLY = (os.path.join("plugins", "doc_fragments"),)


def code_files():
    for code_dir in CODE_DIRS:
        for directory, _dirs, files in os.walk(os.path.join(REPO_ROOT, code_dir)):
            relative = os.path.relpath(directory, REPO_ROOT)
            if relative.startswith(TEXT_ONLY):
                continue
            for name in files:
                if name.endswith(".py") and name != "__init__.py":
                    yield relative, name[:-3]


def test_every_code_file_has_its_test_file_at_the_same_relative_path():
    missing = [os.path.join("tests", "unit", directory, "test_%s.py" % name.lstrip("_"))
               for directory, name in code_files()
               if not os.path.isfile(os.path.join(TESTS_DIR, "unit", directory, "test_%s.py" % name.lstrip("_")))]
    assert not missing, missing


def test_every_test_file_under_the_mirrored_folders_tests_a_code_file():
    expected = set()
    for directory, name in code_files():
        for suffix in ("", "_properties"):
            expected.add(os.path.join(directory, "test_%s%s.py" % (name.lstrip("_"), suffix)))
    strays = []
    for code_dir in CODE_DIRS[:1] + ("extensions",):
        for directory, _dirs, files in os.walk(os.path.join(TESTS_DIR, "unit", code_dir)):
            relative = os.path.relpath(directory, os.path.join(TESTS_DIR, "unit"))
            strays += [os.path.join(relative, name) for name in files
                       if name.startswith("test_") and name.endswith(".py") and os.path.join(relative, name) not in expected]
    assert not strays, strays


def test_no_test_module_imports_another():
    importing = []
    for directory, _dirs, files in os.walk(TESTS_DIR):
        for name in files:
            if not re.match(r"^(test_.*|conftest)\.py$", name):
                continue
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), path)
            for node in ast.walk(tree):
                modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                importing += ["%s imports %s" % (os.path.relpath(path, TESTS_DIR), module)
                              for module in modules if module.split(".")[-1].startswith("test_")]
    assert not importing, importing
