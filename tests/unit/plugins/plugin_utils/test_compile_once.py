# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""constructed.compiled_once stands in for a private ansible-core method only after checking it.

The real templar of the running ansible-core, and stand-in templars whose private method has another
signature or whose compiled form depends on the variables, or that fail: each doubt leaves the
templar as it was (ansible-core's own path) and says why. Runs on every ansible-core.
"""

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.shadeform.cloud.plugins.plugin_utils import constructed


class Engine:
    """A templar engine whose compiled form reads the variables given at each call, as ansible-core's does."""

    def _compile_expression(self, expression, options):  # pylint: disable=unused-argument
        return lambda variables: "{0}:{1}".format(variables["canary_separator"].join(map(str, variables["canary_items"])),
                                                  len(variables["canary_items"]))


class CompileTimeEngine(Engine):
    """An engine whose compiled form holds the variables of compile time: compiling once would reuse them."""

    def __init__(self, templar):
        self.templar = templar

    def _compile_expression(self, expression, options):
        frozen = dict(self.templar.available_variables)
        return lambda variables: Engine._compile_expression(self, expression, options)(frozen)


class OtherSignatureEngine:
    def _compile_expression(self, expression):  # pylint: disable=unused-argument
        raise AssertionError("never called: the signature differs")


class FakeTemplar:
    def __init__(self, engine=None, fails=False):
        self._engine = engine if engine is not None else Engine()
        self.available_variables = {"host": "kept"}
        self.fails = fails

    def evaluate_expression(self, expression):
        if self.fails:
            raise RuntimeError("the engine broke")
        return self._engine._compile_expression(expression, None)(self.available_variables)  # pylint: disable=protected-access


def installed(templar):
    return constructed.COMPILE_METHOD in vars(templar._engine)  # pylint: disable=protected-access


def test_the_running_ansible_core_gets_the_shortcut_only_where_it_has_the_method():
    templar = Templar(loader=DataLoader())
    engine = getattr(templar, "_engine", None)
    has_method = getattr(engine, constructed.COMPILE_METHOD, None) is not None
    with constructed.compiled_once(templar) as reason:
        if has_method:  # ansible-core 2.19 and later
            assert reason is None
            assert installed(templar)
        else:
            assert "no _compile_expression method" in reason
    if has_method:
        assert not installed(templar)


def test_a_sound_engine_gets_the_shortcut_and_gets_it_back_afterwards():
    templar = FakeTemplar()
    with constructed.compiled_once(templar) as reason:
        assert reason is None
        assert installed(templar)
    assert not installed(templar)
    assert templar.available_variables == {"host": "kept"}


def _compile_time_templar():
    templar = FakeTemplar()
    templar._engine = CompileTimeEngine(templar)  # pylint: disable=protected-access
    return templar


@pytest.mark.parametrize("make_templar, why", [
    (lambda: FakeTemplar(OtherSignatureEngine()), "takes ('expression',), not ('expression', 'options')"),
    (lambda: FakeTemplar(fails=True), "the canary expression failed: the engine broke"),
    (_compile_time_templar, "the canary expression gave"),
])
def test_any_doubt_leaves_ansible_cores_own_path(make_templar, why):
    templar = make_templar()
    with constructed.compiled_once(templar) as reason:
        assert why in reason
        assert not installed(templar)
    assert not installed(templar)
    assert templar.available_variables == {"host": "kept"}


def test_turned_off_by_the_option():
    templar = FakeTemplar()
    with constructed.compiled_once(templar, enabled=False) as reason:
        assert reason == "turned off by the constructed_fast_path option"
        assert not installed(templar)
