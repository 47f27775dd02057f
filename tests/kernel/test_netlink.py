"""The kernel adapter against the real kernel, inside scratch namespaces only."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _iptables
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import Kernel, netns_path

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='needs root to create namespaces')
HOME_INODE = os.stat('/proc/thread-self/ns/net').st_ino


def test_create_read_and_delete(kernel, names):
    a = names[0]
    assert kernel.netns_source(a) is None
    kernel.create_netns(a)
    source = kernel.netns_source(a)
    assert source['symlink'] is None and source['inode'] > 0
    state = kernel.read([a])
    assert state[a]['exists'] and list(state[a]['links']) == ['lo']
    assert state[a]['links']['lo']['up'] is False
    kernel.set_link(a, 'lo', up=True)
    kernel.close()
    fresh = Kernel()
    try:
        lo = fresh.read([a])[a]['links']['lo']
        assert lo['up'] is True and lo['addresses'] == ['127.0.0.1/8', '::1/128']
        fresh.delete_netns(a)
    finally:
        fresh.close()
    assert not os.path.lexists(netns_path(a))


def test_veth_across_namespaces_peers_resolved(kernel, names):
    a, b = names
    kernel.create_netns(a)
    kernel.create_netns(b)
    kernel.add_veth(a, 'va', b, 'vb')
    kernel.add_address(a, 'va', '10.0.0.11/24')
    kernel.set_link(a, 'va', up=True, mtu=1400)
    state = kernel.read([None, a, b])
    va, vb = state[a]['links']['va'], state[b]['links']['vb']
    assert va['kind'] == 'veth' and va['mtu'] == 1400 and va['up'] is True
    assert va['addresses'] == ['10.0.0.11/24']
    assert va['peer'] == {'netns': b, 'name': 'vb'}
    assert vb['peer'] == {'netns': a, 'name': 'va'}
    routes = state[a]['routes']
    assert [r['dst'] for r in routes] == ['10.0.0.0/24'] and routes[0]['kernel'] is True
    # A peer in a namespace that was not read stays unknown, never guessed.
    assert kernel.read([a])[a]['links']['va']['peer'] == {'netns': '?', 'name': None}


def test_move_bridge_route_sysctl(kernel, names):
    a, b = names
    kernel.create_netns(a)
    kernel.create_netns(b)
    kernel.add_veth(a, 'va', a, 'vb')
    kernel.move_link(a, 'vb', b)
    kernel.add_bridge(a, 'br0')
    kernel.set_link(a, 'br0', stp=True, up=True)
    kernel.set_link(a, 'va', master='br0', up=True)
    kernel.add_address(a, 'br0', '172.30.0.1/24')
    route = {'family': 4, 'dst': '10.9.0.0/24', 'via': '172.30.0.5', 'dev': None, 'metric': 50}
    kernel.add_route(a, route)
    kernel.write_sysctl(a, 'net.ipv4.ip_forward', '1')
    state = kernel.read([a, b])
    assert 'vb' in state[b]['links'] and 'vb' not in state[a]['links']
    assert state[a]['links']['va']['peer'] == {'netns': b, 'name': 'vb'}
    assert state[a]['links']['br0']['stp'] is True
    assert state[a]['links']['va']['master'] == 'br0'
    assert {'family': 4, 'dst': '10.9.0.0/24', 'via': '172.30.0.5', 'dev': 'br0', 'metric': 50,
            'kernel': False} in state[a]['routes']
    assert kernel.read_sysctl(a, 'net.ipv4.ip_forward') == '1'
    kernel.delete_route(a, route)
    kernel.set_link(a, 'va', master='')
    state = kernel.read([a])
    assert state[a]['links']['va']['master'] is None
    assert all(r['dst'] != '10.9.0.0/24' for r in state[a]['routes'])
    # Every switch into a namespace came back home.
    assert os.stat('/proc/thread-self/ns/net').st_ino == HOME_INODE


def test_adopt_by_path_and_pid(kernel, names):
    a, b = names
    kernel.create_netns(a)
    kernel.link_netns(b, netns_path(a))
    assert kernel.netns_source(b) == {'inode': kernel.netns_source(a)['inode'], 'symlink': netns_path(a)}
    kernel.delete_netns(b)
    assert not os.path.lexists(netns_path(b)) and kernel.netns_source(a) is not None
    proc = subprocess.Popen(['ip', 'netns', 'exec', a, 'sleep', '30'])
    try:
        pid_ns = '/proc/%d/ns/net' % proc.pid
        deadline = time.monotonic() + 5
        while kernel.namespace_inode(pid_ns) != kernel.netns_source(a)['inode']:
            assert time.monotonic() < deadline, 'ip netns exec did not enter the namespace'
            time.sleep(0.02)
        kernel.attach_netns(b, proc.pid)
        assert kernel.netns_source(b)['inode'] == kernel.netns_source(a)['inode']
        assert kernel.netns_source(b)['symlink'] is None
    finally:
        proc.kill()
        proc.wait()


def test_iptables_batch_in_namespace(kernel, names):
    a = names[0]
    kernel.create_netns(a)
    rule = _iptables.masquerade_rule('172.30.0.0/24', 'br0')
    _iptables.apply(kernel, a, 'nat', [], [rule])
    assert _iptables.read_rules(kernel, a, 'nat') == [rule]
    assert rule not in _iptables.read_rules(kernel, None, 'nat')
    _iptables.apply(kernel, a, 'nat', [rule], [])
    assert _iptables.read_rules(kernel, a, 'nat') == []


def test_entered_nests(kernel, names):
    a, b = names
    kernel.create_netns(a)
    kernel.create_netns(b)
    inode = {name: kernel.netns_source(name)['inode'] for name in names}
    with kernel.entered(a):
        assert _thread_netns() == inode[a]
        kernel.read([b])  # opens a socket inside b on the way
        assert _thread_netns() == inode[a]
        with kernel.entered(None):
            assert _thread_netns() == HOME_INODE
        assert _thread_netns() == inode[a]
    assert _thread_netns() == HOME_INODE


def test_create_with_loopback_up_addresses_and_bridge_ports(kernel, names):
    a, b = names
    kernel.create_netns(a, loopback_up=True)
    kernel.create_netns(b)
    assert _thread_netns() == HOME_INODE
    assert kernel.read([a, b])[a]['links']['lo']['up'] is True
    assert kernel.link_addresses(a, 'lo') == ['127.0.0.1/8', '::1/128']
    assert kernel.link_addresses(b, 'lo') == [] and kernel.link_addresses(a, 'eth9') is None
    with pytest.raises(FileExistsError):
        kernel.create_netns(a)  # a live namespace is never replaced
    assert kernel.netns_source(a) is not None
    # A bridge with two ports, and a third interface that is not one of them.
    kernel.add_bridge(a, 'br0')
    for port in ('p1', 'p2'):
        kernel.add_veth(a, port, b, port + 'x')
        kernel.set_link(a, port, master='br0')
    kernel.add_veth(a, 'p3', b, 'p3x')
    kernel.add_address(a, 'p3', '172.30.0.1/24')
    assert kernel.bridge_ports(a, 'br0') == 2 and kernel.bridge_ports(a, 'nobr') is None
    assert kernel.link_addresses(a, 'p3') == ['172.30.0.1/24']
    kernel.release(a)
    assert a not in kernel._sockets
    assert kernel.bridge_ports(a, 'br0') == 2  # opened again on demand


def _thread_netns() -> int:
    return os.stat('/proc/thread-self/ns/net').st_ino
