# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""shadeform.cloud offline get-pip: stand-in for the get-pip.py script that ansible-test downloads.

Why this file exists: ``ansible-test sanity --venv --requirements`` creates its virtual environments
without pip and bootstraps pip into each of them by running a get-pip.py script, which it downloads
from https://ci-files.testing.ansible.com/ansible-test/get-pip-<pip version>.py unless a copy is cached at
``~/.ansible/test/cache/get_pip_<pip version with _ for .>.py`` (see ``bootstrap()`` in
ansible_test/_util/target/setup/requirements.py). Our CI machines reach PyPI but not that host, so
the ``sanity`` nox session copies this file to that cache path before it runs ansible-test.

It does what get-pip.py does, from sources we can reach: the interpreter's own ``ensurepip`` installs
its bundled pip, then pip installs the packages ansible-test asked for (``pip==<version>``) from the
package index. ansible-test runs it as

    python get_pip_X_Y.py --disable-pip-version-check pip==X.Y --no-setuptools --no-wheel

``--no-setuptools`` and ``--no-wheel`` are get-pip.py options (pip install does not know them): without
them get-pip.py also installs setuptools and wheel, and so does this script.
"""

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools": "setuptools", "--no-wheel": "wheel"}


def pip_install_arguments(argv):
    """Translate get-pip.py arguments to ``pip install`` arguments."""
    arguments = [argument for argument in argv if argument not in GET_PIP_ONLY_OPTIONS]
    arguments += [package for option, package in GET_PIP_ONLY_OPTIONS.items() if option not in argv]
    return arguments


def main():
    """Install pip with ensurepip, then the requested packages with that pip."""
    commands = [
        [sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"],
        [sys.executable, "-m", "pip", "install", *pip_install_arguments(sys.argv[1:])],
    ]
    for command in commands:
        returncode = subprocess.call(command)
        if returncode:
            sys.exit(returncode)


if __name__ == "__main__":
    main()
