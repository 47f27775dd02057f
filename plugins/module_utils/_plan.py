# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Planned changes: each step updates a model of the kernel state (what check
mode predicts) and records the call that makes it real.

PRIVATE: this module is internal to the collection and may change without notice.

Managers never touch the kernel directly: they add steps to a Plan. The model the
steps leave behind is the predicted state; ``execute`` performs the same steps in
order and, if one fails, removes again whatever this run created, so a failure
leaves nothing half-made.

Steps added inside ``with plan.lane(KEY):`` belong to lane KEY. Consecutive steps
in lanes form a section whose lanes run side by side on up to ``WORKERS`` threads,
each lane's steps in their order; steps outside lanes run alone, in order. A
manager puts in one lane what must not overlap with another lane (pause_pod: one
pod's steps), for work that waits on processes and the kernel (CNI plugins).
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading

from ansible_collections.packetlife.podnet.plugins.module_utils import _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import (
    KernelError, absent_namespace, describe_netns, route_sort_key, route_text)


LOOPBACK_ADDRESSES = ('127.0.0.1/8', '::1/128')
# Threads that run the lanes of a section: one per processor, two to four. On two
# processors, four threads made 500 pause pods a sixth slower than two (contention
# in the kernel burnt the processors' time) and removed them a quarter faster.
WORKERS = min(4, max(2, os.cpu_count() or 2))


def new_link(name: str, kind: str, **extra) -> dict:
    link = {'name': name, 'kind': kind, 'mtu': 1500, 'up': False, 'master': None, 'addresses': []}
    link.update(extra)
    return link


def same_route(a: dict, b: dict) -> bool:
    """The kernel's identity of a main-table route: family, destination and metric."""
    return (a['family'], a['dst'], a['metric']) == (b['family'], b['dst'], b['metric'])


class Plan:
    def __init__(self, state: dict) -> None:
        self.state = copy.deepcopy(state)
        self.steps = []
        self._lane = None

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    @property
    def actions(self):
        return [step[0] for step in self.steps]

    def ns(self, name) -> dict:
        if name not in self.state:
            self.state[name] = absent_namespace()
        return self.state[name]

    def _add(self, text: str, execute, undo=None) -> None:
        self.steps.append((text, execute, undo, self._lane))

    @contextlib.contextmanager
    def lane(self, key):
        """Steps added in the body belong to lane KEY (None: to none, they run alone)."""
        outer, self._lane = self._lane, key
        try:
            yield
        finally:
            self._lane = outer

    # namespaces -------------------------------------------------------------

    def create_netns(self, name: str, pid=None, path=None) -> None:
        model = absent_namespace()
        model.update(exists=True, links={'lo': new_link('lo', 'device', mtu=65536)})
        if path is not None:
            # An adopted namespace already has content: the manager reads it by path.
            model = copy.deepcopy(self.state.get(name)) or model
            model['exists'] = True
            self._add('link netns %s to %s' % (name, path), lambda k: k.link_netns(name, path),
                      lambda k: k.delete_netns(name))
        elif pid is not None:
            model = copy.deepcopy(self.state.get(name)) or model
            model['exists'] = True
            self._add('attach netns %s to the namespace of pid %d' % (name, pid),
                      lambda k: k.attach_netns(name, pid), lambda k: k.delete_netns(name))
        else:
            self._add('create netns %s' % name, lambda k: k.create_netns(name), lambda k: k.delete_netns(name))
        self.state[name] = model

    def delete_netns(self, name: str) -> None:
        self._add('delete netns %s' % name, lambda k: k.delete_netns(name))
        gone = self.state.get(name, absent_namespace())
        for link in list(gone['links'].values()):
            self._drop_peer(link)
        self.state[name] = absent_namespace()

    # links ------------------------------------------------------------------

    def create_veth(self, ns, name: str, peer_ns, peer_name: str) -> None:
        self._add('create veth %s in %s with peer %s in %s'
                  % (name, describe_netns(ns), peer_name, describe_netns(peer_ns)),
                  lambda k: k.add_veth(ns, name, peer_ns, peer_name),
                  lambda k: k.delete_link(ns, name))
        self.ns(ns)['links'][name] = new_link(name, 'veth', peer={'netns': peer_ns, 'name': peer_name})
        self.ns(peer_ns)['links'][peer_name] = new_link(peer_name, 'veth', peer={'netns': ns, 'name': name})

    def create_bridge(self, ns, name: str) -> None:
        self._add('create bridge %s in %s' % (name, describe_netns(ns)),
                  lambda k: k.add_bridge(ns, name), lambda k: k.delete_link(ns, name))
        self.ns(ns)['links'][name] = new_link(name, 'bridge', stp=False)

    def delete_link(self, ns, name: str) -> None:
        self._add('delete %s %s in %s' % (self.ns(ns)['links'][name]['kind'], name, describe_netns(ns)),
                  lambda k: k.delete_link(ns, name))
        self._unlink(ns, name)

    def move_link(self, ns, name: str, to_ns) -> None:
        self._add('move %s from %s to %s' % (name, describe_netns(ns), describe_netns(to_ns)),
                  lambda k: k.move_link(ns, name, to_ns))
        link = self._unlink(ns, name, keep_peer=True)
        # The kernel takes a moved link down and drops its addresses and master.
        link.update(up=False, addresses=[], master=None)
        self.ns(to_ns)['links'][name] = link
        peer = link.get('peer')
        if peer and peer['netns'] in self.state:
            other = self.state[peer['netns']]['links'].get(peer['name'])
            if other:
                other['peer'] = {'netns': to_ns, 'name': name}

    def _unlink(self, ns, name: str, keep_peer=False) -> dict:
        model = self.ns(ns)
        link = model['links'].pop(name)
        model['routes'] = [r for r in model['routes'] if r['dev'] != name]
        for other in model['links'].values():
            if other['master'] == name:
                other['master'] = None
        if not keep_peer:
            self._drop_peer(link)
        return link

    def _drop_peer(self, link: dict) -> None:
        peer = link.get('peer')
        if peer and peer['netns'] in self.state and peer['name'] in self.state[peer['netns']]['links']:
            self._unlink(peer['netns'], peer['name'], keep_peer=True)

    def set_link(self, ns, name: str, **changes) -> None:
        words = []
        for key in ('mtu', 'master', 'stp', 'up'):
            if key in changes:
                value = changes[key]
                if key == 'up':
                    words.append('up' if value else 'down')
                elif key == 'master':
                    words.append('master %s' % value if value else 'nomaster')
                elif key == 'stp':
                    words.append('stp %s' % ('on' if value else 'off'))
                else:
                    words.append('mtu %d' % value)
        self._add('set %s %s in %s' % (name, ' '.join(words), describe_netns(ns)),
                  lambda k: k.set_link(ns, name, **changes))
        link = self.ns(ns)['links'][name]
        link.update(changes)
        if link['kind'] == 'device' and name == 'lo' and changes.get('up') and not link['addresses']:
            link['addresses'] = list(LOOPBACK_ADDRESSES)  # the kernel adds them when lo comes up

    def add_address(self, ns, name: str, cidr: str) -> None:
        self._add('add address %s to %s in %s' % (cidr, name, describe_netns(ns)),
                  lambda k: k.add_address(ns, name, cidr))
        addresses = self.ns(ns)['links'][name]['addresses']
        addresses.append(cidr)
        addresses.sort(key=_validate.address_sort_key)

    def delete_address(self, ns, name: str, cidr: str) -> None:
        self._add('remove address %s from %s in %s' % (cidr, name, describe_netns(ns)),
                  lambda k: k.delete_address(ns, name, cidr))
        self.ns(ns)['links'][name]['addresses'].remove(cidr)

    # routes, sysctls, firewall ---------------------------------------------

    def add_route(self, ns, route: dict) -> None:
        self._add('add route %s in %s' % (route_text(route), describe_netns(ns)),
                  lambda k: k.add_route(ns, route))
        routes = self.ns(ns)['routes']
        routes.append(dict(route, kernel=False))
        routes.sort(key=route_sort_key)

    def delete_route(self, ns, route: dict) -> None:
        self._add('delete route %s in %s' % (route_text(route), describe_netns(ns)),
                  lambda k: k.delete_route(ns, route))
        model = self.ns(ns)
        model['routes'] = [r for r in model['routes'] if not same_route(r, route)]

    def set_sysctl(self, ns, key: str, value: str) -> None:
        self._add('set %s=%s in %s' % (key, value, describe_netns(ns)),
                  lambda k: k.write_sysctl(ns, key, value))
        self.ns(ns)['sysctls'][key] = value

    def firewall(self, ns, table: str, rules_after, apply, text: str, undo=None) -> None:
        """Replace our view of TABLE by RULES_AFTER (None: the table goes); APPLY(kernel)
        makes it so in one batch, UNDO(kernel) reverses it."""
        self._add('%s in %s' % (text, describe_netns(ns)), apply, undo)
        if rules_after is None:
            self.ns(ns)['firewall'].pop(table, None)
        else:
            self.ns(ns)['firewall'][table] = copy.deepcopy(rules_after)

    def call(self, text: str, execute, undo=None) -> None:
        """A step of its own kind; the caller updates the model."""
        self._add(text, execute, undo)

    # running ----------------------------------------------------------------

    def execute(self, kernel) -> None:
        done = []
        position = 0
        while position < len(self.steps):
            end = position + 1
            if self.steps[position][3] is not None:
                while end < len(self.steps) and self.steps[end][3] is not None:
                    end += 1
            failed = self._run_section(kernel, self.steps[position:end], done)
            if failed is not None:
                text, exc = failed
                undone = self._roll_back(kernel, done)
                raise KernelError('%s: %s%s' % (text, exc, undone))
            position = end

    @staticmethod
    def _run_section(kernel, steps, done):
        """Run STEPS, their lanes side by side; record each step done in DONE (in the
        order they finish). Returns (text, exception) of the first step that failed,
        after the steps under way finished; no step starts after a failure."""
        lanes = {}
        for step in steps:
            lanes.setdefault(step[3], []).append(step)
        queue = list(lanes.values())
        lock = threading.Lock()
        failures = []

        def work():
            while True:
                with lock:
                    if failures or not queue:
                        return
                    lane = queue.pop(0)
                for text, execute, undo, _lane in lane:
                    with lock:
                        if failures:
                            return
                    try:
                        execute(kernel)
                    except Exception as exc:
                        with lock:
                            failures.append((text, exc))
                        return
                    with lock:
                        done.append((text, undo))

        if len(queue) == 1:
            work()
        else:
            threads = [threading.Thread(target=work) for unused in range(min(WORKERS, len(queue)))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        return failures[0] if failures else None

    @staticmethod
    def _roll_back(kernel, done) -> str:
        removed, failed = [], []
        for text, undo in reversed(done):
            if undo is None:
                continue
            try:
                undo(kernel)
                removed.append(text)
            except Exception as exc:  # keep undoing the rest
                failed.append('%s (%s)' % (text, exc))
        note = ''
        if removed:
            note += '; rolled back: %s' % ', '.join(removed)
        if failed:
            note += '; could not roll back: %s' % ', '.join(failed)
        return note
