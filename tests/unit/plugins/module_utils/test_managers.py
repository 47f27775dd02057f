"""Planning logic of the three managers on kernel-state models: no kernel involved."""
from __future__ import annotations

import pytest
from models import link, namespace, route, veth

from ansible_collections.packetlife.podnet.plugins.module_utils import _iptables
from ansible_collections.packetlife.podnet.plugins.module_utils._bridge import BridgeManager
from ansible_collections.packetlife.podnet.plugins.module_utils._module import Context
from ansible_collections.packetlife.podnet.plugins.module_utils._netns import NetnsManager
from ansible_collections.packetlife.podnet.plugins.module_utils._plan import Plan
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError
from ansible_collections.packetlife.podnet.plugins.module_utils._veth import VethManager

HOST = namespace(link('lo', up=True, mtu=65536), link('eth0', addresses=['192.0.2.2/24']),
                 routes=[route('default', 'eth0', via='192.0.2.1'), route('192.0.2.0/24', 'eth0', kernel=True)])


def plan_for(manager, items, state, check_mode=False):
    wants = [manager.parse(item, '') for item in items]
    plan = Plan(state)
    context = Context(check_mode)
    manager.plan(plan, wants, context)
    return plan, wants, context


STEP1 = {'name': 'veth-client', 'netns': 'client', 'addresses': ['10.0.0.11/24'], 'up': True,
         'peer': {'name': 'veth-server', 'netns': 'server', 'addresses': ['10.0.0.12/24']}}


def fresh():
    return {None: HOST, 'client': namespace(link('lo', up=False)), 'server': namespace(link('lo', up=False))}


def test_veth_create_plans_pair_then_settings():
    plan, wants = plan_for(VethManager(), [STEP1], fresh())[:2]
    assert plan.actions == [
        'create veth veth-client in netns client with peer veth-server in netns server',
        'add address 10.0.0.11/24 to veth-client in netns client',
        'set veth-client up in netns client',
        'add address 10.0.0.12/24 to veth-server in netns server',
        'set veth-server up in netns server',
    ]
    described = VethManager().describe(plan.state, wants[0])
    assert described == {
        'state': 'present',
        'end': {'name': 'veth-client', 'netns': 'client', 'up': True, 'addresses': ['10.0.0.11/24']},
        'peer': {'name': 'veth-server', 'netns': 'server', 'up': True, 'addresses': ['10.0.0.12/24']},
    }


def test_veth_in_place_is_unchanged():
    state = fresh()
    state['client']['links']['veth-client'] = veth('veth-client', 'server', 'veth-server', addresses=['10.0.0.11/24'])
    state['server']['links']['veth-server'] = veth('veth-server', 'client', 'veth-client', addresses=['10.0.0.12/24'])
    plan = plan_for(VethManager(), [STEP1], state)[0]
    assert not plan.changed


def test_veth_moves_end_from_wrong_namespace():
    state = fresh()
    state[None] = namespace(*HOST['links'].values(), veth('veth-server', 'client', 'veth-client'), routes=HOST['routes'])
    state['client']['links']['veth-client'] = veth('veth-client', None, 'veth-server', addresses=['10.0.0.11/24'])
    plan = plan_for(VethManager(), [STEP1], state)[0]
    assert plan.actions[0] == 'move veth-server from the root namespace to netns server'
    assert 'veth-server' not in plan.state[None]['links']
    assert plan.state['client']['links']['veth-client']['peer'] == {'netns': 'server', 'name': 'veth-server'}


@pytest.mark.parametrize('taken, message', [
    (link('veth-client', 'bridge'), 'name: veth-client in netns client is a bridge, not a veth'),
    (veth('veth-client', 'server', 'other'), 'veth-client in netns client is a veth whose peer is other in netns server'),
    (veth('veth-client', '?', None), 'peer is in a namespace this task does not name'),
])
def test_veth_name_taken(taken, message):
    state = fresh()
    state['client']['links']['veth-client'] = taken
    with pytest.raises(ValidationError, match=message):
        plan_for(VethManager(), [STEP1], state)


def test_veth_address_held_elsewhere_and_route_overlap():
    state = fresh()
    state['client']['links']['other'] = link('other', addresses=['10.0.0.11/16'])
    with pytest.raises(ValidationError, match=r'^addresses\[0\]: 10.0.0.11 is already held by interface other'):
        plan_for(VethManager(), [STEP1], state)
    item = dict(STEP1, netns=None, addresses=['192.0.2.200/24'])
    with pytest.raises(ValidationError, match=r'addresses\[0\]: 192.0.2.200/24 overlaps the route "192.0.2.0/24 dev eth0"'):
        plan_for(VethManager(), [item], fresh())


