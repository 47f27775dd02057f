"""netns_info's shaping: adapter models in, the documented result out."""
from __future__ import annotations

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _info

from models import link, namespace, route, veth

NAT_LINES = [
    '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
    '-A PREROUTING -d 198.18.0.11/32 -i eth0 -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 8080:8090 '
    '-m comment --comment "podnet dnat web" -j DNAT --to-destination 172.18.0.2:80',
    '-A OUTPUT -d 198.18.0.11/32 -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 8080:8090 '
    '-m comment --comment "podnet dnat web" -j DNAT --to-destination 172.18.0.2:80',
    '-A POSTROUTING -s 172.30.0.0/24 ! -o bridge1 -m comment --comment "podnet masquerade bridge1" -j MASQUERADE',
    '-A POSTROUTING -s 10.0.10.0/24 -m comment --comment "name: \\"demo_br\\" id: \\"pause_demo\\"" -j CNI-1234',
    '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
    '-A POSTROUTING -m comment --comment "not podnet masquerade x" -j MASQUERADE',
    '-A POSTROUTING -m comment --comment "podnetwork x" -j MASQUERADE',
]
FILTER_LINES = [
    '-A FORWARD -p tcp -m conntrack --ctstate DNAT --ctreplsrc 172.18.0.2 --ctreplsrcport 80 '
    '-m comment --comment "podnet dnat web" -j ACCEPT',
    '-A FORWARD -j DOCKER-USER',
]


class FakeKernel:
    """What gather() asks of the adapter, answered from prepared models."""

    def __init__(self, models, sources, sysctls):
        self.models, self.sources, self.sysctls = models, sources, sysctls
        self.read_calls = []

    def netns_source(self, name):
        return self.sources.get(name)

    def read(self, namespaces):
        self.read_calls.append(list(namespaces))
        return dict((name, self.models[name]) for name in namespaces)

    def read_sysctl(self, name, key):
        assert key == 'net.ipv4.ip_forward'
        return self.sysctls.get(name)


def tutorial_models():
    """Step 1 and step 2 of the tutorial on one host, peers already resolved."""
    host = namespace(
        link('lo', addresses=['127.0.0.1/8', '::1/128'], mtu=65536),
        link('bridge1', 'bridge', addresses=['172.30.0.1/24'], stp=False),
        veth('client1-veth-br', 'client1', 'client1-veth', master='bridge1'),
        veth('server1-veth-br', 'server1', 'server1-veth', master='bridge1', up=False),
        veth('eth0', '?', None, addresses=['198.18.0.11/24']),
        routes=[route('default', 'eth0', via='198.18.0.1'), route('172.30.0.0/24', 'bridge1', kernel=True),
                route('fe80::/64', 'eth0', family=6, metric=256, kernel=True)])
    client = namespace(veth('veth-client', 'server', 'veth-server', addresses=['10.0.0.11/24']),
                       routes=[route('10.0.0.0/24', 'veth-client', kernel=True)])
    server = namespace(veth('veth-server', 'client', 'veth-client', addresses=['10.0.0.12/24']))
    client1 = namespace(veth('client1-veth', None, 'client1-veth-br', addresses=['172.30.0.11/24']),
                        routes=[route('default', 'client1-veth', via='172.30.0.1')])
    return {None: host, 'client': client, 'server': server, 'client1': client1}


def test_shape_namespace_links_bridges_routes():
    shaped = _info.shape_namespace(tutorial_models()[None], '1', None)
    assert shaped['exists'] is True and shaped['ip_forward'] is True and shaped['linked_to'] is None
    assert list(shaped['links']) == sorted(shaped['links'])
    assert shaped['links']['client1-veth-br'] == {
        'name': 'client1-veth-br', 'index': None, 'kind': 'veth', 'mtu': 1500, 'up': True, 'master': 'bridge1',
        'addresses': [], 'peer': {'netns': 'client1', 'name': 'client1-veth'}}
    # A peer in a namespace that was not read is unknown, not the host's.
    assert shaped['links']['eth0']['peer'] is None
    assert shaped['links']['bridge1']['stp'] is False and 'peer' not in shaped['links']['bridge1']
    assert 'stp' not in shaped['links']['lo'] and 'peer' not in shaped['links']['lo']
    assert shaped['bridges'] == {'bridge1': {'addresses': ['172.30.0.1/24'], 'up': True, 'stp': False,
                                             'ports': ['client1-veth-br', 'server1-veth-br']}}
    # Link-local IPv6 routes are left out, the IPv6 default route would not be.
    assert shaped['routes'] == ['default via 198.18.0.1 dev eth0', '172.30.0.0/24 dev bridge1']


