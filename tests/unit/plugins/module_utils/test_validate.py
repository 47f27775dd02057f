from __future__ import annotations

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError


@pytest.mark.parametrize('name', ['client', 'pause_demo', 'a' * 255, 'ns.with.dots', 'ünï'])
def test_netns_name_accepts(name):
    assert _validate.netns_name(name, 'name') == name


@pytest.mark.parametrize('name, message', [
    ('', 'non-empty'),
    ('.', 'not allowed'),
    ('..', 'not allowed'),
    ('a/b', "must not contain '/'"),
    ('a' * 256, 'longer than 255 bytes'),
    ('é' * 128, 'longer than 255 bytes'),  # 256 bytes in UTF-8
    (None, 'non-empty string'),
])
def test_netns_name_refuses(name, message):
    with pytest.raises(ValidationError, match='^name: .*' + message):
        _validate.netns_name(name, 'name')


@pytest.mark.parametrize('name', ['eth0', 'veth-client', 'a' * 15, 'client1-veth-br', 'x.y'])
def test_ifname_accepts(name):
    assert _validate.ifname(name, 'name') == name


@pytest.mark.parametrize('name, message', [
    ('a' * 16, 'longer than 15 bytes'),
    ('é' * 8, 'longer than 15 bytes'),
    ('a/b', "'/'"),
    ('a:b', "':'"),
    ('a b', "' '"),
    ('a\tb', "'\\\\t'"),
    ('eth%d', "'%'"),
    ('', 'non-empty'),
    ('..', 'not allowed'),
])
def test_ifname_refuses(name, message):
    with pytest.raises(ValidationError, match='peer.name: .*' + message):
        _validate.ifname(name, 'peer.name')


@pytest.mark.parametrize('value, canonical', [
    ('10.0.0.11/24', '10.0.0.11/24'),
    ('172.30.0.1/16', '172.30.0.1/16'),
    ('10.0.0.1/32', '10.0.0.1/32'),
    ('10.0.0.0/31', '10.0.0.0/31'),
    ('2001:DB8:0:0::1/64', '2001:db8::1/64'),
])
def test_interface_address_canonical(value, canonical):
    assert _validate.interface_address(value, 'addresses[0]') == canonical


@pytest.mark.parametrize('value, message', [
    ('10.0.0.300/24', 'not an IP address'),
    ('10.0.0.5', 'CIDR notation'),
    ('10.0.0.5/33', 'prefix length 33 is over 32'),
    ('10.0.0.5/x', 'no valid prefix length'),
    ('10.1/16', 'not an IP address'),
    ('10.0.0.0/24', 'network address'),
    ('10.0.0.255/24', 'broadcast address'),
    (' 10.0.0.1/24', 'not an IP address'),
    ('fe80::1/129', 'over 128'),
])
def test_interface_address_refuses(value, message):
    with pytest.raises(ValidationError, match=r'^addresses\[0\]: .*' + message):
        _validate.interface_address(value, 'addresses[0]')


def test_address_list_keeps_order_and_refuses_duplicates():
    assert _validate.address_list(['10.0.0.12/24', '2001:db8::1/64', '10.0.0.2/24'], 'addresses') == \
        ['10.0.0.12/24', '2001:db8::1/64', '10.0.0.2/24']
    assert _validate.address_list(None, 'addresses') is None
    with pytest.raises(ValidationError, match=r'addresses\[1\]: 10.0.0.2/24 is listed twice'):
        _validate.address_list(['10.0.0.2/24', '10.0.0.2/24'], 'addresses')


@pytest.mark.parametrize('value, canonical', [
    ('default', 'default'), ('0.0.0.0/0', 'default'), ('::/0', 'default6'),
    ('10.0.10.0/24', '10.0.10.0/24'), ('1.1.1.1/32', '1.1.1.1/32'),
])
def test_route_destination(value, canonical):
    assert _validate.route_destination(value, 'routes[0].dst') == canonical


def test_route_destination_host_bits():
    with pytest.raises(ValidationError, match=r'host bits set; did you mean 10.0.10.0/24\?'):
        _validate.route_destination('10.0.10.5/24', 'routes[0].dst')


@pytest.mark.parametrize('first, second, expected', [
    ('198.18.0.0/24', '192.0.2.0/24', False),
    ('192.0.2.0/25', '192.0.2.0/24', True),
    ('10.0.0.0/8', '10.200.0.0/16', True),
    ('10.0.0.0/24', '10.0.1.0/24', False),
    ('10.0.0.0/24', '2001:db8::/32', False),
])
def test_overlaps(first, second, expected):
    assert _validate.overlaps(first, second) is expected
    assert _validate.overlaps(second, first) is expected


def test_subnet_and_contains():
    assert _validate.subnet_of('10.0.0.11/24') == '10.0.0.0/24'
    assert _validate.contains('172.30.0.0/24', '172.30.0.1')
    assert not _validate.contains('172.30.0.0/24', '172.31.0.1')
    assert not _validate.contains('172.30.0.0/24', '2001:db8::1')


def test_link_local_only_ipv6():
    assert _validate.is_link_local('fe80::1/64')
    assert not _validate.is_link_local('169.254.1.1/16')
    assert not _validate.is_link_local('2001:db8::1/64')


@pytest.mark.parametrize('value', [67, 65536, True, '1500'])
def test_mtu_refuses(value):
    with pytest.raises(ValidationError, match='^mtu: MTU must be an integer between 68 and 65535'):
        _validate.mtu(value, 'mtu')


@pytest.mark.parametrize('name, canonical', [
    ('net.ipv4.ip_forward', 'net.ipv4.ip_forward'),
    ('net/ipv4/conf/all/rp_filter', 'net.ipv4.conf.all.rp_filter'),
])
def test_sysctl_name(name, canonical):
    assert _validate.sysctl_name(name, 'sysctls') == canonical


@pytest.mark.parametrize('name', ['kernel.pid_max', 'net', 'net.ipv4', 'net.ipv4.../x', 'net.ipv4.ip forward'])
def test_sysctl_name_refuses(name):
    with pytest.raises(ValidationError, match='only net'):
        _validate.sysctl_name(name, 'sysctls')


@pytest.mark.parametrize('value, canonical', [
    (1, '1'), (True, '1'), (False, '0'), ('4096 87380  6291456', '4096 87380 6291456'), ('1\n', '1'),
])
def test_sysctl_value(value, canonical):
    assert _validate.sysctl_value(value, 'sysctls.x') == canonical


def test_sysctl_value_refuses_empty():
    with pytest.raises(ValidationError, match='non-empty'):
        _validate.sysctl_value('  ', 'sysctls.x')
