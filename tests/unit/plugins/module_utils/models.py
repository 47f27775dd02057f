"""Builders for kernel-state models as _netlink.Kernel.read_namespace returns them."""
from __future__ import annotations

from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import absent_namespace
from ansible_collections.packetlife.podnet.plugins.module_utils._plan import new_link


def namespace(*links, routes=(), exists=True):
    model = absent_namespace()
    model['exists'] = exists
    model['links'] = dict((link['name'], link) for link in links)
    model['routes'] = list(routes)
    return model


def link(name, kind='device', **extra):
    result = new_link(name, kind, up=extra.pop('up', True))
    result.update(extra)
    return result


def veth(name, peer_ns, peer_name, **extra):
    return link(name, 'veth', peer={'netns': peer_ns, 'name': peer_name}, **extra)


def route(dst, dev, via=None, metric=0, family=4, kernel=False):
    return {'family': family, 'dst': dst, 'via': via, 'dev': dev, 'metric': metric, 'kernel': kernel}
