# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The manager behind packetlife.podnet.pause_pod: a pod sandbox (a network
namespace held by a pause process), attached to a CNI network, with workload
processes sharing its network namespace.

PRIVATE: this module is internal to the collection and may change without notice.

A pod's own record lives in /run/podnet/pods/NAME/state.json (gone after a
reboot, like /run/netns); the CNI result lives in libcni's cache. A pod is
healthy when its pause process runs in the namespace named /run/netns/NAME and
the CNI attachment is in place (CHECK from CNI 0.4.0 on; before that, the
interface with the cached addresses). Anything else is repaired: DEL from the
cached result, a fresh sandbox, ADD.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni, _cni_config, _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._module import validate_element
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import netns_path

STATE_DIR = '/run/podnet/pods'
PAUSE_PROGRAM = '/run/podnet/pause.py'
# A workload still running this long after its start counts as started.
SETTLE_SECONDS = 0.2

# The pause process: sleeps, reaps whatever it inherits, leaves on SIGTERM/SIGINT.
PAUSE_CODE = '''# podnet pause: holds a pod's network namespace (written by packetlife.podnet.pause_pod)
import os, signal, sys
def reap(*_):
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
signal.signal(signal.SIGCHLD, reap)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
while True:
    signal.pause()
'''

WORKLOAD_SPEC = dict(
    name=dict(type='str', required=True),
    command=dict(type='raw', required=True),
)

