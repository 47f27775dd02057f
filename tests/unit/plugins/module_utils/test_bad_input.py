# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bad input that used to be accepted, or refused only by the kernel or the file
system after other changes: each is now refused while the input is checked,
naming the field (tests/reliability/bad_input.yml runs the same on a lab node)."""

from __future__ import annotations

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni_conf, _cni_plugins, _dnat, _netns, _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError


# Interface addresses no interface but lo can use.
@pytest.mark.parametrize('value, message', [
    ('127.0.0.2/8', '127.0.0.2 is a loopback address'),
    ('127.1.2.3/32', '127.1.2.3 is a loopback address'),
    ('224.0.0.5/24', '224.0.0.5 is a multicast address'),
    ('239.1.1.1/32', '239.1.1.1 is a multicast address'),
    ('240.0.0.1/24', '240.0.0.1 is a reserved or the broadcast address'),
    ('255.255.255.255/32', '255.255.255.255 is a reserved or the broadcast address'),
    ('0.0.0.0/8', r'0.0.0.0 is in 0.0.0.0/8 \("this network"\)'),
    ('0.1.2.3/32', r'0.1.2.3 is in 0.0.0.0/8'),
    ('::/64', ':: is the unspecified address'),
    ('::1/128', '::1 is the loopback address'),
    ('ff02::1/64', 'ff02::1 is a multicast address'),
])
def test_interface_address_refuses_what_no_interface_can_hold(value, message):
    with pytest.raises(ValidationError, match=r'^addresses\[0\]: ' + message):
        _validate.interface_address(value, 'addresses[0]')


@pytest.mark.parametrize('value', ['10.0.0.1/24', '169.254.1.1/16', '223.255.255.1/24', 'fe80::1/64', '2001:db8::1/64'])
def test_interface_address_still_accepts_unicast(value):
    assert _validate.interface_address(value, 'addresses[0]') == value


@pytest.mark.parametrize('value, message', [
    ('0.0.0.0', r'0.0.0.0 is in 0.0.0.0/8'),
    ('224.0.0.1', '224.0.0.1 is a multicast address'),
    ('255.255.255.255', '255.255.255.255 is a reserved or the broadcast address'),
    ('::', ':: is the unspecified address'),
])
def test_route_via_must_be_unicast(value, message):
    with pytest.raises(ValidationError, match=r'^routes\[0\]\.via: ' + message):
        _netns.parse_route({'dst': 'default6' if ':' in value else 'default', 'via': value}, 'routes[0]')


@pytest.mark.parametrize('metric, ok', [(0, True), (4294967295, True), (4294967296, False), (99999999999, False),
                                        (-1, False)])
def test_route_metric_is_32_bits(metric, ok):
    route = {'dst': '10.9.0.0/16', 'dev': 'lo', 'metric': metric}
    if ok:
        assert _netns.parse_route(route, 'routes[0]')['metric'] == metric
    else:
        with pytest.raises(ValidationError, match=r'^routes\[0\]\.metric: must be between 0 and 4294967295'):
            _netns.parse_route(route, 'routes[0]')


@pytest.mark.parametrize('value', ['x; touch /tmp/pwn', '$(reboot)', '1`id`', '"1"', "1'", '1|2', '1&'])
def test_sysctl_value_refuses_what_no_sysctl_takes(value):
    with pytest.raises(ValidationError, match=r'^sysctls\.net\.ipv4\.ip_forward: .* is not a sysctl value'):
        _validate.sysctl_value(value, 'sysctls.net.ipv4.ip_forward')


@pytest.mark.parametrize('value, canonical', [
    ('cubic', 'cubic'), ('32768 60999', '32768 60999'), ('-1', '-1'), ('fq_codel', 'fq_codel'),
    ('fd00::1', 'fd00::1'), ('0 2147483647', '0 2147483647'),
])
def test_sysctl_value_accepts_numbers_and_words(value, canonical):
    assert _validate.sysctl_value(value, 'sysctls.x') == canonical


@pytest.mark.parametrize('value, message', [
    ('0.0.0.0', r'0.0.0.0 is in 0.0.0.0/8'),
    ('255.255.255.255:80', '255.255.255.255 is a reserved or the broadcast address'),
    ('224.0.0.1', '224.0.0.1 is a multicast address'),
    ('127.0.0.1:8080', '127.0.0.1 is a loopback address: forwarding to it needs route_localnet'),
    ('127.8.9.10', '127.8.9.10 is a loopback address'),
])
def test_dnat_destination_must_be_one_host(value, message):
    with pytest.raises(ValidationError, match='^destination: ' + message):
        _dnat.destination(value, 'destination')


def conf_params(**values):
    params = dict(dest=None, conf_dir='/etc/cni/net.d', file_name=None, priority=10)
    params.update(values)
    return params


@pytest.mark.parametrize('values, stem, field', [
    # 120 characters, but 245 bytes: bytes count, not characters.
    (dict(file_name=u'\u00fc' * 120 + '.conf'), None, 'file_name'),
    (dict(), 'n' * 240, 'name'),
    (dict(dest='/etc/cni/net.d/' + 'd' * 237 + '.conf'), None, 'dest'),
])
def test_cni_conf_file_name_must_fit_with_its_temporary_name(values, stem, field):
    with pytest.raises(ValidationError, match='^%s: the file name is 2[0-9][0-9] bytes long; at most 241 bytes fit'
                       % field):
        _cni_conf.file_path(conf_params(**values), stem, False)


def test_cni_conf_longest_file_name_fits():
    name = u'\u00fc' * 118 + '.conf'  # 241 bytes
    assert _cni_conf.file_path(conf_params(file_name=name), None, False)['path'] == '/etc/cni/net.d/' + name


def release(**values):
    params = dict((key, spec.get('default')) for key, spec in _cni_plugins.ARGUMENT_SPEC.items())
    params.update(method='release', url='file:///srv/cni.tgz', sha256='a' * 64, version='1.6.2')
    params.update(values)
    return params


@pytest.mark.parametrize('version', ['x; touch /tmp/pwn', '../1.6.2', '1.6.2/x', ' 1.6.2', '-1', 'v' * 65, u'1.\u00fc'])
def test_cni_plugins_release_version_is_a_version(version):
    with pytest.raises(_cni_plugins.PluginsError, match='^version: a release version such as 1.6.2'):
        _cni_plugins.parse(release(version=version))


@pytest.mark.parametrize('version', ['1.6.2', '1.6.2-rc.1', '1.6.2+ds1', '1.6.2~git'])
def test_cni_plugins_release_version_accepts(version):
    assert _cni_plugins.parse(release(version=version))['identity']['version'] == version
