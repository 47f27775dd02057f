from __future__ import annotations

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _dnat, _nftables
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError


def want(**item):
    base = {'name': 'web', 'port': 80, 'destination': '172.18.0.3:80'}
    base.update(item)
    return _dnat.DnatManager().parse(base, '')


@pytest.mark.parametrize('value, expected', [
    (80, (80, 80)), ('80', (80, 80)), ('8080-8090', (8080, 8090)), ('8080:8090', (8080, 8090)),
    (' 1 - 65535 ', (1, 65535)), ('9-9', (9, 9)),
])
def test_port_range(value, expected):
    assert _dnat.port_range(value, 'port') == expected


@pytest.mark.parametrize('value, message', [
    (0, 'port 0 is outside 1-65535'), (65536, 'port 65536 is outside 1-65535'),
    ('90-80', 'range 90-80 is reversed'), ('http', "'http' is not a port number"),
    (True, 'True is not a port number'), (-1, "-1 is not a port number"), ('1-2-3', "'1-2-3' is not a port number"),
    (8.5, '8.5 is not a port number'),
])
def test_port_range_refuses(value, message):
    with pytest.raises(ValidationError, match='^port: ' + message):
        _dnat.port_range(value, 'port')


@pytest.mark.parametrize('value, expected', [
    ('172.18.0.3', ('172.18.0.3', None)), ('172.18.0.3:8080', ('172.18.0.3', 8080)),
])
def test_destination(value, expected):
    assert _dnat.destination(value, 'destination') == expected


@pytest.mark.parametrize('value, message', [
    ('fd00::1', 'is not an IPv4 address with an optional :port'),
    ('172.18.0.300', "'172.18.0.300' is not an IP address"),
    ('web:80', "'web' is not an IP address"),
    ('172.18.0.3:', "'' is not a port number"),
    ('172.18.0.3:99999', 'port 99999 is outside'),
])
def test_destination_refuses(value, message):
    with pytest.raises(ValidationError, match='destination: .*' + message):
        _dnat.destination(value, 'destination')


@pytest.mark.parametrize('name', ['web', 'web-1', 'a.b_c', 'x' * 64])
def test_object_name(name):
    assert _dnat.object_name(name, 'name') == name


@pytest.mark.parametrize('name', ['', '-x', 'a/b', '..', 'a b', 'a%b', 'x; touch /tmp/pwn', 'é', 'x' * 65, 'a"b', 7])
def test_object_name_refuses(name):
    with pytest.raises(ValidationError, match='^name: '):
        _dnat.object_name(name, 'name')


def test_match_network():
    assert _dnat.match_network('198.18.0.11', 'm') == '198.18.0.11/32'
    assert _dnat.match_network('198.18.0.0/24', 'm') == '198.18.0.0/24'
    with pytest.raises(ValidationError, match='loopback'):
        _dnat.match_network('127.0.0.1', 'm')
    with pytest.raises(ValidationError, match='host bits set'):
        _dnat.match_network('198.18.0.1/24', 'm')


def test_parse_requires_one_destination_and_port_once():
    with pytest.raises(ValidationError, match='^destination: give exactly one of destination and pod'):
        want(destination=None)
    with pytest.raises(ValidationError, match='^destination: give exactly one of destination and pod'):
        want(pod='p')
    with pytest.raises(ValidationError, match='^to_port: the destination already names a port'):
        want(to_port=81)
    with pytest.raises(ValidationError, match='^in_interface: .*only letters'):
        want(in_interface='eth0;x')
    assert want(state='absent', port=None, destination=None)['ports'] is None


# The exact text iptables-save 1.8.9 (nf_tables) and nft 1.0.6 printed for these
# rules on Debian 12 (tests/kernel checks it against the real tools).
IPT_PRE = ('-A PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 80 -m comment --comment "podnet dnat web" '
           '-j DNAT --to-destination 172.18.0.3:80')


def test_iptables_rules_default():
    rules = _dnat.iptables_rules(want(), '172.18.0.3', forward_accept=False)
    assert rules == {_dnat.NAT: [
        IPT_PRE,
        '-A OUTPUT ! -d 127.0.0.0/8 -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 80 -m comment --comment '
        '"podnet dnat web" -j DNAT --to-destination 172.18.0.3:80',
    ]}


def test_iptables_rules_everything():
    item = want(protocol='udp', port='5000-5010', destination='172.18.0.3', match_destination='198.18.0.11',
                in_interface='eth0', hairpin=True, local=False)
    rules = _dnat.iptables_rules(item, '172.18.0.3', forward_accept=True)
    comment = '-m comment --comment "podnet dnat web"'
    assert rules[_dnat.NAT] == [
        '-A PREROUTING -d 198.18.0.11/32 -i eth0 -p udp -m addrtype --dst-type LOCAL -m udp --dport 5000:5010 '
        + comment + ' -j DNAT --to-destination 172.18.0.3',
        '-A POSTROUTING -s 172.18.0.3/32 -d 172.18.0.3/32 -p udp -m udp --dport 5000:5010 ' + comment + ' -j MASQUERADE',
    ]
    assert rules[_dnat.FILTER] == [
        '-A FORWARD -p udp -m conntrack --ctstate DNAT --ctreplsrc 172.18.0.3 --ctreplsrcport 5000:5010 '
        + comment + ' -j ACCEPT']


