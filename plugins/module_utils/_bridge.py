# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The manager behind packetlife.podnet.linux_bridge: a bridge with its gateway
addresses, STP, ports, and the isGateway/ipMasq duties of the CNI bridge plugin
(IPv4 forwarding and owned MASQUERADE rules).

PRIVATE: this module is internal to the collection and may change without notice.
"""

from __future__ import annotations

from ansible_collections.packetlife.podnet.plugins.module_utils import _iptables, _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._interface import (
    INTERFACE_SPEC, describe_interface, namespaces_of, parse_interface, plan_interface, require_namespace,
    scoped_name)
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import describe_netns

FORWARDING = 'net.ipv4.ip_forward'
NAT = 'nat'

ITEM_SPEC = dict(
    INTERFACE_SPEC,
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    stp=dict(type='bool'),
    ports=dict(type='list', elements='str'),
    ports_exclusive=dict(type='bool', default=False),
    forwarding=dict(type='bool'),
    masquerade=dict(type='bool'),
)


class BridgeManager:
    def parse(self, item: dict, prefix: str) -> dict:
        want = parse_interface(item, prefix)
        ports = item.get('ports')
        if ports is not None:
            ports = [_validate.ifname(port, '%sports[%d]' % (prefix, i)) for i, port in enumerate(ports)]
            if want['name'] in ports:
                raise _validate.ValidationError(prefix + 'ports', 'a bridge cannot be a port of itself')
        want.update(state=item.get('state', 'present'), stp=item.get('stp'), ports=ports,
                    ports_exclusive=item.get('ports_exclusive', False),
                    forwarding=item.get('forwarding'), masquerade=item.get('masquerade'))
        return want

    key = staticmethod(scoped_name)

    def prepare(self, kernel, wants) -> None:
        for want in wants:
            if want['masquerade']:
                try:
                    _iptables.binary('iptables-restore')
                except _iptables.IptablesMissing as exc:
                    raise _validate.ValidationError(want['field'] + 'masquerade', str(exc))

    def read(self, kernel, wants) -> dict:
        namespaces = namespaces_of(wants)
        state = kernel.read(namespaces)
        for want in wants:
            model = state[want['netns']]
            if not model['exists']:
                # Check mode for a namespace an earlier task creates: it starts empty.
                model['firewall'][NAT] = []
                continue
            if want['forwarding'] is not None:
                model['sysctls'][FORWARDING] = kernel.read_sysctl(want['netns'], FORWARDING)
            if NAT not in model['firewall'] and (want['masquerade'] is not None or want['state'] == 'absent'):
                try:
                    model['firewall'][NAT] = _iptables.read_rules(kernel, want['netns'], NAT)
                except _iptables.IptablesMissing:
                    model['firewall'][NAT] = []  # without iptables there are no rules of ours
        return state

    def plan(self, plan, wants, context) -> None:
        for want in wants:
            ns, name = want['netns'], want['name']
            require_namespace(plan, context, ns, want['field'] + 'netns')
            link = plan.ns(ns)['links'].get(name)
            if link is not None and link['kind'] != 'bridge':
                raise _validate.ValidationError(
                    want['field'] + 'name', '%s in %s is a %s, not a bridge' % (name, describe_netns(ns), link['kind']))
            if want['state'] == 'absent':
                self._plan_masquerade(plan, want, [])
                if link is not None:
                    plan.delete_link(ns, name)
                continue
            if link is None:
                plan.create_bridge(ns, name)
                link = plan.ns(ns)['links'][name]
            if want['stp'] is not None and link['stp'] != want['stp']:
                plan.set_link(ns, name, stp=want['stp'])
            plan_interface(plan, context, ns, want)
            self._plan_ports(plan, context, want)
            if want['forwarding'] is not None:
                value = '1' if want['forwarding'] else '0'
                if plan.ns(ns)['sysctls'].get(FORWARDING) != value:
                    plan.set_sysctl(ns, FORWARDING, value)
            if want['masquerade'] is not None:
                subnets = []
                if want['masquerade']:
                    for address in link['addresses']:
                        subnet = _validate.subnet_of(address)
                        if _validate.ip_version(subnet) == 4 and subnet not in subnets:
                            subnets.append(subnet)
                self._plan_masquerade(plan, want, [_iptables.masquerade_rule(s, name) for s in subnets])

    @staticmethod
    def _plan_ports(plan, context, want) -> None:
        if want['ports'] is None:
            return
        ns, name = want['netns'], want['name']
        links = plan.ns(ns)['links']
        for i, port in enumerate(want['ports']):
            link = links.get(port)
            if link is None:
                context.missing('%sports[%d]' % (want['field'], i), 'no interface %s in %s' % (port, describe_netns(ns)))
            elif link['master'] != name:
                plan.set_link(ns, port, master=name)
        if want['ports_exclusive']:
            for link in sorted(links.values(), key=lambda link: link['name']):
                if link['master'] == name and link['name'] not in want['ports']:
                    plan.set_link(ns, link['name'], master='')

    @staticmethod
    def _plan_masquerade(plan, want, wanted) -> None:
        ns = want['netns']
        rules = plan.ns(ns)['firewall'].get(NAT)
        if rules is None:
            return
        comment = _iptables.masquerade_comment(want['name'])
        ours = [rule for rule in rules if _iptables.owned_by(rule, comment)]
        delete = [rule for rule in ours if rule not in wanted]
        add = [rule for rule in wanted if rule not in ours]
        if delete or add:
            after = [rule for rule in rules if rule not in delete] + add
            text = 'masquerade %s: remove %d rule(s), add %d rule(s)' % (want['name'], len(delete), len(add))
            plan.firewall(ns, NAT, after, lambda k: _iptables.apply(k, ns, NAT, delete, add), text)

    def describe(self, state: dict, want: dict, full: bool = False) -> dict:
        model = state.get(want['netns'])
        link = model['links'].get(want['name']) if model else None
        if link is None or link['kind'] != 'bridge':
            result = {'state': 'absent'}
        else:
            result = dict(describe_interface(want['netns'], link, want, full), state='present')
            if full or want['stp'] is not None:
                result['stp'] = link['stp']
            if full or want['ports'] is not None:
                result['ports'] = sorted(other['name'] for other in model['links'].values()
                                         if other['master'] == want['name'])
            if want['forwarding'] is not None:
                result['forwarding'] = model['sysctls'].get(FORWARDING) == '1'
        if model and (want['masquerade'] is not None or want['state'] == 'absent') and NAT in model['firewall']:
            comment = _iptables.masquerade_comment(want['name'])
            result['masquerade_rules'] = [rule for rule in model['firewall'][NAT] if _iptables.owned_by(rule, comment)]
        return result
