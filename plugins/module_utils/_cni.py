# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The runtime side of the CNI specification (SPEC 1.1, as libcni does it).

PRIVATE: this module is internal to the collection and may change without notice.

Runs plugin binaries for ADD, CHECK, DEL, VERSION, STATUS and GC with the
environment the spec defines, chains the plugins of a network list (injecting
``prevResult``, deleting in reverse order), passes capability arguments as
``runtimeConfig`` to the plugins that declare them, and keeps libcni's result
cache (``/var/lib/cni/results/NETWORK-CONTAINERID-IFNAME``, kind ``cniCacheV1``)
so that other runtimes and tools see the same attachments.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import stat
import subprocess
import tempfile

CACHE_DIR = '/var/lib/cni'
CACHE_KIND = 'cniCacheV1'
DEFAULT_TIMEOUT = 30
# libcni's ValidateContainerID.
CONTAINER_ID = re.compile(r'^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$')


class CniError(Exception):
    """A plugin's error result (code, msg, details) or a failure to run it."""

    def __init__(self, msg: str, code=None, details=None, plugin=None, command=None) -> None:
        self.msg, self.code, self.details, self.plugin, self.command = msg, code, details, plugin, command
        text = msg
        if plugin:
            text = 'CNI plugin %s failed on %s: %s' % (plugin, command, msg)
        if code is not None:
            text += ' [CNI error code %s]' % code
        if details:
            text += ': %s' % details
        super().__init__(text)


def version_tuple(version: str):
    try:
        return tuple(int(part) for part in version.split('.'))
    except (AttributeError, ValueError):
        raise CniError('%r is not a CNI version' % (version,))


def at_least(version: str, minimum: str) -> bool:
    return version_tuple(version) >= version_tuple(minimum)


def plugin_config(network: dict, plugin: dict, prev_result=None, capability_args=None) -> dict:
    """What one plugin of a list reads on stdin: its own config with the list's
    name and cniVersion, the previous plugin's result, and the capability
    arguments it declares in ``capabilities`` under ``runtimeConfig``."""
    config = dict(plugin)
    config['name'] = network['name']
    config['cniVersion'] = network['cniVersion']
    if prev_result is not None:
        config['prevResult'] = prev_result
    runtime_config = dict((key, value) for key, value in (capability_args or {}).items()
                          if (plugin.get('capabilities') or {}).get(key))
    if runtime_config:
        config['runtimeConfig'] = runtime_config
    return config


def cni_args_text(args) -> str:
    """CNI_ARGS: alphanumeric key=value pairs joined with ';'."""
    return ';'.join('%s=%s' % (key, value) for key, value in args)


def cache_path(cache_dir: str, network_name: str, container_id: str, ifname: str) -> str:
    return os.path.join(cache_dir, 'results', '%s-%s-%s' % (network_name, container_id, ifname))


def cache_record(network_bytes: bytes, result: dict, network_name: str, container_id: str, ifname: str,
                 netns: str, args, capability_args) -> dict:
    """A result cache entry as libcni writes it (its Go []byte config is base64)."""
    record = {
        'kind': CACHE_KIND,
        'containerId': container_id,
        'config': base64.b64encode(network_bytes).decode('ascii'),
        'ifName': ifname,
        'networkName': network_name,
        'netns': netns,
        'result': result,
    }
    if args:
        record['cniArgs'] = [[key, value] for key, value in args]
    if capability_args:
        record['capabilityArgs'] = capability_args
    return record


def parse_cache(text: str) -> dict:
    """A cache entry, with the network config's raw bytes in ``config_bytes``."""
    record = json.loads(text)
    if not isinstance(record, dict) or record.get('kind') != CACHE_KIND:
        raise CniError('cached result is not of kind %s' % CACHE_KIND)
    record['config_bytes'] = base64.b64decode(record.get('config') or '')
    return record


def summarize_result(result: dict) -> dict:
    """IPs, gateways, routes and interfaces from a result of any version: 0.1/0.2
    results carry ``ip4``/``ip6``, 0.3 and later ``ips``/``interfaces``/``routes``."""
    ips, routes = [], []
    for family in ('ip4', 'ip6'):
        block = result.get(family)
        if block:
            ips.append({'address': block.get('ip'), 'gateway': block.get('gateway'), 'interface': None})
            routes.extend(block.get('routes') or [])
    interfaces = result.get('interfaces') or []
    for ip in result.get('ips') or []:
        index = ip.get('interface')
        name = interfaces[index].get('name') if isinstance(index, int) and 0 <= index < len(interfaces) else None
        ips.append({'address': ip.get('address'), 'gateway': ip.get('gateway'), 'interface': name})
    routes.extend(result.get('routes') or [])
    return {
        'ips': ips,
        'routes': [{'dst': route.get('dst'), 'gw': route.get('gw')} for route in routes],
        'interfaces': [{'name': i.get('name'), 'mac': i.get('mac'), 'sandbox': i.get('sandbox')} for i in interfaces],
        'dns': result.get('dns') or {},
    }


