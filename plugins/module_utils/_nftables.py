# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nftables rules owned by packetlife.podnet: a table of our own, ``ip podnet``,
read with one ``nft -a list table`` and changed in one ``nft -f -`` transaction.

PRIVATE: this module is internal to the collection and may change without notice.

Rules are compared as the text nft prints for them (without the ``# handle N``
it adds), so the rules we write are spelled the way nft lists them. The table's
base chains hook where iptables' nat and filter tables do; numeric priorities
keep the script readable by nft releases older than the priority names.
"""

from __future__ import annotations

import json
import re
import shutil

from ansible_collections.packetlife.podnet.plugins.module_utils._iptables import SBIN_PATH

FAMILY = 'ip'
TABLE = 'podnet'

# Our base chains: name -> its declaration.
CHAINS = {
    'prerouting': 'type nat hook prerouting priority -100; policy accept;',
    'output': 'type nat hook output priority -100; policy accept;',
    'postrouting': 'type nat hook postrouting priority 100; policy accept;',
}

# Tables iptables-nft makes for the iptables commands; any other table means the
# host's firewall speaks nftables natively.
IPTABLES_TABLES = frozenset(('filter', 'nat', 'mangle', 'raw', 'security', 'broute'))
IPTABLES_FAMILIES = frozenset(('ip', 'ip6', 'arp', 'bridge'))

_HANDLE = re.compile(r'\s+# handle (\d+)$')
_CHAIN = re.compile(r'^chain (\S+) \{')


class NftMissing(Exception):
    pass


def binary() -> str:
    found = shutil.which('nft', path=SBIN_PATH)
    if found is None:
        raise NftMissing('nft was not found on the target; install the nftables package')
    return found


def available() -> bool:
    return shutil.which('nft', path=SBIN_PATH) is not None


def parse_table(text: str) -> dict:
    """Rules of each chain of a listing made with ``nft -a list table``:
    {chain: [(rule text, handle), ...]}."""
    chains, chain = {}, None
    for raw in text.splitlines():
        line = raw.strip()
        found = _CHAIN.match(line)
        if found:
            chain = found.group(1)
            chains[chain] = []
            continue
        if line == '}':
            chain = None
            continue
        if chain is None or not line or line.startswith('type ') or line.startswith('policy '):
            continue
        handle = _HANDLE.search(line)
        if handle:
            chains[chain].append((line[:handle.start()], int(handle.group(1))))
    return chains


def parse_chains(text: str) -> list:
    """Base and regular chains from ``nft -j list chains``:
    [{'family', 'table', 'name', 'hook', 'policy'}, ...]."""
    chains = []
    for entry in json.loads(text or '{}').get('nftables', []):
        chain = entry.get('chain')
        if chain:
            chains.append({'family': chain.get('family'), 'table': chain.get('table'), 'name': chain.get('name'),
                           'hook': chain.get('hook'), 'policy': chain.get('policy')})
    return chains


def native_tables(chains) -> list:
    """Tables that are neither iptables-nft's nor ours: the host's own nftables firewall."""
    tables = []
    for chain in chains:
        key = '%s %s' % (chain['family'], chain['table'])
        iptables = chain['family'] in IPTABLES_FAMILIES and chain['table'] in IPTABLES_TABLES
        if not iptables and key != '%s %s' % (FAMILY, TABLE) and key not in tables:
            tables.append(key)
    return tables


def read_chains(kernel, ns) -> list:
    return parse_chains(kernel.run(ns, [binary(), '-j', 'list', 'chains']))


def read_table(kernel, ns):
    """Our table's rules, or None when the table does not exist."""
    return parse_table(kernel.run(ns, [binary(), '-a', 'list', 'table', FAMILY, TABLE]))


def script(delete, add, drop_table: bool) -> str:
    """The nft -f transaction: DELETE is [(chain, handle)], ADD is [(chain, rule text)].
    The table and its chains are declared first (``add`` makes only what is
    missing, so a chain deleted behind our back comes back); with DROP_TABLE the
    table goes as a whole."""
    qualified = '%s %s' % (FAMILY, TABLE)
    if drop_table:
        return 'delete table %s\n' % qualified
    lines = ['add table %s' % qualified]
    for chain, declaration in CHAINS.items():
        lines.append('add chain %s %s { %s }' % (qualified, chain, declaration))
    lines += ['delete rule %s %s handle %d' % (qualified, chain, handle) for chain, handle in delete]
    lines += ['add rule %s %s %s' % (qualified, chain, text) for chain, text in add]
    return '\n'.join(lines) + '\n'


def apply(kernel, ns, text: str) -> None:
    kernel.run(ns, [binary(), '-f', '-'], stdin=text)


def table_listed(chains) -> bool:
    return any(chain['family'] == FAMILY and chain['table'] == TABLE for chain in chains)
