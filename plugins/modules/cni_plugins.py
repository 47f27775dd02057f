#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: cni_plugins
short_description: Install the CNI plugin binaries
version_added: 0.1.0
description:
  - Installs the CNI plugins (C(bridge), C(host-local), C(loopback), C(portmap), ...), the binaries a container
    runtime runs to wire a pod into its network, into O(dest) (by default C(/opt/cni/bin), where runtimes look
    for them); or removes them again. One task does what the shell lines C(curl -LO ...), C(sha256sum -c) and
    C(tar -xzf ... -C /opt/cni/bin) of the tutorial do, and what they leave out.
  - The plugins come from Debian's package (O(method=package)), from a containernetworking/plugins release tarball
    that the node downloads and checks against O(sha256) (O(method=release)), or from a directory or tarball already
    on the node (O(method=local)).
  - Every plugin is installed root:root 0755, whatever its source says. It is written to a temporary file in O(dest)
    with that owner and mode and renamed over the old one, so that a runtime running a plugin at the same time finds
    the complete old binary or the complete new one, never a half-written file.
  - A manifest, C(.podnet-cni-plugins.json) in O(dest), records the method, source, version, the archive's SHA-256,
    O(only) and every installed plugin with its SHA-256. A later run that installs another set removes the plugins of
    the old set that the new one lacks; O(state=absent) removes exactly the files the manifest lists, then the
    manifest. Files the manifest does not list, and directories, are never touched.
  - A rerun with the same source changes nothing; only plugins that are missing or differ (content, owner, mode,
    type) are written. A release or archive whose source and SHA-256 match the manifest, with every listed file still
    as installed, is not downloaded or unpacked again.
  - Every option is checked, and the source is read and checked, before the destination is touched; errors name the
    option, such as C(sha256) or C(only).
  - The module behind the role packetlife.podnet.cni_plugins, step 4 of "Life of a Packet in Kubernetes".
author:
  - packetlife.podnet developers (@packetlife)
extends_documentation_fragment:
  - packetlife.podnet._attributes
attributes:
  check_mode:
    description:
      - Reports what a run would install, replace and remove, without changing O(dest). A release tarball is still
        downloaded and unpacked into a temporary directory (removed again) to know the new set, unless the manifest
        says it is installed.
      - When the package of O(method=package) would have to be installed first, check mode reports that alone; its
        plugins are not known before it is installed.
  diff_mode:
    description:
      - The diff shows the set before and after, under O(dest)'s path - C(method), C(source), C(version), C(sha256)
        and C(only) as the manifest records them, and under C(plugins) each plugin with its SHA-256, followed by its
        mode and owner when they are not 0755 root:root (or what the entry is when it is no regular file).
  platform:
    description:
      - Runs on the target with Python 3.8 or later and needs nothing else from Python. O(method=package) needs
        C(dpkg-query), and C(apt-get) when the package is missing (Debian, Ubuntu).
options:
  state:
    description:
      - V(present) installs the set the source offers (limited to O(only)) and removes the plugins of the manifest's
        old set that the new set lacks.
      - V(absent) removes the files the manifest lists (regular files and links, never directories), then the
        manifest; O(dest) itself stays. All other options but O(dest) are ignored.
    type: str
    choices: [present, absent]
    default: present
  method:
    description:
      - Where the plugins come from.
      - V(package) asks C(dpkg-query) whether the Debian package O(package) is installed, installs it with
        C(apt-get install) only when it is not, and installs its binaries from C(/usr/lib/cni). The manifest records
        the package's version.
      - V(release) downloads O(url) into a private temporary directory on the node, checks it against O(sha256)
        before unpacking anything, and unpacks its plugins. Needs O(url), O(sha256) and O(version).
      - V(local) installs from O(src), a directory or a tar archive on the node.
    type: str
    choices: [package, release, local]
    default: package
  dest:
    description:
      - Directory the plugins are installed into, the runtime's C(CNI_PATH). Created with its missing parents,
        root:root 0755, and set to that when it exists with another mode or owner.
    type: path
    default: /opt/cni/bin
  only:
    description:
      - Install only these plugins, for example V([bridge, host-local, loopback, portmap]). The module fails, before
        changing anything, when the source lacks one of them.
      - Empty installs every plugin of the source.
    type: list
    elements: str
    default: []
  package:
    description:
      - The Debian package with the plugins in C(/usr/lib/cni), for O(method=package).
    type: str
    default: containernetworking-plugins
  cache_valid_time:
    description:
      - For O(method=package) when the package must be installed - C(apt-get update) runs first when the package lists
        are older than this many seconds (by C(/var/lib/apt/periodic/update-success-stamp), else
        C(/var/lib/apt/lists)), and once when C(apt-get install) fails without it. V(0) always updates first.
    type: int
    default: 3600
  version:
    description:
      - The release's version without the leading C(v), such as V(1.6.2), recorded in the manifest. Required with
        O(method=release), where it may hold only letters, digits and C(.+~_-), at most 64 of them.
      - With O(method=local), an optional label for the manifest. Not used with O(method=package), which records the
        package's version.
    type: str
  url:
    description:
      - The release tarball to download, for O(method=release) (http, https, ftp or file URL). The node fetches it;
        redirects are followed, and proxies are taken from the environment.
      - For example C(https://github.com/containernetworking/plugins/releases/download/v1.6.2/cni-plugins-linux-amd64-v1.6.2.tgz).
    type: str
  sha256:
    description:
      - SHA-256 of the tarball, 64 hexadecimal digits. Required with O(method=release); a download that does not match
        fails the task and is never unpacked.
      - With O(method=local) and an archive, checked when given; not allowed for a directory.
    type: str
  timeout:
    description:
      - Seconds the download may wait for the server, to connect and for each read, for O(method=release).
    type: int
    default: 30
  validate_certs:
    description:
      - Whether an https O(url)'s certificate is checked, for O(method=release).
    type: bool
    default: true
  src:
    description:
      - For O(method=local), an absolute path on the node to a directory of plugin binaries or to a tar archive of them
        (such as a release C(.tgz)). A directory's regular files are its plugins; symbolic links and subdirectories in
        it are ignored. With an archive the manifest records its SHA-256.
      - C(LICENSE*), C(README*), C(*.md) and hidden files are not plugins and are left out; any other name must be a
        plugin name (a letter or digit followed by letters, digits, V(.), V(_), V(+) or V(-)).
      - To install from the controller, copy the source to the node first (the role packetlife.podnet.cni_plugins does)
        and say where it came from with O(origin).
    type: path
  origin:
    description:
      - For O(method=local), where O(src) came from, as the manifest records the source; by default C(node:<src>).
      - The role passes C(controller:<path>) for a source it copied from the controller to a temporary directory, so
        that the manifest names the source that stays the same from run to run.
      - Also names the source in error messages.
    type: str
notes:
  - "An archive is read member by member with Python's tarfile; only regular files at its top level (C(name) or
    C(./name)) are plugins and only they are written, each into a new file of a private temporary directory.
    Directories and files below the top level are skipped. An archive with a link, a device, an absolute path or a
    path with C(..) is refused as a whole, and so is one that has a plugin twice or a top-level file whose name is no
    plugin name."
  - Only plugins that are missing or differ are written. Before a new name is written, the manifest is rewritten to
    list it, so a run that stops half-way leaves nothing that a later run with O(state=absent) does not remove.
  - The module must run as root, to own the plugins by root.