def write_atomic(path: str, text: str, mode: int = 0o600) -> None:
    """Write a file of this run's own (record, cache entry, pause program) the way
    replace_file does, unsynced; the directory is made (0700) if missing."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    replace_file(path, lambda stream: stream.write(text.encode('utf-8')), mode, os.geteuid(), os.getegid(),
                 sync=False)


def replace_file(path: str, fill, mode: int, uid: int, gid: int, sync: bool = True) -> None:
    """Write PATH under a temporary name in its directory, fill(stream) writing the
    bytes, with owner and mode set, synced (unless not SYNC), then renamed over
    PATH: a reader (a runtime reading configurations, running a plugin) sees the
    old file or the new one, never half of one. The temporary name is the writer's
    own (two writers of one file never rename each other's away) and ends in .tmp,
    which libcni does not read; it is removed again if anything fails."""
    directory, name = os.path.split(path)
    fd, temporary = tempfile.mkstemp(prefix='.%s.' % name, suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as stream:
            fill(stream)
            stream.flush()
            os.fchown(stream.fileno(), uid, gid)
            os.fchmod(stream.fileno(), mode)  # after fchown, which clears set-user-ID bits
            if sync:
                os.fsync(stream.fileno())
        os.rename(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def trusted_owners() -> tuple:
    """Who may own a plugin or its directory: root, and the user the module runs as
    (the same when it runs as root, as pause_pod must)."""
    return (0, os.geteuid())


def _check_trusted(path: str, kind: str, plugin_type: str) -> None:
    """CniError unless PATH (a plugin file or a directory of the search path; followed
    when a symbolic link, and skipped when missing) is owned by root and writable by
    neither its group nor others."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CniError('cannot look at %s %s: %s' % (kind, path, exc.strerror or exc))
    problem = None
    if info.st_uid not in trusted_owners():
        problem = 'is owned by UID %d, not root' % info.st_uid
    elif info.st_mode & 0o022:
        problem = 'is writable by %s (mode %04o)' % (
            ' and '.join(who for who, bit in (('its group', 0o020), ('others', 0o002)) if info.st_mode & bit),
            stat.S_IMODE(info.st_mode))
    if problem is not None:
        raise CniError('refusing to run CNI plugin %s: %s %s %s; a plugin runs as root, so its file and every '
                       'plugin directory must be owned by root and writable by no one else (chown root, chmod go-w)'
                       % (plugin_type, kind, path, problem))


def _json_object(text: str):
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _kill_session(proc) -> None:
    """Kill a plugin that ran out of time and whatever it started in its session,
    and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # a descendant left the session and holds a pipe
        proc.wait()


class Runtime:
    """Runs the plugins of one network for one attachment (container ID, netns, ifname)."""

    def __init__(self, bin_dirs, cache_dir: str = CACHE_DIR, timeout: int = DEFAULT_TIMEOUT) -> None:
        self.bin_dirs = list(bin_dirs)
        self.cache_dir = cache_dir
        self.timeout = timeout

    def find(self, plugin_type: str) -> str:
        """The plugin's file in the first directory that has it. Refused unless every
        directory of the search path that exists (the plugins search CNI_PATH for
        their IPAM and delegate plugins too) and the file itself, after symbolic links,
        are owned by root and writable by no one else: a plugin runs as root."""
        for directory in self.bin_dirs:
            _check_trusted(directory, 'directory', plugin_type)
        for directory in self.bin_dirs:
            path = os.path.join(directory, plugin_type)
            if os.path.isfile(path):
                if not os.access(path, os.X_OK):
                    raise CniError('CNI plugin %s is not executable' % path)
                _check_trusted(path, 'file', plugin_type)
                real = os.path.realpath(path)
                if real != path:
                    _check_trusted(os.path.dirname(real), 'directory', plugin_type)
                return path
        raise CniError('CNI plugin %r not found in %s' % (plugin_type, ', '.join(self.bin_dirs) or 'no directory'))

    def execute(self, plugin_type: str, command: str, config: dict, env: dict):
        """Run one plugin; return its parsed stdout (None when empty) or raise CniError."""
        path = self.find(plugin_type)
        full_env = dict(os.environ)
        full_env.update(env, CNI_COMMAND=command, CNI_PATH=':'.join(self.bin_dirs))
        # A session of its own, so that a plugin that hangs goes with everything it
        # started (a child holding its stdout would otherwise outlive it).
        proc = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=full_env, close_fds=True, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(json.dumps(config).encode('utf-8'), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_session(proc)
            raise CniError('did not answer within %s seconds and was killed' % self.timeout,
                           plugin=path, command=command)
        output = stdout.decode('utf-8', 'replace').strip()
        if proc.returncode != 0:
            error = _json_object(output)
            if error is not None and 'msg' in error:
                raise CniError(error['msg'], code=error.get('code'), details=error.get('details'),
                               plugin=path, command=command)
            text = (stderr.decode('utf-8', 'replace') or output).strip()
            raise CniError('exit status %d: %s' % (proc.returncode, text), plugin=path, command=command)
        if not output:
            return None
        try:
            return json.loads(output)
        except ValueError:
            raise CniError('printed something that is not JSON: %s' % output[:200], plugin=path, command=command)

    @staticmethod
    def _env(container_id, netns, ifname, args) -> dict:
        return {'CNI_CONTAINERID': container_id, 'CNI_NETNS': netns or '', 'CNI_IFNAME': ifname,
                'CNI_ARGS': cni_args_text(args or [])}

    def version(self, plugin_type: str, cni_version: str = '1.0.0') -> list:
        """The spec versions a plugin supports (its answer to VERSION)."""
        answer = self.execute(plugin_type, 'VERSION', {'cniVersion': cni_version}, {})
        if not isinstance(answer, dict):
            raise CniError('answered without a JSON object', plugin=self.find(plugin_type), command='VERSION')
        versions = answer.get('supportedVersions')
        # A spec 0.2.0 plugin may answer without the list (libcni's PluginDecoder).
        if versions is None and answer.get('cniVersion') == '0.2.0':
            return ['0.1.0', '0.2.0']
        if not isinstance(versions, list) or not all(isinstance(value, str) for value in versions):
            raise CniError('answered without a list of supportedVersions', plugin=self.find(plugin_type),
                           command='VERSION')
        return versions

    def add(self, network: dict, network_bytes: bytes, container_id: str, netns: str, ifname: str,
            args=None, capability_args=None) -> dict:
        """ADD every plugin in order; cache the final result. A failed ADD is undone with DEL."""
        env = self._env(container_id, netns, ifname, args)
        result = None
        try:
            for plugin in network['plugins']:
                config = plugin_config(network, plugin, result, capability_args)
                result = self.execute(plugin['type'], 'ADD', config, env)
        except CniError:
            try:
                self._delete(network, None, env, capability_args)
            except CniError:
                pass  # the ADD error is the one to report
            raise
        record = cache_record(network_bytes, result or {}, network['name'], container_id, ifname, netns, args,
                              capability_args)
        write_atomic(cache_path(self.cache_dir, network['name'], container_id, ifname), json.dumps(record))
        return result or {}

    def check(self, network: dict, container_id: str, netns: str, ifname: str, args=None, capability_args=None) -> bool:
        """CHECK every plugin with the cached result. False when the config's version
        predates CHECK (0.4.0) or the network disables it: the caller checks itself."""
        if not at_least(network['cniVersion'], '0.4.0') or network.get('disableCheck'):
            return False
        cached = self.cached(network['name'], container_id, ifname)
        if cached is None:
            raise CniError('no cached result for %s' % container_id, command='CHECK')
        env = self._env(container_id, netns, ifname, args)
        for plugin in network['plugins']:
            self.execute(plugin['type'], 'CHECK', plugin_config(network, plugin, cached['result'], capability_args), env)
        return True

    def delete(self, network: dict, container_id: str, netns: str, ifname: str, args=None, capability_args=None) -> None:
        """DEL every plugin in reverse order (with the cached result from 0.4.0 on),
        then drop the cache entry. Deleting what is gone already succeeds."""
        cached = self.cached(network['name'], container_id, ifname)
        prev = cached['result'] if cached and at_least(network['cniVersion'], '0.4.0') else None
        self._delete(network, prev, self._env(container_id, netns, ifname, args), capability_args)
        try:
            os.unlink(cache_path(self.cache_dir, network['name'], container_id, ifname))
        except FileNotFoundError:
            pass

    def _delete(self, network, prev, env, capability_args) -> None:
        for plugin in reversed(network['plugins']):
            self.execute(plugin['type'], 'DEL', plugin_config(network, plugin, prev, capability_args), env)

    def status(self, network: dict) -> list:
        """STATUS (spec 1.1) for the plugins that support it; returns the plugin types asked."""
        asked = []
        if not at_least(network['cniVersion'], '1.1.0'):
            return asked
        for plugin in network['plugins']:
            if '1.1.0' in self.version(plugin['type']):
                self.execute(plugin['type'], 'STATUS', plugin_config(network, plugin), {})
                asked.append(plugin['type'])
        return asked

    def gc(self, network: dict, valid_attachments) -> list:
        """GC (spec 1.1): every plugin that supports it gets the attachments still valid."""
        asked = []
        if not at_least(network['cniVersion'], '1.1.0') or network.get('disableGC'):
            return asked
        valid = [{'containerID': cid, 'ifname': ifname} for cid, ifname in valid_attachments]
        for plugin in network['plugins']:
            if '1.1.0' in self.version(plugin['type']):
                config = plugin_config(network, plugin)
                config['cni.dev/valid-attachments'] = valid
                self.execute(plugin['type'], 'GC', config, {})
                asked.append(plugin['type'])
        return asked

    def cached(self, network_name: str, container_id: str, ifname: str):
        path = cache_path(self.cache_dir, network_name, container_id, ifname)
        try:
            with open(path) as handle:
                return parse_cache(handle.read())
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, CniError):
            return None  # an unreadable entry is as good as none: DEL runs without it
