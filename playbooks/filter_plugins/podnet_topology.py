# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters of playbooks/topology.yml: packetlife.podnet.netns_info results of
many hosts turned into one graph (clusters, nodes, edges) that the templates
topology.md.j2 (Mermaid) and topology.dot.j2 (Graphviz) draw.

PRIVATE: these filters serve the playbook beside them and may change without notice.

Node IDs are made of the position of the host, namespace and link, plus the
name with every character other than [A-Za-z0-9_] replaced, so they are unique
and valid in Mermaid and DOT whatever the names hold. Labels are lists of lines;
podnet_mermaid_text and podnet_dot_text escape one line for each language.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r'[^A-Za-z0-9_]')


def safe_id(prefix: str, name) -> str:
    """PREFIX_NAME with NAME reduced to [A-Za-z0-9_] (the prefix keeps it unique)."""
    text = _UNSAFE.sub('_', str(name if name is not None else ''))[:40]
    return '%s_%s' % (prefix, text) if text else prefix


def _namespace_label(name, ns: dict, pod) -> list:
    lines = ['host namespace' if name is None else 'netns %s' % name]
    if pod is not None:
        lines.append('pod, network %s' % (pod.get('network') or 'none'))
    if ns.get('linked_to'):
        lines.append('-> %s' % ns['linked_to'])
    if ns.get('ip_forward'):
        lines.append('ip_forward on')
    lines += [route for route in ns.get('routes') or [] if route.startswith('default')]
    return lines


def _link_label(link: dict, masquerade) -> list:
    title = link['name'] if link['kind'] in ('veth', 'device') else '%s (%s)' % (link['name'], link['kind'])
    lines = [title] + [address for address in link.get('addresses') or [] if address not in ('127.0.0.1/8', '::1/128')]
    if not link.get('up'):
        lines.append('down')
    lines += ['masquerade %s' % source for source in masquerade]
    return lines


def _dnat_label(entry: dict) -> list:
    lines = ['port forward %s' % entry['name'], '%s port %s' % (entry.get('protocol') or '?', entry.get('port') or '?')]
    lines.append('to %s' % (entry.get('match_destination') or 'any local address'))
    if entry.get('in_interface'):
        lines.append('from %s' % entry['in_interface'])
    lines.append('(%s)' % entry.get('backend'))
    return lines


def topology_graph(hosts) -> dict:
    """HOSTS is {inventory name: netns_info result}. Returns {'hosts': [cluster],
    'edges': [edge]}; a cluster is {'id', 'label', 'namespaces': [{'id', 'label',
    'pod', 'nodes': [{'id', 'label', 'kind'}]}]}, an edge {'from', 'to', 'label', 'kind'}
    with kind veth (both ends of a pair), port (bridge port to bridge) or dnat
    (port forward to the interface holding its destination)."""
    clusters, edges = [], []
    for h, (host, info) in enumerate(sorted((hosts or {}).items())):
        cluster = {'id': safe_id('h%d' % h, host), 'label': [str(host)], 'namespaces': []}
        clusters.append(cluster)
        spaces = [(None, info.get('host') or {})] + sorted((info.get('namespaces') or {}).items())
        pods = info.get('pods') or {}
        masquerades = (info.get('firewall') or {}).get('masquerade') or {}
        ids, boxes = {}, {}
        for n, (name, ns) in enumerate(spaces):
            if not ns.get('exists'):
                continue
            box = {'id': safe_id('h%dn%d' % (h, n), name or 'host'), 'label': _namespace_label(name, ns, pods.get(name)),
                   'pod': name in pods, 'nodes': []}
            cluster['namespaces'].append(box)
            boxes[name] = box
            for k, link in enumerate(sorted((ns.get('links') or {}).values(), key=lambda item: item['name'])):
                if link['name'] == 'lo':
                    continue
                node_id = safe_id('h%dn%dl%d' % (h, n, k), link['name'])
                ids[(name, link['name'])] = node_id
                masq = [source for entry in masquerades.values()
                        if entry.get('netns') == name and entry.get('bridge') == link['name']
                        for source in entry.get('sources') or []]
                box['nodes'].append({'id': node_id, 'label': _link_label(link, masq), 'kind': link['kind']})
        seen = set()
        for name, ns in spaces:
            for link in (ns.get('links') or {}).values() if ns.get('exists') else ():
                here = ids.get((name, link['name']))
                if here is None:
                    continue
                peer = link.get('peer')
                if peer:
                    there = ids.get((peer.get('netns'), peer.get('name')))
                    if there is not None and frozenset((here, there)) not in seen:
                        seen.add(frozenset((here, there)))
                        edges.append({'from': here, 'to': there, 'label': 'veth', 'kind': 'veth'})
                master = ids.get((name, link.get('master'))) if link.get('master') else None
                if master is not None:
                    edges.append({'from': here, 'to': master, 'label': 'port', 'kind': 'port'})
        for d, (key, entry) in enumerate(sorted(((info.get('firewall') or {}).get('dnat') or {}).items())):
            box = boxes.get(entry.get('netns'))
            if box is None:
                continue
            node_id = safe_id('h%dd%d' % (h, d), key)
            box['nodes'].append({'id': node_id, 'label': _dnat_label(entry), 'kind': 'dnat'})
            target = _holder(spaces, ids, (entry.get('destination') or '').split(':')[0])
            if target is None:
                target = safe_id('h%dd%dx' % (h, d), key)
                box['nodes'].append({'id': target, 'label': [entry.get('destination') or '?'], 'kind': 'address'})
            edges.append({'from': node_id, 'to': target, 'label': 'DNAT to %s' % entry.get('destination'),
                          'kind': 'dnat'})
    return {'hosts': clusters, 'edges': edges}


def _holder(spaces, ids, ip: str):
    """The node of the interface of this host holding IP, or None."""
    for name, ns in spaces:
        for link in (ns.get('links') or {}).values() if ns.get('exists') else ():
            if any(address.split('/')[0] == ip for address in link.get('addresses') or []):
                return ids.get((name, link['name']))
    return None


def mermaid_text(line) -> str:
    """One label line for a quoted Mermaid label: quotes and angle brackets as entity codes."""
    return str(line).replace('#', '#35;').replace('"', '#quot;').replace('<', '#lt;').replace('>', '#gt;')


def dot_text(line) -> str:
    """One label line for a quoted DOT string."""
    return str(line).replace('\\', '\\\\').replace('"', '\\"')


class FilterModule:
    def filters(self):
        return {
            'podnet_topology_graph': topology_graph,
            'podnet_mermaid_text': mermaid_text,
            'podnet_dot_text': dot_text,
        }
