"""pause_pod workloads run as another user (workloads[].user): the spec resolved on
the target, refused before anything changes when unknown, the process started as
that user without preexec_fn, and a changed user restarting the workload."""
from __future__ import annotations

import contextlib
import grp
import os
import pwd
import threading

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _pod, _pod_docker, _user
from ansible_collections.packetlife.podnet.plugins.module_utils._module import Context
from ansible_collections.packetlife.podnet.plugins.module_utils._plan import Plan
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError

BASE = {'name': 'pt-pod', 'timeout': 30}
NOBODY = pwd.getpwnam('nobody')
as_root = pytest.mark.skipif(os.geteuid() != 0, reason='starts a process as another user')


def parse(workloads, prefix='', **item):
    return _pod.PodManager().parse(dict(BASE, workloads=workloads, **item), prefix)


def sleeper(**extra):
    return dict({'name': 'w', 'command': ['sleep', '30']}, **extra)


# input ------------------------------------------------------------------------

def test_a_user_by_name_or_number_gets_its_groups():
    by_name, by_uid = parse([sleeper(user='nobody'), sleeper(name='v', user=str(NOBODY.pw_uid))])['workloads']
    assert by_name['user'] == 'nobody' and by_uid['user'] == str(NOBODY.pw_uid)
    expected = {'name': 'nobody', 'uid': NOBODY.pw_uid, 'gid': NOBODY.pw_gid,
                'groups': sorted(set(os.getgrouplist('nobody', NOBODY.pw_gid))), 'home': NOBODY.pw_dir}
    assert by_name['account'] == expected and by_uid['account'] == expected
    assert _user.identity(by_name['account']) == _user.identity(by_uid['account'])


def test_a_group_given_is_the_only_group():
    workload = parse([sleeper(user='nobody:daemon')])['workloads'][0]
    daemon = grp.getgrnam('daemon').gr_gid
    assert (workload['account']['uid'], workload['account']['gid'], workload['account']['groups']) == (
        NOBODY.pw_uid, daemon, [daemon])
    # A UID the user database does not know is fine with a group of its own.
    stranger = parse([sleeper(user='4000123:4000123')])['workloads'][0]['account']
    assert stranger == {'name': None, 'uid': 4000123, 'gid': 4000123, 'groups': [4000123], 'home': '/'}


def test_workloads_without_a_user_are_as_before():
    workload = parse([sleeper()])['workloads'][0]
    assert workload['user'] is None and workload['account'] is None
    assert _user.popen_args(None) == {} and _user.identity(None) is None


@pytest.mark.parametrize('user, prefix, message', [
    ('pt-no-such-user', '', r"workloads\[0\]\.user: no user named 'pt-no-such-user' on the target"),
    ('pt-no-such-user', 'pods[3].', r"pods\[3\]\.workloads\[0\]\.user: no user named 'pt-no-such-user'"),
    ('nobody:pt-no-such-group', '', r"workloads\[0\]\.user: no group named 'pt-no-such-group' on the target"),
    ('4000123', '', r'workloads\[0\]\.user: UID 4000123 is not in the user database of the target, so it has no '
                    r'group: give one, as in 4000123:GID'),
    ('', '', r"workloads\[0\]\.user: '' is not a user: give NAME, UID, NAME:GROUP or UID:GID"),
    ('a:b:c', '', r"workloads\[0\]\.user: 'a:b:c' is not a user"),
    ('nobody:', '', r"workloads\[0\]\.user: 'nobody:' is not a user"),
    ('no body', '', r"workloads\[0\]\.user: 'no body' is not a user"),
    ('-1', '', r"workloads\[0\]\.user: '-1' is not a user"),
    ('4294967295', '', r'workloads\[0\]\.user: 4294967295 is not a valid user or group ID'),
])
def test_unknown_or_malformed_users_are_refused(user, prefix, message):
    with pytest.raises(ValidationError, match='^' + message):
        parse([sleeper(user=user)], prefix)


def test_the_second_workload_is_named():
    with pytest.raises(ValidationError, match=r"^pods\[1\]\.workloads\[1\]\.user: no user named 'pt-nope'"):
        parse([sleeper(user='nobody'), sleeper(name='v', user='pt-nope')], 'pods[1].')


@pytest.mark.parametrize('backend', ['native', 'auto'])
def test_python_3_8_is_refused_naming_the_field(monkeypatch, backend):
    monkeypatch.setattr(_user, 'SUPPORTED', False)
    with pytest.raises(ValidationError, match=r'^pods\[0\]\.workloads\[0\]\.user: running a workload as user '
                                              r'nobody needs Python 3\.9 or newer on the target'):
        parse([sleeper(user='nobody')], 'pods[0].', backend=backend)


def test_docker_leaves_the_user_to_the_container(monkeypatch):
    """The image's own /etc/passwd decides: no lookup here, not even on Python 3.8."""
    monkeypatch.setattr(_user, 'SUPPORTED', False)
    workload = parse([{'name': 'web', 'image': 'podnet/web', 'user': 'www-only-in-the-image:101'}],
                     backend='docker')['workloads'][0]
    assert workload['user'] == 'www-only-in-the-image:101' and workload['account'] is None
    with pytest.raises(ValidationError, match=r"^workloads\[0\]\.user: 'a b' is not a user"):
        parse([{'name': 'web', 'image': 'podnet/web', 'user': 'a b'}], backend='docker')


# planning -----------------------------------------------------------------------

def _healthy(workloads):
    return {'record': {'name': 'pt-pod'}, 'sandbox': 'running', 'cached': None, 'attached': True,
            'check_error': None, 'network': None, 'attachment': ('pt-pod', 'eth0'), 'backend': 'native',
            'docker_host': None, 'netns_left': True, 'workloads': workloads, 'pause': {'pid': 5, 'start': 1},
            'leftovers': [], 'foreign': {}}


