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
