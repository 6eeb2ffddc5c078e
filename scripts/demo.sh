#!/usr/bin/env bash
# The first five minutes with shadeform.cloud, without a Shadeform account:
#   1. the fleet as Ansible groups, 2. one active host and how Ansible reaches it,
#   3. ansible-playbook -i demo/shadeform.yml demo/check_fleet.yml, over SSH.
# The local API simulator (tests/simulator/shadeform_simulator.py) serves the fleet in
# tests/simulator/fleets/demo.json. OpenSSH daemons on 127.0.0.2 to 127.0.0.4, started by
# tests/e2e/loopback_sshd.py as in the end-to-end tests, stand in for the active instances: the simulator
# gives those instances their addresses (--ip-pool). Without sshd, step 3 says how to install it.
#
# Once the virtualenv exists, it ends within a minute: every wait and command below gets what is left of
# 60 seconds (it takes about 10). On exit it stops the simulator and the daemons and removes what it wrote.
#
# Needs python3.12 or newer (ansible-core 2.21, the newest supported, runs on 3.12 to 3.14), found
# under pyenv or on PATH. Makes .venv-demo/ (ansible-core 2.21 and requests from PyPI) on first use.
# Environment:
#   DEMO_VENV=<dir>   use this virtualenv (ansible-core 2.16 or newer, and requests) instead of .venv-demo
#   DEMO_SSHD=<path>  the sshd program to run (default: found on PATH or in /usr/sbin)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
core=2.21

