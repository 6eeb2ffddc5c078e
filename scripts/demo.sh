#!/usr/bin/env bash
# Demo of the shadeform.cloud inventory plugin, with no Shadeform account: the local API simulator
# (tests/simulator/shadeform_simulator.py) serves the fleet in tests/simulator/fleets/demo.json, and
# ansible-inventory reads it through demo/shadeform.yml.
#
# Needs python3.12 or newer (ansible-core 2.21, the newest supported, runs on 3.12 to 3.14), found
# under pyenv or on PATH. Makes .venv-demo/ (ansible-core 2.21 and requests from PyPI) on first use.
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

venv=.venv-demo
if ! "$venv/bin/python" -c "import ansible.release, sys; sys.exit(not ansible.release.__version__.startswith('$core.'))" 2>/dev/null; then
    if ! python=$(find_python); then
        echo "demo.sh: ansible-core $core needs Python 3.12 or newer; install one (for example: pyenv install 3.13)" >&2
        exit 1
    fi
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ansible-core==$core.*" -r requirements.txt

# Ansible finds collections below ansible_collections/<namespace>/<name>: link the working tree there.
work=$(mktemp -d)
simulator_pid=
cleanup() {
    if [ -n "$simulator_pid" ]; then
        kill "$simulator_pid" 2>/dev/null || true
        wait "$simulator_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/ansible_collections/shadeform"
ln -s "$root" "$work/ansible_collections/shadeform/cloud"
export ANSIBLE_COLLECTIONS_PATH="$work"
export ANSIBLE_NOCOLOR=1

# The simulator accepts this key only; the plugin reads it from SHADEFORM_API_KEY.
export SHADEFORM_API_KEY=demo-key-not-a-secret
"$venv/bin/python" tests/simulator/shadeform_simulator.py --port 0 --api-key "$SHADEFORM_API_KEY" \
    --fleet tests/simulator/fleets/demo.json --ready-file "$work/simulator.url" &
simulator_pid=$!
for _ in $(seq 100); do
    [ -s "$work/simulator.url" ] && break
    kill -0 "$simulator_pid" 2>/dev/null || { echo "demo.sh: the simulator exited" >&2; exit 1; }
    sleep 0.1
done
[ -s "$work/simulator.url" ] || { echo "demo.sh: the simulator did not start within 10 seconds" >&2; exit 1; }
SHADEFORM_API_URL=$(cat "$work/simulator.url")
export SHADEFORM_API_URL

echo
echo "\$ ansible-inventory -i demo/shadeform.yml --graph"
"$venv/bin/ansible-inventory" -i demo/shadeform.yml --graph

host=$("$venv/bin/ansible-inventory" -i demo/shadeform.yml --list \
    | "$venv/bin/python" -c 'import json, sys; print(sorted(json.load(sys.stdin)["_meta"]["hostvars"])[0])')
echo
echo "\$ ansible-inventory -i demo/shadeform.yml --host $host"
"$venv/bin/ansible-inventory" -i demo/shadeform.yml --host "$host"
