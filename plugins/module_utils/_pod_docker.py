# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The docker backend of packetlife.podnet.pause_pod: the sandbox is a pause
container made with --network none, the way the tutorial and a kubelet with
dockershim do it, and the workloads are containers joining its network namespace.

PRIVATE: this module is internal to the collection and may change without notice.

The manager in _pod does the CNI work, the records and the plan; this backend
only reads and changes containers, through _docker. Every container it makes
carries the labels packetlife.podnet.pod and packetlife.podnet.role (pause or
workload); a workload also packetlife.podnet.workload and packetlife.podnet.spec
(the image and command it was made with). The engine is asked what exists, so
containers survive a lost record and are still found and removed.

Names: the pause container of pod POD is podnet-pause-POD, the container of its
workload W is podnet-POD-W. A name held by a container that is not the pod's own
stops the task before anything changes.
"""

from __future__ import annotations

import json
import os
import time

from ansible_collections.packetlife.podnet.plugins.module_utils import _docker
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import netns_path
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError

DEFAULT_PAUSE_IMAGE = 'podnet/pause:latest'
# A workload still running this long after its start counts as started.
SETTLE_SECONDS = 0.2
STOP_TIMEOUT = 10


def pause_name(pod: str) -> str:
    return 'podnet-pause-%s' % pod


def workload_name(pod: str, workload: str) -> str:
    return 'podnet-%s-%s' % (pod, workload)


def spec_label(workload: dict) -> str:
    """What a workload container is made from, as its packetlife.podnet.spec label; the
    user only when given, so that containers made without one keep their label."""
    spec = {'image': workload['image'], 'command': workload['argv']}
    if workload.get('user') is not None:
        spec['user'] = workload['user']
    return json.dumps(spec, sort_keys=True)


def missing_image_text(reference: str, host: str) -> str:
    return ('image %s is not in the local image store of the Docker engine at %s, and images are never pulled: '
            'build or import it first (images/build.sh in the collection builds podnet/pause and podnet/web '
            'from source; docker load or docker import bring in others)' % (reference, host))


def _name_of(summary: dict) -> str:
    names = summary.get('Names') or ['']
    return names[0].lstrip('/')


class DockerBackend:
    """Sandboxes and workloads as containers of one engine."""

    name = 'docker'

    def __init__(self, client) -> None:
        self.client = client

    # reading ----------------------------------------------------------------

    def read(self, kernel, want: dict, record: dict) -> dict:
        """What the engine holds of the pod: the pause container, the running
        workload containers by workload name, leftovers (stopped workloads, and
        anything else labelled for the pod) and foreign holders of our names."""
        name = want['name']
        pause, workloads, leftovers = None, {}, []
        for summary in self.client.containers({_docker.LABEL_POD: name}):
            labels = summary.get('Labels') or {}
            container = _name_of(summary)
            role, workload = labels.get(_docker.LABEL_ROLE), labels.get(_docker.LABEL_WORKLOAD)
            if role == 'pause' and container == pause_name(name) and pause is None:
                pause = summary
            elif (role == 'workload' and workload and summary.get('State') == 'running'
                  and container == workload_name(name, workload) and workload not in workloads):
                workloads[workload] = {
                    'name': workload, 'container': summary['Id'], 'container_name': container,
                    'spec': labels.get(_docker.LABEL_SPEC), 'image_id': summary.get('ImageID'),
                    'network_mode': (summary.get('HostConfig') or {}).get('NetworkMode'), 'pid': None}
            else:
                leftovers.append({'container': summary['Id'], 'container_name': container})
        for workload in workloads.values():
            info = self.client.container(workload['container']) or {}
            workload['pid'] = (info.get('State') or {}).get('Pid') or None
        pause_state = self._pause(pause)
        source = kernel.netns_source(name)
        if (pause_state is not None and pause_state['running'] and pause_state['sandbox_key'] and source is not None
                and kernel.namespace_inode(pause_state['sandbox_key']) == source['inode']):
            sandbox = 'running'
        elif pause_state is None and not os.path.lexists(netns_path(name)):
            sandbox = 'missing'
        else:
            sandbox = 'broken'
        ours = set([w['container_name'] for w in workloads.values()]
                   + [leftover['container_name'] for leftover in leftovers])
        if pause is not None:
            ours.add(pause_name(name))
        foreign = {}
        for container in [pause_name(name)] + [workload_name(name, w['name']) for w in want['workloads']]:
            if container not in ours:
                info = self.client.container(container)
                if info is not None:
                    foreign[container] = info.get('Id', '?')[:12]
        return {'sandbox': sandbox, 'pause': pause_state, 'workloads': workloads, 'leftovers': leftovers,
                'foreign': foreign, 'netns_left': os.path.lexists(netns_path(name))}

    def _pause(self, summary):
        if summary is None:
            return None
        info = self.client.container(summary['Id']) or {}
        state = info.get('State') or {}
        key = (info.get('NetworkSettings') or {}).get('SandboxKey') or None
        return {'container': summary['Id'], 'container_name': _name_of(summary), 'running': bool(state.get('Running')),
                'pid': state.get('Pid') or None, 'sandbox_key': key}

    # what the manager plans with --------------------------------------------

    @staticmethod
    def current(have: dict, want: dict, running: dict, wanted: dict) -> bool:
        """A running workload container is kept when it was made from the same image
        reference and command, the reference still names the image it runs, and it
        shares the current pause container's namespace."""
        image_id = want['image_ids'].get(wanted['image'])
        return (running['spec'] == spec_label(wanted)
                and (image_id is None or running['image_id'] == image_id)
                and have['pause'] is not None
                and running['network_mode'] == 'container:%s' % have['pause']['container'])

    def check_create(self, context, want: dict, have: dict, workload=None) -> None:
        """Before a container is planned: its name must be free (or ours) and its
        image present (an earlier task may still build it: in check mode a warning)."""
        if workload is None:
            container, reference = pause_name(want['name']), want['pause_image']
            field, name_field = want['field'] + 'pause_image', want['field'] + 'name'
        else:
            container, reference = workload_name(want['name'], workload['name']), workload['image']
            field, name_field = workload['field'] + '.image', workload['field'] + '.name'
        if container in have['foreign']:
            raise ValidationError(name_field, 'container name %s is taken by container %s, which is not pod %s\'s '
                                  'own; remove or rename it' % (container, have['foreign'][container], want['name']))
        if want['image_ids'].get(reference) is None:
            context.missing(field, missing_image_text(reference, self.client.host))

    def sandbox_text(self, want: dict) -> str:
        return 'create sandbox %s (pause container %s)' % (want['name'], pause_name(want['name']))

    def start_text(self, want: dict, workload: dict) -> str:
        return 'start workload %s in pod %s (container %s, image %s)' % (
            workload['name'], want['name'], workload_name(want['name'], workload['name']), workload['image'])

    def plan_stop_workloads(self, plan, name: str, have: dict, which=None) -> None:
        """Steps that stop and remove workload containers (all running ones, or
        those named in WHICH) and the pod's leftovers."""
        for leftover in have['leftovers']:
            plan.call('remove leftover container %s of pod %s' % (leftover['container_name'], name),
                      self._remover(leftover['container']))
        have['leftovers'] = []
        for workload in sorted(have['workloads']) if which is None else which:
            running = have['workloads'].pop(workload)
            plan.call('remove workload %s of pod %s (container %s)' % (workload, name, running['container_name']),
                      self._remover(running['container'], stop=True))

    def plan_pause_teardown(self, plan, name: str, have: dict) -> None:
        pause = have['pause']
        if pause is not None:
            plan.call('remove pause container %s of pod %s' % (pause['container_name'], name),
                      self._remover(pause['container']))

    # changing ---------------------------------------------------------------

    def _remover(self, container: str, stop: bool = False):
        def remove(kernel):
            if stop:
                self.client.stop(container, STOP_TIMEOUT)
            self.client.remove(container)
        return remove

    def create_sandbox(self, kernel, want: dict, record: dict) -> None:
        """docker run --network none PAUSE_IMAGE, then /run/netns/NAME -> its SandboxKey."""
        name = want['name']
        config = {
            'Image': want['pause_image'],
            'Labels': {_docker.LABEL_POD: name, _docker.LABEL_ROLE: 'pause'},
            'HostConfig': {'NetworkMode': 'none', 'RestartPolicy': {'Name': 'no'}},
        }
        container = self.client.create(pause_name(name), config)
        try:
            self.client.start(container)
            info = self.client.container(container) or {}
            state = info.get('State') or {}
            key = (info.get('NetworkSettings') or {}).get('SandboxKey')
            if not state.get('Running'):
                raise OSError('pause container %s exited at once with status %s%s'
                              % (pause_name(name), state.get('ExitCode'), self._log_tail(container)))
            if not key or kernel.namespace_inode(key) is None:
                raise OSError('pause container %s has no network namespace at its SandboxKey %r'
                              % (pause_name(name), key))
            kernel.link_netns(name, key)
            kernel.set_link(name, 'lo', up=True)
        except Exception:
            self._remove_quietly(container)
            raise
        record.update(docker_host=self.client.host,
                      pause={'container': container, 'container_name': pause_name(name), 'pid': state.get('Pid')})

    def destroy_sandbox(self, kernel, name: str, record: dict) -> None:
        if record.get('pause'):
            self.client.remove(record['pause']['container'])

    def del_netns(self, kernel, name: str, have: dict) -> str:
        """The namespace for DEL: the name while it leads to a namespace, else the
        pause container's SandboxKey while it runs, else none (IPAM release only)."""
        if kernel.netns_source(name) is not None:
            return netns_path(name)
        if have['pause'] is not None:
            info = self.client.container(have['pause']['container']) or {}
            key = (info.get('NetworkSettings') or {}).get('SandboxKey')
            if (info.get('State') or {}).get('Running') and key and kernel.namespace_inode(key) is not None:
                return key
        return ''

    def start_workload(self, kernel, want: dict, workload: dict, record: dict) -> dict:
        """docker run --network container:PAUSE [--user USER] IMAGE [COMMAND]; fails when it
        does not keep running."""
        pause = record.get('pause') or {}
        if not pause.get('container'):
            raise OSError('pod %s has no pause container on record' % want['name'])
        container_name = workload_name(want['name'], workload['name'])
        config = {
            'Image': workload['image'],
            'Labels': {_docker.LABEL_POD: want['name'], _docker.LABEL_ROLE: 'workload',
                       _docker.LABEL_WORKLOAD: workload['name'], _docker.LABEL_SPEC: spec_label(workload)},
            'HostConfig': {'NetworkMode': 'container:%s' % pause['container'], 'RestartPolicy': {'Name': 'no'}},
        }
        if workload['argv'] is not None:
            config['Cmd'] = workload['argv']
        if workload.get('user') is not None:
            config['User'] = workload['user']  # docker run --user, resolved in the container
        container = self.client.create(container_name, config)
        try:
            self.client.start(container)
            time.sleep(SETTLE_SECONDS)
            state = (self.client.container(container) or {}).get('State') or {}
            if not state.get('Running'):
                raise OSError('container %s exited at once with status %s%s'
                              % (container_name, state.get('ExitCode'), self._log_tail(container)))
        except Exception:
            self._remove_quietly(container)
            raise
        return {'name': workload['name'], 'container': container, 'pid': state.get('Pid')}

    def stop_started(self, started: dict) -> None:
        self.client.remove(started['container'])

    def describe(self, have: dict) -> dict:
        pause = have['pause'] or {}
        return {'pause_pid': pause.get('pid'), 'pause_container': pause.get('container'),
                'docker_host': have.get('docker_host'),
                'workload_pids': dict((n, w.get('pid')) for n, w in have['workloads'].items()),
                'workload_containers': dict((n, w.get('container')) for n, w in have['workloads'].items())}

    def _log_tail(self, container: str) -> str:
        try:
            lines = self.client.logs(container).strip().splitlines()[-5:]
        except _docker.DockerError:
            return ''
        return '; its log ends with: %s' % ' | '.join(lines) if lines else ''

    def _remove_quietly(self, container: str) -> None:
        try:
            self.client.remove(container)
        except _docker.DockerError:
            pass  # the error that brought us here is the one to report