find_python() {
    local version candidate
    for version in 3.14 3.13 3.12; do
        for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python"$version" \
            "$(command -v "python$version" || true)" "$(command -v python3 || true)"; do
            if [ -z "$candidate" ] || [ ! -x "$candidate" ]; then
                continue
            fi
            if [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$version" ]; then
                echo "$candidate"
                return 0
            fi
        done
    done
    return 1
}

if [ -n "${DEMO_VENV:-}" ]; then
    venv=$(cd "$DEMO_VENV" && pwd)
else
    venv=$root/.venv-demo
    if ! "$venv/bin/python" -c "import ansible.release, sys; sys.exit(not ansible.release.__version__.startswith('$core.'))" 2>/dev/null; then
        if ! python=$(find_python); then
            echo "demo.sh: ansible-core $core needs Python 3.12 or newer; install one (for example: pyenv install 3.13)" >&2
            exit 1
        fi
        rm -rf "$venv"
        "$python" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ansible-core==$core.*" -r requirements.txt
fi
python=$venv/bin/python

deadline=$((SECONDS + 60))
# left: the seconds left before the deadline (at least 1, so that `timeout` runs the command at all).
left() {
    local seconds=$((deadline - SECONDS))
    echo $((seconds > 0 ? seconds : 1))
}

work=$(mktemp -d)
simulator_pid=
sshd_pid=
cleanup() {
    local pid
    # The daemons first: their end also ends the SSH connections Ansible keeps open (ControlPersist).
    for pid in $sshd_pid $simulator_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for_file FILE PID WHAT: wait until PID has written FILE (0) or exited (1), until the deadline.
wait_for_file() {
    while [ "$SECONDS" -lt "$deadline" ]; do
        [ -s "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    echo "demo.sh: $3 did not start within 60 seconds" >&2
    exit 1
}

# Ansible finds collections below ansible_collections/<namespace>/<name>: link the working tree there.
mkdir -p "$work/ansible_collections/shadeform"
ln -s "$root" "$work/ansible_collections/shadeform/cloud"
export ANSIBLE_COLLECTIONS_PATH="$work"
# Nothing from the user's own Ansible configuration: the demo runs the same everywhere.
printf '[defaults]\n' >"$work/ansible.cfg"
export ANSIBLE_CONFIG="$work/ansible.cfg" ANSIBLE_NOCOLOR=1
export ANSIBLE_LOCAL_TEMP="$work/ansible-local" ANSIBLE_REMOTE_TEMP="$work/ansible-remote"

# The SSH servers of the active instances.
ssh_ready=
sshd_missing=
"$python" tests/e2e/loopback_sshd.py --address 127.0.0.2 --address 127.0.0.3 --address 127.0.0.4 \
    ${DEMO_SSHD:+--sshd "$DEMO_SSHD"} --ready-file "$work/sshd.json" 2>"$work/sshd.log" &
sshd_pid=$!
if wait_for_file "$work/sshd.json" "$sshd_pid" "sshd"; then
    ssh_ready=1
else
    status=0
    wait "$sshd_pid" || status=$?
    sshd_pid=
    if [ "$status" -ne 3 ]; then  # 3: OpenSSH is not installed (tests/e2e/loopback_sshd.py)
        echo "demo.sh: the loopback sshd did not start:" >&2
        cat "$work/sshd.log" >&2
        exit 1
    fi
    sshd_missing=$(cat "$work/sshd.log")
fi
sshd_field() {
    "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/sshd.json" "$1"
}

# The simulator accepts this key only; the plugin reads it from SHADEFORM_API_KEY.
export SHADEFORM_API_KEY=demo-key-not-a-secret
fleet=tests/simulator/fleets/demo.json
ip_pool=()
if [ -n "$ssh_ready" ]; then
    ip_pool=(--ip-pool "$(sshd_field ip_pool)")
fi
"$python" tests/simulator/shadeform_simulator.py --port 0 --api-key "$SHADEFORM_API_KEY" --fleet "$fleet" \
    "${ip_pool[@]}" --ready-file "$work/simulator.url" >"$work/simulator.log" 2>&1 &
simulator_pid=$!
if ! wait_for_file "$work/simulator.url" "$simulator_pid" "the API simulator"; then
    echo "demo.sh: the API simulator exited:" >&2
    cat "$work/simulator.log" >&2
    exit 1
fi
SHADEFORM_API_URL=$(cat "$work/simulator.url")
export SHADEFORM_API_URL

# ansible_cli PROGRAM ARGS...: run an ansible-* command of the virtualenv within the deadline. Its messages
# follow its output; the plugin warns on every load about instances that share a name (the demo fleet has
# some): those warnings are shown the first time only.
ansible_cli() {
    local status=0
    timeout "$(left)" "$venv/bin/$1" "${@:2}" 2>"$work/stderr" || status=$?
    if [ -e "$work/first.stderr" ]; then
        "$python" -c 'import sys; sys.stderr.write(open(sys.argv[2]).read().replace(open(sys.argv[1]).read(), "", 1))' \
            "$work/first.stderr" "$work/stderr"
    else
        cat "$work/stderr" >&2
        mv "$work/stderr" "$work/first.stderr"
    fi
    if [ "$status" -eq 124 ]; then
        echo "demo.sh: stopped: the demo runs for 60 seconds at most" >&2
    fi
    return "$status"
}

echo "shadeform.cloud demo, no Shadeform account needed:"
echo "  SHADEFORM_API_URL=$SHADEFORM_API_URL  (a local API simulator serving $fleet)"
if [ -n "$ssh_ready" ]; then
    echo "  sshd on $(sshd_field ip_pool | sed 's/,/, /g')  (stand-ins for the active instances)"
fi

echo
echo "== 1. The fleet as Ansible groups"
echo
echo "\$ ansible-inventory -i demo/shadeform.yml --list    # counted per group:"
ansible_cli ansible-inventory -i demo/shadeform.yml --list >"$work/inventory.json"
"$python" - "$work/inventory.json" <<'EOF'
import sys

sys.path.insert(0, "tests")
from helpers import inventory_list  # plain values on ansible-core 2.16 to 2.18 too (no __ansible_unsafe)

with open(sys.argv[1], encoding="utf-8") as handle:
    inventory = inventory_list(handle.read())
print(f"{len(inventory['_meta']['hostvars'])} hosts (demo/shadeform.yml keeps active, pending and creating instances)")
for title, prefix in (("status", "status_"), ("cloud", "cloud_"), ("GPU type", "gpu_")):
    sizes = sorted((-len(group.get("hosts", [])), name) for name, group in inventory.items() if name.startswith(prefix))
    line = f"  {title + ':':<10}"
    for size, name in sizes:
        item = f"{name} {-size}"
        if len(line) + len(item) > 100:
            print(line.rstrip())
            line = " " * 12
        line += item + ", "
    print(line.rstrip(", "))
EOF

echo
echo "\$ ansible-inventory -i demo/shadeform.yml --graph gpu_H100"
ansible_cli ansible-inventory -i demo/shadeform.yml --graph gpu_H100

host=$("$python" -c 'import sys; sys.path.insert(0, "tests"); from helpers import inventory_list
print(inventory_list(open(sys.argv[1]).read())["status_active"]["hosts"][0])' "$work/inventory.json")
echo
echo "== 2. One active host: where Ansible connects, and some of its shadeform_* variables"
echo
echo "\$ ansible-inventory -i demo/shadeform.yml --host $host    # trimmed:"
ansible_cli ansible-inventory -i demo/shadeform.yml --host "$host" >"$work/host.json"
"$python" - "$work/host.json" <<'EOF'
import json
import sys

sys.path.insert(0, "tests")
from helpers import inventory_list

SHOWN = ("ansible_host", "ansible_port", "ansible_user", "shadeform_cloud", "shadeform_region", "shadeform_status",
         "shadeform_shade_instance_type", "shadeform_gpu_type", "shadeform_num_gpus", "shadeform_hourly_price",
         "shadeform_labels", "shadeform_tags")
with open(sys.argv[1], encoding="utf-8") as handle:
    variables = inventory_list(handle.read())
shown = {name: variables[name] for name in SHOWN if name in variables}
print(json.dumps(shown, indent=4)[:-2] + ",")
print(f"    ... and {len(variables) - len(shown)} more\n}}")
EOF

echo
echo "== 3. The main job: a playbook on the fleet, over SSH"
echo
if [ -z "$ssh_ready" ]; then
    echo "Skipped: this step runs OpenSSH servers on 127.0.0.2 to 127.0.0.4 as stand-ins for the instances."
    echo "$sshd_missing"
else
    # How Ansible reaches the stand-ins: their client key, their host keys kept in the demo's directory.
    ANSIBLE_PRIVATE_KEY_FILE=$(sshd_field client_key)
    known_hosts=$(sshd_field known_hosts)
    export ANSIBLE_PRIVATE_KEY_FILE ANSIBLE_SSH_ARGS="-F /dev/null -o UserKnownHostsFile=$known_hosts \
-o StrictHostKeyChecking=accept-new -o IdentitiesOnly=yes -o ControlMaster=auto -o ControlPersist=30s"
    export ANSIBLE_SSH_CONTROL_PATH_DIR="$work/cp" ANSIBLE_PIPELINING=True ANSIBLE_TIMEOUT=10
    # The "instances" are this machine: run modules with the demo's Python rather than discover one.
    export ANSIBLE_PYTHON_INTERPRETER="$python"
    echo "# Your own fleet: SHADEFORM_API_KEY set, SHADEFORM_API_URL unset, and your Shadeform SSH key in ssh-agent"
    echo "# (or in ANSIBLE_PRIVATE_KEY_FILE). Here the stand-ins accept a key made for this run."
    echo "\$ ansible-playbook -i demo/shadeform.yml demo/check_fleet.yml --limit gpu_H100"
    ansible_cli ansible-playbook -i demo/shadeform.yml demo/check_fleet.yml --limit gpu_H100
fi
