"""pause_pod under faults: per-pod locks, a pause process its record lost, DEL
without a cached result, a plugin that hangs with a child, concurrent writers."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni, _pod
from ansible_collections.packetlife.podnet.plugins.module_utils._module import Context
from ansible_collections.packetlife.podnet.plugins.module_utils._plan import Plan
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError

NETWORK = {'cniVersion': '1.0.0', 'name': 'demo_br', 'plugins': [{'type': 'bridge', 'bridge': 'cni_net0'}]}


@pytest.fixture
def locks(tmp_path, monkeypatch):
    monkeypatch.setattr(_pod, 'LOCK_DIR', str(tmp_path / 'locks'))
    monkeypatch.setattr(_pod, 'STATE_DIR', str(tmp_path / 'pods'))
    registered = []
    monkeypatch.setattr(_pod.atexit, 'register', lambda func, *args: registered.append((func, args)))

    def release():
        for func, args in registered:
            func(*args)
        del registered[:]
    return tmp_path, release


def _wants(*names, container_id=None):
    manager = _pod.PodManager()
    return [manager.parse({'name': name, 'container_id': container_id}, 'pods[%d].' % i) for i, name in enumerate(names)]


def test_a_locked_pod_makes_the_next_task_wait_then_fail_naming_the_pod(locks):
    tmp_path, release = locks
    _pod.lock_pods(_wants('pt-a', 'pt-b'))
    assert sorted(os.listdir(tmp_path / 'locks')) == ['cid-pt-a', 'cid-pt-b', 'pod-pt-a', 'pod-pt-b']
    started = time.monotonic()
    with pytest.raises(ValidationError, match=r'^pods\[1\]\.name: another task has been working on pod pt-b for over '
                                              r'0\.3 seconds .*nothing was changed'):
        _pod.lock_pods(_wants('pt-c', 'pt-b'), wait=0.3)
    assert 0.3 <= time.monotonic() - started < 2
    release()
    # Neither pod has a record: every lock file goes, and the directory with them.
    assert not (tmp_path / 'locks').exists()


def test_one_container_id_is_locked_whatever_the_pod_name(locks):
    _pod.lock_pods(_wants('pt-a', container_id='shared'))
    with pytest.raises(ValidationError, match=r'pod pt-b .*cid-shared'):
        _pod.lock_pods(_wants('pt-b', container_id='shared'), wait=0.1)


def test_the_waiting_task_goes_on_when_the_first_one_ends(locks):
    tmp_path, release = locks
    (tmp_path / 'pods' / 'pt-a').mkdir(parents=True)  # pt-a exists: its lock file stays
    _pod.lock_pods(_wants('pt-a'))
    errors = []

    def second():
        try:
            _pod.lock_pods(_wants('pt-a'), wait=5)
        except ValidationError as exc:
            errors.append(exc)
    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.2)
    assert thread.is_alive()  # waits for the first task
    release()  # releases the first task's lock and, as the pod exists, keeps its file
    thread.join(5)
    assert not thread.is_alive() and errors == []
    assert (tmp_path / 'locks' / 'pod-pt-a').exists()


def test_a_pause_process_without_a_record_is_found_by_its_command_line(tmp_path, monkeypatch):
    program = tmp_path / 'pause.py'
    program.write_text(_pod.PAUSE_CODE)
    monkeypatch.setattr(_pod, 'PAUSE_PROGRAM', str(program))
    proc = subprocess.Popen([sys.executable, str(program), 'pt-orphan'])
    try:
        deadline = time.monotonic() + 5
        found = {}
        while 'pt-orphan' not in found and time.monotonic() < deadline:
            found = _pod.running_pauses()
        assert found['pt-orphan']['pid'] == proc.pid
        assert found['pt-orphan']['start'] == _pod.start_time(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert 'pt-orphan' not in _pod.running_pauses()


def _plan_teardown_without_cache(tmp_path, record_network):
    plugin = tmp_path / 'bridge'
    plugin.write_text('#!/bin/sh\nexit 1\n')  # never run: the steps are only planned
    plugin.chmod(0o755)
    manager = _pod.PodManager()
    want = manager.parse({'name': 'pt-pod', 'network': 'demo_br', 'cni_bin_dir': [str(tmp_path)]}, '')
    want.update(network=NETWORK, network_bytes=b'{}', network_path='/x', bridges=['cni_net0'])
    have = {'record': {'name': 'pt-pod', 'network': record_network}, 'sandbox': 'running', 'cached': None,
            'attached': False, 'check_error': None, 'network': record_network, 'attachment': ('pt-pod', 'eth0'),
            'backend': 'native', 'docker_host': None, 'netns_left': True, 'workloads': {}, 'pause': None,
            'leftovers': [], 'foreign': {}}
    plan = Plan({'pt-pod': have})
    manager.plan(plan, [want], Context(False))
    return plan.actions


def test_a_pod_that_lost_its_cached_result_is_deleted_with_the_current_config(tmp_path):
    # A run killed after ADD but before the cache write, or a truncated cache file:
    # DEL runs with the network's config as it is now, so host-local releases the address.
    assert _plan_teardown_without_cache(tmp_path, 'demo_br') == [
        'CNI DEL demo_br from pod pt-pod', 'delete netns pt-pod', 'forget pod pt-pod',
        'create sandbox pt-pod (netns and pause process)', 'CNI ADD demo_br to pod pt-pod as eth0']


def test_a_pod_never_attached_gets_no_del(tmp_path):
    assert _plan_teardown_without_cache(tmp_path, None)[0] == 'delete netns pt-pod'


HANGS = """#!/bin/sh
sleep 300 &
echo $! > "$PIDFILE"
wait
"""


def test_a_plugin_that_hangs_is_killed_with_what_it_started(tmp_path, monkeypatch):
    plugin = tmp_path / 'hangs'
    plugin.write_text(HANGS)
    plugin.chmod(0o755)
    pidfile = tmp_path / 'child.pid'
    monkeypatch.setenv('PIDFILE', str(pidfile))
    runtime = _cni.Runtime([str(tmp_path)], cache_dir=str(tmp_path / 'cache'), timeout=1)
    started = time.monotonic()
    with pytest.raises(_cni.CniError, match=r'hangs failed on ADD: did not answer within 1 seconds and was killed'):
        runtime.execute('hangs', 'ADD', {'cniVersion': '1.0.0'}, {})
    assert time.monotonic() - started < 4
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 2
    while _pod.start_time(child) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pod.start_time(child) is None  # the sleep its shell started went too


def test_writers_of_one_file_at_once_never_lose_a_rename(tmp_path):
    path = str(tmp_path / 'shared' / 'file')
    errors = []

    def write(text):
        try:
            for unused in range(200):
                _cni.write_atomic(path, text, 0o644)
        except OSError as exc:
            errors.append(exc)
    threads = [threading.Thread(target=write, args=(text,)) for text in ('a' * 1000, 'b' * 1000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open(path) as handle:
        assert handle.read() in ('a' * 1000, 'b' * 1000)
    assert os.listdir(os.path.dirname(path)) == ['file']
    assert os.stat(path).st_mode & 0o777 == 0o644


def test_what_a_killed_workload_left_in_its_session_is_found_and_stopped():
    # A shell standing for nginx's master, two sleeps for its workers, in a session of their own.
    leader = subprocess.Popen(['sh', '-c', 'sleep 300 & sleep 300 & wait'], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        record = {'pid': leader.pid, 'start': _pod.start_time(leader.pid)}
        while len(_pod._session_members(leader.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _pod.session_leftovers(record) == []  # the workload runs: nothing is left over
        leader.kill()
        leader.wait()
        workers = _pod.session_leftovers(record)
        assert len(workers) == 2 and leader.pid not in workers
        _pod.stop_session(leader.pid)
        assert _pod.session_leftovers(record) == []
        assert all(_pod.start_time(pid) is None for pid in workers)
    finally:
        for pid in _pod._session_members(leader.pid):
            os.kill(pid, 9)
        if leader.poll() is None:
            leader.kill()
            leader.wait()


def test_a_session_whose_number_a_live_process_holds_is_left_alone():
    me = {'pid': os.getpid(), 'start': 0}  # "dead" by its start time, but the number is taken
    assert _pod.session_leftovers(me) == []


@pytest.mark.parametrize('item, message', [
    ({'name': 'a b'}, r"^name: 'a b' is not a valid CNI container ID, which the name is unless container_id is given"),
    ({'name': 'ok', 'container_id': 'a b'}, r"^container_id: 'a b' is not a valid CNI container ID$"),
    ({'name': 'p' * 252}, r'^name: is longer than 251 bytes$'),
    ({'name': 'ok', 'container_id': 'c' * 252}, r'^container_id: is longer than 251 bytes$'),
])
def test_names_that_would_not_make_lock_files_or_container_ids(item, message):
    with pytest.raises(ValidationError, match=message):
        _pod.PodManager().parse(item, '')


def test_a_workload_program_that_is_not_on_the_target_is_refused_while_planning(tmp_path):
    manager = _pod.PodManager()
    want = manager.parse({'name': 'pt-pod', 'workloads': [{'name': 'w', 'command': 'x; touch /tmp/pwn'}]}, '')
    want.update(network=None, network_bytes=None, network_path=None)
    have = {'record': {}, 'sandbox': 'missing', 'cached': None, 'attached': False, 'check_error': None,
            'network': None, 'attachment': ('pt-pod', 'eth0'), 'backend': 'native', 'docker_host': None,
            'netns_left': False, 'workloads': {}, 'pause': None, 'leftovers': [], 'foreign': {}}
    with pytest.raises(ValidationError, match=r"^workloads\[0\]\.command: program 'x;' is not an executable file on "
                                              r"the target, nor found on its PATH \(a command is not run by a shell\)"):
        manager.plan(Plan({'pt-pod': dict(have)}), [want], Context(False))
    # In check mode an earlier task may still install it: a warning.
    context = Context(True)
    manager.plan(Plan({'pt-pod': dict(have)}), [want], context)
    assert context.warnings and 'assumed to be created by an earlier task' in context.warnings[0]


def test_an_interrupted_netlink_dump_is_read_again():
    from ansible_collections.packetlife.podnet.plugins.module_utils import _netlink
    calls = []

    def read():
        calls.append(1)
        if len(calls) < 3:
            raise _netlink.NetlinkDumpInterrupted()
        return 'links'
    assert _netlink.redumped(read) == 'links' and len(calls) == 3
    del calls[:]

    def always():
        calls.append(1)
        raise _netlink.NetlinkDumpInterrupted()
    with pytest.raises(_netlink.NetlinkDumpInterrupted):
        _netlink.redumped(always)
    assert len(calls) == _netlink.DUMP_TRIES
