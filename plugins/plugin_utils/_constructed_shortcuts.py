# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin's shortcuts for its constructed options and filters, behind one entry point: :func:`shortcuts`.

Private to the plugin. ansible-core evaluates every expression anew for every host, and from 2.19 on it compiles the
Jinja expression at each evaluation: over a large fleet that costs more than everything else the inventory does. Three
shortcuts stay, because each gains more than 15 % on a measured case (benchmarks/RESULTS.md, N = 10,000, medians; others
were measured and removed):

- **shared results of pure expressions**: an expression made only of variables, literals, operators and
  side-effect-free filters and tests (PURE_FILTERS, PURE_TESTS; no calls, lookups or ``vars``) gives the same result
  for the same values of the variables it reads. ansible-core evaluates it once per distinct set of those values,
  given only those variables, and hosts that share them share the result (compose, keyed_groups and filters; the
  ``groups`` option is evaluated by ansible-core's own code, which does not go through ``_compose``);
- **compile once** (ansible-core 2.19 and later): each expression is compiled once per inventory source instead of
  once per host. This replaces the private ``_compile_expression`` method of the templar's engine, so it is checked
  (signature and a canary expression) before each use;
- **set_variables**: a host's variables are set with one dictionary assignment each where that is all
  ``Host.set_variable`` would do (a new, plain name that ansible-core takes without a word, checked once per name);
  anything else goes through ``Host.set_variable``.

Both run only on the ansible-core minor versions the suite tests (TESTED_CORES, the one list: noxfile.py reads it); on
any other version, with ``use_extra_vars``, or with ``constructed_fast_path: false``, the plugin keeps ansible-core's
own path (the same results, slower) and says why at -vvv. A new ansible-core release is then slower until tested,
never wrong.
"""

import contextlib
import functools
import inspect

import jinja2
from jinja2 import meta, nodes

from ansible.errors import AnsibleError
from ansible.release import __version__ as ANSIBLE_CORE_VERSION

try:
    from ansible.utils.vars import validate_variable_name
except ImportError:  # before 2.19, host variable names are not checked
    validate_variable_name = None

try:
    from ansible.template import trust_as_template
except ImportError:  # before 2.19 there is no compile method to stand in for, and no trust to give
    def trust_as_template(text):
        return text

# The ansible-core minor versions whose every test (equivalence with ansible.builtin.constructed, properties) passes
# with the shortcuts on: the one list of supported cores (noxfile.py runs the suite on each of them).
TESTED_CORES = ("2.16", "2.17", "2.18", "2.19", "2.20", "2.21")


class Shortcuts:
    """What the block of :func:`shortcuts` gives the plugin: why a shortcut is not in use (``not_used``, for -vvv) and
    ``set_variables``, the fast one where the shortcuts are on, else Host.set_variable for each variable."""

    def __init__(self, not_used, fast):
        self.not_used = not_used
        self.set_variables = set_variables if fast else _set_each


@contextlib.contextmanager
def shortcuts(plugin, enabled=True):
    """Within the block, the plugin's ``_compose`` (compose, keyed_groups) and ``_evaluate_conditional`` (filters)
    share the results of pure expressions, and its templar compiles each expression once; yields a :class:`Shortcuts`.

    Outside the block the plugin is as it was: both methods are replaced on the instance only, for the block.
    """
    core = ".".join(ANSIBLE_CORE_VERSION.split(".")[:2])
    if not enabled:
        reason = "the constructed_fast_path option is off, or use_extra_vars is on"
    elif core not in TESTED_CORES:
        reason = "ansible-core {0} is not among the versions they were tested on ({1})".format(core, ", ".join(TESTED_CORES))
    else:
        reason = None
    if reason:
        yield Shortcuts(["no shortcut is used, since " + reason], fast=False)
        return
    results = PureResults()
    compose, evaluate_conditional = plugin._compose, plugin._evaluate_conditional  # pylint: disable=protected-access

    def shared_compose(template, variables, disable_lookups=...):
        try:
            return results.evaluate("value", template, variables, lambda read: compose(template, read, disable_lookups))
        finally:
            # ansible-core's _compose leaves the host's variables to the templar, and a keyed group's parent_group is
            # templated with them next: the shared result may have come with fewer variables, or another host's.
            plugin.templar.available_variables = variables

    def shared_conditional(conditional, variables):
        return results.evaluate("conditional", conditional, variables, lambda read: evaluate_conditional(conditional, read))

    with compiled_once(plugin.templar) as compile_reason:
        not_used = ["expressions are compiled through ansible-core's own path, since " + compile_reason] if compile_reason else []
        plugin._compose, plugin._evaluate_conditional = shared_compose, shared_conditional  # pylint: disable=protected-access
        try:
            yield Shortcuts(not_used, fast=True)
        finally:
            del plugin._compose, plugin._evaluate_conditional  # pylint: disable=protected-access


def set_variables(host, variables):
    """``host.set_variable(name, value)`` for each variable, in order, at a fraction of the cost.

    For a name the host does not have yet, set_variable only checks the name (from 2.19 on) and assigns:
    that check is made once per name, and the assignment done directly. Anything else (a name already set,
    whose dictionary set_variable merges; a name ansible-core warns about; a str subclass, from which
    set_variable removes trust) goes through set_variable itself.
    """
    for name, value in variables.items():
        # host.vars is read at each step: set_variable replaces the whole dictionary when it merges one.
        if type(name) is str and name not in host.vars and _accepted_name(name):  # pylint: disable=unidiomatic-typecheck
            host.vars[name] = value
        else:
            host.set_variable(name, value)


def _set_each(host, variables):
    for name, value in variables.items():
        host.set_variable(name, value)


@functools.lru_cache(maxsize=4096)
def _accepted_name(name):
    """Whether ansible-core takes this variable name without a word (every name, before 2.19)."""
    if validate_variable_name is None:
        return True
    try:
        validate_variable_name(name)
    except AnsibleError:
        return False
    return True


def _may_be_template(text):
    """Whether ansible-core might render this string when a template reads it (a safe string with a brace)."""
    return "{" in text and not getattr(text, "__UNSAFE__", False)


# The private method the compile-once shortcut stands in for, with the parameters it must have.
COMPILE_METHOD = "_compile_expression"
COMPILE_PARAMETERS = ("expression", "options")
# An expression that reads variables through impure filters: compiled once, it must still give each call's
# own answer, exactly as ansible-core's uncached path does.
CANARY_EXPRESSION = "canary_items | map('string') | join(canary_separator) ~ ('%s' | format(canary_items | length))"
CANARY_VARIABLES = ({"canary_items": [1, 2], "canary_separator": ","}, {"canary_items": ["x"], "canary_separator": "-"})


@contextlib.contextmanager
def compiled_once(templar):
    """Within the block, the templar compiles each expression once (ansible-core 2.19 and later).

    Yields None when the shortcut is in use, else the reason it is not. The shortcut replaces the
    private ``_compile_expression`` method of the templar's engine, so it is only used when that
    method has the expected parameters and a canary expression gives, through the shortcut, the
    very results ansible-core's own path gives; on any doubt ansible-core's path is left as it is
    (the same results, only slower). Older releases compile through Jinja's ``from_string`` with
    per-call state written into the compiled template: they are left as they are.
    """
    engine = getattr(templar, "_engine", None)
    compile_expression = getattr(engine, COMPILE_METHOD, None)
    reason = _unusable_compile_method(compile_expression)
    compiled = {}
    installed = False
    if reason is None:
        def compile_once(expression, options):
            key = (str(expression), options)
            if key not in compiled:
                compiled[key] = compile_expression(expression, options)
            return compiled[key]

        try:
            setattr(engine, COMPILE_METHOD, compile_once)
            installed = True
        except AttributeError:  # a future engine with slots: no shortcut, same results
            reason = "the templar's engine does not let its compile method be replaced"
    if installed:
        reason = _canary_differs(templar, compiled)
        if reason:
            delattr(engine, COMPILE_METHOD)
            installed = False
    try:
        yield reason
    finally:
        if installed:
            delattr(engine, COMPILE_METHOD)


def _unusable_compile_method(method):
    """Why ansible-core's private compile method cannot be replaced safely, or None when it can."""
    if method is None:
        return "this ansible-core has no {0} method to stand in for".format(COMPILE_METHOD)
    try:
        parameters = tuple(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return "the signature of ansible-core's {0} cannot be read".format(COMPILE_METHOD)
    if parameters != COMPILE_PARAMETERS:
        return "ansible-core's {0} takes {1}, not {2}".format(COMPILE_METHOD, parameters, COMPILE_PARAMETERS)
    return None


def _canary_differs(templar, compiled):
    """Evaluate the canary through the installed shortcut and through ansible-core's own path; None when
    the results agree and the shortcut was really used, else what went wrong."""
    saved = templar.available_variables
    expression = trust_as_template(CANARY_EXPRESSION)
    try:
        fast = []
        for variables in CANARY_VARIABLES:
            templar.available_variables = variables
            fast.append(templar.evaluate_expression(expression))
        if len(compiled) != 1:
            return "the canary expression was not compiled through {0}".format(COMPILE_METHOD)
        engine = templar._engine  # pylint: disable=protected-access
        shortcut = engine.__dict__.pop(COMPILE_METHOD)
        try:
            core = []
            for variables in CANARY_VARIABLES:
                templar.available_variables = variables
                core.append(templar.evaluate_expression(expression))
        finally:
            setattr(engine, COMPILE_METHOD, shortcut)
    except Exception as exc:  # pylint: disable=broad-except
        return "the canary expression failed: {0}".format(exc)
    finally:
        templar.available_variables = saved
        compiled.clear()
    if fast != core or fast[0] == fast[1]:
        return "the canary expression gave {0!r} through the shortcut and {1!r} through ansible-core".format(fast, core)
    return None


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
# Names through which an expression can reach variables it does not name: every variable is then given.
INDIRECT_NAMES = frozenset(("vars", "hostvars", "lookup", "query", "q", "varnames", "environment"))


class Unfreezable(Exception):
    """A value that cannot be part of a result key: it may be rendered when read, or it is not plain data."""


class PureResults:
    """Results of pure expressions, by expression and by the values of the variables each reads."""

    def __init__(self):
        self._analyses = {}
        self._results = {}

    def analysis(self, expression):
        """``(read, pure)`` for an expression: see ``_analysis``; each expression is parsed once."""
        if expression not in self._analyses:
            self._analyses[expression] = _analysis(expression)
        return self._analyses[expression]

    def evaluate(self, kind, expression, variables, evaluate):
        """``evaluate(variables)``'s result, shared by every call of this kind (a value, a conditional) with the same
        values of the variables a pure expression reads.

        ansible-core wraps every variable it is given for each evaluation, so an expression is given only the
        variables it reads, when those are known: the same result at a fraction of the cost on a host with many.
        """
        if not isinstance(expression, str):
            return evaluate(variables)
        read, pure = self.analysis(expression)
        if read is None:
            return evaluate(variables)
        variables = dict((name, variables[name]) for name in read if name in variables)
        if not pure:
            return evaluate(variables)
        try:
            key = (kind, expression) + tuple(_freeze(variables.get(name, MISSING)) for name in read)
        except Unfreezable:
            return evaluate(variables)
        if key not in self._results:
            value = evaluate(variables)
            if not isinstance(value, IMMUTABLE):
                return value
            self._results[key] = value
        return self._results[key]


class _AnyName(dict):
    """The filters and tests of the analysis environment: every name exists, and none is ever called."""

    def __contains__(self, name):
        return True

    def __missing__(self, name):
        return _no_call

    def get(self, name, default=None):
        return _no_call


def _no_call(*args, **kwargs):
    raise AssertionError("analysis only")  # pragma: no cover


# Only parses and lists variables. Its compiler insists that every filter and test it meets exists, and
# ansible-core's (regex_replace, match, ...) are not Jinja's own: any name is taken.
_ANALYSIS = jinja2.Environment()
_ANALYSIS.filters = _AnyName()
_ANALYSIS.tests = _AnyName()


def _analysis(expression):
    """``(read, pure)``: the variables the expression reads (None when a call, a lookup or ``vars`` may read others
    by name, or when it is not plain Jinja), and whether it is pure (only PURE_NODES, PURE_FILTERS and PURE_TESTS)."""
    try:
        tree = _ANALYSIS.parse("{{ " + expression + " }}")
        read = meta.find_undeclared_variables(tree)
    except jinja2.TemplateError:  # not plain Jinja after all: ansible-core evaluates it, and reports any error itself
        return None, False
    every = list(tree.find_all(nodes.Node))
    if read & INDIRECT_NAMES or any(isinstance(node, nodes.Call) for node in every):
        return None, False
    pure = all(isinstance(node, PURE_NODES)
               and not (isinstance(node, nodes.Filter) and node.name not in PURE_FILTERS)
               and not (isinstance(node, nodes.Test) and node.name not in PURE_TESTS) for node in every)
    return tuple(sorted(read)), pure


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
