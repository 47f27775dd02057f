# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The manager behind packetlife.podnet.veth: veth pairs whose ends live in any
namespaces, each end with its own addresses, MTU, bridge master and up state.

PRIVATE: this module is internal to the collection and may change without notice.
"""

from __future__ import annotations

from ansible_collections.packetlife.podnet.plugins.module_utils import _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._interface import (
    INTERFACE_SPEC, describe_interface, parse_interface, plan_interface, require_namespace, scoped_name)
from ansible_collections.packetlife.podnet.plugins.module_utils._module import validate_element
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import describe_netns

END_SPEC = dict(INTERFACE_SPEC, master=dict(type='str'))
ITEM_SPEC = dict(
    END_SPEC,
    peer=dict(type='dict'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
)


def parse_end(params: dict, prefix: str) -> dict:
    end = parse_interface(params, prefix)
    master = params.get('master')
    end['master'] = None if master is None else _validate.ifname(master, prefix + 'master')
    return end


def find_pair(state: dict, end: dict, peer):
    """Where the pair is now: ((ns, link), (ns, link)) for the two ends, or None.
    An end found in its wanted namespace wins; otherwise any namespace read."""
    candidates = [(end, peer), (peer, end)] if peer else [(end, None)]
    for this, other in candidates:
        model = state.get(this['netns'])
        link = model['links'].get(this['name']) if model else None
        if link is not None and link['kind'] == 'veth' and (other is None or link['peer']['name'] == other['name']):
            return _pair_of(state, this['netns'], link)
    for this, other in candidates:
        if other is None:
            continue
        for ns, model in state.items():
            link = model['links'].get(this['name'])
            if link is not None and link['kind'] == 'veth' and link['peer']['name'] == other['name']:
                return _pair_of(state, ns, link)
    return None


def _pair_of(state, ns, link):
    peer = link['peer']
    other = state.get(peer['netns'], {'links': {}})['links'].get(peer['name']) if peer['netns'] != '?' else None
    return (ns, link), (peer['netns'], other)


class VethManager:
    def parse(self, item: dict, prefix: str) -> dict:
        end = parse_end(item, prefix)
        peer = None
        if item.get('peer') is not None:
            peer = parse_end(validate_element(END_SPEC, item['peer'], prefix + 'peer'), prefix + 'peer.')
        elif item.get('state', 'present') == 'present':
            raise _validate.ValidationError(prefix + 'peer', 'is required when state is present')
        if peer and peer['netns'] == end['netns'] and peer['name'] == end['name']:
            raise _validate.ValidationError(prefix + 'peer.name', 'both ends are named %s in the same namespace' % end['name'])
        return {'end': end, 'peer': peer, 'state': item.get('state', 'present'), 'field': prefix}

    @staticmethod
    def key(want: dict) -> str:
        return scoped_name(want['end'])

    def prepare(self, kernel, wants) -> None:
        pass

    def read(self, kernel, wants) -> dict:
        namespaces = [None]
        for want in wants:
            for end in (want['end'], want['peer']):
                if end and end['netns'] not in namespaces:
                    namespaces.append(end['netns'])
        return kernel.read(namespaces)

    def plan(self, plan, wants, context) -> None:
        claimed = {}
        for want in wants:
            for end in (want['end'], want['peer']):
                if end is None:
                    continue
                spot = (end['netns'], end['name'])
                if spot in claimed:
                    raise _validate.ValidationError(end['field'] + 'name', '%s in %s is also named by %sname'
                                                    % (end['name'], describe_netns(end['netns']), claimed[spot]))
                claimed[spot] = end['field']
        for want in wants:
            if want['state'] == 'absent':
                self._plan_absent(plan, want)
            else:
                self._plan_present(plan, context, want)

    @staticmethod
    def _check_taken(plan, end, other) -> None:
        """A name in the wanted namespace must be free or be this very pair."""
        model = plan.ns(end['netns'])
        link = model['links'].get(end['name'])
        if link is None:
            return
        where = describe_netns(end['netns'])
        if link['kind'] != 'veth':
            raise _validate.ValidationError(
                end['field'] + 'name', '%s in %s is a %s, not a veth' % (end['name'], where, link['kind']))
        peer = link['peer']
        if other is not None and peer['name'] != other['name']:
            if peer['netns'] == '?':
                raise _validate.ValidationError(
                    end['field'] + 'name', '%s in %s is a veth whose peer is in a namespace this task does not name,'
                    ' not %s in %s' % (end['name'], where, other['name'], describe_netns(other['netns'])))
            raise _validate.ValidationError(
                end['field'] + 'name', '%s in %s is a veth whose peer is %s in %s, not %s'
                % (end['name'], where, peer['name'], describe_netns(peer['netns']), other['name']))

    def _plan_present(self, plan, context, want) -> None:
        end, peer = want['end'], want['peer']
        ready = [require_namespace(plan, context, e['netns'], e['field'] + 'netns') for e in (end, peer)]
        found = None
        if all(ready):
            self._check_taken(plan, end, peer)
            self._check_taken(plan, peer, end)
            found = find_pair(plan.state, end, peer)
        if found is None:
            plan.create_veth(end['netns'], end['name'], peer['netns'], peer['name'])
        else:
            for (ns, link), wanted in zip(found, self._order(found, end, peer)):
                if ns == '?':
                    raise _validate.ValidationError(
                        wanted['field'] + 'netns', '%s is in a namespace not named here; name it in netns to move it'
                        % wanted['name'])
                if ns != wanted['netns']:
                    plan.move_link(ns, wanted['name'], wanted['netns'])
        plan_interface(plan, context, end['netns'], end, master=end['master'])
        plan_interface(plan, context, peer['netns'], peer, master=peer['master'])

    @staticmethod
    def _order(found, end, peer):
        first = found[0][1]
        return (end, peer) if first['name'] == end['name'] else (peer, end)

    def _plan_absent(self, plan, want) -> None:
        end, peer = want['end'], want['peer']
        for this, other in ((end, peer), (peer, end)):
            if this is None or not plan.ns(this['netns'])['exists']:
                continue
            self._check_taken(plan, this, other)
            if this['name'] in plan.ns(this['netns'])['links']:
                plan.delete_link(this['netns'], this['name'])
                return

    def describe(self, state: dict, want: dict, full: bool = False) -> dict:
        found = find_pair(state, want['end'], want['peer'])
        if found is None:
            return {'state': 'absent'}
        result = {'state': 'present'}
        for (ns, link), wanted in zip(found, self._order(found, want['end'], want['peer'] or {})):
            role = 'end' if wanted is want['end'] else 'peer'
            # None: the peer is in a namespace this task does not name.
            result[role] = describe_interface(ns, link, wanted, full, master=wanted.get('master')) if link else None
        return result
