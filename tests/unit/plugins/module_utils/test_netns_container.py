"""netns adopting a Docker container's namespace: input, and how a container's
inspect answer leads to its SandboxKey (the engine is a fake)."""
from __future__ import annotations

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _docker, _netns
from ansible_collections.packetlife.podnet.plugins.module_utils._netns import NetnsManager
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError

HOST = 'unix:///run/pt-dk-engine/docker.sock'


def running(key='/var/run/docker/netns/1a2b3c4d5e6f', mode='none'):
    return {'State': {'Running': True, 'Status': 'running'}, 'HostConfig': {'NetworkMode': mode},
            'NetworkSettings': {'SandboxKey': key}}


@pytest.fixture
def engine(monkeypatch):
    containers = {}

    class FakeClient:
        def __init__(self, host):
            assert host == HOST

        @staticmethod
        def container(name):
            answer = containers.get(name)
            if isinstance(answer, Exception):
                raise answer
            return answer
    monkeypatch.setattr(_docker, 'Client', FakeClient)
    return containers


def test_parse_container():
    want = NetnsManager().parse({'name': 'web', 'container': 'podnet-pause-web', 'docker_host': HOST}, '')
    assert want['container'] == 'podnet-pause-web' and want['docker_host'] == HOST and want['path'] is None
    assert NetnsManager().parse({'name': 'web', 'container': 'a' * 64}, '')['docker_host'] == _docker.DEFAULT_HOST


@pytest.mark.parametrize('item, message', [
    ({'container': 'web', 'path': '/proc/1/ns/net'}, 'path: path and container are mutually exclusive'),
    ({'container': 'web', 'pid': 1}, 'pid: pid and container are mutually exclusive'),
    ({'path': '/proc/1/ns/net', 'pid': 1}, 'path: path and pid are mutually exclusive'),
    ({'container': 'bad name'}, "container: 'bad name' is neither a container name nor a container ID"),
    ({'container': 'web', 'docker_host': 'tcp://127.0.0.1:2375'}, 'docker_host: .*only unix:// sockets'),
])
def test_parse_refuses(item, message):
    with pytest.raises(ValidationError, match='^' + message):
        NetnsManager().parse(dict(item, name='web'), '')


def test_sandbox_key_of_a_running_container(engine):
    engine['web'] = running()
    assert _netns.sandbox_key('web', HOST, '') == '/var/run/docker/netns/1a2b3c4d5e6f'


def test_sandbox_key_follows_a_joined_namespace(engine):
    engine['web'] = running(key='', mode='container:' + 'b' * 64)
    engine['b' * 64] = running(key='/var/run/docker/netns/bbbbbbbbbbbb')
    assert _netns.sandbox_key('web', HOST, 'namespaces[0].') == '/var/run/docker/netns/bbbbbbbbbbbb'


@pytest.mark.parametrize('containers, message', [
    ({}, '^namespaces.0..container: there is no container web at ' + HOST + '$'),
    ({'web': dict(running(), State={'Running': False, 'Status': 'exited'})},
     r'container: container web is not running \(status exited\)'),
    ({'web': running(mode='host')}, r'container: container web uses the host\'s network namespace'),
    ({'web': running(key='')}, 'container: container web has no network namespace file'),
    ({'web': running(mode='container:gone')},
     r'container: there is no container gone \(whose namespace container web joined\)'),
    ({'web': running(mode='container:x1'), 'x1': running(mode='container:x2')},
     'container: container web joins x1, which joins yet another'),
    ({'web': _docker.DockerError('cannot reach the Docker engine at %s: Connection refused' % HOST)},
     'docker_host: cannot reach the Docker engine'),
])
def test_sandbox_key_refuses(engine, containers, message):
    engine.update(containers)
    with pytest.raises(ValidationError, match=message):
        _netns.sandbox_key('web', HOST, 'namespaces[0].')
