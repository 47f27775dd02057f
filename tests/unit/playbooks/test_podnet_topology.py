"""playbooks/filter_plugins/podnet_topology.py: netns_info results in, a graph out."""
from __future__ import annotations

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'playbooks', 'filter_plugins'))

import podnet_topology  # noqa: E402 pylint: disable=wrong-import-position

SAFE = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')


def link(name, kind='veth', addresses=(), master=None, peer=None, up=True):
    result = {'name': name, 'kind': kind, 'addresses': list(addresses), 'master': master, 'up': up, 'mtu': 1500}
    if kind == 'veth':
        result['peer'] = peer
    return result


def info():
    """One host: step 1's pair, step 2's bridge with one port, step 3's forward to a pod."""
    host = {'exists': True, 'ip_forward': True, 'routes': [], 'links': {
        'lo': link('lo', 'device', ['127.0.0.1/8', '::1/128']),
        'bridge1': link('bridge1', 'bridge', ['172.30.0.1/24']),
        'client1-veth-br': link('client1-veth-br', master='bridge1', peer={'netns': 'client1', 'name': 'client1-veth'}),
        'eth0': link('eth0', addresses=['198.18.0.11/24'], peer=None),
    }}
    return {
        'host': host,
        'namespaces': {
            'client': {'exists': True, 'links': {'veth-client': link('veth-client', addresses=['10.0.0.11/24'],
                                                                     peer={'netns': 'server', 'name': 'veth-server'})}},
            'server': {'exists': True, 'links': {'veth-server': link('veth-server', addresses=['10.0.0.12/24'],
                                                                     peer={'netns': 'client', 'name': 'veth-client'})}},
            'client1': {'exists': True, 'routes': ['default via 172.30.0.1 dev client1-veth'], 'links': {
                'client1-veth': link('client1-veth', addresses=['172.30.0.11/24'],
                                     peer={'netns': None, 'name': 'client1-veth-br'})}},
            'web.pod_1': {'exists': True, 'links': {'eth0': link('eth0', addresses=['172.18.0.3/24'])}},
            'stale': {'exists': False},
        },
        'pods': {'web.pod_1': {'network': None}},
        'firewall': {
            'dnat': {'web': {'name': 'web', 'netns': None, 'backend': 'iptables', 'protocol': 'tcp', 'port': '80',
                             'destination': '172.18.0.3:80', 'match_destination': None, 'in_interface': None},
                     'gone': {'name': 'gone', 'netns': None, 'backend': 'nftables', 'protocol': 'udp', 'port': '53',
                              'destination': '10.9.9.9', 'match_destination': '198.18.0.11/32',
                              'in_interface': None}},
            'masquerade': {'bridge1': {'bridge': 'bridge1', 'netns': None, 'sources': ['172.30.0.0/24']}},
        },
    }


def node_index(graph):
    return dict((node['id'], node) for host in graph['hosts'] for ns in host['namespaces'] for node in ns['nodes'])


def labelled(graph, edge):
    nodes = node_index(graph)
    return (nodes[edge['from']]['label'][0], edge['kind'], nodes[edge['to']]['label'][0])


def test_graph_clusters_nodes_and_safe_ids():
    graph = podnet_topology.topology_graph({'node-01.lab': info()})
    assert [host['label'] for host in graph['hosts']] == [['node-01.lab']]
    spaces = graph['hosts'][0]['namespaces']
    # The host namespace first, then the named ones by name; a missing one is left out.
    assert [ns['label'][0] for ns in spaces] == [
        'host namespace', 'netns client', 'netns client1', 'netns server', 'netns web.pod_1']
    assert spaces[2]['label'] == ['netns client1', 'default via 172.30.0.1 dev client1-veth']
    assert spaces[4]['pod'] and spaces[4]['label'][1] == 'pod, network none'
    nodes = node_index(graph)
    ids = [host['id'] for host in graph['hosts']] + [ns['id'] for ns in spaces] + list(nodes)
    assert all(SAFE.match(node_id) for node_id in ids), ids
    assert len(set(ids)) == len(ids)
    labels = [node['label'][0] for node in nodes.values()]
    assert 'lo' not in labels
    bridge = [node for node in nodes.values() if node['kind'] == 'bridge'][0]
    assert bridge['label'] == ['bridge1 (bridge)', '172.30.0.1/24', 'masquerade 172.30.0.0/24']


def test_graph_edges_veth_once_ports_and_dnat():
    graph = podnet_topology.topology_graph({'cp': info()})
    edges = sorted(labelled(graph, edge) for edge in graph['edges'])
    assert edges == sorted([
        ('client1-veth-br', 'veth', 'client1-veth'),
        ('client1-veth-br', 'port', 'bridge1 (bridge)'),
        ('veth-client', 'veth', 'veth-server'),
        ('port forward gone', 'dnat', '10.9.9.9'),
        ('port forward web', 'dnat', 'eth0'),
    ])
    web = [edge for edge in graph['edges'] if edge['kind'] == 'dnat' and edge['label'].endswith(':80')][0]
    assert web['label'] == 'DNAT to 172.18.0.3:80'
    # The forward points at the pod's eth0, not at the host's eth0.
    assert node_index(graph)[web['to']]['label'] == ['eth0', '172.18.0.3/24']
    forward = node_index(graph)[web['from']]
    assert forward['kind'] == 'dnat' and forward['label'] == [
        'port forward web', 'tcp port 80', 'to any local address', '(iptables)']


def test_two_hosts_same_names_stay_apart():
    graph = podnet_topology.topology_graph({'a': info(), 'b': info()})
    assert len(graph['edges']) == 10
    for edge in graph['edges']:
        assert edge['from'].split('_')[0][:2] == edge['to'].split('_')[0][:2]
    assert podnet_topology.topology_graph({}) == {'hosts': [], 'edges': []}


def test_safe_id_and_escaping():
    assert podnet_topology.safe_id('h0n1', 'web.pod-1') == 'h0n1_web_pod_1'
    assert podnet_topology.safe_id('h0', None) == 'h0'
    assert podnet_topology.mermaid_text('a "b" <c> #1') == 'a #quot;b#quot; #lt;c#gt; #35;1'
    assert podnet_topology.dot_text('a "b" \\n') == 'a \\"b\\" \\\\n'
