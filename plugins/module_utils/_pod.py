# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The manager behind packetlife.podnet.pause_pod: a pod sandbox (a network
namespace held by a pause process), attached to a CNI network, with workloads
sharing its network namespace.

PRIVATE: this module is internal to the collection and may change without notice.

A pod's own record lives in /run/podnet/pods/NAME/state.json (gone after a
reboot, like /run/netns); the CNI result lives in libcni's cache. A pod is
healthy when its pause process runs in the namespace named /run/netns/NAME and
the CNI attachment is in place (CHECK from CNI 0.4.0 on; before that, the
interface with the cached addresses). Anything else is repaired: DEL from the
cached result, a fresh sandbox, ADD.

How the sandbox and the workloads are made is the backend's business, one small
strategy object each: NativeBackend here (a namespace of our own, the pause
program, workload processes) and DockerBackend in _pod_docker (a pause container
whose SandboxKey /run/netns/NAME links to, workload containers joining it). The
CNI work, the record, the plan, check mode and the diff are the same for both.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time

from ansible.module_utils.basic import env_fallback

from ansible_collections.packetlife.podnet.plugins.module_utils import (
    _cni, _cni_config, _docker, _iptables, _user, _validate)
from ansible_collections.packetlife.podnet.plugins.module_utils._module import validate_element
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import BRIDGE_MAX_PORTS, netns_path
from ansible_collections.packetlife.podnet.plugins.module_utils._pod_docker import (
    DEFAULT_PAUSE_IMAGE, DockerBackend, pause_name, workload_name)

STATE_DIR = '/run/podnet/pods'
# One lock file per pod name and per container ID (see lock_pods).
LOCK_DIR = '/run/podnet/locks'
# Seconds a task waits for another task to finish with a pod.
LOCK_WAIT = 600
# Longest pod name or container ID in bytes: a file name (255) less the lock file's prefix.
NAME_MAX = 251
PAUSE_PROGRAM = '/run/podnet/pause.py'
# A workload still running this long after its start counts as started.
SETTLE_SECONDS = 0.2
# The processes spawn() started in this run (see there).
_DETACHED = []
_PAUSE_LOCK = threading.Lock()

# The pause process: sleeps, reaps whatever it inherits, leaves on SIGTERM/SIGINT.
# One per pod, so it starts light (the C signal module spares signal.py's enum and
# functools imports, a third of its start-up) and leaves at once (os._exit, no
# interpreter shutdown), which is what stop() waits for.
PAUSE_CODE = '''# podnet pause: holds a pod's network namespace (written by packetlife.podnet.pause_pod)
import os
try:
    import _signal as signal
except ImportError:
    import signal
def reap(*_):
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
signal.signal(signal.SIGCHLD, reap)
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
signal.signal(signal.SIGINT, lambda *_: os._exit(0))
while True:
    signal.pause()
'''

WORKLOAD_SPEC = dict(
    name=dict(type='str', required=True),
    command=dict(type='raw'),
    image=dict(type='str'),
    user=dict(type='str'),
)

BACKENDS = ('native', 'docker', 'auto')

