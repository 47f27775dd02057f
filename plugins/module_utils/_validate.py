# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure input validation and normalisation for packetlife.podnet.

PRIVATE: this module is internal to the collection and may change without notice.

Every function takes a user value and the name of the field it came from, and
returns the canonical form the kernel would report (so that comparisons with
kernel state never flap), or raises ValidationError naming the field.
All address arithmetic goes through netaddr.
"""

from __future__ import annotations

import re

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    netaddr = None

IFNAMSIZ = 16
NETNS_NAME_MAX = 255
_SYSCTL_PART = re.compile(r'^[A-Za-z0-9_-]+$')
_SYSCTL_VALUE = re.compile(r'^[A-Za-z0-9_.:,/+ -]+$')


class ValidationError(Exception):
    """A user value that cannot be used; ``field`` names where it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__('%s: %s' % (field, message))
        self.field = field


def validate_element(spec: dict, value, field: str, **constraints) -> dict:
    """Apply an argument spec to a dict that is not a top-level option.

    ``constraints`` are ArgumentSpecValidator's: mutually_exclusive, required_if, ...
    """
    if not isinstance(value, dict):
        raise ValidationError(field, 'must be a dictionary, got %r' % (value,))
    unknown = sorted(set(value) - set(spec))
    if unknown:
        raise ValidationError(field, 'unsupported key(s) %s; supported keys are %s'
                              % (', '.join(unknown), ', '.join(sorted(spec))))
    # Imported here: the kernel tests use this module without ansible installed.
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    result = ArgumentSpecValidator(spec, **constraints).validate(value)
    if result.error_messages:
        raise ValidationError(field, '; '.join(result.error_messages))
    return result.validated_parameters


def netns_name(value, field: str) -> str:
    """A name for /run/netns/NAME, with the rules of `ip netns add`."""
    if not isinstance(value, str) or value == '':
        raise ValidationError(field, 'a network namespace name must be a non-empty string')
    if value in ('.', '..'):
        raise ValidationError(field, "%r is not allowed as a network namespace name" % value)
    if '/' in value or '\0' in value:
        raise ValidationError(field, "network namespace name %r must not contain '/'" % value)
    if len(value.encode('utf-8')) > NETNS_NAME_MAX:
        raise ValidationError(field, 'network namespace name is longer than %d bytes' % NETNS_NAME_MAX)
    return value


def ifname(value, field: str) -> str:
    """An interface name the kernel accepts (dev_valid_name) and that is no printf template."""
    if not isinstance(value, str) or value == '':
        raise ValidationError(field, 'an interface name must be a non-empty string')
    if value in ('.', '..'):
        raise ValidationError(field, "%r is not allowed as an interface name" % value)
    if len(value.encode('utf-8')) >= IFNAMSIZ:
        raise ValidationError(field, 'interface name %r is longer than %d bytes' % (value, IFNAMSIZ - 1))
    for char in value:
        if char in '/:%' or char.isspace() or char == '\0':
            raise ValidationError(field, 'interface name %r must not contain %r' % (value, char))
    return value


def _parse_ip(text: str, field: str):
    if not isinstance(text, str) or text.strip() != text or text == '':
        raise ValidationError(field, '%r is not an IP address' % (text,))
    try:
        if ':' in text:
            return netaddr.IPAddress(text, 6)
        if not netaddr.valid_ipv4(text, flags=netaddr.INET_PTON):
            raise ValueError(text)
        return netaddr.IPAddress(text, 4)
    except (ValueError, TypeError, netaddr.AddrFormatError):
        raise ValidationError(field, '%r is not an IP address' % (text,))


def ip_address(value, field: str) -> str:
    """One IP address, returned in canonical text form."""
    return str(_parse_ip(value, field))


def _split_cidr(value, field: str):
    if not isinstance(value, str) or value.count('/') != 1:
        raise ValidationError(field, '%r is not in CIDR notation (address/prefix)' % (value,))
    addr_text, prefix_text = value.split('/')
    ip = _parse_ip(addr_text, field)
    if not prefix_text.isdigit():
        raise ValidationError(field, '%r has no valid prefix length' % (value,))
    prefixlen = int(prefix_text)
    maximum = 32 if ip.version == 4 else 128
    if prefixlen > maximum:
        raise ValidationError(field, '%r: prefix length %d is over %d' % (value, prefixlen, maximum))
    return netaddr.IPNetwork('%s/%d' % (ip, prefixlen))


def not_unicast(ip) -> str:
    """Why an address (netaddr.IPAddress) can be no host's own or gateway address, or ''."""
    if ip.version == 4 and ip in netaddr.IPNetwork('0.0.0.0/8'):
        return 'is in 0.0.0.0/8 ("this network"), not a host address'
    if ip.version == 6 and ip == netaddr.IPAddress('::'):
        return 'is the unspecified address, not a host address'
    if ip.is_loopback():
        return 'is %s loopback address, which only the loopback interface may hold' % ('a' if ip.version == 4 else 'the')
    if ip.is_multicast():
        return 'is a multicast address, not a host address'
    if ip.version == 4 and ip in netaddr.IPNetwork('240.0.0.0/4'):
        return 'is a reserved or the broadcast address, not a host address'
    return ''


