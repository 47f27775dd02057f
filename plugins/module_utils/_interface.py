# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Settings every managed interface shares (MTU, master, addresses, up), planned
and described the same way for veth ends and bridges.

PRIVATE: this module is internal to the collection and may change without notice.
"""

from __future__ import annotations

from ansible_collections.packetlife.podnet.plugins.module_utils import _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import describe_netns, route_text

# The options of one interface, as the veth ends and bridges document them.
INTERFACE_SPEC = dict(
    name=dict(type='str'),
    netns=dict(type='str'),
    addresses=dict(type='list', elements='str'),
    mtu=dict(type='int'),
    up=dict(type='bool', default=True),
)


def parse_interface(params: dict, prefix: str) -> dict:
    """Canonical want for one interface; ``name`` is required."""
    if params.get('name') is None:
        raise _validate.ValidationError(prefix + 'name', 'is required')
    netns = params.get('netns')
    return {
        'name': _validate.ifname(params['name'], prefix + 'name'),
        'netns': None if netns is None else _validate.netns_name(netns, prefix + 'netns'),
        'addresses': _validate.address_list(params.get('addresses'), prefix + 'addresses'),
        'mtu': _validate.mtu(params.get('mtu'), prefix + 'mtu'),
        'up': params.get('up', True),
        'field': prefix,
    }


def scoped_name(obj: dict) -> str:
    """How an object is keyed in results: NAME, or NETNS/NAME in a named namespace."""
    return obj['name'] if obj['netns'] is None else '%s/%s' % (obj['netns'], obj['name'])


def namespaces_of(wants) -> list:
    """The namespaces the objects live in, each once, in order."""
    namespaces = []
    for want in wants:
        if want['netns'] not in namespaces:
            namespaces.append(want['netns'])
    return namespaces


def require_namespace(plan, context, netns, field: str) -> bool:
    """True when the namespace exists (or, in check mode, is assumed to come)."""
    if netns is None or plan.ns(netns)['exists']:
        return True
    context.missing(field, 'network namespace %s does not exist' % netns)
    return False


def check_addresses(model: dict, name: str, wanted, adding, field: str) -> None:
    """Refuse addresses another interface holds, and new subnets that overlap a
    route through another interface (such as the host's own networks)."""
    where = describe_netns(model.get('name'))
    for cidr in adding:
        item_field = '%s[%d]' % (field, wanted.index(cidr))
        ip = cidr.split('/')[0]
        for other in model['links'].values():
            if other['name'] != name and any(a.split('/')[0] == ip for a in other['addresses']):
                raise _validate.ValidationError(
                    item_field, '%s is already held by interface %s in %s' % (ip, other['name'], where))
        subnet = _validate.subnet_of(cidr)
        for route in model['routes']:
            if route['dst'].startswith('default') or route['dev'] == name:
                continue
            if _validate.overlaps(subnet, route['dst']):
                raise _validate.ValidationError(
                    item_field, '%s overlaps the route "%s" already in %s; choose a subnet that does not'
                    % (cidr, route_text(route), where))


def plan_interface(plan, context, ns, want: dict, master=None) -> None:
    """Bring an existing (or planned) interface to the wanted MTU, master, addresses and up state."""
    model = plan.ns(ns)
    link = model['links'][want['name']]
    field = want['field']
    if want['mtu'] is not None and link['mtu'] != want['mtu']:
        plan.set_link(ns, want['name'], mtu=want['mtu'])
    if master is not None:
        bridge = model['links'].get(master)
        if bridge is None:
            context.missing(field + 'master', 'no bridge named %s in %s' % (master, describe_netns(ns)))
        elif bridge['kind'] != 'bridge':
            raise _validate.ValidationError(
                field + 'master', '%s in %s is a %s, not a bridge' % (master, describe_netns(ns), bridge['kind']))
        if link['master'] != master:
            plan.set_link(ns, want['name'], master=master)
    if want['addresses'] is not None:
        adding = [a for a in want['addresses'] if a not in link['addresses']]
        check_addresses(dict(model, name=ns), want['name'], want['addresses'], adding, field + 'addresses')
        for cidr in [a for a in link['addresses'] if a not in want['addresses']]:
            plan.delete_address(ns, want['name'], cidr)
        for cidr in adding:
            plan.add_address(ns, want['name'], cidr)
    if link['up'] != want['up']:
        plan.set_link(ns, want['name'], up=want['up'])


def describe_interface(ns, link: dict, want: dict, full: bool, master=None) -> dict:
    """The managed settings of an interface (all of them when ``full``)."""
    result = {'name': link['name'], 'netns': ns, 'up': link['up']}
    if full or want.get('mtu') is not None:
        result['mtu'] = link['mtu']
    if full or master is not None:
        result['master'] = link['master']
    if full or want.get('addresses') is not None:
        result['addresses'] = list(link['addresses'])
    if full:
        result['kind'] = link['kind']
    return result
