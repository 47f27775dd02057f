"""The Docker Engine API client: docker_host, image references, container names,
API version negotiation, log frames, and the HTTP it speaks, on a fake socket."""
from __future__ import annotations

import io
import json
import struct
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _docker

DIGEST = 'sha256:' + 'ab' * 32


@pytest.mark.parametrize('host, path', [
    ('unix:///var/run/docker.sock', '/var/run/docker.sock'),
    ('unix:///run/pt-dk-engine/docker.sock', '/run/pt-dk-engine/docker.sock'),
])
def test_parse_host(host, path):
    assert _docker.parse_host(host) == path


@pytest.mark.parametrize('host, message', [
    ('tcp://127.0.0.1:2375', 'only unix:// sockets are supported'),
    ('ssh://me@host', 'only unix:// sockets are supported'),
    ('/var/run/docker.sock', 'is not a URL'),
    ('unix://run/docker.sock', 'the socket path must be absolute'),
    ('unix:///run/', 'the socket path must be absolute'),
    ('unix:///' + 'x' * 120, 'at most 107 bytes'),
    ('', 'must be a unix:// URL'),
])
def test_parse_host_refuses(host, message):
    with pytest.raises(ValueError, match=message):
        _docker.parse_host(host)


@pytest.mark.parametrize('text, normalised', [
    ('podnet/pause', 'podnet/pause:latest'),
    ('busybox', 'busybox:latest'),
    ('busybox:1.36', 'busybox:1.36'),
    ('podnet/web:latest', 'podnet/web:latest'),
    ('localhost:5000/team/app', 'localhost:5000/team/app:latest'),
    ('registry.example.com:5000/team/app:v1.2', 'registry.example.com:5000/team/app:v1.2'),
    ('Registry.Example.com/app', 'Registry.Example.com/app:latest'),
    ('podnet/web@' + DIGEST, 'podnet/web@' + DIGEST),
    ('podnet/web:1@' + DIGEST, 'podnet/web:1@' + DIGEST),
    (DIGEST, DIGEST),
    ('a__b/c-d.e', 'a__b/c-d.e:latest'),
])
def test_image_reference(text, normalised):
    assert _docker.image_reference(text) == normalised


@pytest.mark.parametrize('text, message', [
    ('Podnet/Web', r'not a valid image reference \(repository names must be lowercase\)'),
    ('podnet/pause:', "'' is not a valid tag"),
    ('podnet/pause:-x', "'-x' is not a valid tag"),
    ('podnet/web@sha256:xyz', 'is not a valid digest'),
    ('podnet//web', 'not a valid image reference'),
    ('podnet/web-', 'not a valid image reference'),
    ('bad_host.example.com:x/app', 'is not a valid registry host'),
    ('a' * 256, 'longer than 255'),
    ('', 'an image name is required'),
])
def test_image_reference_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        _docker.image_reference(text)


def test_container_name():
    assert _docker.container_name('podnet-pause-pause_demo') == 'podnet-pause-pause_demo'
    assert _docker.container_name('/podnet-web') == 'podnet-web'
    for bad in ('a', 'has space', '-leading', 'slash/inside', ''):
        with pytest.raises(ValueError, match='is not a valid container name'):
            _docker.container_name(bad)


@pytest.mark.parametrize('engine_max, engine_min, chosen', [
    ('1.41', '1.12', '1.41'),    # Debian's Engine 20.10
    ('1.40', '1.12', '1.40'),    # older than preferred: the engine's own
    ('1.50', '1.24', '1.41'),    # newer: preferred, which it still speaks
    ('1.52', '1.44', '1.44'),    # newer and no longer speaking 1.41: its oldest
    ('1.41', None, '1.41'),
])
def test_api_version(engine_max, engine_min, chosen):
    assert _docker.api_version(engine_max, engine_min) == chosen


@pytest.mark.parametrize('engine_max, message', [('1.23', 'needs 1.24 or newer'), ('x.y', 'unreadable API version'),
                                                 (None, 'unreadable API version')])
