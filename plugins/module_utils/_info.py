# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The reader behind packetlife.podnet.netns_info: one picture of a host's
container networking, read without changing anything.

PRIVATE: this module is internal to the collection and may change without notice.

Per namespace (the module's own and each named one): one netlink dump of links,
addresses and routes through the kernel adapter, veth peers resolved across all
namespaces read, the IPv4 forwarding sysctl and, optionally, the firewall rules
the collection owns (iptables lines whose comment starts with "podnet", the
nftables table ``ip podnet``). Then the pods pause_pod recorded, with the
addresses of their CNI results. The shaping functions are pure: they take the
adapter's models and return the documented result, so they are tested without
a kernel.
"""

from __future__ import annotations

import os
import re

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni, _iptables, _nftables, _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import NETNS_DIR, KernelError, route_text

FORWARDING = 'net.ipv4.ip_forward'
# What marks an iptables rule as the collection's: its comment.
OWNED_COMMENT = '--comment "podnet '
_COMMENT = re.compile(r'(?:--comment|comment) "(podnet [^"]*)"')
_IPT_OPTION = re.compile(r'(?:^| )(!? ?-[-a-z]+) (\S+)')
_NFT_DPORT = re.compile(r'\b(tcp|udp|sctp) dport (\S+)')
_NFT_DNAT = re.compile(r'\bdnat to (\S+)')
_NFT_DADDR = re.compile(r'\bip daddr (\d\S*)')
_NFT_IIF = re.compile(r'\biifname "([^"]+)"')


# pure shaping -------------------------------------------------------------

def shape_link(link: dict) -> dict:
    """A link of the adapter's model as returned: the raw peer becomes
    {'netns', 'name'} when it was resolved, else None."""
    result = {'name': link['name'], 'index': link.get('index'), 'kind': link['kind'], 'mtu': link['mtu'],
              'up': link['up'], 'master': link['master'], 'addresses': list(link['addresses'])}
    if link['kind'] == 'veth':
        peer = link.get('peer') or {}
        resolved = peer.get('name') is not None and peer.get('netns') != '?'
        result['peer'] = {'netns': peer.get('netns'), 'name': peer['name']} if resolved else None
    if link['kind'] == 'bridge':
        result['stp'] = bool(link.get('stp'))
    return result


def shape_namespace(model: dict, forwarding=None, linked_to=None) -> dict:
    """One namespace of the result from the adapter's model."""
    if not model.get('exists'):
        return {'exists': False}
    links = dict((name, shape_link(link)) for name, link in sorted(model['links'].items()))
    bridges = {}
    for name, link in links.items():
        if link['kind'] == 'bridge':
            bridges[name] = {'addresses': link['addresses'], 'up': link['up'], 'stp': link['stp'],
                             'ports': sorted(port for port, other in links.items() if other['master'] == name)}
    return {
        'exists': True,
        'linked_to': linked_to,
        'links': links,
        'bridges': bridges,
        'routes': [route_text(route) for route in model['routes'] if shown_route(route)],
        'ip_forward': None if forwarding is None else forwarding == '1',
    }


def shown_route(route: dict) -> bool:
    """Every main-table route but the IPv6 link-local ones, which come with every
    link that is up, as their addresses do (left out of the links as well)."""
    return route['dst'].startswith('default') or not _validate.is_link_local(route['dst'])


def owned_iptables(lines) -> list:
    """The iptables-save rule lines the collection owns (comment starting with podnet)."""
    return [line for line in lines if OWNED_COMMENT in line]


def owned_nftables(chains) -> dict:
    """The rules of table ip podnet, without their handles: {chain: [rule text]}.
    The table is the collection's own, so every rule in it counts."""
    return dict((chain, [text for text, _handle in rules]) for chain, rules in sorted((chains or {}).items()))


def comment_of(rule: str):
    found = _COMMENT.search(rule)
    return found.group(1) if found else None


def _iptables_options(rule: str) -> dict:
    """The options of an iptables-save line that take one value: {'-p': 'tcp', '! -d': ...}."""
    return dict((option, value) for option, value in _IPT_OPTION.findall(rule))


def scoped(netns, name: str) -> str:
    """How rules are keyed: NAME, or NETNS/NAME in a named namespace (as dnat_rule keys them)."""
    return name if netns is None else '%s/%s' % (netns, name)


def summarize_firewall(netns, firewall: dict) -> dict:
    """The port forwards and masquerades found in one namespace's owned rules:
    {'dnat': {key: {...}}, 'masquerade': {key: {...}}}."""
    dnat, masquerade = {}, {}
    iptables = firewall.get('iptables') or {}
    for table in ('nat', 'filter'):
        for rule in iptables.get(table) or []:
            _collect(dnat, masquerade, netns, comment_of(rule), 'iptables',
                     'iptables -t %s %s' % (table, rule), _iptables_forward(rule))
    for chain, rules in sorted((firewall.get('nftables') or {}).items()):
        for text in rules:
            _collect(dnat, masquerade, netns, comment_of(text), 'nftables',
                     'nft add rule %s %s %s %s' % (_nftables.FAMILY, _nftables.TABLE, chain, text),
                     _nft_forward(chain, text))
    return {'dnat': dnat, 'masquerade': masquerade}


def _collect(dnat, masquerade, netns, comment, backend, command, forward) -> None:
    if comment is None:
        return
    words = comment.split(' ', 2)
    if len(words) != 3 or words[1] not in ('dnat', 'masquerade'):
        return
    kind, name = words[1], words[2]
    if kind == 'masquerade':
        entry = masquerade.setdefault(scoped(netns, name), {'bridge': name, 'netns': netns, 'backend': backend,
                                                            'sources': [], 'rules': []})
        source = _iptables_options(command).get('-s')
        if source and source not in entry['sources']:
            entry['sources'].append(source)
        entry['rules'].append(command)
        return
    entry = dnat.setdefault(scoped(netns, name), {
        'name': name, 'netns': netns, 'backend': backend, 'protocol': None, 'port': None, 'destination': None,
        'match_destination': None, 'in_interface': None, 'rules': []})
    entry['rules'].append(command)
    if forward and entry['destination'] is None:
        entry.update(forward)


def _iptables_forward(rule: str):
    """What a DNAT rule of PREROUTING or OUTPUT forwards, or None for other rules."""
    words = rule.split()
    if len(words) < 2 or words[1] not in ('PREROUTING', 'OUTPUT') or '--to-destination' not in words:
        return None
    options = _iptables_options(rule)
    return {'protocol': options.get('-p'), 'port': (options.get('--dport') or '').replace(':', '-') or None,
            'destination': options.get('--to-destination'), 'match_destination': options.get('-d'),
            'in_interface': options.get('-i')}


def _nft_forward(chain: str, text: str):
    if chain not in ('prerouting', 'output'):
        return None
    dnat, dport = _NFT_DNAT.search(text), _NFT_DPORT.search(text)
    if not dnat:
        return None
    daddr, iif = _NFT_DADDR.search(text), _NFT_IIF.search(text)
    match = None
    if daddr:
        match = daddr.group(1) if '/' in daddr.group(1) else daddr.group(1) + '/32'
    return {'protocol': dport.group(1) if dport else None, 'port': dport.group(2) if dport else None,
            'destination': dnat.group(1), 'match_destination': match, 'in_interface': iif.group(1) if iif else None}


def shape_pod(name: str, record: dict, cached, running=None) -> dict:
    """A pod of the result from its pause_pod record and its CNI cache entry (or None)."""
    summary = _cni.summarize_result(cached.get('result') or {}) if cached else {'ips': [], 'routes': []}
    pause = record.get('pause') or {}
    return {
        'backend': record.get('backend') or 'native',
        'network': record.get('network'),
        'netns': name,
        'container_id': record.get('container_id') or name,
        'ifname': record.get('ifname') or 'eth0',
        'ips': summary['ips'],
        'routes': summary['routes'],
        'workloads': sorted(w.get('name') for w in record.get('workloads') or [] if w.get('name')),
        'pause_pid': pause.get('pid'),
        'running': running,
    }


def merge_firewall(into: dict, summary: dict) -> None:
    for key in ('dnat', 'masquerade'):
        into[key].update(summary[key])


# reading ----------------------------------------------------------------

def list_namespaces() -> list:
    """The names under /run/netns, sorted."""
    try:
        entries = os.listdir(NETNS_DIR)
    except OSError:
        return []
    return sorted(entry for entry in entries if not entry.startswith('.') and not entry.endswith('.podnet-tmp'))


def read_firewall(kernel, ns, warnings) -> dict:
    """The owned rules of one namespace: {'iptables': {'nat': [...], 'filter': [...]},
    'nftables': {chain: [...]}}; a tool that is missing or fails leaves its part empty."""
    result = {'iptables': {'nat': [], 'filter': []}, 'nftables': {}}
    where = 'the host namespace' if ns is None else 'netns %s' % ns
    if _iptables.available():
        try:
            for table in ('nat', 'filter'):
                result['iptables'][table] = owned_iptables(_iptables.read_rules(kernel, ns, table))
        except (KernelError, _iptables.IptablesMissing) as exc:
            warnings.append('iptables rules of %s not read: %s' % (where, exc))
    if _nftables.available():
        try:
            if _nftables.table_listed(_nftables.read_chains(kernel, ns)):
                result['nftables'] = owned_nftables(_nftables.read_table(kernel, ns))
        except (KernelError, _nftables.NftMissing, ValueError) as exc:
            warnings.append('nftables table %s %s of %s not read: %s' % (_nftables.FAMILY, _nftables.TABLE, where, exc))
    return result


def read_pods(kernel) -> dict:
    """Every pod pause_pod recorded in /run/podnet/pods, with its CNI result."""
    # Imported here: _pod needs ansible-core, the shaping above must not.
    from ansible_collections.packetlife.podnet.plugins.module_utils import _pod
    try:
        names = sorted(os.listdir(_pod.STATE_DIR))
    except OSError:
        return {}
    runtime = _cni.Runtime([])
    pods = {}
    for name in names:
        record = _pod.load_record(name)
        if not isinstance(record, dict):
            continue
        cached = None
        if record.get('network'):
            cached = runtime.cached(record['network'], record.get('container_id') or name,
                                    record.get('ifname') or 'eth0')
        # The engine is not asked about a docker pod: only a native pause process is checked here.
        running = _pod.alive(record.get('pause')) if (record.get('backend') or 'native') == 'native' else None
        pods[name] = shape_pod(name, record, cached, running)
    return pods


def gather(kernel, namespaces=None, firewall: bool = True, pods: bool = True):
    """The module's result and its warnings. NAMESPACES limits the named
    namespaces read (None: every one in /run/netns)."""
    warnings = []
    names = list_namespaces() if namespaces is None else list(namespaces)
    sources = dict((name, kernel.netns_source(name)) for name in names)
    state = kernel.read([None] + [name for name in names if sources[name] is not None])
    result = {'host': None, 'namespaces': {}, 'pods': {}, 'firewall': {'dnat': {}, 'masquerade': {}}}
    for ns in [None] + names:
        model = state.get(ns)
        if model is None:
            result['namespaces'][ns] = {'exists': False}
            continue
        forwarding = kernel.read_sysctl(ns, FORWARDING)
        shaped = shape_namespace(model, forwarding, (sources.get(ns) or {}).get('symlink'))
        if firewall:
            shaped['firewall'] = read_firewall(kernel, ns, warnings)
            merge_firewall(result['firewall'], summarize_firewall(ns, shaped['firewall']))
        if ns is None:
            del shaped['linked_to']
            result['host'] = shaped
        else:
            result['namespaces'][ns] = shaped
    if pods:
        result['pods'] = read_pods(kernel)
    return result, warnings
