"""pause_pod's input parsing and pod description: no processes, no kernel."""
from __future__ import annotations

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _pod
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
