"""pause_pod with backend docker (and auto): input per backend, what the engine's
containers read as, and the plans made from that. No engine, no kernel."""
from __future__ import annotations

import json

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _docker, _pod, _pod_docker
from ansible_collections.packetlife.podnet.plugins.module_utils._module import Context
from ansible_collections.packetlife.podnet.plugins.module_utils._plan import Plan
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError

HOST = 'unix:///run/pt-dk-engine/docker.sock'
BASE = {'name': 'pt-dk-pod', 'network': 'pt-dk-net', 'timeout': 30, 'backend': 'docker', 'docker_host': HOST}
NETWORK = {'cniVersion': '1.0.0', 'name': 'pt-dk-net', 'plugins': [{'type': 'bridge'}]}
NETWORK_BYTES = json.dumps(NETWORK).encode()


def parse(**item):
    return _pod.PodManager().parse(dict(BASE, **item), '')


# input --------------------------------------------------------------------------

def test_parse_docker_workloads():
    want = parse(workloads=[{'name': 'web', 'image': 'podnet/web'},
                            {'name': 'probe', 'image': 'podnet/web:1', 'command': 'sh -c "echo hi"'}])
    assert [(w['image'], w['argv']) for w in want['workloads']] == [
        ('podnet/web:latest', None), ('podnet/web:1', ['sh', '-c', 'echo hi'])]
    assert want['pause_image'] == 'podnet/pause:latest' and not want['pause_image_given']
    assert want['docker_host'] == HOST and want['workloads'][1]['field'] == 'workloads[1]'


@pytest.mark.parametrize('item, message', [
    ({'workloads': [{'name': 'web', 'command': 'httpd'}]}, r'workloads\[0\]: missing required arguments: image'),
    ({'workloads': [{'name': 'w b', 'image': 'podnet/web'}]}, r'workloads\[0\].name: cannot name its container'),
    ({'name': 'pt dk', 'container_id': 'pt-dk'}, 'name: cannot name the pause container'),
    ({'workloads': [{'name': 'web', 'image': 'Podnet/Web'}]}, r'workloads\[0\].image: .* must be lowercase'),
    ({'pause_image': 'podnet/pause:'}, "pause_image: 'podnet/pause:': '' is not a valid tag"),
    ({'docker_host': 'tcp://127.0.0.1:2375'}, 'docker_host: .* only unix:// sockets are supported'),
    ({'backend': 'native', 'workloads': [{'name': 'web', 'image': 'podnet/web', 'command': 'x'}]},
     r'workloads\[0\].image: only backend docker runs images'),
    ({'backend': 'native', 'pause_image': 'podnet/pause'}, 'pause_image: is only used by backend docker'),
    ({'backend': 'native', 'workloads': [{'name': 'web'}]}, r'workloads\[0\]: missing required arguments: command'),
    ({'workloads': [{'name': 'web', 'image': 'podnet/web', 'command': []}]}, r'workloads\[0\].command: is empty'),
    ({'workloads': [{'name': 'web', 'image': 'podnet/web', 'ports': [80]}]}, r'workloads\[0\]: unsupported key\(s\) ports'),
])
def test_parse_refuses(item, message):
    with pytest.raises(ValidationError, match='^' + message):
        parse(**item)


def test_native_ignores_docker_host_and_auto_defers_backend_checks():
    assert parse(backend='native', docker_host='tcp://127.0.0.1:2375')['backend'] == 'native'
    # auto: image and command are judged once the backend is chosen (prepare).
    want = parse(backend='auto', workloads=[{'name': 'web', 'image': 'podnet/web'}, {'name': 'cmd', 'command': 'x'}])
    assert want['backend'] == 'auto'
    with pytest.raises(ValidationError, match=r'^workloads\[1\]: missing required arguments: image .* \(backend auto '
                                              r'chose docker: because\)$'):
        _pod.check_backend_input(want, 'docker', ' (backend auto chose docker: because)')


def test_auto_keeps_the_backend_of_an_existing_pod(monkeypatch):
    monkeypatch.setattr(_pod, 'load_record', lambda name: {'name': name, 'backend': 'docker'})
    want = parse(backend='auto', docker_host='unix:///run/pt-dk-none.sock', workloads=[{'name': 'w', 'image': 'x'}])
    _pod.PodManager()._choose_backend(want)
    assert want['backend'] == 'docker'


def test_auto_falls_back_to_native_without_an_engine(monkeypatch):
    monkeypatch.setattr(_pod, 'load_record', lambda name: None)
    want = parse(backend='auto', docker_host='unix:///run/pt-dk-none.sock', workloads=[{'name': 'w', 'command': 'x'}])
    _pod.PodManager()._choose_backend(want)
    assert want['backend'] == 'native'
    image_want = parse(backend='auto', docker_host='unix:///run/pt-dk-none.sock',
                       workloads=[{'name': 'w', 'image': 'podnet/web'}])
    with pytest.raises(ValidationError, match=r'^workloads\[0\].image: only backend docker runs images; .* \(backend '
                                              r'auto chose native: cannot reach the Docker engine at '
                                              r'unix:///run/pt-dk-none.sock: No such file or directory\)$'):
        _pod.PodManager()._choose_backend(image_want)


