# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The manager behind packetlife.podnet.netns: named network namespaces, their
loopback, routes and net.* sysctls, and adoption of namespaces made by others.

PRIVATE: this module is internal to the collection and may change without notice.
"""

from __future__ import annotations

import os

from ansible.module_utils.basic import env_fallback

from ansible_collections.packetlife.podnet.plugins.module_utils import _docker, _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import (
    describe_netns, route_record, route_text)
from ansible_collections.packetlife.podnet.plugins.module_utils._plan import same_route

# The kernel gives an IPv6 route without a metric this one (IP6_RT_PRIO_USER).
IPV6_DEFAULT_METRIC = 1024
# A route's priority is a 32-bit number.
METRIC_MAX = 4294967295

ROUTE_SPEC = dict(
    dst=dict(type='str', required=True),
    via=dict(type='str'),
    dev=dict(type='str'),
    metric=dict(type='int', default=0),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
)

ITEM_SPEC = dict(
    name=dict(type='str'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    path=dict(type='path'),
    pid=dict(type='int'),
    container=dict(type='str'),
    docker_host=dict(type='str', default=_docker.DEFAULT_HOST, fallback=(env_fallback, ['DOCKER_HOST'])),
    loopback=dict(type='bool', default=True),
    routes=dict(type='list', elements='dict', options=ROUTE_SPEC),
    sysctls=dict(type='dict'),
)


def parse_route(params: dict, field: str) -> dict:
    dst = _validate.route_destination(params['dst'], field + '.dst')
    family = 6 if dst == 'default6' or ':' in dst else 4
    via = params.get('via')
    if via is not None:
        via = _validate.unicast_address(via, field + '.via')
        if _validate.ip_version(via) != family:
            raise _validate.ValidationError(field + '.via', '%s is not of the same IP version as %s' % (via, dst))
    dev = params.get('dev')
    if dev is not None:
        dev = _validate.ifname(dev, field + '.dev')
    metric = params.get('metric') or 0
    if not 0 <= metric <= METRIC_MAX:
        raise _validate.ValidationError(field + '.metric', 'must be between 0 and %d, got %d' % (METRIC_MAX, metric))
    if family == 6 and metric == 0:
        metric = IPV6_DEFAULT_METRIC
    if params.get('state', 'present') == 'present' and via is None and dev is None:
        raise _validate.ValidationError(field, 'a route needs via, dev or both')
    route = route_record(family=family, dst=None, dst_len=0, via=via, dev=dev, metric=metric)
    route['dst'] = dst
    route['state'] = params.get('state', 'present')
    route['field'] = field
    return route


def route_matches(have: dict, want: dict) -> bool:
    """A kernel route satisfies a wanted one when it is the same route and agrees on
    every part the user gave."""
    return (same_route(have, want)
            and (want['via'] is None or have['via'] == want['via'])
            and (want['dev'] is None or have['dev'] == want['dev']))


def sandbox_key(container: str, host: str, prefix: str) -> str:
    """The network namespace file of a running Docker container (its SandboxKey); for a
    container that joined another's namespace (network mode container:X), X's."""
    client = _docker.Client(host)
    field = prefix + 'container'
    via = None
    while True:
        try:
            info = client.container(container)
        except _docker.DockerError as exc:
            raise _validate.ValidationError(prefix + 'docker_host', str(exc))
        label = container if via is None else '%s (whose namespace container %s joined)' % (container, via)
        if info is None:
            raise _validate.ValidationError(field, 'there is no container %s at %s' % (label, host))
        state = info.get('State') or {}
        mode = (info.get('HostConfig') or {}).get('NetworkMode') or ''
        if not state.get('Running'):
            raise _validate.ValidationError(field, 'container %s is not running (status %s), so it has no network '
                                            'namespace to adopt' % (label, state.get('Status', 'unknown')))
        if mode == 'host':
            raise _validate.ValidationError(field, 'container %s uses the host\'s network namespace (network mode '
                                            'host); there is nothing of its own to adopt' % label)
        if mode.startswith('container:'):
            if via is not None:
                raise _validate.ValidationError(field, 'container %s joins %s, which joins yet another container'
                                                % (via, container))
            via, container = container, mode.split(':', 1)[1]
            continue
        key = (info.get('NetworkSettings') or {}).get('SandboxKey')
        if not key:
            raise _validate.ValidationError(field, 'container %s has no network namespace file (no SandboxKey in '
                                            'docker inspect)' % label)
        return key


class NetnsManager:
    def parse(self, item: dict, prefix: str) -> dict:
        if item.get('name') is None:
            raise _validate.ValidationError(prefix + 'name', 'is required')
        name = _validate.netns_name(item['name'], prefix + 'name')
        given = [key for key in ('path', 'pid', 'container') if item.get(key) is not None]
        if len(given) > 1:
            raise _validate.ValidationError(prefix + given[0], '%s are mutually exclusive' % ' and '.join(given))
        container = item.get('container')
        docker_host = item.get('docker_host') or _docker.DEFAULT_HOST
        if container is not None:
            if not (_docker.CONTAINER_NAME.match(container) or _docker.CONTAINER_ID.match(container)):
                raise _validate.ValidationError(prefix + 'container', '%r is neither a container name nor a container '
                                                'ID' % container)
            try:
                _docker.parse_host(docker_host)
            except ValueError as exc:
                raise _validate.ValidationError(prefix + 'docker_host', str(exc))
        path = item.get('path')
        if path is not None and not os.path.isabs(path):
            raise _validate.ValidationError(prefix + 'path', '%s is not an absolute path' % path)
        pid = item.get('pid')
        if pid is not None and pid <= 0:
            raise _validate.ValidationError(prefix + 'pid', 'must be a positive process ID')
        routes = [parse_route(route, '%sroutes[%d]' % (prefix, i)) for i, route in enumerate(item.get('routes') or [])]
        sysctls = {}
        for key, value in (item.get('sysctls') or {}).items():
            field = '%ssysctls.%s' % (prefix, key)
            sysctls[_validate.sysctl_name(key, field)] = _validate.sysctl_value(value, field)
        return {'name': name, 'state': item.get('state', 'present'), 'path': path, 'pid': pid,
                'container': container, 'docker_host': docker_host,
                'loopback': item.get('loopback', True), 'routes': routes, 'sysctls': sysctls, 'field': prefix}

    @staticmethod
    def key(want: dict) -> str:
        return want['name']

    def prepare(self, kernel, wants) -> None:
        """Check adoption sources and unknown sysctls before anything changes."""
        for want in wants:
            if want['state'] != 'present':
                continue
            if want['container'] is not None:
                # From here on, adopting a container's namespace is adopting its file.
                want['path'] = sandbox_key(want['container'], want['docker_host'], want['field'])
            source = want['path'] or ('/proc/%d/ns/net' % want['pid'] if want['pid'] else None)
            if source is not None:
                field = want['field'] + ('container' if want['container'] else 'path' if want['path'] else 'pid')
                inode = kernel.namespace_inode(source)
                if inode is None:
                    raise _validate.ValidationError(field, '%s is not a network namespace' % source)
                have = kernel.netns_source(want['name'])
                if have is not None and have['inode'] != inode and (have['symlink'] is None or want['pid']):
                    raise _validate.ValidationError(
                        field, 'netns %s already exists and is another namespace than %s; remove it first'
                        % (want['name'], source))
                if have is None or have['inode'] != inode:
                    # Read what the adopted namespace holds under its future name.
                    kernel.alias(want['name'], source)
                want['source_inode'] = inode
            for key in want['sysctls']:
                if kernel.read_sysctl(None, key) is None:
                    raise _validate.ValidationError(
                        '%ssysctls.%s' % (want['field'], key), 'no such sysctl on this host')

    def read(self, kernel, wants) -> dict:
        state = kernel.read([want['name'] for want in wants])
        for want in wants:
            model = state[want['name']]
            model['source'] = kernel.netns_source(want['name'])
            if not model['exists'] and kernel.has_alias(want['name']):
                content = kernel.read_namespace(want['name'])
                model.update(links=content['links'], routes=content['routes'])
            if model['exists'] or kernel.has_alias(want['name']):
                for key in want['sysctls']:
                    model['sysctls'][key] = kernel.read_sysctl(want['name'], key)
        return state

    def plan(self, plan, wants, context) -> None:
        for want in wants:
            name = want['name']
            model = plan.ns(name)
            if want['state'] == 'absent':
                if model['exists']:
                    plan.delete_netns(name)
                continue
            source = model.get('source')
            relink = want['path'] and source and source['symlink'] not in (None, want['path'])
            if not model['exists'] or relink:
                plan.create_netns(name, pid=want['pid'], path=want['path'])
                model = plan.ns(name)
                model['source'] = {'symlink': want['path']} if want['path'] else None
            lo = model['links'].get('lo')
            if want['loopback'] and lo is not None and not lo['up']:
                plan.set_link(name, 'lo', up=True)
            for route in want['routes']:
                self._plan_route(plan, context, name, route)
            for key, value in want['sysctls'].items():
                if model['sysctls'].get(key) != value:
                    plan.set_sysctl(name, key, value)

    @staticmethod
    def _plan_route(plan, context, name, route) -> None:
        model = plan.ns(name)
        same = [have for have in model['routes'] if same_route(have, route)]
        if route['state'] == 'absent':
            for have in same:
                plan.delete_route(name, have)
            return
        if any(route_matches(have, route) for have in same):
            return
        if route['dev'] is not None and route['dev'] not in model['links']:
            context.missing(route['field'] + '.dev', 'no interface %s in %s' % (route['dev'], describe_netns(name)))
        new = dict((k, v) for k, v in route.items() if k not in ('state', 'field'))
        if route['via'] is not None and route['dev'] is None:
            # The kernel picks the interface whose subnet holds the gateway; so do we.
            new['dev'] = next((link['name'] for link in sorted(model['links'].values(), key=lambda link: link['name'])
                               for address in link['addresses']
                               if _validate.contains(_validate.subnet_of(address), route['via'])), None)
            if new['dev'] is None:
                context.missing(route['field'] + '.via', '%s is in no subnet of an interface in %s'
                                % (route['via'], describe_netns(name)))
        for have in same:
            plan.delete_route(name, have)
        plan.add_route(name, new)

    def describe(self, state: dict, want: dict, full: bool = False) -> dict:
        model = state.get(want['name'])
        if model is None or not model['exists']:
            return {'state': 'absent'}
        result = {'state': 'present'}
        source = model.get('source')
        if source and source.get('symlink'):
            result['linked_to'] = source['symlink']
        if want['loopback'] or full:
            lo = model['links'].get('lo')
            result['loopback_up'] = bool(lo and lo['up'])
        if want['routes']:
            result['routes'] = [route_text(have) for have in model['routes']
                                if any(same_route(have, route) for route in want['routes'])]
        if want['sysctls']:
            result['sysctls'] = dict((key, model['sysctls'].get(key)) for key in want['sysctls'])
        if full:
            result['interfaces'] = [
                {'name': link['name'], 'kind': link['kind'], 'up': link['up'], 'mtu': link['mtu'],
                 'master': link['master'], 'addresses': link['addresses']}
                for link in sorted(model['links'].values(), key=lambda link: link['name'])]
            result['routes'] = [route_text(have) for have in model['routes']]
        return result