def test_api_version_refuses(engine_max, message):
    with pytest.raises(_docker.DockerError, match=message):
        _docker.api_version(engine_max, None)


def frame(stream, text):
    data = text.encode()
    return struct.pack('>BxxxI', stream, len(data)) + data


def test_demultiplex():
    assert _docker.demultiplex(frame(1, 'out 1\n') + frame(2, 'err 1\n') + frame(1, 'out 2\n')) == 'out 1\nerr 1\nout 2\n'
    assert _docker.demultiplex(b'plain tty output\n') == 'plain tty output\n'
    assert _docker.demultiplex(b'') == ''


# The engine on a fake socket --------------------------------------------------

VERSION = {'Version': '20.10.24+dfsg1', 'ApiVersion': '1.41', 'MinAPIVersion': '1.12'}


def http(status, body=None, reason='OK', chunked=False):
    """An HTTP/1.1 answer as the engine sends it."""
    data = b'' if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    head = 'HTTP/1.1 %d %s\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n' % (status, reason)
    if chunked:
        payload = b''.join(b'%x\r\n%s\r\n' % (len(part), part) for part in (data[:5], data[5:]) if part) + b'0\r\n\r\n'
        return head.encode() + b'Transfer-Encoding: chunked\r\n\r\n' + payload
    return head.encode() + b'Content-Length: %d\r\n\r\n' % len(data) + data


class FakeSocket:
    def __init__(self, answer):
        self.answer = answer
        self.sent = b''

    def sendall(self, data):
        self.sent += data

    def makefile(self, mode):
        return io.BytesIO(self.answer)

    def close(self):
        pass


