# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A small client of the Docker Engine HTTP API over its unix socket, on the
standard library only (http.client on an AF_UNIX socket).

PRIVATE: this module is internal to the collection and may change without notice.

It knows what packetlife.podnet needs and nothing more: the engine's version,
image inspect, container create/start/inspect/stop/remove/logs and listing by
label. Images are never pulled. The API version is negotiated once per client:
PREFERRED_API (what Debian's Engine 20.10 speaks) unless the engine's range
(MinAPIVersion to ApiVersion of GET /version) excludes it. Engine errors become
DockerError with the engine's own message.

Also here, pure and unit-tested: parsing of docker_host (DOCKER_HOST), image
references and container names.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import struct
from urllib.parse import quote, urlencode

DEFAULT_HOST = 'unix:///var/run/docker.sock'
PREFERRED_API = '1.41'
# Oldest API with everything used here (labels, label filters, SandboxKey, NetworkMode container:).
MINIMUM_API = '1.24'
TIMEOUT = 60

# Labels on every container packetlife.podnet makes.
LABEL_POD = 'packetlife.podnet.pod'
LABEL_ROLE = 'packetlife.podnet.role'
LABEL_WORKLOAD = 'packetlife.podnet.workload'
LABEL_SPEC = 'packetlife.podnet.spec'

# The engine's own rule for container names (API reference, ContainerCreate).
CONTAINER_NAME = re.compile(r'^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$')
CONTAINER_ID = re.compile(r'^[0-9a-f]{12,64}$')
# The distribution reference grammar (github.com/distribution/reference).
COMPONENT = re.compile(r'^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$')
_DOMAIN_PART = r'(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
DOMAIN = re.compile(r'^(?:%s(?:\.%s)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$' % (_DOMAIN_PART, _DOMAIN_PART))
TAG = re.compile(r'^[\w][\w.-]{0,127}$')
DIGEST = re.compile(r'^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$')
IMAGE_ID = re.compile(r'^sha256:[0-9a-f]{64}$')


class DockerError(Exception):
    """A failed engine request: STATUS is the HTTP status (None when the engine
    could not be reached) and the text carries the engine's message."""

    def __init__(self, text: str, status=None) -> None:
        super().__init__(text)
        self.status = status


def parse_host(text: str) -> str:
    """The socket path of a docker_host / DOCKER_HOST value. Only unix:// sockets:
    a pod's network namespace must be on the host the module runs on, and so
    must the engine that holds it."""
    if not isinstance(text, str) or not text:
        raise ValueError('must be a unix:// URL such as %s' % DEFAULT_HOST)
    scheme, sep, rest = text.partition('://')
    if not sep:
        raise ValueError('%r is not a URL; use unix:///path/to/docker.sock' % text)
    if scheme != 'unix':
        raise ValueError('%r: only unix:// sockets are supported, since the engine must run on this host '
                         '(its sandboxes are namespaces of this kernel)' % text)
    if not rest.startswith('/') or rest.endswith('/') or '\0' in rest:
        raise ValueError('%r: the socket path must be absolute, as in unix:///run/docker.sock' % text)
    if len(rest.encode('utf-8')) > 107:
        raise ValueError('%r: a unix socket path is at most 107 bytes' % text)
    return rest


def image_reference(text: str) -> str:
    """A local image reference as the engine resolves it: [DOMAIN/]PATH[:TAG][@DIGEST]
    in the distribution grammar, or an image ID. A name without tag or digest gets
    :latest, as `docker run` gives it."""
    if not isinstance(text, str) or not text:
        raise ValueError('an image name is required')
    if IMAGE_ID.match(text):
        return text
    name, at, digest = text.partition('@')
    if at and not DIGEST.match(digest):
        raise ValueError('%r: %r is not a valid digest' % (text, digest))
    slash = name.rfind('/')
    colon = name.rfind(':')
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
        if not TAG.match(tag):
            raise ValueError('%r: %r is not a valid tag' % (text, tag))
    components = name.split('/')
    # As the engine reads it: the first component is a registry only when it looks like a host.
    if len(components) > 1 and ('.' in components[0] or ':' in components[0] or components[0] == 'localhost'):
        if not DOMAIN.match(components[0]):
            raise ValueError('%r: %r is not a valid registry host' % (text, components[0]))
        components = components[1:]
    for component in components:
        if not COMPONENT.match(component):
            hint = ' (repository names must be lowercase)' if COMPONENT.match(component.lower()) else ''
            raise ValueError('%r is not a valid image reference%s' % (text, hint))
    if len(name) > 255:
        raise ValueError('%r: the repository name is longer than 255 characters' % text)
    if tag is None and not at:
        return text + ':latest'
    return text


def container_name(text: str) -> str:
    """TEXT if the engine accepts it as a container name, else ValueError."""
    if not isinstance(text, str) or not CONTAINER_NAME.match(text):
        raise ValueError('%r is not a valid container name: it must match [a-zA-Z0-9][a-zA-Z0-9_.-]+' % (text,))
    return text.lstrip('/')


def api_version(engine_max: str, engine_min) -> str:
    """The API version to speak: PREFERRED_API when the engine's range holds it,
    else the nearest end of that range, never below MINIMUM_API."""
    def key(version):
        return tuple(int(part) for part in version.split('.'))
    try:
        chosen = PREFERRED_API
        if key(engine_max) < key(chosen):
            chosen = engine_max
        elif engine_min and key(engine_min) > key(chosen):
            chosen = engine_min
        too_old = key(chosen) < key(MINIMUM_API)
    except (AttributeError, ValueError):
        raise DockerError('the engine reported an unreadable API version %r' % (engine_max,))
    if too_old:
        raise DockerError('the engine speaks API %s; packetlife.podnet needs %s or newer' % (engine_max, MINIMUM_API))
    return chosen


def demultiplex(data: bytes) -> str:
    """The text of a logs answer: a container without TTY sends frames of an
    8-byte header (stream, 0, 0, 0, big-endian length) and the payload."""
    out, offset = [], 0
    while offset + 8 <= len(data) and data[offset] in (0, 1, 2) and data[offset + 1:offset + 4] == b'\0\0\0':
        size = struct.unpack('>I', data[offset + 4:offset + 8])[0]
        out.append(data[offset + 8:offset + 8 + size])
        offset += 8 + size
    if offset < len(data):
        out.append(data[offset:])  # a TTY container's raw stream, or a torn frame
    return b''.join(out).decode('utf-8', 'replace')


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix stream socket."""

    def __init__(self, path: str, timeout: float = TIMEOUT) -> None:
        super().__init__('localhost', timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Client:
    """One engine, reached at HOST (a docker_host URL)."""

    connection_class = UnixConnection

    def __init__(self, host: str = DEFAULT_HOST, timeout: float = TIMEOUT) -> None:
        self.host = host
        self.path = parse_host(host)
        self.timeout = timeout
        self.api = None
        self.engine = None

    # transport --------------------------------------------------------------

    def request(self, method: str, path: str, query=None, body=None, versioned: bool = True,
                timeout=None, raw: bool = False):
        """(status, answer): the JSON answer decoded (None when empty), or the raw
        bytes with RAW. Statuses of 400 and more raise DockerError, except 404,
        which is returned for the caller to judge."""
        if versioned:
            path = '/v%s%s' % (self.negotiate(), path)
        if query:
            path += '?' + urlencode(query)
        headers = {'Host': 'docker', 'Accept': 'application/json'}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        connection = self.connection_class(self.path, timeout=timeout or self.timeout)
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise DockerError('cannot reach the Docker engine at %s: %s' % (self.host, _os_error_text(exc)))
        finally:
            connection.close()
        if response.status >= 400 and response.status != 404:
            raise DockerError('Docker engine at %s answered %s %s with HTTP %d: %s'
                              % (self.host, method, path.split('?')[0], response.status, _message(data)),
                              status=response.status)
        if raw:
            return response.status, data
        if not data:
            return response.status, None
        try:
            return response.status, json.loads(data.decode('utf-8'))
        except ValueError:
            if response.status == 404:
                return response.status, {'message': data.decode('utf-8', 'replace').strip()}
            raise DockerError('Docker engine at %s answered %s %s with something that is not JSON: %r'
                              % (self.host, method, path, data[:200]), status=response.status)

    def negotiate(self) -> str:
        if self.api is None:
            self.version()
        return self.api

    # engine -----------------------------------------------------------------

    def version(self) -> dict:
        """GET /version (unversioned); also fixes the API version of this client."""
        status, answer = self.request('GET', '/version', versioned=False)
        if status == 404 or not isinstance(answer, dict) or 'ApiVersion' not in answer:
            raise DockerError('%s does not answer like a Docker engine (GET /version: %r)' % (self.host, answer))
        self.api = api_version(answer['ApiVersion'], answer.get('MinAPIVersion'))
        self.engine = answer
        return answer

    # images -----------------------------------------------------------------

    def image(self, reference: str):
        """The image's inspect answer, or None if the engine has no such image."""
        status, answer = self.request('GET', '/images/%s/json' % _segment(reference))
        return None if status == 404 else answer

    # containers -------------------------------------------------------------

    def container(self, name_or_id: str):
        """The container's inspect answer, or None if there is no such container."""
        status, answer = self.request('GET', '/containers/%s/json' % _segment(name_or_id))
        return None if status == 404 else answer

    def containers(self, labels: dict) -> list:
        """All containers (running or not) carrying every label of LABELS."""
        filters = {'label': ['%s=%s' % (key, value) for key, value in sorted(labels.items())]}
        status, answer = self.request('GET', '/containers/json', query={'all': '1', 'filters': json.dumps(filters)})
        if status == 404 or not isinstance(answer, list):
            raise DockerError('Docker engine at %s answered the container list with %r' % (self.host, answer))
        return answer

    def create(self, name: str, config: dict) -> str:
        """Create a container named NAME; its ID. A missing image is not pulled."""
        status, answer = self.request('POST', '/containers/create', query={'name': name}, body=config)
        if status == 404:
            raise DockerError('cannot create container %s: %s (images are never pulled; build or import it)'
                              % (name, _message_of(answer)), status=status)
        return answer['Id']

    def start(self, name_or_id: str) -> None:
        status, answer = self.request('POST', '/containers/%s/start' % _segment(name_or_id))
        if status == 404:
            raise DockerError('cannot start container %s: %s' % (name_or_id, _message_of(answer)), status=status)

    def stop(self, name_or_id: str, timeout: int = 10) -> None:
        """SIGTERM (or the image's stop signal), SIGKILL after TIMEOUT seconds.
        A container that is stopped or gone already is fine."""
        self.request('POST', '/containers/%s/stop' % _segment(name_or_id), query={'t': str(timeout)},
                     timeout=timeout + self.timeout)

    def remove(self, name_or_id: str) -> None:
        """Remove a container, killing it if it still runs; a missing one is fine."""
        self.request('DELETE', '/containers/%s' % _segment(name_or_id), query={'force': '1', 'v': '1'})

    def logs(self, name_or_id: str, lines: int = 5) -> str:
        status, data = self.request('GET', '/containers/%s/logs' % _segment(name_or_id),
                                    query={'stdout': '1', 'stderr': '1', 'tail': str(lines)}, raw=True)
        return '' if status == 404 else demultiplex(data)


def _segment(text: str) -> str:
    """A name or reference as one URL path segment group (image names keep their /)."""
    return quote(text, safe='/:@')


def _message(data: bytes) -> str:
    try:
        return _message_of(json.loads(data.decode('utf-8')))
    except ValueError:
        return data.decode('utf-8', 'replace').strip() or '(no message)'


def _message_of(answer) -> str:
    if isinstance(answer, dict) and answer.get('message'):
        return str(answer['message']).strip()
    return str(answer)


def _os_error_text(exc) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
