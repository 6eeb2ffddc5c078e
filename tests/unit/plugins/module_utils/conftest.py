# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the module_utils tests."""

import pytest


@pytest.fixture
def sleep(mocker):
    """The sleep a client or transport waits with between retries: recorded, never slept."""
    return mocker.Mock()