def _running(argv, user=None):
    record = {'name': 'w', 'pid': 7, 'start': 1, 'argv': argv, 'log': '/x'}
    if user is not None:
        record['user'] = user
    return record


def _actions(workloads, running):
    want = _pod.PodManager().parse(dict(BASE, workloads=workloads), '')
    want.update(network=None, network_bytes=None, network_path=None)
    plan = Plan({'pt-pod': _healthy({'w': running})})
    _pod.PodManager().plan(plan, [want], Context(False))
    return plan.actions


RESTART = ['stop workload w of pod pt-pod', 'start workload w in pod pt-pod']


def test_a_changed_user_restarts_the_workload():
    nobody = _user.identity(_user.resolve('nobody', 'user'))
    daemon = _user.identity(_user.resolve('daemon', 'user'))
    argv = ['sleep', '30']
    assert _actions([sleeper(user='nobody')], _running(argv, nobody)) == []
    assert _actions([sleeper(user=str(NOBODY.pw_uid))], _running(argv, nobody)) == []  # the same account
    assert _actions([sleeper(user='daemon')], _running(argv, nobody)) == RESTART
    assert _actions([sleeper(user='nobody:daemon')], _running(argv, nobody)) == RESTART  # other groups
    assert _actions([sleeper()], _running(argv, nobody)) == RESTART
    assert _actions([sleeper(user='nobody')], _running(argv)) == RESTART
    assert _actions([sleeper()], _running(argv)) == []  # records made before workloads had users
    assert _actions([sleeper(user='daemon')], _running(argv, daemon)) == []


def test_the_docker_spec_label_carries_the_user_only_when_given():
    web = {'name': 'web', 'argv': None, 'image': 'podnet/web:latest', 'user': None}
    assert _pod_docker.spec_label(web) == '{"command": null, "image": "podnet/web:latest"}'
    assert _pod_docker.spec_label(dict(web, user='nobody')) != _pod_docker.spec_label(web)
    assert '"user": "nobody"' in _pod_docker.spec_label(dict(web, user='nobody'))


class _Client:
    host = 'unix:///pt'

    def __init__(self):
        self.created = []

    def create(self, name, config):
        self.created.append((name, config))
        return 'c1'

    def start(self, container):
        pass

    def container(self, container):
        return {'State': {'Running': True, 'Pid': 9}}


@pytest.mark.parametrize('user', [None, '101:101'])
def test_docker_workload_container_gets_the_user(monkeypatch, user):
    monkeypatch.setattr(_pod_docker, 'SETTLE_SECONDS', 0)
    client = _Client()
    want = _pod.PodManager().parse(dict(BASE, backend='docker', workloads=[
        {'name': 'web', 'image': 'podnet/web', 'user': user}]), '')
    backend = _pod_docker.DockerBackend(client)
    started = backend.start_workload(None, want, want['workloads'][0], {'pause': {'container': 'p1'}})
    config = client.created[0][1]
    assert started['container'] == 'c1'
    assert config.get('User') == user
    assert (user is None) == ('user' not in config['Labels'][_pod_docker._docker.LABEL_SPEC])


# starting -------------------------------------------------------------------------

class _Kernel:
    @contextlib.contextmanager
    def entered(self, name):
        yield


def _status(pid):
    with open('/proc/%d/status' % pid) as handle:
        return dict(line.split(':', 1) for line in handle.read().splitlines())


@as_root
@pytest.mark.parametrize('spec', ['nobody', 'nobody:daemon'])
def test_spawn_starts_the_process_as_the_user_from_a_thread(tmp_path, spec):
    """In a thread, as plan lanes do: Popen switches in the child, no preexec_fn."""
    account = _user.resolve(spec, 'user')
    log = tmp_path / 'w.log'
    started = {}
    thread = threading.Thread(target=lambda: started.update(_pod.spawn(
        _Kernel(), 'pt-pod', ['sh', '-c', 'echo "$HOME $USER"; exec sleep 30'], str(log), settle=0.2,
        account=account)))
    thread.start()
    thread.join()
    try:
        status = _status(started['pid'])
        uid, gid = account['uid'], account['gid']
        assert status['Uid'].split() == [str(uid)] * 4 and status['Gid'].split() == [str(gid)] * 4
        assert sorted(int(g) for g in status['Groups'].split()) == account['groups']
        assert log.read_text() == '%s nobody\n' % NOBODY.pw_dir
        info = os.stat(str(log))
        assert (info.st_uid, info.st_mode & 0o777) == (os.geteuid(), 0o600)  # the log stays the module's alone
    finally:
        _pod.stop(started)


@as_root
def test_a_workload_without_a_user_runs_as_the_module():
    started = _pod.spawn(_Kernel(), 'pt-pod', ['sleep', '30'], settle=0.05)
    try:
        assert _status(started['pid'])['Uid'].split()[0] == str(os.geteuid())
        assert 'user' not in started
    finally:
        _pod.stop(started)


@as_root
def test_start_workload_records_the_user(tmp_path, monkeypatch):
    monkeypatch.setattr(_pod, 'STATE_DIR', str(tmp_path))
    want = _pod.PodManager().parse(dict(BASE, workloads=[sleeper(user='nobody')]), '')
    os.makedirs(str(tmp_path / 'pt-pod'))
    started = _pod.NativeBackend.start_workload(_Kernel(), want, want['workloads'][0], {})
    try:
        assert started['user'] == _user.identity(want['workloads'][0]['account'])
        assert _pod.NativeBackend.current({}, want, started, want['workloads'][0])
        assert _status(started['pid'])['Uid'].split()[0] == str(NOBODY.pw_uid)
    finally:
        _pod.stop(started)
