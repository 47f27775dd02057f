#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: cni_conf
short_description: Manage CNI network configuration files
version_added: 0.1.0
description:
  - Writes or removes one CNI network configuration file, such as the tutorial's C(00-demo.conf), the way a container
    runtime expects to find it in its configuration directory (by default C(/etc/cni/net.d)); or many in one task
    with O(networks).
  - A configuration with a C(type) is a single plugin configuration and goes into a C(.conf) file; one with a
    C(plugins) list is a configuration list and goes into a C(.conflist) file. These are the files libcni reads.
  - Everything is checked before the file is touched, against the CNI specification and what the plugins would refuse
    at run time, with messages that name the field, such as C(config.ipam.gateway).
  - This is step 4 of "Life of a Packet in Kubernetes". The configuration tells a CNI plugin such as C(bridge) which
    bridge to attach a pod's interface to and which addresses C(host-local) hands out.
author:
  - packetlife.podnet developers (@packetlife)
extends_documentation_fragment:
  - packetlife.podnet._attributes
attributes:
  check_mode:
    description:
      - Reads the file and the configuration directory, checks the plugins if O(validate_plugins=true), and reports
        what would change without writing.
  diff_mode:
    description:
      - The diff shows the file's JSON before and after, both indented as the module writes it, under the file's path;
        with O(networks), one such diff per file.
        Mode and ownership changes are not part of the diff; RV(actions) lists them.
  platform:
    description:
      - Runs on the target with Python 3.8 or later and netaddr.