ITEM_SPEC = dict(
    name=dict(type='str'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    backend=dict(type='str', choices=list(BACKENDS), default='native'),
    network=dict(type='str'),
    config=dict(type='path'),
    conf_dir=dict(type='path', default='/etc/cni/net.d'),
    cni_bin_dir=dict(type='list', elements='path', default=['/opt/cni/bin']),
    ifname=dict(type='str', default='eth0'),
    container_id=dict(type='str'),
    cni_args=dict(type='dict'),
    capability_args=dict(type='dict'),
    workloads=dict(type='list', elements='dict'),
    timeout=dict(type='int', default=30),
    pause_image=dict(type='str'),
    docker_host=dict(type='str', default=_docker.DEFAULT_HOST, fallback=(env_fallback, ['DOCKER_HOST'])),
)


# processes ------------------------------------------------------------------

def _pids():
    """The numbers of the processes /proc lists now."""
    return [int(entry) for entry in os.listdir('/proc') if entry.isdigit()]


def _live_stat(pid: int):
    """The fields of /proc/PID/stat after the command name (state, ppid, pgrp,
    session, ...), or None if the process is gone, a zombie, or being reaped (X,
    between zombie and gone)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ('Z', 'X', 'x') else fields


def start_time(pid: int):
    """The process's start time in clock ticks (field 22 of /proc/PID/stat), or
    None if it is not a live process: PID and start time identify a process."""
    fields = _live_stat(pid)
    return None if fields is None else int(fields[19])


def alive(proc) -> bool:
    return bool(proc) and start_time(proc['pid']) == proc['start']


def spawn(kernel, netns: str, argv, log_path=None, settle: float = SETTLE_SECONDS, account=None) -> dict:
    """Start ARGV detached inside NETNS: own session, no inherited descriptors,
    standard streams on /dev/null or LOG_PATH (so an SSH channel never waits on it).
    With ACCOUNT (from _user.resolve) as that user, its groups only: Popen switches
    in the child between fork and exec, never with preexec_fn (we run in threads)."""
    # The log is root's alone (0600 whatever the umask), also when the workload is not.
    out = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600) if log_path \
        else subprocess.DEVNULL
    try:
        with kernel.entered(netns):
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd='/',
                                    close_fds=True, start_new_session=True, **_user.popen_args(account))
    finally:
        if log_path:
            os.close(out)
    # A Popen object collected while its child runs joins subprocess's list of
    # children to reap, which every later Popen polls one by one: keeping it makes
    # starting N pods in one task O(N), not O(N**2) waitpid calls.
    _DETACHED.append(proc)
    if settle:
        time.sleep(settle)
    started = start_time(proc.pid)
    if proc.poll() is not None or started is None:
        raise OSError('%s exited at once with status %s%s' % (argv[0], proc.poll(), _log_tail(log_path)))
    return {'pid': proc.pid, 'start': started, 'argv': list(argv)}


def _log_tail(log_path) -> str:
    if not log_path:
        return ''
    try:
        with open(log_path, 'rb') as handle:
            lines = handle.read().decode('utf-8', 'replace').strip().splitlines()[-5:]
    except OSError:
        return ''
    return '; its log %s ends with: %s' % (log_path, ' | '.join(lines)) if lines else ''


def pause_argv(name: str):
    """The pause process's command line, writing its program first if needed (once,
    while pods are made side by side)."""
    with _PAUSE_LOCK:
        try:
            with open(PAUSE_PROGRAM) as handle:
                current = handle.read()
        except OSError:
            current = None
        if current != PAUSE_CODE:
            _cni.write_atomic(PAUSE_PROGRAM, PAUSE_CODE, 0o644)
    return [sys.executable, PAUSE_PROGRAM, name]


def stop(proc, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after TIMEOUT; only the very process recorded."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        if not alive(proc):
            return
        try:
            os.kill(proc['pid'], sig)
        except ProcessLookupError:
            return  # it ended and was reaped since the look just now
        deadline = time.monotonic() + wait
        # From 1 ms up to 50 ms: the pause program leaves within a few milliseconds.
        pause = 0.001
        while alive(proc) and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
    if alive(proc):
        raise OSError('process %d did not stop' % proc['pid'])


def running_pauses() -> dict:
    """Every pause process on the node by pod name, found by its command line
    (INTERPRETER PAUSE_PROGRAM NAME): one look at /proc."""
    found = {}
    program = PAUSE_PROGRAM.encode()
    for pid in _pids():
        try:
            with open('/proc/%d/cmdline' % pid, 'rb') as handle:
                argv = handle.read().split(b'\0')
        except OSError:
            continue
        if len(argv) == 4 and argv[1] == program and argv[3] == b'':
            started = start_time(pid)
            if started is not None:
                name = argv[2].decode('utf-8', 'replace')
                found[name] = {'pid': pid, 'start': started,
                               'argv': [part.decode('utf-8', 'replace') for part in argv[:3]]}
    return found


def session_leftovers(leader: dict) -> list:
    """The processes still in the session of a workload that died (a workload runs
    in a session of its own): nginx's workers after its master was killed, which
    would keep its port from the workload started next. Empty while a process
    (LEADER, or a new one given its number) runs with the session's number: the
    kernel gives no new process the number of a session that still has members,
    so the members found are the dead workload's."""
    pid = leader.get('pid')
    if not pid or start_time(pid) is not None:
        return []
    return _session_members(pid)


def _session_members(session: int) -> list:
    """The live processes of SESSION (the 4th field of _live_stat)."""
    members = []
    for pid in _pids():
        fields = _live_stat(pid)
        if fields is not None and int(fields[3]) == session:
            members.append(pid)
    return sorted(members)


def stop_session(session: int, timeout: float = 5.0) -> None:
    """SIGKILL every process left in SESSION (see session_leftovers) and wait until
    they are gone."""
    deadline = time.monotonic() + timeout
    while True:
        pids = session_leftovers({'pid': session})
        if not pids:
            return
        if time.monotonic() > deadline:
            raise OSError('processes %s of session %d did not stop' % (pids, session))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


# locks ----------------------------------------------------------------------

def lock_path(kind: str, value: str) -> str:
    return os.path.join(LOCK_DIR, '%s-%s' % (kind, value))


def lock_pods(wants, wait: float = LOCK_WAIT) -> None:
    """Lock every pod of the task by name and by container ID, in one sorted order
    (so that two tasks never wait for each other), until the module exits: two
    tasks never work on one pod or one attachment at the same time; the later one
    waits, then reads what the first one made. A lock file whose pod is gone at
    exit is removed (while locked, and a waiter that finds its file removed takes
    the new one), so nothing of an absent pod stays behind."""
    keys = {}
    for want in wants:
        keys[lock_path('pod', want['name'])] = want
        keys[lock_path('cid', want['container_id'])] = want
    _raise_file_limit(len(keys) + 256)
    held = []
    atexit.register(_unlock, held)
    deadline = time.monotonic() + wait
    for path in sorted(keys):
        held.append((path, keys[path]['name'], _lock_file(path, deadline, keys[path], wait)))