# reading ------------------------------------------------------------------------

def summary(cid, name, role, state='running', workload=None, spec=None, mode='none', image_id='sha256:web'):
    labels = {_docker.LABEL_POD: 'pt-dk-pod', _docker.LABEL_ROLE: role}
    if workload:
        labels.update({_docker.LABEL_WORKLOAD: workload, _docker.LABEL_SPEC: spec})
    return {'Id': cid, 'Names': ['/' + name], 'State': state, 'Labels': labels, 'ImageID': image_id,
            'HostConfig': {'NetworkMode': mode}}


class FakeClient:
    host = HOST

    def __init__(self, listed, inspected):
        self.listed, self.inspected = listed, inspected

    def containers(self, labels):
        assert labels == {_docker.LABEL_POD: 'pt-dk-pod'}
        return self.listed

    def container(self, name_or_id):
        return self.inspected.get(name_or_id)


class FakeKernel:
    def __init__(self, source_inode, inodes):
        self.source_inode, self.inodes = source_inode, inodes

    def netns_source(self, name):
        return None if self.source_inode is None else {'inode': self.source_inode, 'symlink': '/key'}

    def namespace_inode(self, path):
        return self.inodes.get(path)


WEB = {'name': 'web', 'argv': None, 'image': 'podnet/web:latest', 'field': 'workloads[0]'}
WEB_SPEC = _pod_docker.spec_label(WEB)
PAUSE_INFO = {'Id': 'p1', 'State': {'Running': True, 'Pid': 41}, 'NetworkSettings': {'SandboxKey': '/key'}}


def read(listed, inspected, source_inode, inodes, tmp_path, monkeypatch, link=False):
    monkeypatch.setattr(_pod_docker, 'netns_path', lambda name: str(tmp_path / name))
    if link:
        (tmp_path / 'pt-dk-pod').symlink_to(tmp_path / 'gone')
    want = parse(workloads=[{'name': 'web', 'image': 'podnet/web'}, {'name': 'new', 'image': 'podnet/web'}])
    backend = _pod_docker.DockerBackend(FakeClient(listed, inspected))
    return backend.read(FakeKernel(source_inode, inodes), want, {})


def test_read_healthy_pod(tmp_path, monkeypatch):
    listed = [summary('p1', 'podnet-pause-pt-dk-pod', 'pause'),
              summary('w1', 'podnet-pt-dk-pod-web', 'workload', workload='web', spec=WEB_SPEC, mode='container:p1'),
              summary('w2', 'podnet-pt-dk-pod-old', 'workload', state='exited', workload='old', spec=WEB_SPEC)]
    inspected = {'p1': PAUSE_INFO, 'w1': {'State': {'Pid': 43}},
                 'podnet-pt-dk-pod-new': {'Id': 'f' * 64}}   # someone else's container holds new's name
    have = read(listed, inspected, 7, {'/key': 7}, tmp_path, monkeypatch)
    assert have['sandbox'] == 'running'
    assert have['pause'] == {'container': 'p1', 'container_name': 'podnet-pause-pt-dk-pod', 'running': True,
                             'pid': 41, 'sandbox_key': '/key'}
    assert list(have['workloads']) == ['web'] and have['workloads']['web']['pid'] == 43
    assert have['leftovers'] == [{'container': 'w2', 'container_name': 'podnet-pt-dk-pod-old'}]
    assert have['foreign'] == {'podnet-pt-dk-pod-new': 'f' * 12}


@pytest.mark.parametrize('listed, inspected, source, inodes, link, sandbox', [
    ([], {}, None, {}, False, 'missing'),
    ([], {}, None, {}, True, 'broken'),                          # pause removed, /run/netns link dangling
    ([summary('p1', 'podnet-pause-pt-dk-pod', 'pause', state='exited')],
     {'p1': {'State': {'Running': False}, 'NetworkSettings': {'SandboxKey': ''}}}, None, {}, True, 'broken'),
    ([summary('p1', 'podnet-pause-pt-dk-pod', 'pause')], {'p1': PAUSE_INFO}, None, {'/key': 7}, False, 'broken'),
    ([summary('p1', 'podnet-pause-pt-dk-pod', 'pause')], {'p1': PAUSE_INFO}, 8, {'/key': 7}, True, 'broken'),
])
def test_read_sandbox_states(listed, inspected, source, inodes, link, sandbox, tmp_path, monkeypatch):
    assert read(listed, inspected, source, inodes, tmp_path, monkeypatch, link=link)['sandbox'] == sandbox


