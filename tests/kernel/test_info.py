"""netns_info's reader against the real kernel, in scratch namespaces only."""
from __future__ import annotations

import os

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _info, _iptables, _nftables

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='needs root to create namespaces')
HOME_INODE = os.stat('/proc/thread-self/ns/net').st_ino


def test_gather_pair_bridge_and_owned_rules(kernel, names):
    a, b = names
    kernel.create_netns(a)
    kernel.create_netns(b)
    kernel.add_veth(a, 'va', b, 'vb')
    kernel.add_bridge(a, 'br0')
    kernel.add_veth(a, 'vc', a, 'vc-br')
    kernel.set_link(a, 'vc-br', master='br0', up=True)
    kernel.add_address(a, 'br0', '10.66.0.1/24')
    kernel.add_address(b, 'vb', '10.0.0.12/24')
    kernel.set_link(b, 'vb', up=True, mtu=1400)
    kernel.write_sysctl(a, 'net.ipv4.ip_forward', '1')
    kernel.write_sysctl(b, 'net.ipv4.ip_forward', '0')
    rule = _iptables.masquerade_rule('10.66.0.0/24', 'br0')
    _iptables.apply(kernel, a, 'nat', [], [rule, '-A POSTROUTING -s 10.67.0.0/24 -j MASQUERADE'])
    if _nftables.available():
        _nftables.apply(kernel, a, _nftables.script(
            [], [('prerouting', 'fib daddr type local tcp dport 81 dnat to 10.66.0.2:80 comment "podnet dnat w"')],
            False))
    # The rule without a podnet comment above is not ours, so it is not listed.
    result, warnings = _info.gather(kernel, [a, b, 'pt-ki-missing'], firewall=True, pods=False)
    assert warnings == []
    ns_a, ns_b = result['namespaces'][a], result['namespaces'][b]
    assert result['namespaces']['pt-ki-missing'] == {'exists': False}
    assert ns_a['links']['va']['peer'] == {'netns': b, 'name': 'vb'}
    assert ns_a['links']['vc']['peer'] == {'netns': a, 'name': 'vc-br'}
    assert ns_b['links']['vb'] == {'name': 'vb', 'index': ns_b['links']['vb']['index'], 'kind': 'veth', 'mtu': 1400,
                                   'up': True, 'master': None, 'addresses': ['10.0.0.12/24'],
                                   'peer': {'netns': a, 'name': 'va'}}
    assert ns_a['bridges'] == {'br0': {'addresses': ['10.66.0.1/24'], 'up': False, 'stp': False, 'ports': ['vc-br']}}
    assert ns_a['ip_forward'] is True and ns_b['ip_forward'] is False
    assert ns_b['routes'] == ['10.0.0.0/24 dev vb']
    assert ns_a['firewall']['iptables'] == {'nat': [rule], 'filter': []}
    assert result['firewall']['masquerade']['%s/br0' % a]['sources'] == ['10.66.0.0/24']
    assert ns_b['firewall'] == {'iptables': {'nat': [], 'filter': []}, 'nftables': {}}
    if _nftables.available():
        forward = result['firewall']['dnat']['%s/w' % a]
        assert (forward['backend'], forward['port'], forward['destination']) == ('nftables', '81', '10.66.0.2:80')
    assert result['host']['exists'] and 'linked_to' not in result['host']
    # Every switch into a namespace came back home.
    assert os.stat('/proc/thread-self/ns/net').st_ino == HOME_INODE
