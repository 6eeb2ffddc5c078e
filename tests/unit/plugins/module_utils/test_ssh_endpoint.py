# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one parser of an instance's SSH address, user and port (module_utils/ssh_endpoint.py)."""

import pytest

from ansible_collections.shadeform.cloud.plugins.module_utils.ssh_endpoint import address, port_number, ssh_endpoint, user_name


@pytest.mark.parametrize("value", ["198.51.100.7", "2001:db8::7", "gpu-7.example.com", "gpu-7.example.com.", "localhost",
                                   " 203.0.113.9 "])
def test_addresses_that_are_addresses(value):
    assert address(value) == value.strip()


@pytest.mark.parametrize("value", ["-oProxyCommand=touch /tmp/x", "root@198.51.100.7", "198.51.100.7 -p 2", "a..b", "-host",
                                   "host-", "fe80::1%eth0", "x" * 64 + ".com", "a.b\nc", "[2001:db8::7]", "", " ", None, 7,
                                   ["198.51.100.7"], "ex_ample.com", "a." * 127 + "a"])
def test_anything_else_is_no_address(value):
    assert address(value) is None


@pytest.mark.parametrize("value", ["shadeform", "ubuntu", "ec2-user", "_svc", "u.name", "0day"])
def test_plain_user_names(value):
    assert user_name(value) == value


@pytest.mark.parametrize("value", ["-oProxyCommand=x", "root@host", "a b", "a\nb", "a;b", "", None, 5, "x" * 33, "ü"])
def test_anything_else_is_no_user(value):
    assert user_name(value) is None


@pytest.mark.parametrize("value, port", [(22, 22), ("18022", 18022), (" 2222 ", 2222), (65535, 65535), (1, 1)])
def test_ports(value, port):
    assert port_number(value) == port


@pytest.mark.parametrize("value", [0, 65536, -22, True, 22.0, "22a", "²²", "", None, "0x16", "１２"])
def test_anything_else_is_no_port(value):
    assert port_number(value) is None


def test_endpoint_names_the_refused_fields_but_not_the_missing_ones():
    endpoint = ssh_endpoint({"ip": "-oProxyCommand=x", "ssh_user": None, "ssh_port": "18022"})
    assert endpoint == (None, None, 18022, ("ip",))
    assert ssh_endpoint({"id": "x"}) == (None, None, None, ())
    assert ssh_endpoint({"ip": "198.51.100.7", "ssh_user": "root@x", "ssh_port": 0}).refused == ("ssh_user", "ssh_port")
