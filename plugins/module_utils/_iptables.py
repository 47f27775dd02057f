# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""iptables rules owned by packetlife.podnet: read a table once with
iptables-save, change it in one batch with iptables-restore --noflush.

PRIVATE: this module is internal to the collection and may change without notice.

Rules are kept as the exact lines iptables-save prints ("-A CHAIN ..."), so
comparing what we want with what the kernel has is a string comparison. Every
rule we write carries a comment starting with "podnet", which is how we know
it is ours to change or remove.

Hosts may have two iptables: the nf_tables one and the legacy one. Where both
are installed, the one holding more rules is the one in use, the way
kube-proxy's iptables wrapper decides; a host with no rules at all gets the
nf_tables one. The legacy one serialises writers with the xtables lock; we
wait for it a bounded time, and a timeout is an error, never an empty table.
"""

from __future__ import annotations

import os
import shutil

SBIN_PATH = os.pathsep.join(['/usr/sbin', '/sbin', '/usr/bin', '/bin', os.environ.get('PATH', '')])

# Seconds iptables-restore (legacy) waits for the xtables lock before it gives up.
LOCK_WAIT = 10

# (save, restore, legacy) per namespace, decided once per module run.
_TOOLS = {}


class IptablesMissing(Exception):
    pass


def binary(name: str) -> str:
    found = shutil.which(name, path=SBIN_PATH)
    if found is None:
        raise IptablesMissing('%s was not found on the target; install the iptables package' % name)
    return found


def available() -> bool:
    return shutil.which('iptables-restore', path=SBIN_PATH) is not None


def count_rules(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.startswith('-A '))


def choose_variant(legacy_rules: int, nft_rules: int) -> str:
    """'legacy' when the legacy tables hold more rules, else 'nft'."""
    return 'legacy' if legacy_rules > nft_rules else 'nft'


def tools(kernel, ns):
    """(iptables-save, iptables-restore, legacy?) for namespace NS."""
    if ns in _TOOLS:
        return _TOOLS[ns]
    variants = {}
    for variant in ('legacy', 'nft'):
        save = shutil.which('iptables-%s-save' % variant, path=SBIN_PATH)
        restore = shutil.which('iptables-%s-restore' % variant, path=SBIN_PATH)
        if save and restore:
            variants[variant] = (save, restore, variant == 'legacy')
    if len(variants) == 2:
        counts = dict((variant, count_rules(kernel.run(ns, [variants[variant][0]]))) for variant in variants)
        chosen = variants[choose_variant(counts['legacy'], counts['nft'])]
    elif variants:
        chosen = list(variants.values())[0]
    else:
        save, restore = binary('iptables-save'), binary('iptables-restore')
        version = kernel.run(ns, [restore, '--version'])
        chosen = (save, restore, 'nf_tables' not in version)
    _TOOLS[ns] = chosen
    return chosen


def parse_save(text: str) -> list:
    """The rule lines of one table from iptables-save output."""
    return [line for line in text.splitlines() if line.startswith('-A ')]


def parse_policies(text: str) -> dict:
    """The built-in chains' policies from iptables-save output: {'FORWARD': 'DROP', ...}."""
    policies = {}
    for line in text.splitlines():
        if line.startswith(':'):
            parts = line[1:].split()
            if len(parts) >= 2 and parts[1] != '-':
                policies[parts[0]] = parts[1]
    return policies


def save_table(kernel, ns, table: str) -> str:
    return kernel.run(ns, [tools(kernel, ns)[0], '-t', table])


def read_rules(kernel, ns, table: str) -> list:
    return parse_save(save_table(kernel, ns, table))


def restore_input(table: str, delete, add, insert=(), drop_chains=()) -> str:
    """The iptables-restore --noflush batch that deletes the given rule lines and
    appends the others; lines in INSERT go to the top of their chain instead;
    the chains in DROP_CHAINS are deleted last."""
    lines = ['*%s' % table]
    lines += ['-D' + rule[2:] for rule in delete]
    for rule in add:
        if rule in insert:
            chain, rest = rule[3:].split(' ', 1)
            lines.append('-I %s 1 %s' % (chain, rest))
        else:
            lines.append(rule)
    lines += ['-X %s' % chain for chain in drop_chains]
    lines.append('COMMIT')
    return '\n'.join(lines) + '\n'


def apply(kernel, ns, table: str, delete, add, insert=(), drop_chains=()) -> None:
    save, restore, legacy = tools(kernel, ns)
    argv = [restore, '--noflush']
    if legacy:
        argv.append('--wait=%d' % LOCK_WAIT)
    kernel.run(ns, argv, stdin=restore_input(table, delete, add, insert, drop_chains))


def masquerade_rule(subnet: str, bridge: str) -> str:
    """Traffic from the bridge's subnet leaving through any other interface is
    masqueraded, as Docker and the CNI bridge plugin's ipMasq do."""
    return '-A POSTROUTING -s %s ! -o %s -m comment --comment "%s" -j MASQUERADE' % (
        subnet, bridge, masquerade_comment(bridge))


def masquerade_comment(bridge: str) -> str:
    return 'podnet masquerade %s' % bridge


def owned_by(rule: str, comment: str) -> bool:
    return '--comment "%s"' % comment in rule


def attachment_comment(network_name: str, container_id: str) -> str:
    """The comment the reference plugins (bridge and ptp with ipMasq, portmap) put on
    the rules of one attachment, as iptables-save quotes it."""
    return 'name: \\"%s\\" id: \\"%s\\"' % (network_name, container_id)


def _jump(rule: str):
    """The chain a rule line jumps to (-j TARGET), or None."""
    words = rule.split()
    return words[words.index('-j') + 1] if '-j' in words[:-1] else None


def commented_leftovers(text: str, comment: str):
    """(rules, chains) of iptables-save output TEXT for one table: the rules whose
    comment holds COMMENT, and the chains only they jump to whose own rules all
    hold it too, which can go once those rules are gone."""
    rules, others = [], []
    for line in parse_save(text):
        (rules if '"%s"' % comment in line or ' %s"' % comment in line else others).append(line)
    declared = set(line[1:].split()[0] for line in text.splitlines() if line.startswith(':'))
    # A chain stays while another rule lives in it or jumps to it.
    used = set(line.split()[1] for line in others) | set(_jump(line) for line in others)
    chains = sorted((set(_jump(rule) for rule in rules) & declared) - used)
    return rules, chains


def remove_commented(kernel, ns, table: str, comment: str) -> None:
    """Remove the rules of TABLE whose comment holds COMMENT, and their chains (see
    commented_leftovers), in one iptables-restore --noflush batch."""
    rules, chains = commented_leftovers(save_table(kernel, ns, table), comment)
    if rules:
        apply(kernel, ns, table, rules, [], drop_chains=chains)