def test_veth_missing_namespace_warns_in_check_mode_only():
    state = fresh()
    del state['server']
    plan, context = plan_for(VethManager(), [STEP1], state, check_mode=True)[::2]
    assert plan.actions[0].startswith('create veth veth-client')
    assert context.warnings == ['peer.netns: network namespace server does not exist (assumed to be created by an earlier task)']
    with pytest.raises(ValidationError, match='peer.netns: network namespace server does not exist'):
        plan_for(VethManager(), [STEP1], state)


def test_veth_master_must_be_bridge():
    state = fresh()
    item = dict(STEP1, master='lo')
    with pytest.raises(ValidationError, match='^master: lo in netns client is a device, not a bridge'):
        plan_for(VethManager(), [item], state)


def test_veth_same_name_claimed_twice():
    with pytest.raises(ValidationError, match='veth-server in netns server is also named by'):
        plan_for(VethManager(), [STEP1, dict(STEP1, name='veth-c2')], fresh())


def test_veth_absent_from_peer_side_and_refuses_non_veth():
    state = fresh()
    state['client']['links']['veth-client'] = veth('veth-client', 'server', 'veth-server')
    state['server']['links']['veth-server'] = veth('veth-server', 'client', 'veth-client')
    plan, wants = plan_for(VethManager(), [{'name': 'veth-server', 'netns': 'server', 'state': 'absent'}], state)[:2]
    assert plan.actions == ['delete veth veth-server in netns server']
    assert plan.state['client']['links'].keys() == {'lo'}
    assert VethManager().describe(plan.state, wants[0]) == {'state': 'absent'}
    with pytest.raises(ValidationError, match='eth0 in the root namespace is a device, not a veth'):
        plan_for(VethManager(), [{'name': 'eth0', 'state': 'absent'}], fresh())


def test_bridge_step2_with_masquerade():
    state = {None: namespace(*HOST['links'].values(), routes=HOST['routes'])}
    state[None]['sysctls']['net.ipv4.ip_forward'] = '0'
    state[None]['firewall']['nat'] = ['-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE']
    item = {'name': 'bridge1', 'addresses': ['172.30.0.1/24'], 'forwarding': True, 'masquerade': True}
    plan, wants = plan_for(BridgeManager(), [item], state)[:2]
    assert plan.actions == [
        'create bridge bridge1 in the root namespace',
        'add address 172.30.0.1/24 to bridge1 in the root namespace',
        'set bridge1 up in the root namespace',
        'set net.ipv4.ip_forward=1 in the root namespace',
        'masquerade bridge1: remove 0 rule(s), add 1 rule(s) in the root namespace',
    ]
    # Rules that are not ours stay.
    assert plan.state[None]['firewall']['nat'] == [
        '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
        _iptables.masquerade_rule('172.30.0.0/24', 'bridge1')]
    assert BridgeManager().describe(plan.state, wants[0])['masquerade_rules'] == [
        _iptables.masquerade_rule('172.30.0.0/24', 'bridge1')]


def test_bridge_absent_removes_only_its_rules():
    ours = _iptables.masquerade_rule('172.30.0.0/24', 'bridge1')
    state = {None: namespace(link('bridge1', 'bridge', stp=False, addresses=['172.30.0.1/24']))}
    state[None]['firewall']['nat'] = [ours, _iptables.masquerade_rule('10.0.0.0/24', 'bridge2')]
    plan = plan_for(BridgeManager(), [{'name': 'bridge1', 'state': 'absent'}], state)[0]
    assert plan.actions == ['masquerade bridge1: remove 1 rule(s), add 0 rule(s) in the root namespace',
                            'delete bridge bridge1 in the root namespace']
    assert plan.state[None]['firewall']['nat'] == [_iptables.masquerade_rule('10.0.0.0/24', 'bridge2')]


def test_bridge_refuses_overlap_with_host_route_and_non_bridge():
    state = {None: namespace(*HOST['links'].values(), routes=HOST['routes'])}
    with pytest.raises(ValidationError, match=r'addresses\[0\]: 192.0.2.9/25 overlaps the route "192.0.2.0/24 dev eth0"'):
        plan_for(BridgeManager(), [{'name': 'br0', 'addresses': ['192.0.2.9/25']}], state)
    with pytest.raises(ValidationError, match='name: eth0 in the root namespace is a device, not a bridge'):
        plan_for(BridgeManager(), [{'name': 'eth0'}], state)


def test_bridge_ports_exclusive():
    state = {None: namespace(link('br0', 'bridge', stp=False), link('p1', master='br0'), link('p2'))}
    plan = plan_for(BridgeManager(), [{'name': 'br0', 'ports': ['p2'], 'ports_exclusive': True}], state)[0]
    assert plan.actions == ['set p2 master br0 in the root namespace', 'set p1 nomaster in the root namespace']


def test_netns_create_predicts_loopback_and_sysctls():
    plan, wants = plan_for(NetnsManager(), [{'name': 'client', 'sysctls': {'net.ipv4.ip_forward': 1}}],
                           {'client': namespace(exists=False)})[:2]
    assert plan.actions == ['create netns client', 'set lo up in netns client',
                            'set net.ipv4.ip_forward=1 in netns client']
    assert NetnsManager().describe(plan.state, wants[0]) == {
        'state': 'present', 'loopback_up': True, 'sysctls': {'net.ipv4.ip_forward': '1'}}


