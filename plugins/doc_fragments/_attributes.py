# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE: this fragment is internal to the collection and may change without notice.

from __future__ import annotations


class ModuleDocFragment:
    # What every packetlife.podnet module supports, declared once.
    DOCUMENTATION = r'''
attributes:
  check_mode:
    support: full
    description:
      - The module reads the kernel, plans every change and reports it in RV(actions) and the diff without making it.
      - Objects that an earlier task would have created do not exist during a check run; where the module needs
        them (a bridge master, a route's device, a namespace), it warns and assumes they will be there.
  diff_mode:
    support: full
    description:
      - The diff shows the managed kernel state of each object before and after, as the kernel reports it.
  idempotent:
    support: full
    description:
      - A second run with the same options reports no change.
  platform:
    support: full
    platforms: linux
    description:
      - Runs on the target with Python 3.8 or later, pyroute2 and netaddr.
'''

    # Top-level options serving as defaults for list elements, shared wording.
    BULK = r'''
options: {}
notes:
  - The module manages one object with the top-level options, or many in one task with the list option.
    In the list form every element takes the same keys as the top-level options; top-level values other than
    O(name) apply to every element that does not set them itself.
  - All input is validated and the kernel state of every namespace involved is read once before anything changes;
    objects this task created are removed again if a later step fails.
requirements:
  - pyroute2 (Debian package C(python3-pyroute2), 0.7 or later)
  - netaddr (Debian package C(python3-netaddr))
'''

    # The interface options veth ends and bridges share (module_utils/_interface.py INTERFACE_SPEC).
    INTERFACE = r'''
options:
  netns:
    description:
      - Named network namespace (C(/run/netns/NETNS)) the interface lives in. Omit it for the namespace the module
        runs in, the host's own.
      - The namespace must exist; create it with M(packetlife.podnet.netns) first.
    type: str
  addresses:
    description:
      - IPv4 and IPv6 addresses of the interface in CIDR notation, such as V(10.0.0.11/24), unicast only;
        loopback, multicast, V(0.0.0.0/8), reserved and broadcast addresses, V(::) and V(::1) are refused.
      - This is the exact set, so other addresses on the interface are removed (IPv6 link-local addresses, which the
        kernel adds itself, are left alone). Omit the option to leave addresses unmanaged; V([]) removes them all.
      - An address held by another interface in the namespace is refused, and so is a new address whose subnet
        overlaps a route through another interface (such as the host's own networks).
    type: list
    elements: str
  mtu:
    description:
      - MTU of the interface, 68 to 65535. Unmanaged when omitted (a new veth or bridge gets 1500).
    type: int
  up:
    description:
      - Whether the interface is administratively up.
    type: bool
    default: true
'''