# planning -----------------------------------------------------------------------

@pytest.fixture
def bridge(tmp_path):
    """A plugin directory holding a (never run) bridge plugin: DEL is only planned."""
    plugin = tmp_path / 'bin' / 'bridge'
    plugin.parent.mkdir()
    plugin.write_text('#!/bin/sh\nexit 1\n')
    plugin.chmod(0o755)
    return [str(plugin.parent)]


def ready(want, image_ids):
    want.update(network=NETWORK, network_bytes=NETWORK_BYTES, network_path='/x', image_ids=image_ids)
    return want


def healthy(workloads=None, leftovers=(), foreign=None):
    return {
        'record': {'name': 'pt-dk-pod', 'backend': 'docker'}, 'sandbox': 'running', 'attached': True,
        'check_error': None, 'network': 'pt-dk-net', 'attachment': ('pt-dk-pod', 'eth0'), 'backend': 'docker',
        'docker_host': HOST, 'netns_left': True, 'leftovers': list(leftovers), 'foreign': foreign or {},
        'cached': {'network': NETWORK, 'config_bytes': NETWORK_BYTES, 'result': {}},
        'pause': {'container': 'p1', 'container_name': 'podnet-pause-pt-dk-pod', 'running': True, 'pid': 41,
                  'sandbox_key': '/key'},
        'workloads': workloads if workloads is not None else {},
    }


def running(name, spec, image_id='sha256:web', mode='container:p1'):
    return {'name': name, 'container': 'c-' + name, 'container_name': 'podnet-pt-dk-pod-' + name, 'spec': spec,
            'image_id': image_id, 'network_mode': mode, 'pid': 50}


def plan_for(want, have, check_mode=False):
    plan = Plan({'pt-dk-pod': have})
    context = Context(check_mode)
    _pod.PodManager().plan(plan, [want], context)
    return plan, context


IDS = {'podnet/web:latest': 'sha256:web', 'podnet/pause:latest': 'sha256:pause'}


def test_healthy_pod_is_left_alone():
    want = ready(parse(workloads=[{'name': 'web', 'image': 'podnet/web'}]), IDS)
    plan = plan_for(want, healthy({'web': running('web', WEB_SPEC)}))[0]
    assert plan.actions == []


@pytest.mark.parametrize('current, why', [
    (running('web', _pod_docker.spec_label(dict(WEB, argv=['httpd']))), 'command changed'),
    (running('web', _pod_docker.spec_label(dict(WEB, image='pt-dk/web:latest'))), 'image reference changed'),
    (running('web', WEB_SPEC, image_id='sha256:older'), 'image rebuilt under the same reference'),
    (running('web', WEB_SPEC, mode='container:p0'), 'joined an earlier pause container'),
])
def test_outdated_workload_is_replaced(current, why):
    want = ready(parse(workloads=[{'name': 'web', 'image': 'podnet/web'}]), IDS)
    plan = plan_for(want, healthy({'web': current}))[0]
    assert plan.actions == [
        'remove workload web of pod pt-dk-pod (container podnet-pt-dk-pod-web)',
        'start workload web in pod pt-dk-pod (container podnet-pt-dk-pod-web, image podnet/web:latest)'], why


def test_leftovers_go_first_and_unlisted_workloads_go():
    want = ready(parse(workloads=[{'name': 'web', 'image': 'podnet/web'}]), IDS)
    have = healthy({'web': running('web', WEB_SPEC), 'side': running('side', WEB_SPEC)},
                   leftovers=[{'container': 'x', 'container_name': 'podnet-pt-dk-pod-web2'}])
    plan = plan_for(want, have)[0]
    assert plan.actions == ['remove leftover container podnet-pt-dk-pod-web2 of pod pt-dk-pod',
                            'remove workload side of pod pt-dk-pod (container podnet-pt-dk-pod-side)']
    assert _pod.PodManager().describe(plan.state, want)['workloads'] == ['web']


def test_broken_pod_is_repaired_in_order(bridge):
    want = ready(parse(cni_bin_dir=bridge, workloads=[{'name': 'web', 'image': 'podnet/web'}]), IDS)
    have = healthy({'web': running('web', WEB_SPEC)})
    have.update(sandbox='broken', attached=False)
    have['pause'].update(running=False)
    plan = plan_for(want, have)[0]
    assert plan.actions == [
        'remove workload web of pod pt-dk-pod (container podnet-pt-dk-pod-web)',
        'CNI DEL pt-dk-net from pod pt-dk-pod',
        'remove pause container podnet-pause-pt-dk-pod of pod pt-dk-pod',
        'delete netns pt-dk-pod',
        'forget pod pt-dk-pod',
        'create sandbox pt-dk-pod (pause container podnet-pause-pt-dk-pod)',
        'CNI ADD pt-dk-net to pod pt-dk-pod as eth0',
        'start workload web in pod pt-dk-pod (container podnet-pt-dk-pod-web, image podnet/web:latest)']
    described = _pod.PodManager().describe(plan.state, want, full=True)
    assert described['sandbox'] == 'running' and described['pause_container'] is None
    assert described['workload_containers'] == {'web': None}


