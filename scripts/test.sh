#!/usr/bin/env bash
# Run every check of the shadeform.cloud collection: the nox sessions of noxfile.py (pytest on each
# supported ansible-core, ansible-test sanity, build, docs, lint).
#
#   ./scripts/test.sh                  # everything (this is what CI runs, through .ci/run)
#   ./scripts/test.sh -s "tests(2.21)" # arguments go to nox: one session, nox -l lists them
#
# Works on a fresh Debian machine as root with only python3: the system packages the tests need
# (sshd for the end-to-end tests, shellcheck for ansible-test sanity, git, python3-venv) are installed
# with apt-get when missing, nox goes into .venv-nox/, and nox makes the session virtualenvs in .nox/.
# Exits non-zero when any session fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
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
log=tests/output/test-run.log
status=0
"$venv/bin/python" -m nox "$@" 2>&1 | tee "$log" || status=$?

# One line per pytest run (a session each), then the totals, so that the end of the output says it all.
summary='^=+ .*(passed|failed|errors?|no tests ran).* in [0-9.]+s.* =+$'
if grep -qE "$summary" "$log"; then
    echo
    echo "pytest summaries:"
    grep -E "$summary" "$log"
    grep -E "$summary" "$log" | awk '
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
    echo "test.sh: FAILED (nox exit status $status); the full log is in $log" >&2
fi
exit "$status"
