# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kernel adapter: reads and changes network namespaces, links, addresses,
routes, sysctls and firewall tables through pyroute2, entering namespaces in-process.

PRIVATE: this module is internal to the collection and may change without notice.

Namespaces are keyed by name; ``None`` is the namespace the module runs in (the
target's root namespace). A read returns plain dicts normalised to the form the
manager compares with (see ``read_namespace``), so the same description code
serves the state before, the state predicted by check mode, and the state after.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import threading

try:
    from pyroute2 import IPRoute
    from pyroute2 import netns as pyroute2_netns
    from pyroute2.netlink.exceptions import NetlinkDumpInterrupted
    HAS_PYROUTE2 = True
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    HAS_PYROUTE2 = False

    class NetlinkDumpInterrupted(Exception):
        pass

from ansible_collections.packetlife.podnet.plugins.module_utils import _validate

NETNS_DIR = '/run/netns'
CLONE_NEWNET = 0x40000000
IFF_UP = 0x1
MAIN_TABLE = 254
RTN_UNICAST = 1
RT_SCOPE_LINK = 253
NSID_NOT_ASSIGNED = (-1, 4294967295)
# mount(2) flags and interface ioctls, as iproute2's `ip netns add` uses them.
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 0x100000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
# A Linux bridge numbers its ports in 10 bits and never uses port 0 (BR_MAX_PORTS).
BRIDGE_MAX_PORTS = 1023
# Netlink, for the one dump read without pyroute2 (_dump_addresses).
NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWADDR = 20
RTM_GETADDR = 22
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
IFA_ADDRESS = 1
IFA_LOCAL = 2
_NLMSGHDR = struct.Struct('=LHHLL')  # length, type, flags, sequence, port
_IFADDRMSG = struct.Struct('=BBBBL')  # family, prefix length, flags, scope, interface index

# Times a netlink dump is read again when the kernel changed the table meanwhile
# (another task adding links at the same moment: NLM_F_DUMP_INTR).
DUMP_TRIES = 5


def redumped(read):
    """READ() again while its dump was interrupted, up to DUMP_TRIES times."""
    for attempt in range(DUMP_TRIES):
        try:
            return read()
        except NetlinkDumpInterrupted:
            if attempt == DUMP_TRIES - 1:
                raise
    return None


_libc = ctypes.CDLL(None, use_errno=True)


class KernelError(Exception):
    """A change the kernel refused, with the step that was being done."""


def absent_namespace() -> dict:
    """The model of a namespace that does not exist (yet)."""
    return {'exists': False, 'links': {}, 'routes': [], 'sysctls': {}, 'firewall': {}}


def netns_path(name: str) -> str:
    return os.path.join(NETNS_DIR, name)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _libc_call(what: str, result: int) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, '%s: %s' % (what, os.strerror(err)))


def _share_netns_dir() -> None:
    """Make /run/netns a shared mount point of its own, as `ip netns add` does, so that
    namespace mounts under it propagate to the mount namespaces that share it."""
    os.makedirs(NETNS_DIR, exist_ok=True)
    path = NETNS_DIR.encode()
    if _libc.mount(b'none', path, b'none', MS_SHARED | MS_REC, None) == 0:
        return
    # Not a mount point yet: bind it onto itself first.
    _libc_call('mount --bind %s' % NETNS_DIR, _libc.mount(path, path, b'none', MS_BIND | MS_REC, None))
    _libc_call('mount --make-rshared %s' % NETNS_DIR, _libc.mount(b'none', path, b'none', MS_SHARED | MS_REC, None))