seealso:
  - module: packetlife.podnet.cni_conf
  - name: containernetworking/plugins releases
    description: The release tarballs and their SHA-256 files.
    link: https://github.com/containernetworking/plugins/releases
  - name: CNI specification
    description: How a runtime finds and runs the plugins.
    link: https://www.cni.dev/docs/spec/
'''

EXAMPLES = r'''
- name: Debian's plugins into /opt/cni/bin
  packetlife.podnet.cni_plugins:

- name: A release, only the plugins the tutorial uses
  packetlife.podnet.cni_plugins:
    method: release
    version: 1.6.2
    url: https://github.com/containernetworking/plugins/releases/download/v1.6.2/cni-plugins-linux-amd64-v1.6.2.tgz
    sha256: "{{ cni_plugins_release_sha256 }}"  # from the release's .sha256 file, checked by you
    only: [bridge, host-local, loopback, portmap]

- name: A tarball already on the node, for nodes without internet
  packetlife.podnet.cni_plugins:
    method: local
    src: /srv/mirror/cni-plugins-linux-amd64-v1.6.2.tgz
    version: 1.6.2

- name: A directory of self-built plugins, into another directory
  packetlife.podnet.cni_plugins:
    method: local
    src: /usr/local/src/plugins/bin
    dest: /usr/libexec/cni

- name: Remove the plugins the manifest lists, and the manifest
  packetlife.podnet.cni_plugins:
    state: absent
'''

RETURN = r'''
dest:
  description: The destination directory, normalised.
  returned: always
  type: str
  sample: /opt/cni/bin
method:
  description: The method the plugins came from; V(null) for O(state=absent).
  returned: always
  type: str
  sample: release
source:
  description:
    - The source as the manifest records it - the package name, the URL or O(origin) (C(node:<src>) by default);
      V(null) for O(state=absent).
  returned: always
  type: str
  sample: https://github.com/containernetworking/plugins/releases/download/v1.6.2/cni-plugins-linux-amd64-v1.6.2.tgz
version:
  description:
    - The version the manifest records - the package's version for O(method=package), O(version) otherwise.
    - V(null) without one, for O(state=absent), and in check mode when the package would be installed first.
  returned: always
  type: str
  sample: 1.6.2
plugins:
  description: The names of the plugins installed after the run (would be, in check mode), sorted; V([]) for O(state=absent).
  returned: always
  type: list
  elements: str
  sample: [bandwidth, bridge, dhcp, dummy, firewall, host-device, host-local, ipvlan, loopback, macvlan, portmap]
copied:
  description: The plugins this run wrote (would write, in check mode), because they were missing or differed.
  returned: always
  type: list
  elements: str
  sample: [bridge, portmap]
removed:
  description: The plugins this run removed (would remove) - those of the old set the new one lacks, or all the manifest lists.
  returned: always
  type: list
  elements: str
  sample: [vrf]
actions:
  description:
    - What the task did, or would do in check mode, one step per entry. On failure, the steps done before it.
  returned: always
  type: list
  elements: str
  sample:
    - create directory /opt/cni/bin
    - install bridge
    - remove vrf
    - write /opt/cni/bin/.podnet-cni-plugins.json
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni_plugins


def main():
    module = AnsibleModule(**_cni_plugins.MODULE_ARGS)
    _cni_plugins.run(module)


if __name__ == '__main__':
    main()
