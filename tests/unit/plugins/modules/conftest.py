# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the modules in-process against the simulator, over real HTTP, and read what they print as Ansible would.

``run_module(main, args, check_mode=False, diff=False)`` feeds the arguments the way ansible-core does (with
``patch_module_args`` on 2.19+, ``basic._ANSIBLE_ARGS`` before), runs the module's ``main()``, and returns the JSON
the module printed (after Ansible's own no_log masking) plus ``rc``: what the controller would receive.
"""

import json

import pytest

from ansible.module_utils import basic

from helpers import API_KEY

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    import contextlib

    @contextlib.contextmanager
    def patch_module_args(args):
        previous = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8")  # pylint: disable=protected-access
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = previous  # pylint: disable=protected-access


@pytest.fixture
def sim(request):
    """A simulator with an empty fleet and short lifecycle delays; its instance type catalogue is the test's parameter
    (``pytest.mark.parametrize("sim", [catalogue], indirect=True)``), else the simulator's own."""
    from shadeform_simulator import Simulator  # pylint: disable=import-outside-toplevel

    with Simulator(api_key=API_KEY, creating_delay=0.3, pending_delay=0.3, deleting_delay=0.3,
                   instance_types=getattr(request, "param", None)) as simulator:
        yield simulator


@pytest.fixture
def warned(monkeypatch):
    """The warnings modules give through AnsibleModule.warn, in order (what the controller would print as [WARNING])."""
    from ansible.module_utils.basic import AnsibleModule  # pylint: disable=import-outside-toplevel

    messages = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, message: messages.append(message))
    return messages


def module_runner(capsys, api_defaults):
    """``run(main, args, check_mode=False, diff=False, api=True)``: runs a module's main() with ``args`` (plus
    ``api_defaults`` unless ``api`` is false) and returns its result dict, ``rc`` and ``stdout`` added."""

    def run(main, args, check_mode=False, diff=False, api=True):
        args = dict(args)
        if api:
            for option, value in api_defaults.items():
                args.setdefault(option, value)
        args["_ansible_check_mode"] = check_mode
        args["_ansible_diff"] = diff
        capsys.readouterr()
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exited:
                main()
        out = capsys.readouterr().out
        result = json.loads(out[out.index("{"):])
        result["rc"] = exited.value.code or 0
        result["stdout"] = out
        return result

    return run


@pytest.fixture
def run_module(sim, capsys, monkeypatch):
    """Run a module's main() with the simulator's URL and key (unless given) and return its result dict."""
    monkeypatch.delenv("SHADEFORM_API_KEY", raising=False)
    monkeypatch.delenv("SHADEFORM_API_URL", raising=False)
    return module_runner(capsys, {"api_url": sim.url, "api_key": API_KEY})


@pytest.fixture
def run_host_module(capsys):
    """Run the main() of a module that calls no API (gpu_facts, which runs on the GPU host) and return its result dict."""
    return module_runner(capsys, {})