def _loopback_up() -> None:
    """Set lo up in the namespace the thread is in (one ioctl, no netlink dump)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack('16sH22x', b'lo', 0)
        flags = struct.unpack('16sH22x', fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack('16sH22x', b'lo', flags | IFF_UP))


class Kernel:
    """One per module run: netlink sockets per namespace, opened on first use."""

    def __init__(self) -> None:
        self._home = os.open('/proc/self/ns/net', os.O_RDONLY | os.O_CLOEXEC)
        self._nsfs_dev = os.fstat(self._home).st_dev
        self._sockets = {}
        self._aliases = {}
        self._netns_dir_shared = False
        self._netns_dir_lock = threading.Lock()  # threads may create namespaces side by side

    def close(self) -> None:
        for ipr in self._sockets.values():
            ipr.close()
        self._sockets.clear()
        if self._home is not None:
            os.close(self._home)
            self._home = None

    # namespaces -------------------------------------------------------------

    def netns_source(self, name: str):
        """How /run/netns/NAME exists: None (missing or stale), or a dict
        with ``inode`` and ``symlink`` (the link target, or None for a mount)."""
        path = netns_path(name)
        try:
            target = os.readlink(path)
        except OSError:
            target = None
        try:
            st = os.stat(path)
        except OSError:
            return None
        if st.st_dev != self._nsfs_dev:
            return None
        return {'inode': st.st_ino, 'symlink': target}

    def namespace_inode(self, path: str):
        """The inode of a network namespace file, or None if PATH is no netns."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        return st.st_ino if st.st_dev == self._nsfs_dev else None

    def _forget(self, name) -> None:
        ipr = self._sockets.pop(name, None)
        if ipr is not None:
            ipr.close()

    def release(self, name) -> None:
        """Close the netlink socket kept for namespace NAME, if any: a caller that
        touches many namespaces once each keeps one descriptor, not one per namespace."""
        if name is not None:
            self._forget(name)

    def create_netns(self, name: str, loopback_up: bool = False) -> None:
        """Create /run/netns/NAME as `ip netns add` does, in this thread and without a
        child process: unshare a fresh network namespace, bind-mount it onto the
        name, return to the namespace the thread was in. LOOPBACK_UP sets its lo up
        on the way."""
        self._remove_stale(name)
        with self._netns_dir_lock:
            if not self._netns_dir_shared:
                _share_netns_dir()
                self._netns_dir_shared = True
        path = netns_path(name)
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
        try:
            back = os.open('/proc/thread-self/ns/net', os.O_RDONLY | os.O_CLOEXEC)
            try:
                _libc_call('unshare', _libc.unshare(CLONE_NEWNET))
                try:
                    _libc_call('mount --bind of the new namespace on %s' % path,
                               _libc.mount(b'/proc/thread-self/ns/net', path.encode(), b'none', MS_BIND, None))
                    if loopback_up:
                        _loopback_up()
                finally:
                    _setns(back)
            finally:
                os.close(back)
        except Exception:
            _libc.umount2(path.encode(), 2)  # MNT_DETACH; fails harmlessly when nothing was mounted
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise

    def attach_netns(self, name: str, pid: int) -> None:
        self._remove_stale(name)
        pyroute2_netns.attach(name, pid)

    def link_netns(self, name: str, path: str) -> None:
        """Make NAME a symlink to an existing namespace file, as `ln -s` in the tutorial."""
        os.makedirs(NETNS_DIR, exist_ok=True)
        link = netns_path(name)
        tmp = '%s.podnet-tmp' % link
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(path, tmp)
        os.rename(tmp, link)
        self._forget(name)

    def delete_netns(self, name: str) -> None:
        self._forget(name)
        path = netns_path(name)
        if os.path.islink(path):
            # Never umount through a symlink: that would unmount the owner's file.
            os.unlink(path)
        else:
            pyroute2_netns.remove(name)

    def _remove_stale(self, name: str) -> None:
        path = netns_path(name)
        if os.path.lexists(path) and self.netns_source(name) is None:
            if not os.path.islink(path):
                _libc.umount2(path.encode(), 2)  # MNT_DETACH, in case a dead mount remains
            os.unlink(path)

    def alias(self, name: str, path: str) -> None:
        """Read namespace NAME from PATH (an adoption not made yet)."""
        self._forget(name)
        self._aliases[name] = path

    def has_alias(self, name: str) -> bool:
        return name in self._aliases

    def open_ns(self, name) -> int:
        if name is None:
            return os.dup(self._home)
        return os.open(self._aliases.get(name, netns_path(name)), os.O_RDONLY | os.O_CLOEXEC)

    @contextlib.contextmanager
    def entered(self, name):
        """Run the body inside namespace NAME (None: the module's own namespace), then
        return to the namespace the thread was in, so that nested uses are safe."""
        back = os.open('/proc/thread-self/ns/net', os.O_RDONLY | os.O_CLOEXEC)
        try:
            fd = self.open_ns(name)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            try:
                yield
            finally:
                _setns(back)
        finally:
            os.close(back)

    def ipr(self, name):
        if name not in self._sockets:
            with self.entered(name):
                self._sockets[name] = IPRoute()
        return self._sockets[name]

    # reading ----------------------------------------------------------------

    def read(self, namespaces) -> dict:
        """One netlink dump per namespace that exists; peers resolved across them."""
        state = {}
        for name in namespaces:
            state[name] = absent_namespace()
            if name is None or self.netns_source(name) is not None:
                state[name].update(self.read_namespace(name))
        self.resolve_peers(state)
        return state

    def read_namespace(self, name) -> dict:
        """Links (by name), their addresses, and main-table unicast routes."""
        return redumped(lambda: self._read_namespace(name))

    def _read_namespace(self, name) -> dict:
        ipr = self.ipr(name)
        links, by_index = {}, {}
        for msg in ipr.get_links():
            info = msg.get_attr('IFLA_LINKINFO')
            kind = info.get_attr('IFLA_INFO_KIND') if info is not None else None
            link = {
                'name': msg.get_attr('IFLA_IFNAME'),
                'index': msg['index'],
                'kind': kind or 'device',
                'mtu': msg.get_attr('IFLA_MTU'),
                'up': bool(msg['flags'] & IFF_UP),
                'master': msg.get_attr('IFLA_MASTER'),
                'addresses': [],
            }
            if kind == 'veth':
                link['peer'] = {'index': msg.get_attr('IFLA_LINK'), 'nsid': msg.get_attr('IFLA_LINK_NETNSID')}
            if kind == 'bridge':
                data = info.get_attr('IFLA_INFO_DATA')
                link['stp'] = bool(data.get_attr('IFLA_BR_STP_STATE')) if data is not None else False
            links[link['name']] = link
            by_index[link['index']] = link
        for link in links.values():
            master = by_index.get(link['master'])
            link['master'] = master['name'] if master else None
        for msg in ipr.get_addr():
            link = by_index.get(msg['index'])
            address = _address_text(msg)
            if link is not None and address is not None:
                link['addresses'].append(address)
        for link in links.values():
            link['addresses'].sort(key=_validate.address_sort_key)
        routes = []
        for msg in ipr.get_routes():
            table = msg.get_attr('RTA_TABLE') or msg['table']
            if table != MAIN_TABLE or msg['type'] != RTN_UNICAST:
                continue
            oif = by_index.get(msg.get_attr('RTA_OIF'))
            routes.append(route_record(
                family=msg['family'], dst=msg.get_attr('RTA_DST'), dst_len=msg['dst_len'],
                via=msg.get_attr('RTA_GATEWAY'), dev=oif['name'] if oif else None,
                metric=msg.get_attr('RTA_PRIORITY') or 0, kernel=msg['proto'] == 2))
        return {'exists': True, 'links': links, 'routes': sorted(routes, key=route_sort_key)}

    def link_addresses(self, name, ifname: str):
        """The addresses of interface IFNAME in namespace NAME as read_namespace lists
        them (sorted, no link-local ones), or None when there is no such interface.
        Cheap enough to ask once per pod of a thousand: the index comes from an
        ioctl, and the address dump is read with a netlink socket of its own and
        struct, which is about ten times faster than pyroute2's parser."""
        with self.entered(name):
            try:
                index = socket.if_nametoindex(ifname)
            except OSError:
                return None
            found = _dump_addresses(index)
        addresses = [_validate.canonical_address(address, prefixlen) for address, prefixlen in found]
        return sorted((address for address in addresses if not _validate.is_link_local(address)),
                      key=_validate.address_sort_key)

    def bridge_ports(self, name, bridge: str):
        """How many interfaces have bridge BRIDGE of namespace NAME as their master, or
        None when there is no bridge of that name."""
        links = redumped(lambda: list(self.ipr(name).get_links()))
        index = next((msg['index'] for msg in links if msg.get_attr('IFLA_IFNAME') == bridge), None)
        if index is None:
            return None
        return sum(1 for msg in links if msg.get_attr('IFLA_MASTER') == index)

    def resolve_peers(self, state: dict) -> None:
        """Replace each veth's raw peer (index, nsid) by {'netns', 'name'} among the
        namespaces read; a peer in a namespace not read becomes {'netns': '?', 'name': None}."""
        nsid_cache = {}
        for here, ns in state.items():
            if not ns.get('exists'):
                continue
            for link in ns['links'].values():
                raw = link.get('peer')
                if not raw or 'index' not in raw:
                    continue
                link['peer'] = {'netns': '?', 'name': None}
                if raw['nsid'] is None or raw['nsid'] in NSID_NOT_ASSIGNED:
                    candidates = [here] if raw['nsid'] is None else []
                else:
                    candidates = [there for there in state
                                  if there != here and state[there].get('exists')
                                  and self._nsid(nsid_cache, here, there) == raw['nsid']]
                for there in candidates:
                    for other in state[there]['links'].values():
                        if other['index'] == raw['index']:
                            link['peer'] = {'netns': there, 'name': other['name']}

    def _nsid(self, cache, here, there):
        key = (here, there)
        if key not in cache:
            fd = self.open_ns(there)
            try:
                cache[key] = self.ipr(here).get_netnsid(fd=fd).get('nsid')
            finally:
                os.close(fd)
        return cache[key]

    def read_sysctl(self, name, key: str):
        path = '/proc/sys/' + key.replace('.', '/')
        with self.entered(name):
            try:
                with open(path) as handle:
                    return ' '.join(handle.read().split())
            except OSError:
                return None

    def run(self, name, argv, stdin=None) -> str:
        """Run a command (argv list) inside namespace NAME and return its stdout."""
        with self.entered(name):
            proc = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True, close_fds=True, check=False)
        if proc.returncode != 0:
            raise KernelError('%s failed (rc=%d): %s' % (argv[0], proc.returncode, proc.stderr.strip()))
        return proc.stdout

    # changing ---------------------------------------------------------------

    def _index(self, ns, ifname: str) -> int:
        found = self.ipr(ns).link_lookup(ifname=ifname)
        if not found:
            raise KernelError('interface %s not found in %s' % (ifname, describe_netns(ns)))
        return found[0]

    def add_veth(self, ns, name: str, peer_ns, peer_name: str) -> None:
        peer = {'ifname': peer_name}
        fd = None
        if peer_ns != ns:
            fd = self.open_ns(peer_ns)
            peer['net_ns_fd'] = fd
        try:
            self.ipr(ns).link('add', ifname=name, kind='veth', peer=peer)
        finally:
            if fd is not None:
                os.close(fd)

    def add_bridge(self, ns, name: str) -> None:
        self.ipr(ns).link('add', ifname=name, kind='bridge')

    def delete_link(self, ns, name: str) -> None:
        self.ipr(ns).link('del', index=self._index(ns, name))

    def move_link(self, ns, name: str, to_ns) -> None:
        fd = self.open_ns(to_ns)
        try:
            self.ipr(ns).link('set', index=self._index(ns, name), net_ns_fd=fd)
        finally:
            os.close(fd)

    def set_link(self, ns, name: str, mtu=None, up=None, master=None, stp=None) -> None:
        index = self._index(ns, name)
        ipr = self.ipr(ns)
        if mtu is not None:
            ipr.link('set', index=index, mtu=mtu)
        if master is not None:
            ipr.link('set', index=index, master=self._index(ns, master) if master else 0)
        if stp is not None:
            ipr.link('set', index=index, kind='bridge', br_stp_state=1 if stp else 0)
        if up is not None:
            ipr.link('set', index=index, state='up' if up else 'down')

    def add_address(self, ns, name: str, cidr: str) -> None:
        address, prefixlen = cidr.split('/')
        self.ipr(ns).addr('add', index=self._index(ns, name), address=address, prefixlen=int(prefixlen))

    def delete_address(self, ns, name: str, cidr: str) -> None:
        address, prefixlen = cidr.split('/')
        self.ipr(ns).addr('del', index=self._index(ns, name), address=address, prefixlen=int(prefixlen))

    def _route_args(self, ns, route: dict) -> dict:
        family = socket.AF_INET6 if route['family'] == 6 else socket.AF_INET
        args = {'family': family, 'table': MAIN_TABLE, 'priority': route['metric']}
        if route['dst'].startswith('default'):
            args['dst_len'] = 0
        else:
            dst, dst_len = route['dst'].split('/')
            args.update(dst=dst, dst_len=int(dst_len))
        if route['via']:
            args['gateway'] = route['via']
        elif route['family'] == 4:
            args['scope'] = RT_SCOPE_LINK  # as `ip route add NET dev DEV` does
        if route['dev']:
            args['oif'] = self._index(ns, route['dev'])
        return args

    def add_route(self, ns, route: dict) -> None:
        self.ipr(ns).route('add', **self._route_args(ns, route))

    def delete_route(self, ns, route: dict) -> None:
        self.ipr(ns).route('del', **self._route_args(ns, route))

    def write_sysctl(self, name, key: str, value: str) -> None:
        path = '/proc/sys/' + key.replace('.', '/')
        with self.entered(name):
            with open(path, 'w') as handle:
                handle.write(value.replace(' ', '\t') + '\n')