ITEM_SPEC = dict(
    name=dict(type='str'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    backend=dict(type='str', choices=['native'], default='native'),
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
)


# processes ------------------------------------------------------------------

def start_time(pid: int):
    """The process's start time in clock ticks (field 22 of /proc/PID/stat), or
    None if it is gone or a zombie: PID and start time identify a process."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            fields = handle.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == 'Z' else int(fields[19])


def alive(proc) -> bool:
    return bool(proc) and start_time(proc['pid']) == proc['start']


def spawn(kernel, netns: str, argv, log_path=None, settle: float = SETTLE_SECONDS) -> dict:
    """Start ARGV detached inside NETNS: own session, no inherited descriptors,
    standard streams on /dev/null or LOG_PATH (so an SSH channel never waits on it)."""
    out = open(log_path, 'ab') if log_path else subprocess.DEVNULL
    try:
        with kernel.entered(netns):
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd='/',
                                    close_fds=True, start_new_session=True)
    finally:
        if log_path:
            out.close()
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
    """The pause process's command line, writing its program first if needed."""
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
        os.kill(proc['pid'], sig)
        deadline = time.monotonic() + wait
        while alive(proc) and time.monotonic() < deadline:
            time.sleep(0.02)
    if alive(proc):
        raise OSError('process %d did not stop' % proc['pid'])


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


class PodManager:
    def parse(self, item: dict, prefix: str) -> dict:
        if item.get('name') is None:
            raise _validate.ValidationError(prefix + 'name', 'is required')
        name = _validate.netns_name(item['name'], prefix + 'name')
        container_id = item.get('container_id') or name
        if not _cni.CONTAINER_ID.match(container_id):
            raise _validate.ValidationError(prefix + 'container_id', '%r is not a valid CNI container ID' % container_id)
        if item.get('network') and item.get('config'):
            raise _validate.ValidationError(prefix + 'network', 'network and config are mutually exclusive')
        if item.get('state', 'present') == 'present' and not (item.get('network') or item.get('config')):
            raise _validate.ValidationError(prefix + 'network', 'a pod needs network or config')
        workloads = []
        for i, element in enumerate(item.get('workloads') or []):
            field = '%sworkloads[%d]' % (prefix, i)
            workload = validate_element(WORKLOAD_SPEC, element, field)
            command = workload['command']
            argv = shlex.split(command) if isinstance(command, str) else [str(part) for part in command or []]
            if not argv:
                raise _validate.ValidationError(field + '.command', 'is empty')
            if workload['name'] in [w['name'] for w in workloads] or '/' in workload['name']:
                raise _validate.ValidationError(field + '.name', '%r is used twice or contains /' % workload['name'])
            workloads.append({'name': workload['name'], 'argv': argv})
        timeout = item.get('timeout', 30)
        if timeout <= 0:
            raise _validate.ValidationError(prefix + 'timeout', 'must be positive')
        return {
            'name': name, 'state': item.get('state', 'present'), 'network_name': item.get('network'),
            'config': item.get('config'), 'conf_dir': item.get('conf_dir') or '/etc/cni/net.d',
            'bin_dirs': item.get('cni_bin_dir') or ['/opt/cni/bin'],
            'ifname': _validate.ifname(item.get('ifname') or 'eth0', prefix + 'ifname'),
            'container_id': container_id,
            'args': sorted((str(k), str(v)) for k, v in (item.get('cni_args') or {}).items()),
            'capability_args': item.get('capability_args') or {},
            'workloads': workloads, 'timeout': timeout, 'field': prefix,
        }

    @staticmethod
    def key(want: dict) -> str:
        return want['name']

    def prepare(self, kernel, wants) -> None:
        """Find each pod's network and check its plugins before anything changes."""
        for want in wants:
            want['network'], want['network_bytes'], want['network_path'] = None, None, None
            if want['state'] != 'present':
                continue
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
            want.update(network=network, network_bytes=raw, network_path=path)

    def read(self, kernel, wants) -> dict:
        state = {}
        for want in wants:
            state[want['name']] = self._read_pod(kernel, want)
        return state

    def _read_pod(self, kernel, want) -> dict:
        name = want['name']
        record = load_record(name) or {}
        source = kernel.netns_source(name)
        pause = record.get('pause')
        sandbox = 'missing'
        if source is not None or alive(pause):
            sandbox = 'running' if alive(pause) and kernel.namespace_inode('/proc/%d/ns/net' % pause['pid']) == (
                source or {}).get('inode') else 'broken'
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
        attached, check_error = False, None
        if sandbox == 'running' and cached is not None:
            attached, check_error = self._attachment_ok(kernel, runtime, name, attachment, cached)
        workloads = dict((w['name'], w) for w in (record.get('workloads') or []) if alive(w))
        return {'record': record, 'sandbox': sandbox, 'cached': cached, 'attached': attached,
                'check_error': check_error, 'workloads': workloads, 'network': network_name,
                'attachment': attachment}

    @staticmethod
    def _attachment_ok(kernel, runtime, name, attachment, cached):
        """(attached, CHECK's error). CHECK (CNI 0.4.0 on) is asked first; when it is not
        available, or fails, the pod counts as attached while its interface holds the
        cached addresses: some plugins' CHECK fails on healthy pods (Debian's portmap
        1.1.1 without IPv6), and a repair would give the pod a new address."""
        container_id, ifname = attachment
        error = None
        try:
            if runtime.check(cached['network'], container_id, netns_path(name), ifname,
                             _cached_args(cached), cached.get('capabilityArgs') or {}):
                return True, None
        except _cni.CniError as exc:
            error = str(exc)
        link = kernel.read([name])[name]['links'].get(ifname)
        wanted = [ip['address'] for ip in _cni.summarize_result(cached['result'])['ips']]
        return link is not None and all(address in link['addresses'] for address in wanted), error

    def plan(self, plan, wants, context) -> None:
        for want in wants:
            have = plan.state[want['name']]
            if have['check_error'] and have['attached']:
                context.warnings.append('pod %s: CNI CHECK failed, but its interface holds its addresses, so it is '
                                        'kept: %s' % (want['name'], have['check_error']))
            if want['state'] == 'absent':
                self._plan_teardown(plan, want, have, cached_only=False)
                have.update(sandbox='missing', attached=False, workloads={}, network=None, cached=None, record={})
                continue
            stale = have['cached'] is not None and (
                have['cached']['config_bytes'] != want['network_bytes']
                or have['attachment'] != (want['container_id'], want['ifname']))
            if have['sandbox'] != 'running' or not have['attached'] or stale:
                self._plan_teardown(plan, want, have, cached_only=True)
                self._plan_sandbox(plan, want)
                have.update(sandbox='running', attached=True, workloads={}, network=want['network']['name'])
            self._plan_workloads(plan, want, have)

    def _plan_teardown(self, plan, want, have, cached_only) -> None:
        name = want['name']
        record = dict(have['record'])
        for workload in have['workloads'].values():
            plan.call('stop workload %s of pod %s' % (workload['name'], name), _stopper(workload))
        cached = have['cached']
        network = cached['network'] if cached else (None if cached_only else want['network'])
        if network is not None:
            # As libcni does, DEL gets the arguments the attachment was added with.
            args = _cached_args(cached) if cached else want['args']
            caps = (cached.get('capabilityArgs') or {}) if cached else want['capability_args']
            container_id, ifname = have['attachment']
            plan.call('CNI DEL %s from pod %s' % (network['name'], name),
                      lambda kernel: _cni.Runtime(want['bin_dirs'], timeout=want['timeout']).delete(
                          network, container_id, _del_netns_path(kernel, name, record.get('pause')),
                          ifname, args, caps))
        if alive(record.get('pause')):
            plan.call('stop pause process of pod %s' % name, _stopper(record['pause']))
        if have['sandbox'] != 'missing':
            plan.call('delete netns %s' % name, lambda kernel: _delete_netns(kernel, name))
        if have['record']:
            plan.call('forget pod %s' % name, lambda kernel: shutil.rmtree(os.path.dirname(record_path(name)), True))

    def _plan_sandbox(self, plan, want) -> None:
        name = want['name']
        record = {'name': name, 'network': want['network']['name'], 'container_id': want['container_id'],
                  'ifname': want['ifname'], 'workloads': []}

        def create(kernel):
            kernel.create_netns(name)
            kernel.set_link(name, 'lo', up=True)
            # The pause program is ours and cannot fail on start: no settling time.
            record['pause'] = spawn(kernel, name, pause_argv(name), settle=0)
            save_record(record)

        def destroy(kernel):
            if alive(record.get('pause')):
                stop(record['pause'])
            _delete_netns(kernel, name)
            shutil.rmtree(os.path.dirname(record_path(name)), True)

        plan.call('create sandbox %s (netns and pause process)' % name, create, destroy)
        runtime = _cni.Runtime(want['bin_dirs'], timeout=want['timeout'])
        plan.call('CNI ADD %s to pod %s as %s' % (want['network']['name'], name, want['ifname']),
                  lambda kernel: runtime.add(want['network'], want['network_bytes'], want['container_id'],
                                             netns_path(name), want['ifname'], want['args'],
                                             want['capability_args']),
                  lambda kernel: runtime.delete(want['network'], want['container_id'], netns_path(name),
                                                want['ifname'], want['args'], want['capability_args']))

    @staticmethod
    def _plan_workloads(plan, want, have) -> None:
        name = want['name']
        running = have['workloads']
        wanted = dict((w['name'], w) for w in want['workloads'])
        for workload_name, workload in sorted(running.items()):
            if workload_name not in wanted or wanted[workload_name]['argv'] != workload['argv']:
                plan.call('stop workload %s of pod %s' % (workload_name, name), _stopper(workload))
                running.pop(workload_name)
        for workload in want['workloads']:
            if workload['name'] not in running:
                plan.call('start workload %s in pod %s' % (workload['name'], name), *_starter(name, workload))
                running[workload['name']] = dict(workload, pid=None)

    def describe(self, state: dict, want: dict, full: bool = False) -> dict:
        have = state[want['name']]
        if have['sandbox'] == 'missing' and not have['record'] and have['cached'] is None:
            return {'state': 'absent'}
        result = {'state': 'present', 'sandbox': have['sandbox'], 'attached': have['attached'],
                  'network': have['network'], 'workloads': sorted(have['workloads'])}
        if full:
            record = have['record']
            summary = _cni.summarize_result(have['cached']['result']) if have['cached'] else {}
            result.update(netns=netns_path(want['name']), container_id=want['container_id'],
                          ifname=want['ifname'], pause_pid=(record.get('pause') or {}).get('pid'),
                          ips=summary.get('ips', []), routes=summary.get('routes', []),
                          interfaces=summary.get('interfaces', []),
                          workload_pids=dict((n, w.get('pid')) for n, w in have['workloads'].items()))
        return result


def _del_netns_path(kernel, name: str, pause) -> str:
    """The namespace to give DEL: the name if it still exists, else the pause
    process's namespace (the name vanished but the pod lives on), else none
    (the plugins then release the IPAM reservation only)."""
    if kernel.netns_source(name) is not None:
        return netns_path(name)
    if alive(pause):
        return '/proc/%d/ns/net' % pause['pid']
    return ''


def _delete_netns(kernel, name) -> None:
    if kernel.netns_source(name) is not None or os.path.lexists(netns_path(name)):
        kernel.delete_netns(name)


def _stopper(proc):
    return lambda kernel: stop(proc)


def _cached_args(cached) -> list:
    return [tuple(pair) for pair in cached.get('cniArgs') or []]


def _starter(name, workload):
    """The step that starts a workload, and its undo."""
    started = {}

    def start(kernel):
        record = load_record(name)
        log = os.path.join(os.path.dirname(record_path(name)), workload['name'] + '.log')
        started.update(spawn(kernel, name, workload['argv'], log), name=workload['name'], log=log)
        record['workloads'] = [w for w in record.get('workloads', []) if w['name'] != workload['name']] + [started]
        save_record(record)

    def undo(kernel):
        if started:
            stop(started)
    return start, undo
