# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faster evaluation of the constructed options (compose, groups, keyed_groups, filters).

ansible-core evaluates every expression anew for every host: on 2.19 and later it compiles the
Jinja expression at each evaluation, which costs more than everything else the inventory does per
host.  Three shortcuts keep ansible-core's exact results:

- an expression that is a plain variable name or a dotted path through dictionaries, whose value is
  one ansible-core would return unchanged (a string; from 2.19 on also a number or a boolean), is
  looked up instead of templated;
- a quoted string literal is evaluated by ansible-core once, not once per host;
- on ansible-core 2.19 and later, each expression is compiled once per inventory source instead of
  once per host (the compiled form does not depend on the host's variables).

Anything else goes through ansible-core's own templating, unchanged.
"""

import contextlib
import re

NOT_PLAIN = object()
PLAIN_PATH = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*$")
STRING_LITERAL = re.compile(r"""^\s*(?:'[^'\\{}]*'|"[^"\\{}]*")\s*$""")
# Names Jinja reads as literals or operators, never as variables.
JINJA_WORDS = frozenset(("true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else"))


def plain_value(expression, variables, templates_strings):
    """The value of ``expression`` when it is a plain variable path to a string, else NOT_PLAIN.

    ``templates_strings`` is true before ansible-core 2.19, where results become text, a safe (not unsafe-marked) string
    is templated again when read, and a result that looks like a list, a dict or a boolean is turned
    into one: those strings are left to ansible-core.
    """
    if not isinstance(expression, str):
        return NOT_PLAIN
    match = PLAIN_PATH.match(expression)
    if not match:
        return NOT_PLAIN
    names = match.group(1).split(".")
    if names[0] in JINJA_WORDS:
        return NOT_PLAIN
    value = variables
    for name in names:
        # Jinja reads a.b as an attribute first: dict methods (a.items) are not plain lookups.
        if not isinstance(value, dict) or name not in value or (value is not variables and hasattr(value, name)):
            return NOT_PLAIN
        value = value[name]
    if not isinstance(value, str):
        # Before 2.19, inventory templating turns every result into text.
        return NOT_PLAIN if templates_strings or not isinstance(value, (int, float)) else value
    if templates_strings:
        if value.startswith(("{", "[")) or value in ("True", "False"):
            return NOT_PLAIN
        if "{" in value and not getattr(value, "__UNSAFE__", False):
            return NOT_PLAIN
    return value


def is_string_literal(expression):
    """True for a quoted string without escapes or braces: its value is the same for every host."""
    return isinstance(expression, str) and STRING_LITERAL.match(expression) is not None


@contextlib.contextmanager
def compiled_once(templar):
    """Within the block, the templar compiles each expression once (ansible-core 2.19 and later).

    Older releases compile through Jinja's ``from_string`` with per-call state (disabled lookups)
    written into the compiled template, so they are left as they are.
    """
    engine = getattr(templar, "_engine", None)
    compile_expression = getattr(engine, "_compile_expression", None)
    if compile_expression is None:
        yield
        return
    compiled = {}

    def compile_once(expression, options):
        key = (str(expression), options)
        if key not in compiled:
            compiled[key] = compile_expression(expression, options)
        return compiled[key]

    try:
        engine._compile_expression = compile_once  # pylint: disable=protected-access
    except AttributeError:  # a future engine with slots: no shortcut, same results
        yield
        return
    try:
        yield
    finally:
        del engine._compile_expression  # pylint: disable=protected-access