def test_switching_backend_recreates_the_pod(bridge):
    want = ready(parse(backend='native', cni_bin_dir=bridge, workloads=[{'name': 'web', 'command': 'sleep 300'}]), {})
    plan = plan_for(want, healthy({'web': running('web', WEB_SPEC)}))[0]
    assert plan.actions[:5] == [
        'remove workload web of pod pt-dk-pod (container podnet-pt-dk-pod-web)', 'CNI DEL pt-dk-net from pod pt-dk-pod',
        'remove pause container podnet-pause-pt-dk-pod of pod pt-dk-pod', 'delete netns pt-dk-pod', 'forget pod pt-dk-pod']
    assert plan.actions[5:] == ['create sandbox pt-dk-pod (netns and pause process)',
                                'CNI ADD pt-dk-net to pod pt-dk-pod as eth0', 'start workload web in pod pt-dk-pod']
    assert _pod.PodManager().describe(plan.state, want)['backend'] == 'native'


def test_missing_image_fails_a_real_run_and_warns_in_check_mode():
    want = ready(parse(workloads=[{'name': 'web', 'image': 'pt-dk/none:1'}]), dict(IDS, **{'pt-dk/none:1': None}))
    with pytest.raises(ValidationError, match=r'^workloads\[0\].image: image pt-dk/none:1 is not in the local image '
                                              r'store of the Docker engine at unix:///run/pt-dk-engine/docker.sock, '
                                              r'and images are never pulled'):
        plan_for(want, healthy())
    plan, context = plan_for(want, healthy(), check_mode=True)
    assert plan.actions[-1].startswith('start workload web') and len(context.warnings) == 1


def test_missing_pause_image_matters_only_for_a_new_sandbox():
    want = ready(parse(pause_image='pt-dk/no-pause'), {'pt-dk/no-pause:latest': None})
    assert plan_for(want, healthy())[0].actions == []
    gone = healthy()
    gone.update(sandbox='missing', attached=False, record={}, cached=None, pause=None, netns_left=False)
    with pytest.raises(ValidationError, match='^pause_image: image pt-dk/no-pause:latest is not in the local image store'):
        plan_for(want, gone)


def test_names_held_by_foreign_containers_stop_the_plan():
    want = ready(parse(workloads=[{'name': 'web', 'image': 'podnet/web'}]), IDS)
    with pytest.raises(ValidationError, match=r'^workloads\[0\].name: container name podnet-pt-dk-pod-web is taken by '
                                              r'container f00d, which is not pod pt-dk-pod\'s own'):
        plan_for(want, healthy(foreign={'podnet-pt-dk-pod-web': 'f00d'}))


def test_absent_removes_everything_of_the_pod(bridge):
    want = parse(state='absent', network=None, cni_bin_dir=bridge)
    plan = plan_for(want, healthy({'web': running('web', WEB_SPEC)},
                                  leftovers=[{'container': 'x', 'container_name': 'podnet-pt-dk-pod-old'}]))[0]
    assert plan.actions == [
        'remove leftover container podnet-pt-dk-pod-old of pod pt-dk-pod',
        'remove workload web of pod pt-dk-pod (container podnet-pt-dk-pod-web)',
        'CNI DEL pt-dk-net from pod pt-dk-pod', 'remove pause container podnet-pause-pt-dk-pod of pod pt-dk-pod',
        'delete netns pt-dk-pod', 'forget pod pt-dk-pod']
    assert _pod.PodManager().describe(plan.state, want) == {'state': 'absent'}


def test_absent_without_the_plugins_fails_before_any_change():
    want = parse(state='absent', network=None, cni_bin_dir=['/nonexistent'])
    with pytest.raises(ValidationError, match="^cni_bin_dir: cannot remove the attachment of pod pt-dk-pod: CNI "
                                              "plugin 'bridge' not found in /nonexistent"):
        plan_for(want, healthy())


def test_describe_docker_pod():
    want = ready(parse(workloads=[{'name': 'web', 'image': 'podnet/web'}]), IDS)
    full = _pod.PodManager().describe({'pt-dk-pod': healthy({'web': running('web', WEB_SPEC)})}, want, full=True)
    assert full['backend'] == 'docker' and full['docker_host'] == HOST
    assert full['pause_container'] == 'p1' and full['pause_pid'] == 41
    assert full['workload_containers'] == {'web': 'c-web'} and full['workload_pids'] == {'web': 50}
