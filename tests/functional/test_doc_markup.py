# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every plugin's and module's documentation renders as written: no broken markup (#21.8).

``ansible-doc --json`` gives each plugin's documentation as ansible-doc itself assembles it (doc fragments merged);
every text in it that takes markup (descriptions, notes, details, ...) is parsed with antsibull-docs-parser, the
parser antsibull-docs renders the collection's site with, in strict mode. A text fails when the parser reports an
error, or when its brackets do not pair up: inside a markup's argument (``C({{ lookup('x') }})`` ends at the first
``)``, so its code is cut short) or in the text around the markups (where the rest of such a markup lands).
"""

import json
import os

import pytest

from antsibull_docs_parser import dom
from antsibull_docs_parser.parser import Context, parse

from helpers import REPO_ROOT, cli_env, run_checked

pytestmark = pytest.mark.functional

# plugins/<folder> -> ansible-doc's plugin type; module_utils, plugin_utils and doc_fragments hold no plugin.
PLUGIN_TYPES = {"modules": "module", "inventory": "inventory", "lookup": "lookup", "filter": "filter", "callback": "callback",
                "connection": "connection", "action": "action", "test": "test"}
NOT_PLUGINS = ("module_utils", "plugin_utils", "doc_fragments")
# The keys whose text is markup; other keys (default, choices, sample, ...) hold values.
MARKUP_KEYS = ("short_description", "description", "notes", "details", "requirements", "why", "alternative")
PAIRS = {")": "(", "]": "[", "}": "{"}


def collection_plugins():
    """{ansible-doc type: [FQCN, ...]} of every plugin in plugins/."""
    found = {}
    plugins_dir = os.path.join(REPO_ROOT, "plugins")
    for folder in sorted(os.listdir(plugins_dir)):
        if folder in NOT_PLUGINS or not os.path.isdir(os.path.join(plugins_dir, folder)):
            continue
        assert folder in PLUGIN_TYPES, f"plugins/{folder}: add its ansible-doc type to PLUGIN_TYPES"
        names = sorted(name[:-3] for name in os.listdir(os.path.join(plugins_dir, folder))
                       if name.endswith(".py") and name != "__init__.py")
        if names:
            found[PLUGIN_TYPES[folder]] = [f"shadeform.cloud.{name}" for name in names]
    return found


PLUGINS = collection_plugins()


def markup_texts(value, where="", in_markup=False):
    """(where, text) for every string under a markup key of the documentation ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from markup_texts(item, f"{where}.{key}" if where else str(key), in_markup=key in MARKUP_KEYS)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from markup_texts(item, f"{where}[{index}]", in_markup)
    elif isinstance(value, str) and in_markup:
        yield where, value


def unpaired(text):
    """The first bracket of ``text`` that closes nothing or is never closed, or None."""
    opened = []
    for char in text:
        if char in "([{":
            opened.append(char)
        elif char in PAIRS:
            if not opened or opened.pop() != PAIRS[char]:
                return char
    return opened[-1] if opened else None


def literal(part):
    """The texts a markup part shows as written (code, a value, a name)."""
    for field in ("text", "value", "name", "url", "fqcn"):
        if part.type != dom.PartType.TEXT and isinstance(getattr(part, field, None), str):
            yield getattr(part, field)


def markup_problems(fqcn, plugin_type, text):
    """What is broken in one documentation text, as antsibull-docs-parser reads it."""
    problems = []
    context = Context(current_plugin=dom.PluginIdentifier(fqcn=fqcn, type=plugin_type))
    for paragraph in parse(text, context, errors="message", strict=True, add_source=True):
        around = []
        for part in paragraph:
            if part.type == dom.PartType.ERROR:
                problems.append(part.message)
            elif part.type == dom.PartType.TEXT:
                around.append(part.text)
            else:
                # A markup counts as one word in the text around it.
                around.append("x")
                # Cut short by a ')': an opened '(' left in what it shows (a single character, C((), is fine).
                for shown in literal(part):
                    if len(shown) > 1 and unpaired(shown) == "(":
                        problems.append(f"{part.source!r} shows {shown!r}, cut short at a ')' "
                                        "(the first ')' ends a markup: write \\) in V() or O(), reword a C())")
        rest = "".join(around)
        if unpaired(rest):
            problems.append(f"the text around the markup, {rest!r}, has an unpaired {unpaired(rest)!r} (a markup ended early?)")
    return problems


def ansible_doc_json(plugin_type, names, tmp_path):
    result = run_checked(["ansible-doc", "--json", "-t", plugin_type] + names, env=cli_env(), cwd=str(tmp_path))
    return json.loads(result.stdout)


def test_markup_problems_finds_a_parenthesis_that_ends_a_markup_early():
    # What the check is for: C() has no escapes, so its first ')' ends it; V() takes \).
    broken = "For example C({{ lookup('ansible.builtin.env', 'X') }}), once."
    assert len(markup_problems("shadeform.cloud.fleet", "module", broken)) == 2
    fixed = r"For example V({{ lookup('ansible.builtin.env', 'X'\) }}) (or O(count)), once."
    assert markup_problems("shadeform.cloud.fleet", "module", fixed) == []
    # An unknown option and a needless escape are errors in strict mode.
    assert markup_problems("shadeform.cloud.fleet", "module", r"V(a\b) and O(no_such=1")


@pytest.mark.parametrize("plugin_type", sorted(PLUGINS))
def test_ansible_doc_markup_renders(plugin_type, tmp_path):
    docs = ansible_doc_json(plugin_type, PLUGINS[plugin_type], tmp_path)
    assert sorted(docs) == PLUGINS[plugin_type]
    problems = []
    checked = 0
    for fqcn, data in sorted(docs.items()):
        for section in ("doc", "return"):
            for where, text in markup_texts(data.get(section) or {}, section):
                checked += 1
                problems.extend(f"{fqcn} {where}: {problem}" for problem in markup_problems(fqcn, plugin_type, text))
    assert checked > 10 * len(docs)
    assert problems == [], "\n".join(problems)