class FakeEngine:
    """Answers the client's connections in order and keeps what each was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sockets = []

    def connection(self, path, timeout):
        engine = self

        class Connection(_docker.UnixConnection):
            def connect(self):
                if not engine.answers:
                    raise AssertionError('unexpected request')
                answer = engine.answers.pop(0)
                if isinstance(answer, OSError):
                    raise answer
                self.sock = FakeSocket(answer)
                engine.sockets.append((self.socket_path, self.timeout, self.sock))
        return Connection(path, timeout)

    def requests(self):
        """(method, path, query, headers, body) of every request sent."""
        out = []
        for _path, _timeout, sock in self.sockets:
            head, _sep, body = sock.sent.partition(b'\r\n\r\n')
            lines = head.decode().split('\r\n')
            method, target, _version = lines[0].split(' ')
            url = urlsplit(target)
            headers = dict(line.split(': ', 1) for line in lines[1:])
            out.append((method, url.path, parse_qs(url.query), headers, json.loads(body) if body else None))
        return out


def client_for(*answers, host='unix:///run/pt-dk-engine/docker.sock'):
    engine = FakeEngine(*answers)
    client = _docker.Client(host)
    client.connection_class = engine.connection
    return client, engine


def test_negotiates_once_then_speaks_that_version():
    client, engine = client_for(http(200, VERSION), http(200, {'Id': 'abc', 'State': {'Running': True}}),
                                http(404, {'message': 'No such container: nope'}))
    assert client.container('podnet-pause-pod')['Id'] == 'abc'
    assert client.container('nope') is None
    sent = engine.requests()
    assert [(method, path) for method, path, _q, _h, _b in sent] == [
        ('GET', '/version'), ('GET', '/v1.41/containers/podnet-pause-pod/json'), ('GET', '/v1.41/containers/nope/json')]
    assert sent[0][3]['Host'] == 'docker' and sent[0][3]['Accept'] == 'application/json'
    assert all(socket_path == '/run/pt-dk-engine/docker.sock' for socket_path, _t, _s in engine.sockets)
    assert client.engine == VERSION and client.api == '1.41'


def test_create_sends_name_and_config():
    config = {'Image': 'podnet/pause:latest', 'Labels': {_docker.LABEL_POD: 'pod'},
              'HostConfig': {'NetworkMode': 'none'}}
    client, engine = client_for(http(200, VERSION), http(201, {'Id': 'f00d', 'Warnings': []}, reason='Created'))
    assert client.create('podnet-pause-pod', config) == 'f00d'
    method, path, query, headers, body = engine.requests()[1]
    assert (method, path, query) == ('POST', '/v1.41/containers/create', {'name': ['podnet-pause-pod']})
    assert headers['Content-Type'] == 'application/json' and int(headers['Content-Length']) > 0
    assert body == config


def test_image_names_keep_their_slashes_and_tags():
    client, engine = client_for(http(200, VERSION), http(200, {'Id': 'sha256:1'}), http(404, {'message': 'No such image'}))
    assert client.image('podnet/web:latest') == {'Id': 'sha256:1'}
    assert client.image('pt-dk/none:1') is None
    assert [path for _m, path, _q, _h, _b in engine.requests()[1:]] == [
        '/v1.41/images/podnet/web:latest/json', '/v1.41/images/pt-dk/none:1/json']


def test_list_by_label_and_remove_and_stop():
    client, engine = client_for(http(200, VERSION), http(200, [{'Id': 'c1'}], chunked=True), http(204),
                                http(304), http(404, {'message': 'No such container: c1'}))
    assert client.containers({_docker.LABEL_POD: 'pod', _docker.LABEL_ROLE: 'pause'}) == [{'Id': 'c1'}]
    client.stop('c1', 3)
    client.stop('c1', 3)     # 304: stopped already
    client.remove('c1')      # 404: gone already
    sent = engine.requests()
    assert json.loads(sent[1][2]['filters'][0]) == {
        'label': ['packetlife.podnet.pod=pod', 'packetlife.podnet.role=pause']}
    assert sent[1][2]['all'] == ['1']
    assert (sent[2][0], sent[2][1], sent[2][2]) == ('POST', '/v1.41/containers/c1/stop', {'t': ['3']})
    assert (sent[4][0], sent[4][2]) == ('DELETE', {'force': ['1'], 'v': ['1']})
    assert engine.sockets[2][1] == 3 + _docker.TIMEOUT   # the HTTP wait outlasts the stop timeout


def test_engine_errors_carry_the_engines_message():
    conflict = http(409, {'message': 'Conflict. The container name is in use'}, reason='Conflict')
    client, _engine = client_for(http(200, VERSION), conflict)
    with pytest.raises(_docker.DockerError, match='answered POST /v1.41/containers/create with HTTP 409: '
                                                  'Conflict. The container name is in use') as raised:
        client.create('x1', {'Image': 'podnet/pause:latest'})
    assert raised.value.status == 409


def test_missing_image_on_create_says_it_is_not_pulled():
    client, _engine = client_for(http(200, VERSION), http(404, {'message': 'No such image: pt-dk/none:1'}))
    with pytest.raises(_docker.DockerError, match='No such image: pt-dk/none:1 .images are never pulled'):
        client.create('x1', {'Image': 'pt-dk/none:1'})


def test_unreachable_engine():
    client, _engine = client_for(FileNotFoundError(2, 'No such file or directory'))
    with pytest.raises(_docker.DockerError, match='^cannot reach the Docker engine at unix:///run/pt-dk-engine/'
                                                  'docker.sock: No such file or directory$') as raised:
        client.version()
    assert raised.value.status is None


def test_not_an_engine():
    client, _engine = client_for(http(200, {'hello': 'world'}))
    with pytest.raises(_docker.DockerError, match='does not answer like a Docker engine'):
        client.negotiate()


def test_logs_are_demultiplexed():
    client, engine = client_for(http(200, VERSION), http(200, frame(1, 'starting\n') + frame(2, 'failed\n')))
    assert client.logs('c1', lines=2) == 'starting\nfailed\n'
    assert engine.requests()[1][2] == {'stdout': ['1'], 'stderr': ['1'], 'tail': ['2']}
