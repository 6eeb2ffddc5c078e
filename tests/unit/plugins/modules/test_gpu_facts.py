# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gpu_facts against replayed nvidia-smi outputs (tests/fixtures/nvidia-smi/, SOURCES.md says where each comes from).

A stand-in ``nvidia-smi``, a shell script written into the test's directory and put first on ``PATH``, answers the
query form with a fixture's ``.csv`` and plain ``nvidia-smi`` with its ``.txt`` (the header with the CUDA version),
logs every call, and refuses any other arguments as the real one refuses an unknown field.
"""

import math
import os

import jinja2
import pytest
import yaml

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.shadeform.cloud.plugins.modules import gpu_facts

from helpers import QUERY_ARGS, StandIn, nvidia_smi_fixture as fixture_path

DRIVER_FAILURE = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."


def fixture_rows(shape):
    """The fixture's CSV cells, read plainly: what each GPU's facts must come from."""
    with open(fixture_path(shape + ".csv"), encoding="utf-8") as handle:
        return [[cell.strip() for cell in line.split(",")] for line in handle if line.strip()]


@pytest.fixture
def commands(monkeypatch):
    """Every command the module runs (through AnsibleModule.run_command, its only way to run one), in order."""
    ran = []
    real_run_command = AnsibleModule.run_command

    def recording(module, args, *more, **options):
        ran.append(list(args) if isinstance(args, (list, tuple)) else args)
        return real_run_command(module, args, *more, **options)

    monkeypatch.setattr(AnsibleModule, "run_command", recording)
    return ran


@pytest.fixture
def gpu_host(tmp_path, monkeypatch):
    """``install(shape)`` (or ``install(exit_status=9)`` for a host without a driver) puts a stand-in nvidia-smi first
    on PATH and returns it."""

    def install(shape=None, exit_status=0):
        directory = tmp_path / "bin"
        directory.mkdir(exist_ok=True)
        stand_in = StandIn(directory, shape, exit_status)
        monkeypatch.setenv("PATH", str(directory) + os.pathsep + os.environ.get("PATH", ""))
        return stand_in

    return install


def facts_of(result):
    return result["ansible_facts"]["shadeform_gpus"], result["ansible_facts"]["shadeform_gpu_summary"]


# (shape, summary); every GPU's facts are checked against the fixture's cells in the test.
SHAPES = [
    ("single-l40s", {"count": 1, "name": "NVIDIA L40S", "driver_version": "550.127.05", "cuda_version": "12.4"}),
    ("h100-8", {"count": 8, "name": "NVIDIA H100 80GB HBM3", "driver_version": "565.57.01", "cuda_version": "12.7"}),
    ("geforce-rtx3090-2", {"count": 2, "name": "NVIDIA GeForce RTX 3090", "driver_version": "560.35.03", "cuda_version": "12.6"}),
    ("mixed-k620-k40c", {"count": 2, "name": None, "driver_version": "460.80", "cuda_version": "11.2"}),
    ("mig-a100-2", {"count": 2, "name": "NVIDIA A100-PCIE-40GB", "driver_version": "535.161.08", "cuda_version": "12.2"}),
    ("driver-470-v100", {"count": 1, "name": "Tesla V100-SXM2-32GB", "driver_version": "470.57.02", "cuda_version": "11.4"}),
]


def expected_gpu(cells, cuda):
    """One GPU's facts as the fixture's cells give them: numbers as ints, a bracketed cell null, MIG as a bool."""

    def number(cell):
        return None if cell.startswith("[") else int(cell)

    index, name, uuid, total, used, driver, temperature, utilization, ecc, mig = cells
    return {"index": int(index), "name": name, "uuid": uuid, "memory_total_mib": int(total), "memory_used_mib": int(used),
            "driver_version": driver, "cuda_version": cuda, "temperature_c": number(temperature),
            "utilization_percent": number(utilization), "ecc_errors_uncorrected": number(ecc),
            "mig_enabled": {"Enabled": True, "Disabled": False}.get(mig)}


@pytest.mark.parametrize("shape, summary", SHAPES, ids=[shape for shape, _summary in SHAPES])
def test_gpu_facts_of_each_shape(shape, summary, gpu_host, run_host_module, commands):
    stand_in = gpu_host(shape)
    result = run_host_module(gpu_facts.main, {})
    assert result["rc"] == 0 and not result.get("failed"), result
    assert result["changed"] is False
    gpus, got_summary = facts_of(result)
    assert got_summary == summary
    assert gpus == [expected_gpu(cells, summary["cuda_version"]) for cells in fixture_rows(shape)]
    # It ran nvidia-smi and nothing else: the query, then the plain header.
    assert commands == [[stand_in.path] + QUERY_ARGS, [stand_in.path]]
    assert stand_in.calls() == [" ".join(QUERY_ARGS), ""]


def test_gpu_facts_reads_the_placeholders_of_what_a_gpu_lacks_as_null(gpu_host, run_host_module):
    gpu_host("mixed-k620-k40c")
    k620, k40c = facts_of(run_host_module(gpu_facts.main, {}))[0]
    assert (k620["name"], k620["ecc_errors_uncorrected"], k620["mig_enabled"]) == ("Quadro K620", None, None)  # [Not Supported], [N/A]
    assert (k40c["name"], k40c["ecc_errors_uncorrected"], k40c["mig_enabled"]) == ("Tesla K40c", 0, None)
    gpu_host("mig-a100-2")
    in_mig, whole = facts_of(run_host_module(gpu_facts.main, {}))[0]
    assert (in_mig["mig_enabled"], in_mig["utilization_percent"], in_mig["ecc_errors_uncorrected"]) == (True, None, None)
    assert (whole["mig_enabled"], whole["utilization_percent"], whole["ecc_errors_uncorrected"]) == (False, 0, 0)


def test_gpu_facts_passes_a_health_check_the_gpus_meet(gpu_host, run_host_module):
    gpu_host("h100-8")
    # 81559 MiB is 85.5 GB: an H100 80GB meets 80 GB; the name matches whatever the case.
    result = run_host_module(gpu_facts.main, {"expect_count": 8, "expect_name": "h100", "min_memory_gb": 80})
    assert result["rc"] == 0 and not result.get("failed"), result
    assert facts_of(result)[1]["count"] == 8


def test_gpu_facts_fails_with_every_difference_in_one_message_and_still_returns_the_facts(gpu_host, run_host_module):
    gpu_host("mixed-k620-k40c")
    result = run_host_module(gpu_facts.main, {"expect_count": 8, "expect_name": "K40", "min_memory_gb": 10})
    assert result["failed"] is True and result["rc"] == 1
    assert result["msg"] == ("The GPUs are not what was expected: 2 GPUs, expected 8 (expect_count); "
                             "GPU 0: Quadro K620, expected a name containing 'K40' (expect_name); "
                             "GPU 0: 2.1 GB of memory (1993 MiB), expected at least 10 GB (min_memory_gb).")
    gpus, summary = facts_of(result)
    assert summary["count"] == 2 and [gpu["name"] for gpu in gpus] == ["Quadro K620", "Tesla K40c"]


@pytest.mark.parametrize("args, message", [
    ({"expect_count": 4}, "8 GPUs, expected 4 (expect_count)"),
    ({"expect_name": "A100"}, "GPUs 0, 1, 2, 3, 4, 5, 6, 7: NVIDIA H100 80GB HBM3, expected a name containing 'A100' (expect_name)"),
    ({"min_memory_gb": 86}, "GPUs 0, 1, 2, 3, 4, 5, 6, 7: 85.5 GB of memory (81559 MiB), expected at least 86 GB (min_memory_gb)"),
], ids=["expect_count", "expect_name", "min_memory_gb"])
def test_gpu_facts_fails_on_each_expectation_alone(args, message, gpu_host, run_host_module):
    gpu_host("h100-8")
    result = run_host_module(gpu_facts.main, args)
    assert result["failed"] is True
    assert result["msg"] == "The GPUs are not what was expected: %s." % message
    assert facts_of(result)[1]["count"] == 8


def test_gpu_facts_names_only_the_gpus_that_differ(gpu_host, run_host_module):
    gpu_host("mig-a100-2")
    # 40960 MiB is 42.9 GB on both; a name check against the model they are passes.
    assert not run_host_module(gpu_facts.main, {"expect_name": "a100-pcie", "min_memory_gb": 42.9}).get("failed")
    result = run_host_module(gpu_facts.main, {"expect_count": 1, "min_memory_gb": 43})
    assert result["msg"] == ("The GPUs are not what was expected: 2 GPUs, expected 1 (expect_count); "
                             "GPUs 0, 1: 42.9 GB of memory (40960 MiB), expected at least 43 GB (min_memory_gb).")


def test_gpu_facts_check_mode_reads_the_same(gpu_host, run_host_module, commands):
    stand_in = gpu_host("h100-8")
    normal = run_host_module(gpu_facts.main, {"expect_count": 8})
    checked = run_host_module(gpu_facts.main, {"expect_count": 8}, check_mode=True)
    assert checked["ansible_facts"] == normal["ansible_facts"] and checked["changed"] is False
    failed = run_host_module(gpu_facts.main, {"expect_count": 7}, check_mode=True)
    assert failed["failed"] is True and failed["ansible_facts"] == normal["ansible_facts"]
    # Each run read the GPUs the same way, and only read.
    assert commands == [[stand_in.path] + QUERY_ARGS, [stand_in.path]] * 3


def test_gpu_facts_without_nvidia_smi_says_there_is_no_driver(tmp_path, monkeypatch, run_host_module, commands):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    # get_bin_path also looks in the sbin folders; a host that has nvidia-smi there cannot show it missing.
    if any(os.path.exists(os.path.join(folder, "nvidia-smi")) for folder in ("/sbin", "/usr/sbin", "/usr/local/sbin")):
        pytest.skip("this host has an nvidia-smi in an sbin folder")
    result = run_host_module(gpu_facts.main, {})
    assert result["failed"] is True and "ansible_facts" not in result
    assert result["msg"].startswith("No NVIDIA driver on this host: nvidia-smi, which comes with the driver, is not on the PATH (%s)" % empty)
    assert "set nvidia_smi_path" in result["msg"]
    missing = run_host_module(gpu_facts.main, {"nvidia_smi_path": str(empty / "nvidia-smi")})
    assert missing["msg"] == "No NVIDIA driver here: nvidia_smi_path %s is not an executable file." % (empty / "nvidia-smi")
    assert commands == []


def test_gpu_facts_with_a_failing_nvidia_smi_says_the_driver_does_not_work(gpu_host, run_host_module, commands):
    stand_in = gpu_host(exit_status=9)
    result = run_host_module(gpu_facts.main, {"expect_count": 8})
    assert result["failed"] is True and "ansible_facts" not in result
    assert result["msg"].startswith("No working NVIDIA driver on this host: '%s --query-gpu=" % stand_in.path)
    assert result["msg"].endswith("exited with status 9 and said: %s Make sure that the latest NVIDIA driver is installed and running." % DRIVER_FAILURE)
    assert commands == [[stand_in.path] + QUERY_ARGS]


def test_gpu_facts_runs_the_nvidia_smi_it_is_given(tmp_path, gpu_host, run_host_module, commands):
    elsewhere = tmp_path / "opt"
    elsewhere.mkdir()
    given = StandIn(elsewhere, "single-l40s")
    on_path = gpu_host(exit_status=9)  # the one on PATH would fail
    result = run_host_module(gpu_facts.main, {"nvidia_smi_path": given.path})
    assert facts_of(result)[1]["name"] == "NVIDIA L40S"
    assert commands == [[given.path] + QUERY_ARGS, [given.path]] and on_path.calls() == []


@pytest.mark.parametrize("args, message", [
    ({"expect_count": -1}, "expect_count must be 0 or more, not -1."),
    ({"expect_name": " "}, "expect_name must not be empty: leave it out to accept any GPU name."),
    ({"min_memory_gb": math.nan}, "min_memory_gb must be a number of GB, 0 or more, not nan."),
    ({"min_memory_gb": -1}, "min_memory_gb must be a number of GB, 0 or more, not -1.0."),
])
def test_gpu_facts_refuses_bad_options_before_running_anything(args, message, gpu_host, run_host_module, commands):
    gpu_host("h100-8")
    result = run_host_module(gpu_facts.main, args)
    assert result["failed"] is True and result["msg"] == message
    assert commands == []


@pytest.mark.parametrize("header, version", [
    ("| NVIDIA-SMI 580.126.09             Driver Version: 580.126.09     CUDA Version: 13.0     |", "13.0"),
    # A driver of a paravirtualised GPU, and a driver that shows no CUDA version (both seen on public hosts).
    ("| NVIDIA-SMI 610.88                 KMD Version: 610.88        CUDA UMD Version: 13.3     |", "13.3"),
    ("| NVIDIA-SMI 470.256.02   Driver Version: 470.256.02   CUDA Version: N/A       |", None),
])
def test_cuda_version_from_the_header(header, version):
    assert gpu_facts.cuda_version(header) == version


def test_parse_gpus_keeps_a_comma_in_a_name_and_refuses_a_short_line():
    line = fixture_rows("single-l40s")[0]
    line[1] = "NVIDIA L40S, Rev 2"
    assert gpu_facts.parse_gpus(", ".join(line))[0]["name"] == "NVIDIA L40S, Rev 2"
    with pytest.raises(ValueError, match="nvidia-smi answered a line with 3 fields where 10 were asked for"):
        gpu_facts.parse_gpus("0, NVIDIA L40S, GPU-1db6b1cf")


def test_parse_gpus_reads_every_bracketed_placeholder_as_null_in_text_fields_too():
    # nvidia-smi also prints [Unknown Error] and [Insufficient Permissions] (seen in public outputs); none is a value.
    line = fixture_rows("single-l40s")[0]
    line[2], line[3], line[5] = "[Unknown Error]", "[Insufficient Permissions]", "N/A"
    gpu = gpu_facts.parse_gpus(", ".join(line))[0]
    assert (gpu["uuid"], gpu["memory_total_mib"], gpu["driver_version"]) == (None, None, None)


def test_gpu_facts_examples_run_as_written(gpu_host, run_host_module):
    """The module's EXAMPLES in order, on the eight-H100 host they describe: gpu_facts tasks run through the module,
    the debug task's message is rendered with the facts set so far."""
    gpu_host("h100-8")
    facts = {}
    tasks = yaml.safe_load(gpu_facts.EXAMPLES)
    assert [next(key for key in task if "." in key) for task in tasks] == [
        "shadeform.cloud.gpu_facts", "ansible.builtin.debug", "shadeform.cloud.gpu_facts"]
    for task in tasks:
        if "shadeform.cloud.gpu_facts" in task:
            result = run_host_module(gpu_facts.main, task["shadeform.cloud.gpu_facts"] or {})
            assert result["rc"] == 0 and not result.get("failed"), (task["name"], result)
            facts.update(result["ansible_facts"])
        else:
            message = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(task["ansible.builtin.debug"]["msg"]).render(facts)
            assert message == "8 x NVIDIA H100 80GB HBM3, CUDA 12.7"
    # The health-check example fails a host whose GPUs are not the ones it names.
    gpu_host("mig-a100-2")
    check = tasks[-1]["shadeform.cloud.gpu_facts"]
    assert run_host_module(gpu_facts.main, check)["failed"] is True
