#!/usr/bin/env bash
# Run every check of the shadeform.cloud collection: the nox sessions of noxfile.py (in-process tests on
# each supported ansible-core, CLI and end-to-end tests on three of them, ansible-test sanity, the built
# artifact through Galaxy's importer, ansible-builder and ansible-runner, the docs site, ansible-lint).
#
#   ./scripts/test.sh                     # everything (this is what CI runs, through .ci/run)
#   ./scripts/test.sh -s "inprocess(2.21)" # arguments go to nox: one session, nox -l lists them
#
# Without arguments it runs the sessions tagged ci-a, ci-b and ci-c as three nox processes at the
# same time (two cores, and the tests' waits leave room for a third); each line of live output starts with its lane, the logs are in tests/output/.
#
# Works on a fresh Debian machine as root with only python3: the system packages the tests need
# (sshd for the end-to-end tests, a Java runtime for ansible-rulebook in the end-to-end test of the
# rulebook, shellcheck for ansible-test sanity, git, python3-venv) are installed with apt-get when
# missing, nox goes into .venv-nox/, and nox makes the session virtualenvs in .nox/.
# Exits non-zero when any session fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
# ansible-rulebook's rule engine (Drools) runs on Java 17 or newer: tests/e2e/test_self_healing_fleet.py.
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v git >/dev/null 2>&1 || missing+=(git)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "test.sh: missing system packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
        exit 1
    fi
    echo "test.sh: installing ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

venv=.venv-nox
if ! "$venv/bin/python" -m nox --version >/dev/null 2>&1; then
    rm -rf "$venv"
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements-nox.txt

mkdir -p tests/output
status=0
if [ "$#" -gt 0 ]; then
    logs=(tests/output/test-run.log)
    "$venv/bin/python" -m nox "$@" 2>&1 | tee "${logs[0]}" || status=$?
else
    # Everything, as three nox processes side by side: the sessions tagged ci-a, ci-b and ci-c (see
    # noxfile.py). A session in none of these tags would never run: refuse that.
    untagged=$("$venv/bin/python" -m nox -l --json | "$venv/bin/python" -c '
import json, sys
print(" ".join(s["session"] for s in json.load(sys.stdin) if not {"ci-a", "ci-b", "ci-c"} & set(s["tags"])))')
    if [ -n "$untagged" ]; then
        echo "test.sh: these nox sessions are tagged none of ci-a, ci-b and ci-c, so CI would skip them: $untagged" >&2
        exit 1
    fi
    lanes=(a b c)
    logs=(tests/output/test-run-a.log tests/output/test-run-b.log tests/output/test-run-c.log)
    nox_pids=()
    for i in 0 1 2; do
        "$venv/bin/python" -m nox -t "ci-${lanes[$i]}" > "${logs[$i]}" 2>&1 &
        nox_pids+=($!)
    done
    # The full output of each lane goes to its log; the terminal shows it live, each line marked with its
    # lane. Each tail ends by itself once its nox process has ended and it has shown the rest of the log.
    tail_pids=()
    for i in 0 1 2; do
        tail -n +1 --pid="${nox_pids[$i]}" -F "${logs[$i]}" 2>/dev/null | sed -u "s/^/[ci-${lanes[$i]}] /" &
        tail_pids+=($!)
    done
    lane_statuses=()
    for i in 0 1 2; do
        lane_status=0
        wait "${nox_pids[$i]}" || lane_status=$?
        lane_statuses+=("$lane_status")
        [ "$lane_status" -eq 0 ] || status=$lane_status
    done
    wait "${tail_pids[@]}" || true
    for i in 0 1 2; do
        echo "test.sh: lane ci-${lanes[$i]}: nox exit status ${lane_statuses[$i]}"
    done
fi

# One line per pytest run (a session each), then the totals, so that the end of the output says it all.
summary='^=+ .*(passed|failed|errors?|no tests ran).* in [0-9.]+s.* =+$'
# grep reads the logs itself: `cat | grep -q` would end cat early and fail the pipeline under pipefail.
if grep -qE "$summary" "${logs[@]}"; then
    echo
    echo "pytest summaries:"
    grep -hE "$summary" "${logs[@]}"
    grep -hE "$summary" "${logs[@]}" | awk '
        {
            for (i = 2; i <= NF; i++) {
                word = $i; sub(/,$/, "", word)
                if (word == "passed") passed += $(i - 1)
                if (word == "failed" || word == "error" || word == "errors") failed += $(i - 1)
                if (word == "skipped") skipped += $(i - 1)
            }
        }
        END { printf "totals: %d passed, %d failed, %d skipped\n", passed, failed, skipped }
    '
fi
if [ "$status" -ne 0 ]; then
    echo "test.sh: FAILED (nox exit status $status); the full log is in ${logs[*]}" >&2
fi
exit "$status"