options:
  name:
    description:
      - Name of the network, the C(name) field of the configuration, which is how runtimes pick a network.
      - It must start with a letter or digit, followed by letters, digits, V(_), V(.) or V(-).
      - Also the stem of the file name unless O(file_name) or O(dest) is given.
      - When O(config) has a C(name) too, both must be the same.
    type: str
  config:
    description:
      - The network configuration, as it goes into the file.
      - Either a single plugin configuration with a C(type) (written to a C(.conf) file), or a configuration list
        with a C(plugins) list of plugin configurations (written to a C(.conflist) file).
      - C(cniVersion) and C(name) are filled in from O(cni_version) and O(name) when missing; the file keeps
        the order of the keys given here, with those two first when they are filled in.
      - "Checked: the network name; C(cniVersion) is a version of the CNI specification; every plugin has a C(type)
        that is a file name; for the C(bridge) plugin, C(bridge) is a valid interface name and its switches are
        booleans; IPAM routes have valid C(dst) networks and C(gw) addresses of the same IP version; for C(host-local)
        IPAM, each C(subnet) (the single-range form or each range of C(ranges)) is a network with no host bits set
        and big enough to hand out addresses, C(gateway), C(rangeStart) and C(rangeEnd) lie inside it, and ranges do
        not overlap."
      - Required when O(state=present).
    type: dict
  cni_version:
    description:
      - The C(cniVersion) of the configuration when O(config) has none.
      - One of V(0.1.0), V(0.2.0), V(0.3.0), V(0.3.1), V(0.4.0), V(1.0.0) and V(1.1.0). Plugins must support it;
        Debian 12's plugins support versions up to V(1.0.0).
    type: str
    default: 1.0.0
  dest:
    description:
      - Absolute path of the file, for a file outside O(conf_dir) or with a name of your own.
      - The extension must fit the configuration, C(.conf) or C(.json) for a single plugin, C(.conflist) for a list.
      - Mutually exclusive with O(conf_dir), O(priority) and O(file_name).
    type: path
  conf_dir:
    description:
      - The configuration directory. It is created with mode V(0755) if missing.
    type: path
    default: /etc/cni/net.d
  priority:
    description:
      - The file is C(PRIORITY-NAME.conf) or C(PRIORITY-NAME.conflist) in O(conf_dir), the number written with at
        least two digits. Runtimes that use the first configuration they find take the one that sorts first.
      - Ignored when O(file_name) is given.
    type: int
    default: 10
  file_name:
    description:
      - Name of the file in O(conf_dir), instead of one made of O(priority) and O(name); for example V(00-demo.conf)
        for the tutorial's file.
    type: str
  mode:
    description:
      - Permissions of the file, as an octal string such as V('0644'), or a number.
      - A mode that lets others write the file (such as V('0666'), V('0646') or V('0777')) is refused, since the
        runtime runs the plugins a configuration names as root.
    type: raw
    default: '0644'
  owner:
    description:
      - User owning the file, by name or number. It must be root (V(root) or V('0')), for the same reason; the option
        stays so that a file owned by another user is given back to root.
    type: str
    default: root
  group:
    description:
      - Group owning the file, by name or number.
    type: str
    default: root
  state:
    description:
      - V(present) writes the file when its content, mode or owner differ. The content is compared as parsed JSON,
        so a file that differs only in whitespace or key order is left as it is.
      - V(absent) removes the file. Without O(dest), O(file_name) or O(config), the module does not know whether
        it is a C(.conf) or a C(.conflist) file; it removes the one that exists, and fails if both do.
    type: str
    choices: [present, absent]
    default: present
  validate_plugins:
    description:
      - Run every plugin of the configuration, and each plugin's IPAM plugin, with C(CNI_COMMAND=VERSION) and fail
        unless each is found in O(cni_bin_dir) and supports the configuration's C(cniVersion).
    type: bool
    default: false
  cni_bin_dir:
    description:
      - Directories holding the plugin executables, searched in order, for O(validate_plugins).
      - Debian's C(containernetworking-plugins) package installs them in C(/usr/lib/cni).
    type: list
    elements: path
    default: [/opt/cni/bin]
  shadowed:
    description:
      - What to do when libcni would never use this file, because a file it reads first in the same directory
        defines a network with the same name, or cannot be read at all. libcni reads C(.conflist) files first,
        then C(.conf) and C(.json) files, each group sorted by name.
      - V(warn) writes the file and warns, V(fail) fails before writing, V(ignore) says nothing.
      - RV(shadowed_by) names that other file in every case.
    type: str
    choices: [warn, fail, ignore]
    default: warn
  networks:
    description:
      - Manage many files in one task. Each element takes the keys of the single form, O(name) to O(shadowed).
      - Top-level options other than O(name), O(config), O(dest) and O(file_name) serve as defaults for every
        element, so that for example O(conf_dir) or O(state) is given once.
      - Every element is checked and every file read before any is written; an error names the element, such as
        C(networks[1].config.ipam.subnet). Two elements may not manage the same file.
      - Mutually exclusive with O(name), O(config), O(dest) and O(file_name).
    type: list
    elements: dict
