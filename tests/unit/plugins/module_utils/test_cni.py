from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni, _cni_config

LIST = {'cniVersion': '1.0.0', 'name': 'k8s', 'plugins': [
    {'type': 'bridge', 'bridge': 'cni0', 'ipam': {'type': 'host-local', 'subnet': '10.1.0.0/24'}},
    {'type': 'portmap', 'capabilities': {'portMappings': True}},
]}


def test_plugin_config_injects_name_version_prev_result_and_capabilities():
    caps = {'portMappings': [{'hostPort': 8080, 'containerPort': 80, 'protocol': 'tcp'}], 'bandwidth': {}}
    first = _cni.plugin_config(LIST, LIST['plugins'][0], None, caps)
    assert first == dict(LIST['plugins'][0], name='k8s', cniVersion='1.0.0')  # no capabilities declared
    second = _cni.plugin_config(LIST, LIST['plugins'][1], {'cniVersion': '1.0.0', 'ips': []}, caps)
    assert second['prevResult'] == {'cniVersion': '1.0.0', 'ips': []}
    assert second['runtimeConfig'] == {'portMappings': caps['portMappings']}
    assert 'runtimeConfig' not in LIST['plugins'][1]  # the network itself is not changed


def test_cached_config_bytes_become_a_list():
    raw = json.dumps({'cniVersion': '0.2.0', 'name': 'demo_br', 'type': 'bridge'}).encode()
    network = _cni_config.network_from_bytes(raw, 'cache')
    assert network['name'] == 'demo_br' and network['cniVersion'] == '0.2.0'
    assert network['plugins'] == [{'cniVersion': '0.2.0', 'name': 'demo_br', 'type': 'bridge'}]
    assert _cni_config.network_from_bytes(json.dumps(LIST).encode(), 'cache') == LIST


def test_cache_record_matches_libcni_and_round_trips():
    raw = json.dumps(LIST).encode()
    record = _cni.cache_record(raw, {'cniVersion': '1.0.0'}, 'k8s', 'abc', 'eth0', '/run/netns/abc',
                               [('K8S_POD_NAME', 'web')], {'portMappings': []})
    assert sorted(record) == ['capabilityArgs', 'cniArgs', 'config', 'containerId', 'ifName', 'kind',
                              'netns', 'networkName', 'result']
    assert record['kind'] == 'cniCacheV1' and base64.b64decode(record['config']) == raw
    assert record['cniArgs'] == [['K8S_POD_NAME', 'web']]
    parsed = _cni.parse_cache(json.dumps(record))
    assert parsed['config_bytes'] == raw and parsed['result'] == {'cniVersion': '1.0.0'}
    assert _cni.cache_path('/var/lib/cni', 'k8s', 'abc', 'eth0') == '/var/lib/cni/results/k8s-abc-eth0'
    with pytest.raises(_cni.CniError, match='kind'):
        _cni.parse_cache(json.dumps({'kind': 'other'}))


@pytest.mark.parametrize('result, ips, routes, interfaces', [
    ({'cniVersion': '0.2.0', 'ip4': {'ip': '10.0.10.2/24', 'gateway': '10.0.10.1',
                                     'routes': [{'dst': '0.0.0.0/0'}, {'dst': '1.1.1.1/32', 'gw': '10.0.10.1'}]}},
     [{'address': '10.0.10.2/24', 'gateway': '10.0.10.1', 'interface': None}],
     [{'dst': '0.0.0.0/0', 'gw': None}, {'dst': '1.1.1.1/32', 'gw': '10.0.10.1'}], []),
    ({'cniVersion': '1.0.0',
      'interfaces': [{'name': 'cni0', 'mac': 'aa'}, {'name': 'eth10', 'mac': 'bb', 'sandbox': '/run/netns/p'}],
      'ips': [{'address': '10.0.10.2/24', 'gateway': '10.0.10.1', 'interface': 1}],
      'routes': [{'dst': '0.0.0.0/0'}]},
     [{'address': '10.0.10.2/24', 'gateway': '10.0.10.1', 'interface': 'eth10'}],
     [{'dst': '0.0.0.0/0', 'gw': None}],
     [{'name': 'cni0', 'mac': 'aa', 'sandbox': None}, {'name': 'eth10', 'mac': 'bb', 'sandbox': '/run/netns/p'}]),
])
def test_summarize_result_both_generations(result, ips, routes, interfaces):
    summary = _cni.summarize_result(result)
    assert (summary['ips'], summary['routes'], summary['interfaces']) == (ips, routes, interfaces)


def test_versions_and_args():
    assert _cni.at_least('0.4.0', '0.4.0') and _cni.at_least('1.0.0', '0.4.0')
    assert not _cni.at_least('0.3.1', '0.4.0')
    with pytest.raises(_cni.CniError):
        _cni.version_tuple('one')
    assert _cni.cni_args_text([('IgnoreUnknown', '1'), ('K8S_POD_NAME', 'web')]) == 'IgnoreUnknown=1;K8S_POD_NAME=web'
