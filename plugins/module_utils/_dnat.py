# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The manager behind packetlife.podnet.dnat_rule: a port forward from the
host's own addresses to a destination behind it, as one owned set of firewall
rules in iptables or in an nftables table of our own.

PRIVATE: this module is internal to the collection and may change without notice.

A port forward NAME is every rule whose comment is "podnet dnat NAME" in its
namespace: the DNAT for traffic arriving (PREROUTING), the DNAT for traffic the
host sends itself (OUTPUT), the FORWARD accept where the filter policy drops,
and the hairpin masquerade. The rules match only packets addressed to a local
address of the host, never any destination. Each run reads the rule sets of a
namespace once, plans every object's rules, and changes each table in one batch.
"""

from __future__ import annotations

import re

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni, _iptables, _nftables, _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._interface import (
    namespaces_of, require_namespace, scoped_name)
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import describe_netns

FORWARDING = 'net.ipv4.ip_forward'
COMMENT = 'podnet dnat %s'
NAME_MAX = 64
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')
# Interface names that are safe inside a rule: no quotes, separators or wildcards.
_IFNAME = re.compile(r'^[A-Za-z0-9_.@-]+$')
LOOPBACK = '127.0.0.0/8'

# Where the rules of each backend live in the namespace model's 'firewall'.
NAT, FILTER, NFT = 'iptables nat', 'iptables filter', 'nftables'

ITEM_SPEC = dict(
    name=dict(type='str'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    netns=dict(type='str'),
    backend=dict(type='str', choices=['auto', 'iptables', 'nftables'], default='auto'),
    protocol=dict(type='str', choices=['tcp', 'udp', 'sctp'], default='tcp'),
    port=dict(type='raw'),
    destination=dict(type='str'),
    pod=dict(type='str'),
    to_port=dict(type='int'),
    match_destination=dict(type='str'),
    in_interface=dict(type='str'),
    local=dict(type='bool', default=True),
    forward_accept=dict(type='str', choices=['auto', 'always', 'never'], default='auto'),
    hairpin=dict(type='bool', default=False),
)


# pure parsing and rendering ---------------------------------------------------

def object_name(value, field: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise _validate.ValidationError(
            field, '%r is not a valid port forward name: use letters, digits, ".", "_" and "-", starting with a '
            'letter or digit' % (value,))
    if len(value.encode('utf-8')) > NAME_MAX:
        raise _validate.ValidationError(field, 'name is longer than %d bytes' % NAME_MAX)
    return value


def port_number(value, field: str) -> int:
    text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    if text is None or not text.isdigit():
        raise _validate.ValidationError(field, '%r is not a port number' % (value,))
    number = int(text)
    if not 1 <= number <= 65535:
        raise _validate.ValidationError(field, 'port %d is outside 1-65535' % number)
    return number


def port_range(value, field: str):
    """A port (80) or a range ("8080-8090" or "8080:8090") as (first, last)."""
    if isinstance(value, str) and re.match(r'^\s*\d+\s*[-:]\s*\d+\s*$', value):
        first_text, last_text = re.split(r'[-:]', value)
        first, last = port_number(first_text, field), port_number(last_text, field)
        if first > last:
            raise _validate.ValidationError(field, 'range %s is reversed: %d is above %d' % (value, first, last))
        return first, last
    number = port_number(value, field)
    return number, number


def destination(value, field: str):
    """'IP' or 'IP:PORT' with an IPv4 address: (ip, port or None)."""
    if not isinstance(value, str) or value.count(':') > 1:
        raise _validate.ValidationError(field, '%r is not an IPv4 address with an optional :port' % (value,))
    ip_text, _sep, port_text = value.partition(':')
    ip = _validate.ip_address(ip_text, field)
    if _validate.ip_version(ip) != 4:
        raise _validate.ValidationError(field, '%s is not an IPv4 address' % ip)
    if _validate.overlaps(ip + '/32', LOOPBACK):
        raise _validate.ValidationError(field, '%s is a loopback address: forwarding to it needs route_localnet, '
                                        'which this module does not turn on' % ip)
    _validate.unicast_address(ip, field)  # not 0.0.0.0, multicast or broadcast: a forward goes to one host
    return ip, (port_number(port_text, field) if _sep else None)


def match_network(value, field: str) -> str:
    """The destination address to match, as a CIDR (an address alone is a /32)."""
    cidr = value if '/' in str(value) else '%s/32' % (value,)
    net = _validate.network(cidr, field)
    if _validate.ip_version(net) != 4:
        raise _validate.ValidationError(field, '%s is not an IPv4 address or network' % value)
    if _validate.overlaps(net, LOOPBACK):
        raise _validate.ValidationError(field, '%s is a loopback address: forwarding from it needs route_localnet, '
                                        'which this module does not turn on' % value)
    return net


def iptables_ports(ports) -> str:
    return str(ports[0]) if ports[0] == ports[1] else '%d:%d' % ports


def nft_ports(ports) -> str:
    return str(ports[0]) if ports[0] == ports[1] else '%d-%d' % ports


def nft_address(cidr: str) -> str:
    return cidr[:-3] if cidr.endswith('/32') else cidr


def target_ports(want: dict):
    """The ports the destination listens on: to_port, else the matched ports."""
    return (want['to_port'], want['to_port']) if want['to_port'] else want['ports']


def to_destination(want: dict, ip: str) -> str:
    return '%s:%d' % (ip, want['to_port']) if want['to_port'] else ip


def iptables_rules(want: dict, ip: str, forward_accept: bool) -> dict:
    """{table: [iptables-save lines]} of one port forward."""
    proto, comment = want['protocol'], '-m comment --comment "%s"' % (COMMENT % want['name'])
    dport = '-m %s --dport %s' % (proto, iptables_ports(want['ports']))
    dnat = '-j DNAT --to-destination %s' % to_destination(want, ip)
    match = '-d %s ' % want['match'] if want['match'] else ''
    iif = '-i %s ' % want['in_interface'] if want['in_interface'] else ''
    nat = ['-A PREROUTING %s%s-p %s -m addrtype --dst-type LOCAL %s %s %s' % (match, iif, proto, dport, comment, dnat)]
    if want['local']:
        local = match or '! -d %s ' % LOOPBACK
        nat.append('-A OUTPUT %s-p %s -m addrtype --dst-type LOCAL %s %s %s' % (local, proto, dport, comment, dnat))
    target = iptables_ports(target_ports(want))
    if want['hairpin']:
        nat.append('-A POSTROUTING -s %s/32 -d %s/32 -p %s -m %s --dport %s %s -j MASQUERADE'
                   % (ip, ip, proto, proto, target, comment))
    rules = {NAT: nat}
    if forward_accept:
        rules[FILTER] = ['-A FORWARD -p %s -m conntrack --ctstate DNAT --ctreplsrc %s --ctreplsrcport %s %s -j ACCEPT'
                         % (proto, ip, target, comment)]
    return rules


def nft_rules(want: dict, ip: str) -> list:
    """[(chain, rule text as nft lists it)] of one port forward."""
    proto, comment = want['protocol'], 'comment "%s"' % (COMMENT % want['name'])
    dport = '%s dport %s' % (proto, nft_ports(want['ports']))
    dnat = 'dnat to %s' % to_destination(want, ip)
    match = 'ip daddr %s ' % nft_address(want['match']) if want['match'] else ''
    iif = 'iifname "%s" ' % want['in_interface'] if want['in_interface'] else ''
    rules = [('prerouting', '%s%sfib daddr type local %s %s %s' % (match, iif, dport, dnat, comment))]
    if want['local']:
        local = match or 'ip daddr != %s ' % LOOPBACK
        rules.append(('output', '%sfib daddr type local %s %s %s' % (local, dport, dnat, comment)))
    if want['hairpin']:
        rules.append(('postrouting', 'ip saddr %s ip daddr %s %s dport %s masquerade %s'
                      % (ip, ip, proto, nft_ports(target_ports(want)), comment)))
    return rules


def reconcile(existing, wanted):
    """Which existing rules go and which wanted ones come. EXISTING is
    [(rule, ours?)]; a rule of ours stays once if wanted, every other copy of it
    goes (a duplicate is drift too). Returns (indexes to drop, rules to add)."""
    drop, kept = [], []
    for index, (rule, ours) in enumerate(existing):
        if not ours:
            continue
        if rule in wanted and rule not in kept:
            kept.append(rule)
        else:
            drop.append(index)
    return drop, [rule for rule in wanted if rule not in kept]


def owned(text: str, name: str) -> bool:
    return ('comment "%s"' % (COMMENT % name)) in text


def command_lines(model: dict, name: str) -> list:
    """An object's rules as the commands that would make them."""
    lines = []
    for table, key in (('nat', NAT), ('filter', FILTER)):
        lines += ['iptables -t %s %s' % (table, rule) for rule in model['firewall'].get(key) or [] if owned(rule, name)]
    for chain, rules in sorted((model['firewall'].get(NFT) or {}).items()):
        lines += ['nft add rule %s %s %s %s' % (_nftables.FAMILY, _nftables.TABLE, chain, text)
                  for text, _handle in rules if owned(text, name)]
    return lines