def test_nft_rules():
    item = want(protocol='sctp', match_destination='198.18.0.11', hairpin=True, destination='172.18.0.3',
                to_port=8080)
    assert _dnat.nft_rules(item, '172.18.0.3') == [
        ('prerouting', 'ip daddr 198.18.0.11 fib daddr type local sctp dport 80 dnat to 172.18.0.3:8080 '
                       'comment "podnet dnat web"'),
        ('output', 'ip daddr 198.18.0.11 fib daddr type local sctp dport 80 dnat to 172.18.0.3:8080 '
                   'comment "podnet dnat web"'),
        ('postrouting', 'ip saddr 172.18.0.3 ip daddr 172.18.0.3 sctp dport 8080 masquerade comment "podnet dnat web"'),
    ]


def test_owned_matches_whole_name():
    assert _dnat.owned(IPT_PRE, 'web')
    assert not _dnat.owned(IPT_PRE, 'we')
    assert not _dnat.owned(IPT_PRE.replace('dnat web', 'dnat web2'), 'web')


@pytest.mark.parametrize('existing, wanted, drop, add', [
    ([], ['a'], [], ['a']),
    ([('a', True)], ['a'], [], []),
    ([('a', True), ('a', True)], ['a'], [1], []),
    ([('x', False), ('b', True)], ['a'], [1], ['a']),
    ([('a', False)], ['a'], [], ['a']),
])
def test_reconcile(existing, wanted, drop, add):
    assert _dnat.reconcile(existing, wanted) == (drop, add)


LISTING = '''table ip podnet { # handle 7
\tchain prerouting { # handle 1
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tfib daddr type local tcp dport 80 dnat to 172.18.0.3:80 comment "podnet dnat web" # handle 5
\t}

\tchain output { # handle 2
\t\ttype nat hook output priority -100; policy accept;
\t}
}
'''


def test_parse_table():
    assert _nftables.parse_table(LISTING) == {
        'prerouting': [('fib daddr type local tcp dport 80 dnat to 172.18.0.3:80 comment "podnet dnat web"', 5)],
        'output': [],
    }


CHAINS = '''{"nftables": [{"metainfo": {"version": "1.0.6"}},
{"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "handle": 1, "type": "filter", "hook": "forward",
 "prio": 0, "policy": "drop"}},
{"chain": {"family": "inet", "table": "firewalld", "name": "x", "handle": 2}},
{"chain": {"family": "ip", "table": "podnet", "name": "prerouting", "handle": 1, "hook": "prerouting",
 "policy": "accept"}}]}'''


def test_parse_chains_and_native_tables():
    chains = _nftables.parse_chains(CHAINS)
    assert chains[0] == {'family': 'ip', 'table': 'filter', 'name': 'FORWARD', 'hook': 'forward', 'policy': 'drop'}
    assert _nftables.native_tables(chains) == ['inet firewalld']
    assert _nftables.table_listed(chains)
    assert not _nftables.table_listed(chains[:2])


def test_script():
    text = _nftables.script([('prerouting', 5)], [('output', 'tcp dport 80 dnat to 1.2.3.4 comment "podnet dnat w"')],
                            drop_table=False)
    lines = text.splitlines()
    assert lines[0] == 'add table ip podnet'
    assert 'add chain ip podnet prerouting { type nat hook prerouting priority -100; policy accept; }' in lines
    assert lines[-2:] == ['delete rule ip podnet prerouting handle 5',
                          'add rule ip podnet output tcp dport 80 dnat to 1.2.3.4 comment "podnet dnat w"']
    assert _nftables.script([], [], drop_table=True) == 'delete table ip podnet\n'


def model(nat=(), nft=None, chains=()):
    found = {'exists': True, 'links': {}, 'sysctls': {}, 'firewall': {_dnat.NAT: list(nat), _dnat.FILTER: []},
             'nft_chains': list(chains)}
    if nft is not None:
        found['firewall'][_dnat.NFT] = nft
    return found


def test_auto_backend_keeps_the_backend_holding_the_rules(monkeypatch):
    monkeypatch.setattr(_dnat._iptables, 'available', lambda: True)
    monkeypatch.setattr(_dnat._nftables, 'available', lambda: True)
    choose = _dnat.DnatManager._backend
    item = want(backend='auto')
    assert choose(model(), item) == 'iptables'
    native = [{'family': 'inet', 'table': 'filter', 'name': 'input', 'hook': 'input', 'policy': 'accept'}]
    assert choose(model(chains=native), item) == 'nftables'
    assert choose(model(nat=['-A POSTROUTING -j MASQUERADE'], chains=native), item) == 'iptables'
    ours = {'prerouting': [('tcp dport 80 dnat to 1.2.3.4 comment "podnet dnat web"', 3)]}
    assert choose(model(nat=['-A X -j Y'], nft=ours), item) == 'nftables'
    assert choose(model(nat=[IPT_PRE], chains=native), item) == 'iptables'
    assert choose(model(chains=native), want(backend='iptables')) == 'iptables'
    monkeypatch.setattr(_dnat._iptables, 'available', lambda: False)
    assert choose(model(), item) == 'nftables'