notes:
  - The file is written to a temporary file in the same directory, with its mode and owner set, and then renamed over
    the old one, so a runtime reading the directory never sees half a file. A symbolic link at the path is followed.
  - The module only writes the configuration; the runtime (or the tutorial's hand-run plugin) reads it when a pod
    is added to the network.
requirements:
  - netaddr (Debian package C(python3-netaddr))
seealso:
  - module: packetlife.podnet.linux_bridge
  - name: CNI specification
    description: The network configuration format and the plugin protocol.
    link: https://www.cni.dev/docs/spec/
  - name: CNI host-local IPAM plugin
    description: The IPAM options this module checks.
    link: https://www.cni.dev/plugins/current/ipam/host-local/
'''

EXAMPLES = r'''
- name: Step 4 of the tutorial - the bridge network demo_br in 00-demo.conf
  packetlife.podnet.cni_conf:
    name: demo_br
    file_name: 00-demo.conf
    cni_version: 0.2.0
    config:
      type: bridge
      bridge: cni_net0
      isGateway: true
      ipMasq: true
      ipam:
        type: host-local
        subnet: 10.0.10.0/24
        routes:
          - dst: 0.0.0.0/0
          - dst: 1.1.1.1/32
            gw: 10.0.10.1
    validate_plugins: true
    cni_bin_dir: [/usr/lib/cni]

- name: A configuration list, bridge with port mappings, as 10-pods.conflist
  packetlife.podnet.cni_conf:
    name: pods
    config:
      plugins:
        - type: bridge
          bridge: cni0
          isGateway: true
          ipMasq: true
          ipam:
            type: host-local
            ranges:
              - - subnet: 10.244.1.0/24
            routes:
              - dst: 0.0.0.0/0
        - type: portmap
          capabilities:
            portMappings: true

- name: Refuse to write a network that an earlier file already defines
  packetlife.podnet.cni_conf:
    name: pods
    priority: 50
    shadowed: fail
    config:
      type: ptp
      ipam:
        type: host-local
        subnet: 10.245.0.0/16

- name: Two networks on one bridge in one task, the second handing out the top of the subnet
  packetlife.podnet.cni_conf:
    cni_version: 0.2.0
    networks:
      - name: demo_br
        file_name: 00-demo.conf
        config:
          type: bridge
          bridge: cni_net0
          isGateway: true
          ipam: {type: host-local, subnet: 10.0.10.0/24}
      - name: demo_peer
        file_name: 10-demo-peer.conf
        config:
          type: bridge
          bridge: cni_net0
          isGateway: true
          ipam: {type: host-local, subnet: 10.0.10.0/24, rangeStart: 10.0.10.250, rangeEnd: 10.0.10.254}

- name: Remove the tutorial's network configuration
  packetlife.podnet.cni_conf:
    file_name: 00-demo.conf
    state: absent
'''

RETURN = r'''
path:
  description: The file the task manages.
  returned: without O(networks)
  type: str
  sample: /etc/cni/net.d/00-demo.conf
network:
  description:
    - The configuration as written, or as it would be in check mode, with C(cniVersion) and C(name) filled in.
    - V(null) for O(state=absent).
  returned: without O(networks)
  type: dict
  sample:
    cniVersion: 0.2.0
    name: demo_br
    type: bridge
    bridge: cni_net0
    isGateway: true
    ipMasq: true
    ipam:
      type: host-local
      subnet: 10.0.10.0/24
      routes:
        - {dst: 0.0.0.0/0}
        - {dst: 1.1.1.1/32, gw: 10.0.10.1}
shadowed_by:
  description:
    - A file in the same directory that libcni reads first and that defines the same network name (or cannot be read),
      so that libcni never uses this one; V(null) when there is none or O(state=absent).
  returned: without O(networks)
  type: str
  sample: /etc/cni/net.d/00-other.conflist
networks:
  description:
    - With O(networks), one entry per element in the same order, with the keys RV(path), RV(network),
      RV(shadowed_by) and RV(actions) of the single form and C(changed) for that file.
  returned: with O(networks)
  type: list
  elements: dict
  sample:
    - path: /etc/cni/net.d/00-demo.conf
      network: {cniVersion: 0.2.0, name: demo_br, type: bridge, bridge: cni_net0}
      shadowed_by: null
      actions: [write /etc/cni/net.d/00-demo.conf]
      changed: true
actions:
  description: What the task did, or would do in check mode, one step per entry.
  returned: always
  type: list
  elements: str
  sample:
    - create directory /etc/cni/net.d
    - write /etc/cni/net.d/00-demo.conf
'''

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni_conf

try:
    import netaddr  # noqa: F401 pylint: disable=unused-import
    NETADDR_ERROR = None
except ImportError:
    NETADDR_ERROR = traceback.format_exc()


def main():
    module = AnsibleModule(**_cni_conf.MODULE_ARGS)
    if NETADDR_ERROR is not None:
        module.fail_json(msg=missing_required_lib('netaddr'), exception=NETADDR_ERROR)
    _cni_conf.run(module)


if __name__ == '__main__':
    main()