def pod_address(pod: str):
    """The pod's IPv4 address from its record and CNI result cache, or None."""
    # Imported here: _pod needs ansible-core, and the rule logic above must not
    # (the kernel tests run it under the targets' bare python3).
    from ansible_collections.packetlife.podnet.plugins.module_utils import _pod
    record = _pod.load_record(pod)
    if not record:
        return None
    cached = _cni.Runtime([]).cached(record.get('network') or '', record.get('container_id') or pod,
                                     record.get('ifname') or 'eth0')
    if cached is None:
        return None
    for entry in _cni.summarize_result(cached['result'])['ips']:
        address = (entry.get('address') or '').split('/')[0]
        if address and _validate.ip_version(address) == 4:
            return address
    return None


# the manager ------------------------------------------------------------------

class DnatManager:
    def parse(self, item: dict, prefix: str) -> dict:
        if item.get('name') is None:
            raise _validate.ValidationError(prefix + 'name', 'is required')
        want = {
            'name': object_name(item['name'], prefix + 'name'), 'state': item.get('state') or 'present',
            'netns': None, 'backend': item.get('backend') or 'auto', 'protocol': item.get('protocol') or 'tcp',
            'ports': None, 'ip': None, 'pod': None, 'to_port': None, 'match': None, 'in_interface': None,
            'local': item.get('local', True) is not False, 'forward_accept': item.get('forward_accept') or 'auto',
            'hairpin': bool(item.get('hairpin')), 'field': prefix,
        }
        if item.get('netns') is not None:
            want['netns'] = _validate.netns_name(item['netns'], prefix + 'netns')
        if want['state'] == 'absent':
            return want
        if item.get('port') is None:
            raise _validate.ValidationError(prefix + 'port', 'is required with state=present')
        want['ports'] = port_range(item['port'], prefix + 'port')
        if (item.get('destination') is None) == (item.get('pod') is None):
            raise _validate.ValidationError(prefix + 'destination', 'give exactly one of destination and pod')
        if item.get('destination') is not None:
            want['ip'], want['to_port'] = destination(item['destination'], prefix + 'destination')
        else:
            want['pod'] = _validate.netns_name(item['pod'], prefix + 'pod')
        if item.get('to_port') is not None:
            if want['to_port'] is not None:
                raise _validate.ValidationError(prefix + 'to_port', 'the destination already names a port')
            want['to_port'] = port_number(item['to_port'], prefix + 'to_port')
        if item.get('match_destination') is not None:
            want['match'] = match_network(item['match_destination'], prefix + 'match_destination')
        if item.get('in_interface') is not None:
            iif = _validate.ifname(item['in_interface'], prefix + 'in_interface')
            if not _IFNAME.match(iif):
                raise _validate.ValidationError(prefix + 'in_interface', '%r: only letters, digits and "_.@-" are '
                                                'accepted in a rule' % iif)
            want['in_interface'] = iif
        return want

    key = staticmethod(scoped_name)

    def prepare(self, kernel, wants) -> None:
        """Backends must exist; a pod must have an address; no two forwards may claim one port."""
        for want in wants:
            field = want['field'] + 'backend'
            if want['backend'] == 'iptables' and not _iptables.available():
                raise _validate.ValidationError(field, 'iptables-restore was not found on the target; install iptables')
            if want['backend'] == 'nftables' and not _nftables.available():
                raise _validate.ValidationError(field, 'nft was not found on the target; install nftables')
            if want['backend'] == 'auto' and not (_iptables.available() or _nftables.available()):
                raise _validate.ValidationError(field, 'neither iptables nor nft was found on the target')
            want['pod_ip'] = pod_address(want['pod']) if want['pod'] else None
        present = [want for want in wants if want['state'] == 'present']
        for i, want in enumerate(present):
            for other in present[:i]:
                if (want['netns'], want['protocol'], want['match'], want['in_interface']) == (
                        other['netns'], other['protocol'], other['match'], other['in_interface']) and (
                        want['ports'][0] <= other['ports'][1] and other['ports'][0] <= want['ports'][1]):
                    raise _validate.ValidationError(
                        want['field'] + 'port', '%s port %s is also forwarded by %sname (%s)' % (
                            want['protocol'], iptables_ports(want['ports']), other['field'], other['name']))

    def read(self, kernel, wants) -> dict:
        namespaces = namespaces_of(wants)
        state = kernel.read(namespaces)
        for ns in namespaces:
            model = state[ns]
            model['nft_chains'] = []
            if not model['exists']:
                continue  # check mode for a namespace an earlier task creates: no rules yet
            model['sysctls'][FORWARDING] = kernel.read_sysctl(ns, FORWARDING)
            if _iptables.available():
                nat = _iptables.save_table(kernel, ns, 'nat')
                filt = _iptables.save_table(kernel, ns, 'filter')
                model['firewall'][NAT] = _iptables.parse_save(nat)
                model['firewall'][FILTER] = _iptables.parse_save(filt)
                model['forward_policy'] = _iptables.parse_policies(filt).get('FORWARD', 'ACCEPT')
            if _nftables.available():
                model['nft_chains'] = _nftables.read_chains(kernel, ns)
                if _nftables.table_listed(model['nft_chains']):
                    model['firewall'][NFT] = _nftables.read_table(kernel, ns)
        return state

    def plan(self, plan, wants, context) -> None:
        batches = {}
        for want in wants:
            ns = want['netns']
            require_namespace(plan, context, ns, want['field'] + 'netns')
            model = plan.ns(ns)
            batch = batches.setdefault(ns, {'names': [], 'wanted': {NAT: [], FILTER: [], NFT: []}})
            batch['names'].append(want['name'])
            if want['state'] == 'absent':
                continue
            ip = self._destination_ip(want, context)
            if want['match'] and model['exists'] and not self._local_in(model, want['match']):
                context.missing(want['field'] + 'match_destination', 'no address of %s lies in %s, so the rules '
                                'would never match' % (describe_netns(ns), want['match']))
            backend = self._backend(model, want)
            if backend == 'iptables':
                for table, rules in iptables_rules(want, ip, self._forward_accept(model, want)).items():
                    batch['wanted'][table] += rules
            else:
                batch['wanted'][NFT] += nft_rules(want, ip)
                self._warn_forward_drop(model, want, context)
            if want['ip'] is not None and not self._local_in(model, want['ip'] + '/32') and \
                    model['sysctls'].get(FORWARDING) != '1' and model['exists']:
                plan.set_sysctl(ns, FORWARDING, '1')
        for ns, batch in batches.items():
            self._plan_batch(plan, ns, batch)

    @staticmethod
    def _destination_ip(want, context) -> str:
        if want['ip'] is None:
            want['ip'] = want['pod_ip']
        if want['ip'] is None:
            context.missing(want['field'] + 'pod', 'pod %s does not exist or has no IPv4 address' % want['pod'])
            return '<address of pod %s>' % want['pod']
        return want['ip']

    @staticmethod
    def _backend(model, want) -> str:
        """The backend asked for, or for auto: the one already holding this object's
        rules, else what the host uses (iptables when it has rules or no native
        nftables tables exist), else whichever is installed."""
        if want['backend'] != 'auto':
            return want['backend']
        lines = command_lines(model, want['name'])
        if any(line.startswith('iptables ') for line in lines) != any(line.startswith('nft ') for line in lines):
            return 'iptables' if lines[0].startswith('iptables ') else 'nftables'
        if not _iptables.available():
            return 'nftables'
        iptables_in_use = bool(model['firewall'].get(NAT) or model['firewall'].get(FILTER))
        if not iptables_in_use and _nftables.available() and _nftables.native_tables(model['nft_chains']):
            return 'nftables'
        return 'iptables'

    @staticmethod
    def _forward_accept(model, want) -> bool:
        if want['forward_accept'] == 'auto':
            return model.get('forward_policy') == 'DROP'
        return want['forward_accept'] == 'always'

    @staticmethod
    def _warn_forward_drop(model, want, context) -> None:
        if want['forward_accept'] == 'never':
            return
        for chain in model['nft_chains']:
            if chain['hook'] == 'forward' and chain['policy'] == 'drop':
                context.warnings.append(
                    '%sname: chain %s of table %s %s drops forwarded packets by policy; the nftables backend cannot '
                    'override another table, so allow traffic to %s there (or use backend=iptables)'
                    % (want['field'], chain['name'], chain['family'], chain['table'], want['ip']))

    @staticmethod
    def _local_in(model, network: str) -> bool:
        return any(_validate.contains(network, address.split('/')[0])
                   for link in model['links'].values() for address in link['addresses'])

    @staticmethod
    def _plan_batch(plan, ns, batch) -> None:
        """One iptables-restore per table and one nft transaction for the namespace."""
        model = plan.ns(ns)
        names = batch['names']

        def ours(text):
            return any(owned(text, name) for name in names)

        for key, table in ((NAT, 'nat'), (FILTER, 'filter')):
            rules = model['firewall'].get(key)
            if rules is None and not batch['wanted'][key]:
                continue
            rules = rules or []
            drop, add = reconcile([(rule, ours(rule)) for rule in rules], batch['wanted'][key])
            if drop or add:
                delete = [rules[i] for i in drop]
                insert = [rule for rule in add if rule.startswith('-A FORWARD ')]
                after = [rule for i, rule in enumerate(rules) if i not in drop] + add
                text = 'port forward(s) %s: iptables %s table, remove %d rule(s), add %d' % (
                    ', '.join(names), table, len(delete), len(add))
                plan.firewall(ns, key, after, _iptables_step(ns, table, delete, add, insert), text,
                              _iptables_step(ns, table, add, delete, ()))
        chains = model['firewall'].get(NFT)
        if chains is None and not batch['wanted'][NFT]:
            return
        existing = [(chain, text, handle) for chain, rules in sorted((chains or {}).items()) for text, handle in rules]
        drop, add = reconcile([((chain, text), ours(text)) for chain, text, _handle in existing], batch['wanted'][NFT])
        if not (drop or add):
            return
        kept = [(chain, text) for i, (chain, text, _handle) in enumerate(existing) if i not in drop]
        after = None
        if kept or add:
            after = dict((chain, []) for chain in _nftables.CHAINS)
            for chain, text in kept + add:
                after.setdefault(chain, []).append((text, None))
        script = _nftables.script([(existing[i][0], existing[i][2]) for i in drop], add,
                                  drop_table=after is None)
        text = 'port forward(s) %s: nftables table %s %s, remove %d rule(s), add %d' % (
            ', '.join(names), _nftables.FAMILY, _nftables.TABLE, len(drop), len(add))
        plan.firewall(ns, NFT, after, lambda kernel: _nftables.apply(kernel, ns, script), text)

    def describe(self, state: dict, want: dict, full: bool = False) -> dict:
        model = state.get(want['netns'])
        lines = command_lines(model, want['name']) if model else []
        if not lines:
            return {'state': 'absent'}
        result = {'state': 'present', 'rules': lines}
        if full:
            result.update(backend='iptables' if lines[0].startswith('iptables ') else 'nftables',
                          destination=want.get('ip'), netns=want['netns'],
                          ip_forward=model['sysctls'].get(FORWARDING) == '1')
        return result


def _iptables_step(ns, table, delete, add, insert):
    return lambda kernel: _iptables.apply(kernel, ns, table, delete, add, insert)
