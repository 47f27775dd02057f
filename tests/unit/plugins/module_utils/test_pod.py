"""pause_pod's input parsing and pod description: no processes, no kernel."""
from __future__ import annotations

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _pod
from ansible_collections.packetlife.podnet.plugins.module_utils._module import Context
from ansible_collections.packetlife.podnet.plugins.module_utils._plan import Plan
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError

BASE = {'name': 'pause_demo', 'network': 'demo_br', 'ifname': 'eth10', 'timeout': 30}


def test_parse_defaults_and_workload_forms():
    want = _pod.PodManager().parse(dict(BASE, workloads=[
        {'name': 'web', 'command': ['nginx', '-g', 'daemon off;']},
        {'name': 'echo', 'command': "sh -c 'echo hi; sleep 9'"},
    ]), '')
    assert want['container_id'] == 'pause_demo' and want['ifname'] == 'eth10'
    assert want['bin_dirs'] == ['/opt/cni/bin'] and want['conf_dir'] == '/etc/cni/net.d'
    assert [w['argv'] for w in want['workloads']] == [['nginx', '-g', 'daemon off;'], ['sh', '-c', 'echo hi; sleep 9']]


@pytest.mark.parametrize('item, message', [
    ({'container_id': 'bad/id'}, "container_id: 'bad/id' is not a valid CNI container ID"),
    ({'config': '/etc/cni/net.d/x.conf'}, 'network: network and config are mutually exclusive'),
    ({'ifname': 'a-very-long-ifname'}, 'ifname: interface name .* is longer than 15 bytes'),
    ({'name': 'a/b'}, "name: network namespace name 'a/b' must not contain '/'"),
    ({'workloads': [{'name': 'w', 'command': []}]}, r'workloads\[0\].command: is empty'),
    ({'workloads': [{'name': 'w', 'command': 'x'}, {'name': 'w', 'command': 'y'}]},
     r'workloads\[1\].name: .w. is used twice'),
    ({'workloads': [{'name': 'w'}]}, r'workloads\[0\]: missing required arguments: command'),
    ({'timeout': 0}, 'timeout: must be positive'),
])
def test_parse_refuses(item, message):
    with pytest.raises(ValidationError, match='^' + message):
        _pod.PodManager().parse(dict(BASE, **item), '')


def test_describe_absent_and_present():
    manager = _pod.PodManager()
    want = manager.parse(dict(BASE), '')
    gone = {'record': {}, 'sandbox': 'missing', 'cached': None, 'attached': False, 'workloads': {}, 'network': None,
            'backend': 'native', 'docker_host': None, 'pause': None}
    assert manager.describe({'pause_demo': gone}, want) == {'state': 'absent'}
    live = dict(gone, sandbox='running', attached=True, network='demo_br', workloads={'web': {'name': 'web', 'pid': 7}},
                record={'pause': {'pid': 5, 'start': 1}}, pause={'pid': 5, 'start': 1})
    assert manager.describe({'pause_demo': live}, want) == {
        'state': 'present', 'backend': 'native', 'sandbox': 'running', 'attached': True, 'network': 'demo_br',
        'workloads': ['web']}
    full = manager.describe({'pause_demo': live}, want, full=True)
    assert full['pause_pid'] == 5 and full['workload_pids'] == {'web': 7} and full['ips'] == []
    assert full['netns'] == '/run/netns/pause_demo' and full['backend'] == 'native'
    assert 'pause_container' not in full and 'docker_host' not in full


def test_start_time_of_missing_process():
    assert _pod.start_time(2 ** 22 + 1) is None
    assert not _pod.alive({'pid': 2 ** 22 + 1, 'start': 1})


# the bridge port limit ------------------------------------------------------------

NETWORK = {'cniVersion': '1.0.0', 'name': 'demo_br', 'plugins': [{'type': 'bridge', 'bridge': 'cni_net0'}]}


def _bridge_bin(tmp_path):
    plugin = tmp_path / 'bridge'
    plugin.write_text('#!/bin/sh\nexit 1\n')  # never run: the steps are only planned
    plugin.chmod(0o755)
    return [str(tmp_path)]


def _new_pods(count, bin_dirs, network=None):
    network = network or NETWORK
    manager = _pod.PodManager()
    wants = []
    for i in range(count):
        want = manager.parse(dict(BASE, name='pt-pod-%d' % i, cni_bin_dir=bin_dirs), 'pods[%d].' % i)
        want.update(network=network, network_bytes=b'{}', network_path='/x', bridges=_pod.bridges_of(network))
        wants.append(want)
    return manager, wants