def _dump_addresses(index: int) -> list:
    """(address, prefix length) of every address of interface INDEX in the namespace
    the thread is in: one RTM_GETADDR dump on a netlink socket of its own."""
    found = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + _IFADDRMSG.size, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
                  + _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0))
        while True:
            data = sock.recv(65536)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, kind = _NLMSGHDR.unpack_from(data, offset)[:2]
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    error = -struct.unpack_from('=i', data, offset + _NLMSGHDR.size)[0]
                    if error:
                        raise OSError(error, 'RTM_GETADDR: %s' % os.strerror(error))
                    return found
                if kind == RTM_NEWADDR:
                    header = _IFADDRMSG.unpack_from(data, offset + _NLMSGHDR.size)
                    attrs = _rtattrs(data, offset + _NLMSGHDR.size + _IFADDRMSG.size, offset + length)
                    raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
                    if header[4] == index and raw is not None:
                        found.append((socket.inet_ntop(header[0], raw), header[1]))
                offset += (length + 3) & ~3
                if length == 0:
                    break


def _rtattrs(data: bytes, start: int, end: int) -> dict:
    """The route attributes between START and END, by type (their payloads)."""
    attrs = {}
    while start + 4 <= end:
        length, kind = struct.unpack_from('=HH', data, start)
        if length < 4:
            break
        attrs[kind] = data[start + 4:start + length]
        start += (length + 3) & ~3
    return attrs


