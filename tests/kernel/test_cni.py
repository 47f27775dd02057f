"""The CNI runtime against Debian's real plugins, with a scratch namespace as the host."""
from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni, _cni_config
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import Kernel

PLUGINS = '/usr/lib/cni'
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(PLUGINS + '/bridge'),
                                reason='needs root and containernetworking-plugins')


@pytest.fixture
def lab(tmp_path):
    suffix = uuid.uuid4().hex[:6]
    host, pod = 'pt-c-h-' + suffix, 'pt-c-p-' + suffix
    kernel = Kernel()
    kernel.create_netns(host)
    kernel.create_netns(pod)
    yield kernel, host, pod, tmp_path
    kernel.close()
    for name in (host, pod):
        subprocess.run(['ip', 'netns', 'delete', name], check=False)


def demo_network(data_dir, version='0.2.0'):
    """The tutorial's 00-demo.conf, with host-local's state in a scratch directory."""
    return {
        'cniVersion': version, 'name': 'demo_br', 'type': 'bridge', 'bridge': 'cni_net0',
        'isGateway': True, 'ipMasq': True,
        'ipam': {'type': 'host-local', 'subnet': '10.0.10.0/24', 'dataDir': str(data_dir),
                 'routes': [{'dst': '0.0.0.0/0'}, {'dst': '1.1.1.1/32', 'gw': '10.0.10.1'}]},
    }


@pytest.mark.parametrize('version, shape', [('0.2.0', 'ip4'), ('1.0.0', 'ips')])
def test_add_check_del_with_the_tutorial_config(lab, version, shape):
    kernel, host, pod, tmp = lab
    raw = json.dumps(demo_network(tmp / 'ipam', version)).encode()
    network = _cni_config.network_from_bytes(raw, 'demo')
    runtime = _cni.Runtime([PLUGINS], cache_dir=str(tmp / 'cache'))
    assert '0.2.0' in runtime.version('bridge') and '1.0.0' in runtime.version('bridge')
    netns = '/run/netns/' + pod
    with kernel.entered(host):
        result = runtime.add(network, raw, 'pause_demo', netns, 'eth10')
        assert shape in result
        summary = _cni.summarize_result(result)
        assert summary['ips'][0]['address'] == '10.0.10.2/24'
        assert summary['ips'][0]['gateway'] == '10.0.10.1'
        assert {'dst': '1.1.1.1/32', 'gw': '10.0.10.1'} in summary['routes']
        cached = runtime.cached('demo_br', 'pause_demo', 'eth10')
        assert cached['result'] == result and cached['config_bytes'] == raw and cached['netns'] == netns
        assert runtime.check(network, 'pause_demo', netns, 'eth10') is (version != '0.2.0')
        state = kernel.read([host, pod])
        assert state[host]['links']['cni_net0']['addresses'] == ['10.0.10.1/24']
        assert state[pod]['links']['eth10']['addresses'] == ['10.0.10.2/24']
        assert (tmp / 'ipam' / 'demo_br' / '10.0.10.2').exists()
        runtime.delete(network, 'pause_demo', netns, 'eth10')
        runtime.delete(network, 'pause_demo', netns, 'eth10')  # twice is fine
        assert runtime.cached('demo_br', 'pause_demo', 'eth10') is None
        assert not (tmp / 'ipam' / 'demo_br' / '10.0.10.2').exists()
        assert 'eth10' not in kernel.read([pod])[pod]['links']


def test_failed_add_is_undone_and_error_surfaced(lab):
    kernel, host, pod, tmp = lab
    # A second plugin that refuses ADD with a spec error result, and accepts DEL.
    failing = tmp / 'bin' / 'refuse'
    failing.parent.mkdir()
    failing.write_text('#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = DEL ] && exit 0\n'
                       'echo \'{"cniVersion": "1.0.0", "code": 7, "msg": "no way", "details": "by design"}\'\nexit 1\n')
    failing.chmod(0o755)
    network = demo_network(tmp / 'ipam', '1.0.0')
    network = {'cniVersion': '1.0.0', 'name': 'demo_br', 'plugins': [network, {'type': 'refuse'}]}
    runtime = _cni.Runtime([str(failing.parent), PLUGINS], cache_dir=str(tmp / 'cache'))
    with kernel.entered(host):
        with pytest.raises(_cni.CniError, match=r'CNI plugin .*/refuse failed on ADD: no way \[CNI error code 7\]: by design'):
            runtime.add(network, b'{}', 'c1', '/run/netns/' + pod, 'eth0')
        # The bridge plugin's ADD was undone: no address reserved, no cache.
        assert not (tmp / 'ipam' / 'demo_br' / '10.0.10.2').exists()
        assert runtime.cached('demo_br', 'c1', 'eth0') is None
        assert 'eth0' not in kernel.read([pod])[pod]['links']


def test_missing_plugin_and_timeout(tmp_path):
    runtime = _cni.Runtime([str(tmp_path)], timeout=1)
    with pytest.raises(_cni.CniError, match="CNI plugin 'bridge' not found"):
        runtime.version('bridge')
    hang = tmp_path / 'hang'
    hang.write_text('#!/bin/sh\nsleep 30\n')
    hang.chmod(0o755)
    with pytest.raises(_cni.CniError, match='did not answer within 1 seconds'):
        runtime.version('hang')