def _missing(want):
    return {'record': {}, 'sandbox': 'missing', 'cached': None, 'attached': False, 'check_error': None,
            'network': None, 'attachment': (want['name'], 'eth10'), 'backend': 'native', 'docker_host': None,
            'netns_left': False, 'workloads': {}, 'pause': None, 'leftovers': [], 'foreign': {}}


def _plan(manager, wants, haves, ports):
    counted = []

    def ports_before(bridge):
        counted.append(bridge)
        return ports.get(bridge, 0)
    manager._ports_before = ports_before
    plan = Plan(dict((want['name'], have) for want, have in zip(wants, haves)))
    manager.plan(plan, wants, Context(False))
    return plan, counted


def test_bridges_of_a_network():
    assert _pod.bridges_of(NETWORK) == ['cni_net0']
    assert _pod.bridges_of({'plugins': [{'type': 'bridge'}, {'type': 'portmap'}]}) == ['cni0']
    assert _pod.bridges_of({'plugins': [{'type': 'ptp'}]}) == []


def test_pods_that_would_overfill_a_bridge_fail_before_any_change(tmp_path):
    manager, wants = _new_pods(24, _bridge_bin(tmp_path))
    with pytest.raises(ValidationError, match=(
            r'^pods\[23\]\.network: pod pt-pod-23 would be port 1024 of bridge cni_net0 \(network demo_br\), but a '
            r'Linux bridge holds at most 1023 ports: it has 1000 and this task would add 24\. Nothing was changed')):
        _plan(manager, wants, [_missing(want) for want in wants], {'cni_net0': 1000})


def test_pods_up_to_the_limit_pass_and_the_bridge_is_counted_once(tmp_path):
    manager, wants = _new_pods(23, _bridge_bin(tmp_path))
    plan, counted = _plan(manager, wants, [_missing(want) for want in wants], {'cni_net0': 1000})
    assert len(plan.actions) == 46 and counted == ['cni_net0'] * 23
    assert plan.actions[-1] == 'CNI ADD demo_br to pod pt-pod-22 as eth10'


def test_healthy_and_repaired_pods_take_no_new_port(tmp_path):
    bin_dirs = _bridge_bin(tmp_path)
    cached = {'network': NETWORK, 'config_bytes': b'{}', 'result': {}}

    def pods():
        manager, wants = _new_pods(3, bin_dirs)
        healthy = dict(_missing(wants[0]), record={'name': 'pt-pod-0'}, sandbox='running', attached=True,
                       cached=cached, network='demo_br', netns_left=True)
        # Its pause process died: DEL gives its port back before ADD takes one.
        broken = dict(_missing(wants[1]), record={'name': 'pt-pod-1'}, sandbox='broken', cached=cached,
                      network='demo_br', netns_left=True)
        return manager, wants, [healthy, broken, _missing(wants[2])]

    plan, counted = _plan(*pods(), {'cni_net0': 1022})
    assert 'CNI DEL demo_br from pod pt-pod-1' in plan.actions
    assert plan.actions[-1] == 'CNI ADD demo_br to pod pt-pod-2 as eth10' and counted == ['cni_net0']
    manager, wants, haves = pods()
    haves[1] = _missing(wants[1])  # gone with its namespace, and its port with it
    with pytest.raises(ValidationError, match=r'^pods\[2\]\.network: pod pt-pod-2 would be port 1024 of bridge cni_net0 '
                                              r'.* it has 1022 and this task would add 2\.'):
        _plan(manager, wants, haves, {'cni_net0': 1022})


def test_the_default_bridge_and_networks_without_one(tmp_path):
    unnamed = {'cniVersion': '1.0.0', 'name': 'demo_br', 'plugins': [{'type': 'bridge'}]}
    manager, wants = _new_pods(2, _bridge_bin(tmp_path), network=unnamed)
    plan, counted = _plan(manager, wants, [_missing(want) for want in wants], {'cni0': 1021})
    assert counted == ['cni0', 'cni0'] and len(plan.actions) == 4
    ptp = {'cniVersion': '1.0.0', 'name': 'demo_br', 'plugins': [{'type': 'ptp'}]}
    manager, wants = _new_pods(2, _bridge_bin(tmp_path), network=ptp)
    assert _plan(manager, wants, [_missing(want) for want in wants], {})[1] == []
