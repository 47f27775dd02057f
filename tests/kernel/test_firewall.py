"""The port forward's rules as the real iptables and nft print them back, inside
scratch namespaces only: what _dnat renders must be what the tools list, or the
module would never find its rules unchanged."""
from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _dnat, _iptables, _nftables
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import Kernel

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='needs root to create namespaces')

VARIANTS = [
    dict(),
    dict(protocol='udp', port='5000-5010', destination='172.18.0.3', hairpin=True, local=False),
    dict(protocol='sctp', match_destination='198.18.0.0/24', in_interface='eth0', to_port=8080,
         destination='172.18.0.3'),
    dict(match_destination='198.18.0.11', hairpin=True, port=443),
]


@pytest.fixture
def scratch():
    name = 'pt-k-fw-' + uuid.uuid4().hex[:6]
    subprocess.run(['ip', 'netns', 'add', name], check=True)
    kernel = Kernel()
    _iptables._TOOLS.pop(name, None)
    yield kernel, name
    kernel.close()
    subprocess.run(['ip', 'netns', 'delete', name], check=False)


def parse(**item):
    base = {'name': 'web', 'port': 80, 'destination': '172.18.0.3:80'}
    base.update(item)
    return _dnat.DnatManager().parse(base, '')


@pytest.mark.parametrize('item', VARIANTS)
def test_iptables_lists_the_rules_as_rendered(scratch, item):
    kernel, ns = scratch
    rules = _dnat.iptables_rules(parse(**item), '172.18.0.3', forward_accept=True)
    for table, lines in rules.items():
        name = table.split()[1]
        _iptables.apply(kernel, ns, name, [], lines, [line for line in lines if line.startswith('-A FORWARD')])
        assert _iptables.read_rules(kernel, ns, name) == lines
        _iptables.apply(kernel, ns, name, lines, [])
        assert _iptables.read_rules(kernel, ns, name) == []


@pytest.mark.parametrize('item', VARIANTS)
def test_nft_lists_the_rules_as_rendered(scratch, item):
    kernel, ns = scratch
    if not _nftables.available():
        pytest.skip('nft is not installed')
    rules = _dnat.nft_rules(parse(**item), '172.18.0.3')
    _nftables.apply(kernel, ns, _nftables.script([], rules, drop_table=False))
    assert _nftables.table_listed(_nftables.read_chains(kernel, ns))
    listed = _nftables.read_table(kernel, ns)
    assert sorted((chain, text) for chain, found in listed.items() for text, _handle in found) == sorted(rules)
    handles = [(chain, handle) for chain, found in listed.items() for _text, handle in found]
    _nftables.apply(kernel, ns, _nftables.script(handles, [], drop_table=False))
    assert all(found == [] for found in _nftables.read_table(kernel, ns).values())
    _nftables.apply(kernel, ns, _nftables.script([], [], drop_table=True))
    assert not _nftables.table_listed(_nftables.read_chains(kernel, ns))
