# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: gpu_facts
short_description: Read a host's NVIDIA GPUs with nvidia-smi, and check that they are what was rented
version_added: 1.0.0
author:
  - shadeform.cloud contributors (@shadeform)
description:
  - Runs on the GPU host itself (a host of the P(shadeform.cloud.shadeform#inventory) inventory, not C(localhost)) and
    reads every NVIDIA GPU with C(nvidia-smi), which comes with the NVIDIA driver. It sets the facts
    C(shadeform_gpus), one entry per GPU, and C(shadeform_gpu_summary).
  - With O(expect_count), O(expect_name) or O(min_memory_gb) it is a health check too. When the GPUs are not what
    they say, the host fails with one message that lists every difference; the facts are returned all the same.
  - A host without a working NVIDIA driver fails with one message that says so, whether C(nvidia-smi) is missing or
    fails (for example C(NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver)).
  - It calls no Shadeform API, takes none of the API options and is not in the C(group/shadeform.cloud.shadeform)
    action group. It needs only the host's Python (3.9 or later) and C(nvidia-smi).
  - C(nvidia-smi) can hang on a GPU that has fallen off the bus; the task keyword C(timeout) bounds the task.
requirements:
  - C(nvidia-smi) (the NVIDIA driver) on the managed host
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
  - shadeform.cloud.attributes.info_module
attributes:
  facts:
    support: full
  platform:
    platforms: posix
options:
  expect_count:
    description:
      - Fail unless the host has exactly this many GPUs.
    type: int
  expect_name:
    description:
      - Fail unless every GPU's name contains this text, whatever the case (V(H100) matches C(NVIDIA H100 80GB HBM3)).
    type: str
  min_memory_gb:
    description:
      - Fail unless every GPU has at least this much memory, in GB (10^9 bytes), as C(nvidia-smi) reports its total
        memory (C(memory_total_mib)). An H100 80GB reports 81559 MiB, 85.5 GB; ECC takes a few percent of some
        boards' memory.
    type: float
  nvidia_smi_path:
    description:
      - The C(nvidia-smi) to run.
      - By default the one found on the C(PATH) of the module, or in C(/sbin), C(/usr/sbin) or C(/usr/local/sbin).
    type: path
notes:
  - The module runs C(nvidia-smi) twice, with C(--query-gpu=...) for the GPUs and bare for the CUDA version its header
    shows; it runs nothing else and changes nothing, in check mode as otherwise.
  - A value that C(nvidia-smi) does not have for a GPU (C([N/A]), C([Not Supported]), for example the ECC count of a
    board without ECC, or the utilisation of a GPU in MIG mode) is null.
seealso:
  - module: shadeform.cloud.fleet
  - plugin: shadeform.cloud.shadeform
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Read the GPUs
  shadeform.cloud.gpu_facts:

- name: Show the GPU model and count
  ansible.builtin.debug:
    msg: "{{ shadeform_gpu_summary.count }} x {{ shadeform_gpu_summary.name }}, CUDA {{ shadeform_gpu_summary.cuda_version }}"

- name: Fail the host unless it has the eight H100 GPUs with 80 GB each that were rented
  shadeform.cloud.gpu_facts:
    expect_count: 8
    expect_name: H100
    min_memory_gb: 80
  register: gpus
"""

RETURN = r"""
ansible_facts:
  description: The facts, set on the host; on a failed health check, returned with the failure too.
  returned: success, and when the GPUs are not what was expected
  type: dict
  contains:
    shadeform_gpus:
      description: One entry per GPU, in C(nvidia-smi)'s order. A value C(nvidia-smi) does not have is null.
      returned: success
      type: list
      elements: dict
      sample:
        - index: 0
          name: NVIDIA H100 80GB HBM3
          uuid: GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1
          memory_total_mib: 81559
          memory_used_mib: 1
          driver_version: 565.57.01
          cuda_version: "12.7"
          temperature_c: 30
          utilization_percent: 0
          ecc_errors_uncorrected: 0
          mig_enabled: false
      contains:
        index:
          description: The GPU's index, as C(nvidia-smi) and C(CUDA_VISIBLE_DEVICES) count (it can change at boot).
          type: int
          returned: success
        name:
          description: The product name.
          type: str
          returned: success
        uuid:
          description: The GPU's UUID, which never changes.
          type: str
          returned: success
        memory_total_mib:
          description: The total memory, in MiB.
          type: int
          returned: success
        memory_used_mib:
          description: The memory in use, in MiB.
          type: int
          returned: success
        driver_version:
          description: The NVIDIA driver's version.
          type: str
          returned: success
        cuda_version:
          description: The newest CUDA version the driver supports, from C(nvidia-smi)'s header; null when it shows none.
          type: str
          returned: success
        temperature_c:
          description: The GPU's temperature, in degrees Celsius.
          type: int
          returned: success
        utilization_percent:
          description: The percentage of the last sample period during which a kernel ran on the GPU.
          type: int
          returned: success
        ecc_errors_uncorrected:
          description: The uncorrected ECC errors since the driver was loaded (volatile total); null without ECC.
          type: int
          returned: success
        mig_enabled:
          description: Whether MIG mode is on; null on a GPU without MIG.
          type: bool
          returned: success
    shadeform_gpu_summary:
      description: What the GPUs of the host have in common.
      returned: success
      type: dict
      sample:
        count: 8
        name: NVIDIA H100 80GB HBM3
        driver_version: 565.57.01
        cuda_version: "12.7"
      contains:
        count:
          description: The number of GPUs.
          type: int
          returned: success
        name:
          description: The GPUs' name when they all have the same, else null.
          type: str
          returned: success
        driver_version:
          description: The NVIDIA driver's version (null without GPUs).
          type: str
          returned: success
        cuda_version:
          description: The newest CUDA version the driver supports; null when C(nvidia-smi) shows none.
          type: str
          returned: success
"""

import math
import os
import re

from ansible.module_utils.basic import AnsibleModule

# (nvidia-smi --query-gpu field, fact name, how its text is read); the facts name their unit.
QUERY = (
    ("index", "index", int),
    ("name", "name", str),
    ("uuid", "uuid", str),
    ("memory.total", "memory_total_mib", int),
    ("memory.used", "memory_used_mib", int),
    ("driver_version", "driver_version", str),
    ("temperature.gpu", "temperature_c", int),
    ("utilization.gpu", "utilization_percent", int),
    ("ecc.errors.uncorrected.volatile.total", "ecc_errors_uncorrected", int),
    ("mig.mode.current", "mig_enabled", lambda text: {"enabled": True, "disabled": False}.get(text.lower())),
)
NAME_FIELD = 1
# Plain nvidia-smi's header: "CUDA Version: 12.4"; drivers of a paravirtualised GPU say "CUDA UMD Version: 13.3".
CUDA_VERSION = re.compile(r"CUDA (?:UMD )?Version:\s*([0-9][0-9.]*)")
BYTES_PER_MIB = 1024 * 1024
BYTES_PER_GB = 1000 ** 3


def argument_spec():
    return dict(
        expect_count=dict(type="int"),
        expect_name=dict(type="str"),
        min_memory_gb=dict(type="float"),
        nvidia_smi_path=dict(type="path"),
    )


def option_problems(params):
    """What is wrong with the options themselves, before anything runs."""
    problems = []
    if params["expect_count"] is not None and params["expect_count"] < 0:
        problems.append("expect_count must be 0 or more, not %d." % params["expect_count"])
    if params["expect_name"] is not None and not params["expect_name"].strip():
        problems.append("expect_name must not be empty: leave it out to accept any GPU name.")
    minimum = params["min_memory_gb"]
    if minimum is not None and (not math.isfinite(minimum) or minimum < 0):
        problems.append("min_memory_gb must be a number of GB, 0 or more, not %r." % minimum)
    return problems


def field_value(text, read):
    """One value of nvidia-smi's CSV: None for what the GPU does not have ([N/A], [Not Supported], [Unknown Error], N/A)
    and for a number that does not read as one."""
    text = text.strip()
    if not text or text == "N/A" or (text.startswith("[") and text.endswith("]")):
        return None
    try:
        return read(text)
    except ValueError:
        return None


def parse_gpus(csv_text):
    """The GPUs of nvidia-smi's --query-gpu answer (csv,noheader,nounits), one dict per line; raises ValueError for a
    line that does not have the fields asked for."""
    gpus = []
    for line in csv_text.splitlines():
        if not line.strip():
            continue
        values = line.split(",")
        extra = len(values) - len(QUERY)
        if extra < 0:
            raise ValueError("nvidia-smi answered a line with %d fields where %d were asked for: %r" % (len(values), len(QUERY), line))
        # Only the product name is free text: a comma in it is the one way to get more fields than asked for.
        values[NAME_FIELD:NAME_FIELD + extra + 1] = [",".join(values[NAME_FIELD:NAME_FIELD + extra + 1])]
        gpus.append(dict((fact, field_value(text, read)) for (_field, fact, read), text in zip(QUERY, values)))
    return gpus


def cuda_version(header_text):
    match = CUDA_VERSION.search(header_text)
    return match.group(1) if match else None


def summary(gpus, cuda):
    def common(fact):
        values = set(gpu[fact] for gpu in gpus)
        return values.pop() if len(values) == 1 else None

    return dict(count=len(gpus), name=common("name"), driver_version=common("driver_version"), cuda_version=cuda)


def gpu_list(gpus):
    """'GPU 3' or 'GPUs 0, 1, 2'."""
    indexes = [str(gpu["index"]) for gpu in gpus]
    return ("GPU " if len(indexes) == 1 else "GPUs ") + ", ".join(indexes)


def grouped(gpus, key):
    """The GPUs grouped by key(gpu), in order of first appearance."""
    groups = {}
    for gpu in gpus:
        groups.setdefault(key(gpu), []).append(gpu)
    return groups.items()


def differences(gpus, params):
    """What differs from expect_count, expect_name and min_memory_gb, one sentence each."""
    found = []
    expected_count = params["expect_count"]
    if expected_count is not None and len(gpus) != expected_count:
        found.append("%d GPU%s, expected %d (expect_count)" % (len(gpus), "" if len(gpus) == 1 else "s", expected_count))
    expected_name = params["expect_name"]
    if expected_name is not None:
        wrong = [gpu for gpu in gpus if expected_name.strip().lower() not in (gpu["name"] or "").lower()]
        for name, group in grouped(wrong, lambda gpu: gpu["name"]):
            found.append("%s: %s, expected a name containing %r (expect_name)" % (gpu_list(group), name or "no name", expected_name.strip()))
    minimum = params["min_memory_gb"]
    if minimum is not None:
        short = [gpu for gpu in gpus if gpu["memory_total_mib"] is None or gpu["memory_total_mib"] * BYTES_PER_MIB < minimum * BYTES_PER_GB]
        for mib, group in grouped(short, lambda gpu: gpu["memory_total_mib"]):
            has = "unknown memory" if mib is None else "%.1f GB of memory (%d MiB)" % (mib * BYTES_PER_MIB / BYTES_PER_GB, mib)
            found.append("%s: %s, expected at least %g GB (min_memory_gb)" % (gpu_list(group), has, minimum))
    return found


def nvidia_smi(module):
    """The path of the nvidia-smi to run; fails the module with a clear message when there is none."""
    path = module.params["nvidia_smi_path"]
    if path:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            module.fail_json(msg="No NVIDIA driver here: nvidia_smi_path %s is not an executable file." % path)
        return path
    found = module.get_bin_path("nvidia-smi")
    if not found:
        module.fail_json(msg="No NVIDIA driver on this host: nvidia-smi, which comes with the driver, is not on the PATH (%s). "
                             "Install the NVIDIA driver, or set nvidia_smi_path." % os.environ.get("PATH", ""))
    return found


def run_nvidia_smi(module, args):
    """nvidia-smi's output; a failure ends the module with what nvidia-smi said."""
    rc, out, err = module.run_command(args)
    if rc != 0:
        said = " ".join((err.strip() + " " + out.strip()).split()) or "nothing"
        module.fail_json(msg="No working NVIDIA driver on this host: '%s' exited with status %d and said: %s" % (" ".join(args), rc, said),
                         rc=rc)
    return out


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    problems = option_problems(module.params)
    if problems:
        module.fail_json(msg=" ".join(problems))
    path = nvidia_smi(module)
    # Only reads: the same commands run in check mode, so that a check-mode run is a real health check.
    query = run_nvidia_smi(module, [path, "--query-gpu=" + ",".join(field for field, _fact, _read in QUERY), "--format=csv,noheader,nounits"])
    try:
        gpus = parse_gpus(query)
    except ValueError as exc:
        module.fail_json(msg="Could not read the GPUs: %s" % exc)
    cuda = cuda_version(run_nvidia_smi(module, [path]))
    for gpu in gpus:
        gpu["cuda_version"] = cuda
    facts = dict(shadeform_gpus=gpus, shadeform_gpu_summary=summary(gpus, cuda))
    found = differences(gpus, module.params)
    if found:
        module.fail_json(msg="The GPUs are not what was expected: %s." % "; ".join(found), ansible_facts=facts)
    module.exit_json(changed=False, ansible_facts=facts)


if __name__ == "__main__":
    main()