def _lock_file(path: str, deadline: float, want: dict, wait: float) -> int:
    pause = 0.01
    while True:
        os.makedirs(LOCK_DIR, mode=0o700, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:  # the directory went with the last pod of another task
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() > deadline:
                raise _validate.ValidationError(want['field'] + 'name', 'another task has been working on pod %s '
                                                'for over %g seconds (it holds %s); nothing was changed'
                                                % (want['name'], wait, path))
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
            continue
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # removed by the task that had it: lock the new file


def _unlock(held) -> None:
    for path, name, fd in held:
        if not os.path.exists(os.path.dirname(record_path(name))):
            try:
                os.unlink(path)
            except OSError:
                pass
        os.close(fd)
    del held[:]
    for directory in (LOCK_DIR, os.path.dirname(LOCK_DIR)):
        try:
            os.rmdir(directory)  # only when empty: the node has no pod (a check run made it)
        except OSError:
            break


def _raise_file_limit(needed: int) -> None:
    """A task of many pods holds two lock files each: raise the soft limit on open
    files towards the hard one when the default (often 1024) is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY:
            needed = min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        except (ValueError, OSError):
            pass


# records --------------------------------------------------------------------

def record_path(name: str) -> str:
    return os.path.join(STATE_DIR, name, 'state.json')


def load_record(name: str):
    try:
        with open(record_path(name)) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def save_record(record: dict) -> None:
    _cni.write_atomic(record_path(record['name']), json.dumps(record))


class NativeBackend:
    """The sandbox is a namespace of our own held by the pause program; workloads are
    processes started inside it."""

    name = 'native'

    @staticmethod
    def read(kernel, want: dict, record: dict) -> dict:
        name = want['name']
        source = kernel.netns_source(name)
        pause = record.get('pause')
        sandbox = 'missing'
        if source is not None or alive(pause):
            sandbox = 'running' if alive(pause) and kernel.namespace_inode('/proc/%d/ns/net' % pause['pid']) == (
                source or {}).get('inode') else 'broken'
        workloads = dict((w['name'], w) for w in (record.get('workloads') or []) if alive(w))
        dead = [w for w in (record.get('workloads') or []) if w['name'] not in workloads]
        leftovers = []
        for workload in dead:
            pids = session_leftovers(workload)
            if pids:
                leftovers.append({'name': workload['name'], 'session': workload['pid'], 'pids': pids})
        return {'sandbox': sandbox, 'pause': pause, 'workloads': workloads, 'leftovers': leftovers, 'foreign': {},
                'netns_left': sandbox != 'missing'}

    @staticmethod
    def current(have: dict, want: dict, running: dict, wanted: dict) -> bool:
        """Same command, same user (uid, gid, groups; none on records of workloads without one)."""
        return running['argv'] == wanted['argv'] and running.get('user') == _user.identity(wanted.get('account'))

    @staticmethod
    def check_create(context, want: dict, have: dict, workload=None) -> None:
        """A workload's program must be on the target, found while planning, before
        the sandbox and the ADD are made (in check mode, an earlier task may still
        install it). The pause program is the module's own."""
        if workload is not None and shutil.which(workload['argv'][0]) is None:
            context.missing(workload['field'] + '.command', 'program %r is not an executable file on the target, nor '
                            'found on its PATH (a command is not run by a shell)' % workload['argv'][0])

    @staticmethod
    def sandbox_text(want: dict) -> str:
        return 'create sandbox %s (netns and pause process)' % want['name']

    @staticmethod
    def start_text(want: dict, workload: dict) -> str:
        return 'start workload %s in pod %s' % (workload['name'], want['name'])

    @staticmethod
    def plan_stop_workloads(plan, name: str, have: dict, which=None) -> None:
        """Steps that stop the running workloads (all, or those named in WHICH) and
        whatever workloads that died left behind."""
        for leftover in have['leftovers']:
            plan.call('stop what workload %s of pod %s left running (%s)'
                      % (leftover['name'], name, ', '.join('pid %d' % pid for pid in leftover['pids'])),
                      lambda kernel, leftover=leftover: stop_session(leftover['session']))
        have['leftovers'] = []
        for workload in list(have['workloads']) if which is None else which:
            plan.call('stop workload %s of pod %s' % (workload, name), _stopper(have['workloads'].pop(workload)))

    @staticmethod
    def plan_pause_teardown(plan, name: str, have: dict) -> None:
        if alive(have['pause']):
            plan.call('stop pause process of pod %s' % name, _stopper(have['pause']))

    @staticmethod
    def create_sandbox(kernel, want: dict, record: dict) -> None:
        name = want['name']
        kernel.create_netns(name, loopback_up=True)
        # The pause program is ours and cannot fail on start: no settling time.
        record['pause'] = spawn(kernel, name, pause_argv(name), settle=0)

    @staticmethod
    def destroy_sandbox(kernel, name: str, record: dict) -> None:
        if alive(record.get('pause')):
            stop(record['pause'])

    @staticmethod
    def del_netns(kernel, name: str, have: dict) -> str:
        """The name if it still exists, else the pause process's namespace (the name
        vanished but the pod lives on), else none (the plugins then release the IPAM
        reservation only)."""
        if kernel.netns_source(name) is not None:
            return netns_path(name)
        if alive(have['pause']):
            return '/proc/%d/ns/net' % have['pause']['pid']
        return ''

    @staticmethod
    def start_workload(kernel, want: dict, workload: dict, record: dict) -> dict:
        log = os.path.join(os.path.dirname(record_path(want['name'])), workload['name'] + '.log')
        started = spawn(kernel, want['name'], workload['argv'], log, account=workload.get('account'))
        started.update(name=workload['name'], log=log)
        if workload.get('account') is not None:
            started['user'] = _user.identity(workload['account'])
        return started

    @staticmethod
    def stop_started(started: dict) -> None:
        stop(started)

    @staticmethod
    def describe(have: dict) -> dict:
        return {'pause_pid': (have['pause'] or {}).get('pid'),
                'workload_pids': dict((n, w.get('pid')) for n, w in have['workloads'].items())}


class PodManager:
    def __init__(self) -> None:
        self._clients = {}
        # Pause processes by pod name, looked for once per task when a record lacks one.
        self._pauses = None
        # One lookup per network and plugin directories, not one per pod.
        self._networks = {}
        # Ports of a bridge (by name) before the task; counted in prepare's kernel, once
        # per bridge and only when a pod is to be added to it.
        self._ports_before = lambda bridge: 0

    # input ------------------------------------------------------------------

    def parse(self, item: dict, prefix: str) -> dict:
        if item.get('name') is None:
            raise _validate.ValidationError(prefix + 'name', 'is required')
        name = _validate.netns_name(item['name'], prefix + 'name')
        container_id = item.get('container_id') or name
        # The name and the ID name lock files (pod-NAME, cid-ID) of at most 255 bytes.
        for field, value in (('name', name), ('container_id', container_id)):
            if len(value.encode('utf-8')) > NAME_MAX:
                raise _validate.ValidationError(prefix + field, 'is longer than %d bytes' % NAME_MAX)
        if not _cni.CONTAINER_ID.match(container_id):
            if item.get('container_id'):
                raise _validate.ValidationError(prefix + 'container_id', '%r is not a valid CNI container ID'
                                                % container_id)
            raise _validate.ValidationError(prefix + 'name', '%r is not a valid CNI container ID, which the name is '
                                            'unless container_id is given: use letters, digits, ".", "_" and "-", '
                                            'starting with a letter or digit' % container_id)
        if item.get('network') and item.get('config'):
            raise _validate.ValidationError(prefix + 'network', 'network and config are mutually exclusive')
        backend = item.get('backend') or 'native'
        workloads = []
        for i, element in enumerate(item.get('workloads') or []):
            field = '%sworkloads[%d]' % (prefix, i)
            workload = validate_element(WORKLOAD_SPEC, element, field)
            command, argv = workload['command'], None
            if command is not None:
                argv = shlex.split(command) if isinstance(command, str) else [str(part) for part in command]
                if not argv:
                    raise _validate.ValidationError(field + '.command', 'is empty')
            if workload['name'] in [w['name'] for w in workloads] or '/' in workload['name']:
                raise _validate.ValidationError(field + '.name', '%r is used twice or contains /' % workload['name'])
            image = None
            if workload['image'] is not None:
                image = _image(workload['image'], field + '.image')
            user, account = workload['user'], None
            if user is not None:
                # Docker resolves it in the container; native and auto pods here.
                user = _user.check(user, field + '.user')
                account = _user.resolve(user, field + '.user') if backend != 'docker' else None
            workloads.append({'name': workload['name'], 'argv': argv, 'image': image, 'field': field,
                              'user': user, 'account': account})
        timeout = item.get('timeout', 30)
        if timeout <= 0:
            raise _validate.ValidationError(prefix + 'timeout', 'must be positive')
        want = {
            'name': name, 'state': item.get('state', 'present'), 'network_name': item.get('network'),
            'config': item.get('config'), 'conf_dir': item.get('conf_dir') or '/etc/cni/net.d',
            'bin_dirs': item.get('cni_bin_dir') or ['/opt/cni/bin'],
            'ifname': _validate.ifname(item.get('ifname') or 'eth0', prefix + 'ifname'),
            'container_id': container_id,
            'args': sorted((str(k), str(v)) for k, v in (item.get('cni_args') or {}).items()),
            'capability_args': item.get('capability_args') or {},
            'workloads': workloads, 'timeout': timeout, 'field': prefix,
            'backend': backend, 'pause_image_given': item.get('pause_image') is not None,
            'pause_image': _image(item.get('pause_image') or DEFAULT_PAUSE_IMAGE, prefix + 'pause_image'),
            'docker_host': item.get('docker_host') or _docker.DEFAULT_HOST, 'image_ids': {},
        }
        if backend != 'native':
            try:
                _docker.parse_host(want['docker_host'])
            except ValueError as exc:
                raise _validate.ValidationError(prefix + 'docker_host', str(exc))
        if backend != 'auto':
            check_backend_input(want, backend)
        return want

    @staticmethod
    def key(want: dict) -> str:
        return want['name']

    def _client(self, host: str):
        if host not in self._clients:
            self._clients[host] = _docker.Client(host)
        return self._clients[host]

    def _backend(self, name: str, host: str):
        return DockerBackend(self._client(host)) if name == 'docker' else NativeBackend()

    def prepare(self, kernel, wants) -> None:
        """Settle backend auto, reach the engine, find each pod's network, check its
        plugins and look up its images, before anything changes."""
        lock_pods(wants)
        counted = {}

        def ports_before(bridge):
            if bridge not in counted:
                counted[bridge] = kernel.bridge_ports(None, bridge) or 0
            return counted[bridge]
        self._ports_before = ports_before
        for want in wants:
            if want['backend'] == 'auto':
                self._choose_backend(want)
            if want['backend'] == 'docker':
                try:
                    self._client(want['docker_host']).negotiate()
                except _docker.DockerError as exc:
                    raise _validate.ValidationError(want['field'] + 'docker_host', str(exc))
            want['network'], want['network_bytes'], want['network_path'] = None, None, None
            if want['state'] != 'present':
                continue
            if not (want['config'] or want['network_name']):
                # No network: the pod keeps its loopback only, as `docker run --network none`.
                if want['backend'] == 'docker':
                    self._find_images(want)
                continue
            network, raw, path = self._network(want)
            want.update(network=network, network_bytes=raw, network_path=path, bridges=bridges_of(network))
            if want['backend'] == 'docker':
                self._find_images(want)

    def _network(self, want: dict):
        """(network, file bytes, path) of the pod's network, the file found, read,
        validated and its plugins found once per task for all pods that name it."""
        key = (want['config'], want['conf_dir'], want['network_name'], tuple(want['bin_dirs']), want['timeout'])
        if key in self._networks:
            return self._networks[key]
        field = want['field'] + ('config' if want['config'] else 'network')
        try:
            if want['config']:
                path = want['config']
            else:
                path = _cni_config.find_network(want['conf_dir'], want['network_name'])[0]
            network = _cni_config.load_network(path)
            with open(path, 'rb') as handle:
                raw = handle.read()
        except (OSError, _cni_config.CniConfigError) as exc:
            raise _validate.ValidationError(field, str(exc))
        # Validated in the file's own form, so that fields read as the file is written.
        _cni_config.validate_network(json.loads(raw.decode('utf-8')), field)
        try:
            runtime = _cni.Runtime(want['bin_dirs'], timeout=want['timeout'])
            for plugin in network['plugins']:
                runtime.find(plugin['type'])
        except _cni.CniError as exc:
            raise _validate.ValidationError(want['field'] + 'cni_bin_dir', str(exc))
        self._networks[key] = (network, raw, path)
        return self._networks[key]

    def _uncached_network(self, want: dict, name: str):
        """The network a pod was attached to when its cached result is missing or
        unreadable (a run killed after ADD but before the cache write, a truncated
        file): the configuration of that name as it is now, so that DEL still runs
        and the plugins release what ADD took (host-local's address, the bridge
        plugin's rules). None when no configuration of that name is left."""
        if want['network'] is not None and want['network']['name'] == name:
            return want['network']
        try:
            return self._network(dict(want, config=None, network_name=name))[0]
        except _validate.ValidationError:
            return None

    def _choose_backend(self, want: dict) -> None:
        """auto: an existing pod keeps the backend it was made with; a new one gets
        docker when an engine answers at docker_host, else native."""
        record = load_record(want['name'])
        if record:
            backend, why = record.get('backend') or 'native', 'pod %s was made with it' % want['name']
        else:
            try:
                self._client(want['docker_host']).negotiate()
                backend, why = 'docker', 'a Docker engine answers at %s' % want['docker_host']
            except _docker.DockerError as exc:
                backend, why = 'native', str(exc)
        want['backend'] = backend
        check_backend_input(want, backend, ' (backend auto chose %s: %s)' % (backend, why))

    def _find_images(self, want: dict) -> None:
        client = self._client(want['docker_host'])
        for reference in [want['pause_image']] + [w['image'] for w in want['workloads']]:
            if reference not in want['image_ids']:
                try:
                    found = client.image(reference)
                except _docker.DockerError as exc:
                    raise _validate.ValidationError(want['field'] + 'docker_host', str(exc))
                want['image_ids'][reference] = found.get('Id') if found else None

    # reading ----------------------------------------------------------------

    def read(self, kernel, wants) -> dict:
        state = {}
        for want in wants:
            state[want['name']] = self._read_pod(kernel, want)
        return state

    def _read_pod(self, kernel, want) -> dict:
        name = want['name']
        record = load_record(name) or {}
        # An existing pod is read with the backend (and engine) it was made with.
        backend_name = (record.get('backend') or 'native') if record else want['backend']
        if backend_name == 'native' and not alive(record.get('pause')):
            # A pause process the record does not name: started by a run that died
            # before it saved the record. It is found, so that it is stopped, not leaked.
            if self._pauses is None:
                self._pauses = running_pauses()
            if name in self._pauses:
                record = dict(record, pause=self._pauses[name])
        host = record.get('docker_host') or want['docker_host']
        try:
            have = self._backend(backend_name, host).read(kernel, want, record)
        except _docker.DockerError as exc:
            raise _validate.ValidationError(want['field'] + 'docker_host', 'pod %s (backend docker): %s' % (name, exc))
        runtime = _cni.Runtime(want['bin_dirs'], timeout=want['timeout'])
        network_name = record.get('network') or (want['network'] or {}).get('name') or want['network_name']
        # The attachment is what was added: the record's container ID and interface win over the task's.
        attachment = (record.get('container_id') or want['container_id'], record.get('ifname') or want['ifname'])
        cached = runtime.cached(network_name, *attachment) if network_name else None
        if cached is not None:
            try:
                cached['network'] = _cni_config.network_from_bytes(cached['config_bytes'], 'the cached config')
            except _cni_config.CniConfigError:
                cached = None  # unusable: DEL runs with the current config, if any
        attached, check_error, interface = False, None, False
        if have['sandbox'] == 'running' and cached is not None:
            try:
                attached, check_error, interface = self._attachment_ok(kernel, runtime, name, attachment, cached)
            finally:
                kernel.release(name)  # one pod at a time: no descriptor kept per pod
        elif cached is not None and backend_name == 'native':
            interface = self._interface_left(kernel, name, attachment[1], have['pause'])
        elif network_name is None:
            attached = have['sandbox'] == 'running'  # no network: nothing to attach
        # DEL of an attachment whose interface is gone cannot tell the plugins its
        # addresses (Debian's bridge plugin then leaves its masquerade rules): after
        # such a DEL the rules carrying the attachment's comment are removed.
        have['sweep_rules'] = cached is not None and not interface and backend_name == 'native'
        have.update(record=record, cached=cached, attached=attached, check_error=check_error, network=network_name,
                    attachment=attachment, backend=backend_name,
                    docker_host=host if backend_name == 'docker' else None)
        return have

    @staticmethod
    def _interface_left(kernel, name, ifname, pause) -> bool:
        """Whether DEL will find the interface of a pod whose sandbox is not running:
        in the namespace of that name, else in the pause process's namespace (which
        DEL then goes through, /proc/PID/ns/net)."""
        if kernel.netns_source(name) is None:
            return alive(pause)
        try:
            return kernel.link_addresses(name, ifname) is not None
        finally:
            kernel.release(name)

    @staticmethod
    def _attachment_ok(kernel, runtime, name, attachment, cached):
        """(attached, CHECK's error, whether the interface exists). The pod is attached while its interface holds the
        addresses of the cached result: one netlink read, no plugin run, so a rerun
        costs no plugin runs per healthy pod. Such a pod counted as attached whatever
        CHECK said (some plugins' CHECK fails on healthy pods: Debian's portmap 1.1.1
        without IPv6), so CHECK (CNI 0.4.0 on) is asked only when the interface lacks
        them, in case the result's addresses belong to another interface."""
        container_id, ifname = attachment
        held = kernel.link_addresses(name, ifname)
        wanted = [ip['address'] for ip in _cni.summarize_result(cached['result'])['ips']]
        if held is not None and all(address in held for address in wanted):
            return True, None, True
        try:
            return runtime.check(cached['network'], container_id, netns_path(name), ifname,
                                 _cached_args(cached), cached.get('capabilityArgs') or {}), None, held is not None
        except _cni.CniError as exc:
            return False, str(exc), held is not None

    # planning ---------------------------------------------------------------

    def plan(self, plan, wants, context) -> None:
        ports = BridgePorts(self._ports_before)
        for want in wants:
            have = plan.state[want['name']]
            # Native pods are independent of each other: each pod's steps form a lane,
            # and the lanes run side by side (CNI plugins mostly wait on the kernel).
            lane = want['name'] if want['backend'] == have['backend'] == 'native' else None
            with plan.lane(lane):
                self._plan_pod(plan, want, have, context, ports)
        ports.check()

    def _plan_pod(self, plan, want, have, context, ports) -> None:
        """One pod's steps: removal, or repair and the workloads."""
        if want['state'] == 'absent':
            self._plan_teardown(plan, want, have, cached_only=False)
            have.update(sandbox='missing', attached=False, workloads={}, network=None, cached=None, record={},
                        pause=None)
            return
        stale = have['cached'] is not None and (
            have['cached']['config_bytes'] != want['network_bytes']
            or have['attachment'] != (want['container_id'], want['ifname']))
        switched = have['sandbox'] != 'missing' and have['backend'] != want['backend']
        if have['sandbox'] != 'running' or not have['attached'] or stale or switched:
            ports.add(want, have)
            self._plan_teardown(plan, want, have, cached_only=True)
            self._plan_sandbox(plan, want, have, context)
            have.update(sandbox='running', attached=True, workloads={}, network=_network_name(want),
                        pause=None, backend=want['backend'],
                        docker_host=want['docker_host'] if want['backend'] == 'docker' else None)
        self._plan_workloads(plan, want, have, context)

    def _plan_teardown(self, plan, want, have, cached_only) -> None:
        name = want['name']
        backend = self._backend(have['backend'], have['docker_host'])
        backend.plan_stop_workloads(plan, name, have)
        cached = have['cached']
        network = cached['network'] if cached else (None if cached_only else want['network'])
        if network is None and cached is None and have['record'].get('network'):
            network = self._uncached_network(want, have['record']['network'])
        if network is not None:
            try:
                runtime = _cni.Runtime(want['bin_dirs'], timeout=want['timeout'])
                for plugin in network['plugins']:
                    runtime.find(plugin['type'])
            except _cni.CniError as exc:
                raise _validate.ValidationError(want['field'] + 'cni_bin_dir', 'cannot remove the attachment of pod %s: %s'
                                                % (name, exc))
            # As libcni does, DEL gets the arguments the attachment was added with.
            args = _cached_args(cached) if cached else want['args']
            caps = (cached.get('capabilityArgs') or {}) if cached else want['capability_args']
            container_id, ifname = have['attachment']
            pod = dict(have)
            plan.call('CNI DEL %s from pod %s' % (network['name'], name),
                      lambda kernel: runtime.delete(network, container_id, backend.del_netns(kernel, name, pod),
                                                    ifname, args, caps))
            # Only ipMasq's rules depend on the interface's addresses (portmap's go by container ID).
            if have.get('sweep_rules') and any(plugin.get('ipMasq') for plugin in network['plugins']) \
                    and _iptables.available():
                comment = _iptables.attachment_comment(network['name'], container_id)
                plan.call('remove the rules the plugins left for pod %s (comment %s)' % (name, comment),
                          lambda kernel: _iptables.remove_commented(kernel, None, 'nat', comment))
        backend.plan_pause_teardown(plan, name, have)
        if have['netns_left']:
            plan.call('delete netns %s' % name, lambda kernel: _delete_netns(kernel, name))
        if have['record']:
            plan.call('forget pod %s' % name, lambda kernel: shutil.rmtree(os.path.dirname(record_path(name)), True))
        have['netns_left'] = False

    def _plan_sandbox(self, plan, want, have, context) -> None:
        name = want['name']
        backend = self._backend(want['backend'], want['docker_host'])
        backend.check_create(context, want, have)
        record = {'name': name, 'backend': want['backend'], 'network': _network_name(want),
                  'container_id': want['container_id'], 'ifname': want['ifname'], 'workloads': []}

        def create(kernel):
            try:
                backend.create_sandbox(kernel, want, record)
            finally:
                kernel.release(name)
            save_record(record)

        def destroy(kernel):
            backend.destroy_sandbox(kernel, name, record)
            _delete_netns(kernel, name)
            shutil.rmtree(os.path.dirname(record_path(name)), True)

        plan.call(backend.sandbox_text(want), create, destroy)
        have['netns_left'] = True
        if want['network'] is None:
            return
        runtime = _cni.Runtime(want['bin_dirs'], timeout=want['timeout'])
        plan.call('CNI ADD %s to pod %s as %s' % (want['network']['name'], name, want['ifname']),
                  lambda kernel: runtime.add(want['network'], want['network_bytes'], want['container_id'],
                                             netns_path(name), want['ifname'], want['args'],
                                             want['capability_args']),
                  lambda kernel: runtime.delete(want['network'], want['container_id'], netns_path(name),
                                                want['ifname'], want['args'], want['capability_args']))

    def _plan_workloads(self, plan, want, have, context) -> None:
        backend = self._backend(want['backend'], want['docker_host'])
        running = have['workloads']
        wanted = dict((w['name'], w) for w in want['workloads'])
        outdated = [name for name, workload in sorted(running.items())
                    if name not in wanted or not backend.current(have, want, workload, wanted[name])]
        backend.plan_stop_workloads(plan, want['name'], have, outdated)
        for workload in want['workloads']:
            if workload['name'] not in running:
                backend.check_create(context, want, have, workload)
                plan.call(backend.start_text(want, workload), *_starter(backend, want, workload))
                running[workload['name']] = dict(workload, pid=None)

    # describing -------------------------------------------------------------

    def describe(self, state: dict, want: dict, full: bool = False) -> dict:
        have = state[want['name']]
        if have['sandbox'] == 'missing' and not have['record'] and have['cached'] is None:
            return {'state': 'absent'}
        result = {'state': 'present', 'backend': have['backend'], 'sandbox': have['sandbox'],
                  'attached': have['attached'], 'network': have['network'], 'workloads': sorted(have['workloads'])}
        if full:
            summary = _cni.summarize_result(have['cached']['result']) if have['cached'] else {}
            result.update(netns=netns_path(want['name']), container_id=want['container_id'],
                          ifname=want['ifname'], ips=summary.get('ips', []), routes=summary.get('routes', []),
                          interfaces=summary.get('interfaces', []))
            result.update(self._backend(have['backend'], have['docker_host']).describe(have))
        return result


def bridges_of(network: dict) -> list:
    """The bridges the bridge plugins of a network attach pods to (cni0 unless named)."""
    return [plugin.get('bridge') or 'cni0' for plugin in network['plugins'] if plugin.get('type') == 'bridge']


class BridgePorts:
    """The ports a task's CNI ADDs would put on each bridge, against the 1023 a Linux
    bridge holds, so that a task that would overfill one fails before any change
    rather than at its 1024th ADD. EXISTING(bridge) tells a bridge's ports before
    the task. Pods the task removes are not counted as freeing ports."""

    def __init__(self, existing) -> None:
        self.existing = existing
        self.added = {}  # bridge: pods that get a new port on it, in order
        self.first_over = {}  # bridge: (field, pod) of the first pod past the limit

    def add(self, want: dict, have: dict) -> None:
        """WANT gets a new sandbox and, on a network, an ADD. A pod whose sandbox
        exists with a cached attachment to the same bridge gives its port back
        (DEL, then ADD); any other pod needs one more."""
        if have['sandbox'] != 'missing' and have['cached'] is not None:
            replaced = bridges_of(have['cached']['network'])
        else:
            replaced = []
        for bridge in want.get('bridges') or ():
            if bridge in replaced:
                continue
            pods = self.added.setdefault(bridge, [])
            pods.append(want['name'])
            if self.existing(bridge) + len(pods) > BRIDGE_MAX_PORTS and bridge not in self.first_over:
                self.first_over[bridge] = (want['field'] + ('config' if want['config'] else 'network'), want)

    def check(self) -> None:
        for bridge, (field, want) in sorted(self.first_over.items()):
            has, adds = self.existing(bridge), len(self.added[bridge])
            raise _validate.ValidationError(field, (
                'pod %s would be port %d of bridge %s (network %s), but a Linux bridge holds at most %d ports: '
                'it has %d and this task would add %d. Nothing was changed; spread the pods over more bridges '
                '(networks)') % (want['name'], BRIDGE_MAX_PORTS + 1, bridge, want['network']['name'],
                                 BRIDGE_MAX_PORTS, has, adds))


def _network_name(want: dict):
    return want['network']['name'] if want['network'] else None


def check_backend_input(want: dict, backend: str, why: str = '') -> None:
    """Refuse options the backend cannot honour: images run only in docker,
    commands are all a native workload has, pod and workload names must make
    valid container names."""
    field = want['field']
    if backend == 'native':
        if want['pause_image_given']:
            raise _validate.ValidationError(field + 'pause_image', 'is only used by backend docker' + why)
        for workload in want['workloads']:
            if workload['image'] is not None:
                raise _validate.ValidationError(workload['field'] + '.image', 'only backend docker runs images; '
                                                'a native workload is a command' + why)
            if workload['argv'] is None:
                raise _validate.ValidationError(workload['field'], 'missing required arguments: command' + why)
        return
    try:
        _docker.container_name(pause_name(want['name']))
    except ValueError as exc:
        raise _validate.ValidationError(field + 'name', 'cannot name the pause container: %s%s' % (exc, why))
    for workload in want['workloads']:
        if workload['image'] is None:
            raise _validate.ValidationError(workload['field'], 'missing required arguments: image (backend docker '
                                            'runs every workload from an image)' + why)
        try:
            _docker.container_name(workload_name(want['name'], workload['name']))
        except ValueError as exc:
            raise _validate.ValidationError(workload['field'] + '.name', 'cannot name its container: %s%s'
                                            % (exc, why))


def _image(reference: str, field: str) -> str:
    try:
        return _docker.image_reference(reference)
    except ValueError as exc:
        raise _validate.ValidationError(field, str(exc))


def _delete_netns(kernel, name) -> None:
    if kernel.netns_source(name) is not None or os.path.lexists(netns_path(name)):
        kernel.delete_netns(name)


def _stopper(proc):
    return lambda kernel: stop(proc)


def _cached_args(cached) -> list:
    return [tuple(pair) for pair in cached.get('cniArgs') or []]


def _starter(backend, want, workload):
    """The step that starts a workload and records it, and its undo."""
    started = {}

    def start(kernel):
        record = load_record(want['name'])
        started.update(backend.start_workload(kernel, want, workload, record))
        record['workloads'] = [w for w in record.get('workloads', []) if w['name'] != workload['name']] + [started]
        save_record(record)

    def undo(kernel):
        if started:
            backend.stop_started(started)
    return start, undo