def test_netns_default_route_infers_device_and_replaces():
    ns = namespace(link('lo'), link('client1-veth', addresses=['172.30.0.11/24']),
                   routes=[route('default', 'client1-veth', via='172.30.0.254')])
    item = {'name': 'client1', 'routes': [{'dst': 'default', 'via': '172.30.0.1'}]}
    plan, wants = plan_for(NetnsManager(), [item], {'client1': ns})[:2]
    assert plan.actions == ['delete route default via 172.30.0.254 dev client1-veth in netns client1',
                            'add route default via 172.30.0.1 dev client1-veth in netns client1']
    assert NetnsManager().describe(plan.state, wants[0])['routes'] == ['default via 172.30.0.1 dev client1-veth']


def test_netns_route_gateway_unreachable():
    ns = namespace(link('lo'))
    item = {'name': 'client1', 'routes': [{'dst': 'default', 'via': '172.30.0.1'}]}
    with pytest.raises(ValidationError, match=r'routes\[0\].via: 172.30.0.1 is in no subnet of an interface in netns client1'):
        plan_for(NetnsManager(), [item], {'client1': ns})


@pytest.mark.parametrize('item, message', [
    ({'name': 'x', 'routes': [{'dst': '10.0.0.1/24', 'dev': 'eth0'}]}, r'routes\[0\].dst: 10.0.0.1/24 has host bits set'),
    ({'name': 'x', 'routes': [{'dst': 'default'}]}, r'routes\[0\]: a route needs via, dev or both'),
    ({'name': 'x', 'routes': [{'dst': 'default', 'via': '2001:db8::1'}]}, 'not of the same IP version'),
    ({'name': 'x', 'path': 'relative/file'}, 'path: relative/file is not an absolute path'),
    ({'name': 'x', 'pid': 0}, 'pid: must be a positive process ID'),
    ({'name': 'x', 'sysctls': {'kernel.hostname': 'x'}}, 'only net'),
])
def test_netns_parse_refuses(item, message):
    with pytest.raises(ValidationError, match=message):
        NetnsManager().parse(dict({'routes': None, 'sysctls': None, 'path': None, 'pid': None}, **item), '')


def test_netns_absent_drops_peers_in_other_namespaces():
    state = {'client': namespace(veth('veth-client', 'server', 'veth-server')),
             'server': namespace(veth('veth-server', 'client', 'veth-client'))}
    plan = plan_for(NetnsManager(), [{'name': 'client', 'state': 'absent'}], state)[0]
    assert plan.actions == ['delete netns client']
    assert plan.state['server']['links'] == {}


class FailingKernel:
    """Records calls; raises on the call named in ``fail_on``."""

    def __init__(self, fail_on):
        self.fail_on = fail_on
        self.calls = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name,) + args)
            if name == self.fail_on:
                raise OSError(13, 'Permission denied')
        return call


def test_execute_rolls_back_what_it_created():
    from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import KernelError
    item = dict(STEP1, peer=dict(STEP1['peer'], addresses=['2001:db8::1/64']))
    plan = plan_for(VethManager(), [item], fresh())[0]
    kernel = FailingKernel('add_address')
    with pytest.raises(KernelError, match=r'add address 10.0.0.11/24 to veth-client in netns client: .*Permission denied.*'
                                          r'rolled back: create veth veth-client'):
        plan.execute(kernel)
    assert kernel.calls == [('add_veth', 'client', 'veth-client', 'server', 'veth-server'),
                            ('add_address', 'client', 'veth-client', '10.0.0.11/24'),
                            ('delete_link', 'client', 'veth-client')]


def test_netns_ipv6_route_without_metric_is_kernel_default():
    route = NetnsManager().parse({'name': 'x', 'routes': [{'dst': 'default6', 'dev': 'eth0'}],
                                  'sysctls': None, 'path': None, 'pid': None}, '')['routes'][0]
    assert (route['family'], route['dst'], route['metric']) == (6, 'default6', 1024)


def test_address_errors_name_the_position_given():
    state = {None: namespace(*HOST['links'].values(), routes=HOST['routes'])}
    with pytest.raises(ValidationError, match=r'^addresses\[1\]: 192.0.2.9/24 overlaps'):
        plan_for(BridgeManager(), [{'name': 'br0', 'addresses': ['198.18.9.1/24', '192.0.2.9/24']}], state)


def test_unknown_peer_keys_are_named():
    with pytest.raises(ValidationError, match=r'^peer: unsupported key\(s\) colour; supported keys are addresses, master'):
        VethManager().parse({'name': 'a', 'peer': {'name': 'b', 'colour': 'red'}}, '')
