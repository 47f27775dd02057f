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
"""

from __future__ import annotations

import os
import shutil

SBIN_PATH = os.pathsep.join(['/usr/sbin', '/sbin', '/usr/bin', '/bin', os.environ.get('PATH', '')])


class IptablesMissing(Exception):
    pass


def binary(name: str) -> str:
    found = shutil.which(name, path=SBIN_PATH)
    if found is None:
        raise IptablesMissing('%s was not found on the target; install the iptables package' % name)
    return found


def parse_save(text: str) -> list:
    """The rule lines of one table from iptables-save output."""
    return [line for line in text.splitlines() if line.startswith('-A ')]


def read_rules(kernel, ns, table: str) -> list:
    return parse_save(kernel.run(ns, [binary('iptables-save'), '-t', table]))


def restore_input(table: str, delete, add) -> str:
    """The iptables-restore --noflush batch that deletes and appends the given rule lines."""
    lines = ['*%s' % table]
    lines += ['-D' + rule[2:] for rule in delete]
    lines += list(add)
    lines.append('COMMIT')
    return '\n'.join(lines) + '\n'


def apply(kernel, ns, table: str, delete, add) -> None:
    kernel.run(ns, [binary('iptables-restore'), '--noflush'], stdin=restore_input(table, delete, add))


def masquerade_rule(subnet: str, bridge: str) -> str:
    """Traffic from the bridge's subnet leaving through any other interface is
    masqueraded, as Docker and the CNI bridge plugin's ipMasq do."""
    return '-A POSTROUTING -s %s ! -o %s -m comment --comment "%s" -j MASQUERADE' % (
        subnet, bridge, masquerade_comment(bridge))


def masquerade_comment(bridge: str) -> str:
    return 'podnet masquerade %s' % bridge


def owned_by(rule: str, comment: str) -> bool:
    return '--comment "%s"' % comment in rule