def test_shape_namespace_peer_in_host_and_missing_namespace():
    shaped = _info.shape_namespace(tutorial_models()['client1'], '0', '/var/run/docker/netns/abc')
    assert shaped['links']['client1-veth']['peer'] == {'netns': None, 'name': 'client1-veth-br'}
    assert shaped['ip_forward'] is False and shaped['linked_to'] == '/var/run/docker/netns/abc'
    assert shaped['routes'] == ['default via 172.30.0.1 dev client1-veth']
    assert _info.shape_namespace(namespace(exists=False)) == {'exists': False}
    assert _info.shape_namespace(tutorial_models()['server'])['ip_forward'] is None


def test_shown_route_keeps_ipv6_defaults():
    assert _info.shown_route(route('default6', 'eth0', family=6))
    assert _info.shown_route(route('fd00::/64', 'eth0', family=6))
    assert not _info.shown_route(route('fe80::/64', 'eth0', family=6))


def test_owned_iptables_only_podnet_comments():
    assert _info.owned_iptables(NAT_LINES) == NAT_LINES[1:4]
    assert _info.owned_iptables(FILTER_LINES) == FILTER_LINES[:1]
    assert _info.owned_iptables([]) == []


def test_owned_nftables_drops_handles():
    chains = {'prerouting': [('tcp dport 80 dnat to 10.0.0.2 comment "podnet dnat a"', 7)], 'output': []}
    assert _info.owned_nftables(chains) == {
        'output': [], 'prerouting': ['tcp dport 80 dnat to 10.0.0.2 comment "podnet dnat a"']}
    assert _info.owned_nftables(None) == {}


def test_summarize_iptables():
    firewall = {'iptables': {'nat': _info.owned_iptables(NAT_LINES), 'filter': _info.owned_iptables(FILTER_LINES)},
                'nftables': {}}
    summary = _info.summarize_firewall('node', firewall)
    assert summary['masquerade'] == {'node/bridge1': {
        'bridge': 'bridge1', 'netns': 'node', 'backend': 'iptables', 'sources': ['172.30.0.0/24'],
        'rules': ['iptables -t nat ' + NAT_LINES[3]]}}
    assert summary['dnat'] == {'node/web': {
        'name': 'web', 'netns': 'node', 'backend': 'iptables', 'protocol': 'tcp', 'port': '8080-8090',
        'destination': '172.18.0.2:80', 'match_destination': '198.18.0.11/32', 'in_interface': 'eth0',
        'rules': ['iptables -t nat ' + NAT_LINES[1], 'iptables -t nat ' + NAT_LINES[2],
                  'iptables -t filter ' + FILTER_LINES[0]]}}


def test_summarize_iptables_output_only_and_hairpin():
    rules = [
        '-A POSTROUTING -s 172.18.0.2/32 -d 172.18.0.2/32 -p tcp -m tcp --dport 80 -m comment --comment '
        '"podnet dnat w" -j MASQUERADE',
        '-A OUTPUT ! -d 127.0.0.0/8 -p udp -m addrtype --dst-type LOCAL -m udp --dport 53 -m comment --comment '
        '"podnet dnat w" -j DNAT --to-destination 172.18.0.2',
    ]
    summary = _info.summarize_firewall(None, {'iptables': {'nat': rules}})
    entry = summary['dnat']['w']
    assert (entry['protocol'], entry['port'], entry['destination'], entry['match_destination']) == (
        'udp', '53', '172.18.0.2', None)
    assert len(entry['rules']) == 2 and summary['masquerade'] == {}


def test_summarize_nftables():
    chains = {
        'prerouting': ['ip daddr 198.18.0.12 fib daddr type local tcp dport 80 dnat to 172.18.0.3:80 '
                       'comment "podnet dnat web"',
                       'iifname "eth0" fib daddr type local udp dport 5000-5010 dnat to 10.0.10.2 '
                       'comment "podnet dnat pod"'],
        'output': ['ip daddr 198.18.0.12 fib daddr type local tcp dport 80 dnat to 172.18.0.3:80 '
                   'comment "podnet dnat web"'],
        'postrouting': [],
    }
    summary = _info.summarize_firewall(None, {'iptables': {'nat': [], 'filter': []}, 'nftables': chains})
    web, pod = summary['dnat']['web'], summary['dnat']['pod']
    assert (web['backend'], web['protocol'], web['port'], web['destination'], web['match_destination']) == (
        'nftables', 'tcp', '80', '172.18.0.3:80', '198.18.0.12/32')
    assert web['rules'][1].startswith('nft add rule ip podnet prerouting ip daddr 198.18.0.12 ')
    assert web['rules'][0].startswith('nft add rule ip podnet output ')
    assert (pod['protocol'], pod['port'], pod['destination'], pod['in_interface'], pod['match_destination']) == (
        'udp', '5000-5010', '10.0.10.2', 'eth0', None)