def _address_text(msg):
    """The address of an address message as the model lists it, or None for a
    link-local or empty one."""
    address = msg.get_attr('IFA_LOCAL') or msg.get_attr('IFA_ADDRESS')
    if address is None:
        return None
    canonical = _validate.canonical_address(address, msg['prefixlen'])
    return None if _validate.is_link_local(canonical) else canonical


def describe_netns(name) -> str:
    return 'the root namespace' if name is None else 'netns %s' % name


def route_record(family, dst, dst_len, via, dev, metric, kernel=False) -> dict:
    """A route as compared and shown: dst is 'default'/'default6' or a canonical CIDR."""
    version = 6 if family in (6, socket.AF_INET6) else 4
    if dst_len == 0:
        dst_text = 'default6' if version == 6 else 'default'
    else:
        dst_text = _validate.network('%s/%d' % (dst, dst_len), 'route')
    return {'family': version, 'dst': dst_text, 'via': _validate.ip_address(via, 'via') if via else None,
            'dev': dev, 'metric': metric or 0, 'kernel': kernel}


def route_sort_key(route: dict):
    return (route['family'], route['dst'], route['metric'], route['dev'] or '', route['via'] or '')


def route_text(route: dict) -> str:
    """The route as `ip route` would print it, for diffs and results."""
    words = [route['dst'].replace('default6', 'default')]
    if route['via']:
        words += ['via', route['via']]
    if route['dev']:
        words += ['dev', route['dev']]
    if route['metric']:
        words += ['metric', str(route['metric'])]
    return ' '.join(words)
