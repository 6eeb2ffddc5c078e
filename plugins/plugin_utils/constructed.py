# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faster evaluation of the constructed options (compose, groups, keyed_groups, filters).

ansible-core evaluates every expression anew for every host: on 2.19 and later it compiles the
Jinja expression at each evaluation, which costs more than everything else the inventory does per
host.  Four shortcuts keep ansible-core's exact results:

- an expression that is a plain variable name or a dotted path through dictionaries, whose value is
  one ansible-core would return unchanged (a string; from 2.19 on also a number or a boolean), is
  looked up instead of templated;
- a quoted string literal is evaluated by ansible-core once, not once per host;
- a pure expression (variables, literals, operators and side-effect-free filters and tests, no
  calls) gives the same result for the same values of the variables it reads: ansible-core
  evaluates it once per distinct set of values, and hosts that share them share the result;
- on ansible-core 2.19 and later, each expression is compiled once per inventory source instead of
  once per host (the compiled form does not depend on the host's variables).

Anything else goes through ansible-core's own templating, unchanged.
"""

import contextlib
import re

import jinja2
from jinja2 import meta, nodes

NOT_PLAIN = object()
PLAIN_PATH = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*$")
STRING_LITERAL = re.compile(r"""^\s*(?:'[^'\\{}]*'|"[^"\\{}]*")\s*$""")
# Names Jinja reads as literals or operators, never as variables.
JINJA_WORDS = frozenset(("true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else"))


def plain_value(expression, variables, templates_strings):
    """The value of ``expression`` when it is a plain variable path to a value ansible-core returns unchanged
    (a string; from 2.19 on also a number), else NOT_PLAIN.

    ``templates_strings`` is true before ansible-core 2.19, where results become text and a result that
    looks like a list, a dict or a boolean is turned into one. A string with a brace that is not marked
    unsafe may be rendered when read: such strings are left to ansible-core on every version.
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
    if templates_strings and (value.startswith(("{", "[")) or value in ("True", "False")):
        return NOT_PLAIN
    if _may_be_template(value):
        return NOT_PLAIN
    return value


def _may_be_template(text):
    """Whether ansible-core might render this string when a template reads it (a safe string with a brace)."""
    return "{" in text and not getattr(text, "__UNSAFE__", False)


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


# Filters and tests whose result depends on their input alone (no randomness, clock, I/O or lookups).
PURE_FILTERS = frozenset((
    "default", "d", "int", "float", "string", "lower", "upper", "capitalize", "title", "trim", "replace", "length",
    "count", "first", "last", "join", "bool", "abs", "round", "regex_replace", "regex_search", "truncate", "center",
))
PURE_TESTS = frozenset((
    "defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "mapping", "sequence", "iterable",
    "eq", "ne", "lt", "le", "gt", "ge", "in", "equalto", "match", "search", "regex", "lower", "upper",
))
# The syntax a pure expression may use besides filters and tests.
PURE_NODES = (nodes.Template, nodes.Output, nodes.Name, nodes.Const, nodes.Getattr, nodes.Getitem, nodes.Slice, nodes.Compare,
              nodes.Operand, nodes.BinExpr, nodes.UnaryExpr, nodes.Concat, nodes.CondExpr, nodes.List, nodes.Tuple, nodes.Dict,
              nodes.Pair, nodes.Filter, nodes.Test)
IMMUTABLE = (str, int, float, bool, type(None))
MISSING = object()
_ANALYSIS = jinja2.Environment()


class Unfreezable(Exception):
    """A value that cannot be part of a result key: it may be rendered when read, or it is not plain data."""


class PureResults:
    """Results of pure expressions, by expression and by the values of the variables each reads."""

    def __init__(self):
        self._names = {}
        self._results = {}

    def names(self, expression):
        """The variables a pure expression reads, or None when it is not pure (or not plain Jinja)."""
        key = str(expression)
        if key not in self._names:
            self._names[key] = _pure_names(key)
        return self._names[key]

    def evaluate(self, kind, expression, variables, evaluate):
        """``evaluate()``'s result, shared by every call of this kind (a value, a conditional) with the same
        values of the variables the expression reads."""
        names = self.names(expression) if isinstance(expression, str) else None
        if names is None:
            return evaluate()
        try:
            key = (kind, str(expression)) + tuple(_freeze(variables.get(name, MISSING)) for name in names)
        except Unfreezable:
            return evaluate()
        if key not in self._results:
            value = evaluate()
            if not isinstance(value, IMMUTABLE):
                return value
            self._results[key] = value
        return self._results[key]


def _pure_names(expression):
    try:
        tree = _ANALYSIS.parse("{{ " + expression + " }}")
    except jinja2.TemplateError:
        return None
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, PURE_NODES):
            return None
        if isinstance(node, nodes.Filter) and node.name not in PURE_FILTERS:
            return None
        if isinstance(node, nodes.Test) and node.name not in PURE_TESTS:
            return None
    return tuple(sorted(meta.find_undeclared_variables(tree)))


def _freeze(value):
    """A hashable stand-in for a value, exact down to its type (str and unsafe text are told apart)."""
    if value is MISSING:
        return (MISSING,)
    if isinstance(value, str) and _may_be_template(value):
        raise Unfreezable()
    if isinstance(value, IMMUTABLE):
        return (type(value), value)
    if isinstance(value, dict):
        try:
            return (type(value),) + tuple(sorted((key, _freeze(item)) for key, item in value.items()))
        except TypeError:  # keys of mixed types
            raise Unfreezable() from None
    if isinstance(value, (list, tuple)):
        return (type(value),) + tuple(_freeze(item) for item in value)
    raise Unfreezable()