@pytest.mark.parametrize('rule, comment', [
    ('-A X -m comment --comment "podnet dnat a.b-c_d" -j ACCEPT', 'podnet dnat a.b-c_d'),
    ('tcp dport 1 dnat to 1.2.3.4 comment "podnet dnat z"', 'podnet dnat z'),
    ('-A X -m comment --comment "kube-proxy" -j ACCEPT', None),
    ('-A X -j ACCEPT', None),
])
def test_comment_of(rule, comment):
    assert _info.comment_of(rule) == comment


def test_shape_pod_from_record_and_cache():
    record = {'name': 'pause_demo', 'backend': 'native', 'network': 'demo_br', 'container_id': 'pause_demo',
              'ifname': 'eth10', 'pause': {'pid': 42, 'start': 1}, 'workloads': [{'name': 'web'}, {'name': 'app'}]}
    ip4 = {'ip': '10.0.10.2/24', 'gateway': '10.0.10.1', 'routes': [{'dst': '0.0.0.0/0'}]}
    cached = {'result': {'cniVersion': '0.2.0', 'ip4': ip4}}
    assert _info.shape_pod('pause_demo', record, cached, True) == {
        'backend': 'native', 'network': 'demo_br', 'netns': 'pause_demo', 'container_id': 'pause_demo',
        'ifname': 'eth10', 'ips': [{'address': '10.0.10.2/24', 'gateway': '10.0.10.1', 'interface': None}],
        'routes': [{'dst': '0.0.0.0/0', 'gw': None}], 'workloads': ['app', 'web'], 'pause_pid': 42, 'running': True}
    bare = _info.shape_pod('web', {'backend': 'docker', 'network': None, 'pause': {'container': 'abc'}}, None)
    assert bare['ips'] == [] and bare['network'] is None and bare['backend'] == 'docker'
    assert bare['ifname'] == 'eth0' and bare['container_id'] == 'web' and bare['running'] is None


def test_gather_reads_once_and_reports_missing_names():
    models = tutorial_models()
    kernel = FakeKernel(models, {'client': {'inode': 1, 'symlink': None}, 'client1': {'inode': 2, 'symlink': None}},
                        {None: '1', 'client': '0', 'client1': '0'})
    result, warnings = _info.gather(kernel, ['client', 'client1', 'gone'], firewall=False, pods=False)
    assert warnings == []
    # One read for everything, the missing name not asked for.
    assert kernel.read_calls == [[None, 'client', 'client1']]
    assert sorted(result) == ['firewall', 'host', 'namespaces', 'pods']
    assert 'linked_to' not in result['host'] and 'firewall' not in result['host']
    assert result['host']['bridges']['bridge1']['ports'] == ['client1-veth-br', 'server1-veth-br']
    assert result['namespaces']['gone'] == {'exists': False}
    assert result['namespaces']['client']['links']['veth-client']['peer'] == {'netns': 'server', 'name': 'veth-server'}
    assert result['pods'] == {} and result['firewall'] == {'dnat': {}, 'masquerade': {}}


def test_gather_firewall_merged_across_namespaces(monkeypatch):
    models = tutorial_models()
    kernel = FakeKernel(models, {'client': {'inode': 1, 'symlink': None}}, {})
    rules = {None: {'iptables': {'nat': NAT_LINES[3:4], 'filter': []}, 'nftables': {}},
             'client': {'iptables': {'nat': NAT_LINES[1:3], 'filter': []}, 'nftables': {}}}
    monkeypatch.setattr(_info, 'read_firewall', lambda kernel, ns, warnings: rules[ns])
    monkeypatch.setattr(_info, 'list_namespaces', lambda: ['client'])
    result, warnings = _info.gather(kernel)
    assert warnings == []
    assert sorted(result['firewall']['dnat']) == ['client/web']
    assert sorted(result['firewall']['masquerade']) == ['bridge1']
    assert result['namespaces']['client']['firewall'] == rules['client']
    assert result['host']['ip_forward'] is None