def unicast_address(value, field: str) -> str:
    """One IP address a host or gateway can hold, in canonical text form."""
    ip = _parse_ip(value, field)
    problem = not_unicast(ip)
    if problem:
        raise ValidationError(field, '%s %s' % (ip, problem))
    return str(ip)


def interface_address(value, field: str) -> str:
    """An address with prefix for an interface, e.g. 10.0.0.11/24.

    IPv4 network and broadcast addresses are refused for prefixes up to /30,
    since an interface holding them cannot talk to its subnet; so are addresses
    no interface but lo can use (loopback, multicast, unspecified, reserved).
    """
    net = _split_cidr(value, field)
    problem = not_unicast(net.ip)
    if problem:
        raise ValidationError(field, '%s %s' % (net.ip, problem))
    if net.version == 4 and net.prefixlen <= 30:
        if net.ip == net.network:
            raise ValidationError(field, '%s is the network address of %s, not a host address' % (net.ip, net.cidr))
        if net.ip == net.broadcast:
            raise ValidationError(field, '%s is the broadcast address of %s, not a host address' % (net.ip, net.cidr))
    return '%s/%d' % (net.ip, net.prefixlen)


def canonical_address(address: str, prefixlen: int) -> str:
    """An address the kernel reported, in the form interface_address returns."""
    return '%s/%d' % (netaddr.IPAddress(address), prefixlen)


def network(value, field: str) -> str:
    """A network in CIDR notation with no host bits set, e.g. 10.0.0.0/24."""
    net = _split_cidr(value, field)
    if net.ip != net.network:
        raise ValidationError(field, '%s has host bits set; did you mean %s?' % (value, net.cidr))
    return str(net.cidr)


def subnet_of(address: str) -> str:
    """The network an interface address belongs to: 10.0.0.11/24 -> 10.0.0.0/24."""
    return str(netaddr.IPNetwork(address).cidr)


def overlaps(a: str, b: str) -> bool:
    """True when two CIDR networks share any address."""
    net_a, net_b = netaddr.IPNetwork(a), netaddr.IPNetwork(b)
    if net_a.version != net_b.version:
        return False
    return net_a.first <= net_b.last and net_b.first <= net_a.last


def contains(net: str, address: str) -> bool:
    """True when a single address lies inside a CIDR network."""
    ip = netaddr.IPAddress(address)
    subnet = netaddr.IPNetwork(net)
    return ip.version == subnet.version and ip in subnet


def ip_version(text: str) -> int:
    """4 or 6 for an address or CIDR in canonical form."""
    return 6 if ':' in text else 4


def is_link_local(address: str) -> bool:
    """IPv6 link-local addresses come from the kernel, not from the user."""
    return ':' in address and netaddr.IPNetwork(address).ip.is_link_local()


def address_list(values, field: str):
    """A list of interface addresses, canonical, in the given order, without duplicates."""
    if values is None:
        return None
    result = []
    for position, value in enumerate(values):
        canonical = interface_address(value, '%s[%d]' % (field, position))
        if canonical in result:
            raise ValidationError('%s[%d]' % (field, position), '%s is listed twice' % canonical)
        result.append(canonical)
    return result


def address_sort_key(text: str):
    net = netaddr.IPNetwork(text)
    return (net.version, int(net.ip), net.prefixlen)


def route_destination(value, field: str) -> str:
    """'default' (any family's 0/0) or a network; returns 'default', 'default6' or a CIDR."""
    if value in ('default', '0.0.0.0/0'):
        return 'default'
    if value in ('default6', '::/0'):
        return 'default6'
    return network(value, field)


def mtu(value, field: str):
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 68 <= value <= 65535:
        raise ValidationError(field, 'MTU must be an integer between 68 and 65535, got %r' % (value,))
    return value


def sysctl_name(value, field: str) -> str:
    """A per-network-namespace sysctl (net.*), in dotted form."""
    if not isinstance(value, str):
        raise ValidationError(field, 'a sysctl name must be a string')
    parts = value.replace('/', '.').split('.')
    if parts[0] != 'net' or len(parts) < 3 or not all(_SYSCTL_PART.match(part) for part in parts):
        raise ValidationError(
            field, '%r is not a per-namespace sysctl; only net.* names such as net.ipv4.ip_forward are allowed' % value)
    return '.'.join(parts)


def sysctl_value(value, field: str) -> str:
    """Sysctl values as the kernel prints them: words separated by single spaces.

    The words of net.* values are numbers, names (cubic, fq_codel) and addresses,
    so anything else (quotes, ';', '$', control characters) is a mistake caught
    here rather than by the kernel after other changes were made."""
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, (int, str)):
        text = ' '.join(str(value).split())
        if text and not _SYSCTL_VALUE.match(text):
            raise ValidationError(field, '%r is not a sysctl value: use numbers and words of letters, digits and '
                                  '"_.:,/+-", separated by spaces' % (value,))
        if text:
            return text
    raise ValidationError(field, 'a sysctl value must be a non-empty string or an integer, got %r' % (value,))
