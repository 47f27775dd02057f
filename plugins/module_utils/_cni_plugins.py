# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The manager of the cni_plugins module: the CNI plugin binaries in one directory.

PRIVATE: this module is internal to the collection and may change without notice.

One run: validate the options, read the manifest (``.podnet-cni-plugins.json`` in
the destination) and the destination's files it names, find the set the source
offers (Debian's package in /usr/lib/cni, a release tarball downloaded and checked
against its SHA-256 before it is unpacked, or a directory or archive on the node),
plan what to copy and what to remove, then carry the plan out unless in check mode.

The manifest records the source's identity (method, source, version, sha256, only)
and every installed plugin with its SHA-256; only the files it lists are ever
removed. An archive whose identity matches the manifest's, with every listed file
still as installed, is not fetched or unpacked again.

Every plugin is written to a temporary file in the destination, already root:root
0755, and renamed over the old one. Before new names are written the manifest
lists them (an interim manifest), so that a run that stops half-way leaves nothing
a later absent run does not know of.

Needs nothing beyond the standard library and ansible.module_utils (Python 3.8+).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time
import zlib

from http.client import HTTPException
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni

MANIFEST_NAME = '.podnet-cni-plugins.json'
MANIFEST_FORMAT = 1
PACKAGE_DIR = '/usr/lib/cni'
# A plugin is a file name, never a path.
NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]*$')
# Release tarballs carry these next to the binaries.
NOT_PLUGINS = ('LICENSE*', 'README*', '*.md')
# What the manifest records about the source; an archive whose identity matches
# the manifest's is not fetched again.
IDENTITY_KEYS = ('method', 'source', 'version', 'sha256', 'only')
PLUGIN_MODE = 0o755
MANIFEST_MODE = 0o644
DIR_MODE = 0o755
STAGING_PREFIX = 'podnet-cni-'
# apt-get update touches the first (Debian's APT::Update::Post-Invoke-Success);
# the lists directory stands in without it, as for ansible.builtin.apt.
APT_STAMPS = ('/var/lib/apt/periodic/update-success-stamp', '/var/lib/apt/lists')
APT_OPTIONS = ('-y', '-q', '-o', 'DPkg::Lock::Timeout=120',
               '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold')
APT_ENV = dict(DEBIAN_FRONTEND='noninteractive', APT_LISTCHANGES_FRONTEND='none')
URL_SCHEMES = ('http', 'https', 'ftp', 'file')
HTTP_AGENT = 'packetlife.podnet-cni_plugins'
CHUNK = 1 << 16

_SHA256 = re.compile(r'^[0-9a-fA-F]{64}$')
# A release's version goes into its URL (the role builds it from the version).
_VERSION = re.compile(r'^[0-9A-Za-z][0-9A-Za-z.+~_-]{0,63}$')
_PACKAGE = re.compile(r'^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$')

ARGUMENT_SPEC = dict(
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    method=dict(type='str', choices=['package', 'release', 'local'], default='package'),
    dest=dict(type='path', default='/opt/cni/bin'),
    only=dict(type='list', elements='str', default=[]),
    package=dict(type='str', default='containernetworking-plugins'),
    cache_valid_time=dict(type='int', default=3600),
    version=dict(type='str'),
    url=dict(type='str'),
    sha256=dict(type='str'),
    timeout=dict(type='int', default=30),
    validate_certs=dict(type='bool', default=True),
    src=dict(type='path'),
    origin=dict(type='str'),
)
MODULE_ARGS = dict(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)

# The options each method takes besides the common ones (state, method, dest, only).
_METHOD_OPTIONS = dict(
    package=('package', 'cache_valid_time'),
    release=('version', 'url', 'sha256', 'timeout', 'validate_certs'),
    local=('version', 'sha256', 'src', 'origin'),
)
# Options without a default: given with another method, they are a mistake.
_NO_DEFAULT = ('version', 'url', 'sha256', 'src', 'origin')


class PluginsError(Exception):
    """A value that cannot be used or a step that failed; ``field`` names the option."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__('%s: %s' % (field, message))
        self.field = field


class ArchiveRefused(Exception):
    """An archive member that must not be unpacked."""


def run(module) -> None:
    """Make the destination hold the requested plugins; ``module`` is the AnsibleModule."""
    try:
        want = parse(module.params)
    except PluginsError as exc:
        module.fail_json(msg=str(exc))
    outcome = Outcome()
    try:
        result = execute(want, module, outcome)
    except PluginsError as exc:
        module.fail_json(msg=str(exc), **outcome.partial())
    except OSError as exc:
        module.fail_json(msg='dest: %s' % _os_message(exc), **outcome.partial())
    if not module._diff:
        result.pop('diff')
    module.exit_json(**result)


# --- options -----------------------------------------------------------------

def parse(params: dict) -> dict:
    """Check every option before anything is looked at; the request as a dict."""
    dest = params['dest']
    if not dest or not os.path.isabs(dest):
        raise PluginsError('dest', 'must be an absolute path, got %r' % (dest,))
    dest = os.path.normpath(dest)
    want = dict(state=params['state'], method=params['method'], dest=dest,
                manifest=os.path.join(dest, MANIFEST_NAME), identity=None)
    if params['state'] == 'absent':
        return want

    method = params['method']
    given = dict((key, params[key]) for key in _NO_DEFAULT if params[key] not in (None, ''))
    for key in sorted(given):
        if key not in _METHOD_OPTIONS[method]:
            raise PluginsError(key, 'is not used with method=%s' % method)

    only = params['only'] or []
    bad = [name for name in only if not isinstance(name, str) or not NAME_RE.match(name)]
    if bad:
        raise PluginsError('only', 'plugin names are file names, got %s' % ', '.join(repr(name) for name in bad))

    sha256 = given.get('sha256')
    if sha256 is not None:
        if not _SHA256.match(sha256):
            raise PluginsError('sha256', '64 hexadecimal digits, got %s' % sha256)
        sha256 = sha256.lower()
    version = given.get('version')

    if method == 'package':
        package = params['package']
        if not package or not _PACKAGE.match(package):
            raise PluginsError('package', 'a Debian package name, got %r' % (package,))
        if params['cache_valid_time'] < 0:
            raise PluginsError('cache_valid_time', 'must be 0 or more, got %d' % params['cache_valid_time'])
        source, label = package, '%s (package %s)' % (PACKAGE_DIR, package)
        want.update(package=package, cache_valid_time=params['cache_valid_time'])
    elif method == 'release':
        url = given.get('url')
        if url is None:
            raise PluginsError('url', 'required with method=release, the tarball to download')
        if url.split(':', 1)[0].lower() not in URL_SCHEMES or ':' not in url:
            raise PluginsError('url', 'an http, https, ftp or file URL, got %s' % url)
        if sha256 is None:
            raise PluginsError('sha256', 'required with method=release, the SHA-256 of %s' % url)
        if version is None:
            raise PluginsError('version', 'required with method=release')
        if not _VERSION.match(version):
            raise PluginsError('version', 'a release version such as 1.6.2 (letters, digits and ".+~_-", at most 64), '
                               'got %r' % (version,))
        if params['timeout'] <= 0:
            raise PluginsError('timeout', 'must be 1 or more seconds, got %d' % params['timeout'])
        source = label = url
        want.update(url=url, timeout=params['timeout'], validate_certs=params['validate_certs'])
    else:
        src = given.get('src')
        if src is None or not os.path.isabs(src):
            raise PluginsError('src', 'required with method=local, an absolute path, got %s' % (src or '(nothing)'))
        source = label = given.get('origin', 'node:%s' % src)
        want.update(src=src)

    want.update(sha256=sha256, only=list(only), label=label,
                identity=dict(method=method, source=source, version=version,
                              sha256=sha256 if method == 'release' else None,
                              only=sorted(only) if only else None))
    return want


# --- names and archives ------------------------------------------------------

def not_a_plugin(name: str) -> bool:
    """Hidden files, licences, read-mes and Markdown files travel with plugins but are none."""
    return name.startswith('.') or any(fnmatch.fnmatchcase(name, pattern) for pattern in NOT_PLUGINS)


def classify_member(member) -> tuple:
    """('plugin' | 'skip' | 'bad', name) for a tar member, or ArchiveRefused.

    Plugins are regular files at the top level (``name`` or ``./name``). Directories
    and files below the top level are skipped, and so are non-plugins (not_a_plugin);
    'bad' is a top-level file whose name is no plugin name. Links, devices and paths
    that are absolute or climb out with ``..`` refuse the whole archive.
    """
    raw = member.name
    parts = raw.split('/')
    if raw.startswith('/') or '..' in parts:
        raise ArchiveRefused('%s points outside the archive' % raw)
    if member.issym() or member.islnk():
        raise ArchiveRefused('%s is a link (to %s)' % (raw, member.linkname))
    if member.isdir():
        return 'skip', raw
    if not member.isreg():
        raise ArchiveRefused('%s is not a regular file' % raw)
    parts = [part for part in parts if part not in ('', '.')]
    if not parts:
        raise ArchiveRefused('%r is not a file name' % raw)
    if len(parts) > 1:
        return 'skip', '/'.join(parts)
    name = parts[0]
    if not_a_plugin(name):
        return 'skip', name
    if not NAME_RE.match(name):
        return 'bad', name
    return 'plugin', name


def unpack(archive: str, into: str, field: str, label: str) -> dict:
    """Unpack the plugins of a tar archive (any compression) into ``into``: {name: {path, sha256}}.

    Members are read one by one and only plugins are written, each through its own
    file in ``into``; nothing of the archive decides where a file goes.
    """
    os.mkdir(into, 0o700)
    offered = {}
    bad = []
    try:
        with tarfile.open(archive, 'r|*') as tar:
            for member in tar:
                kind, name = classify_member(member)
                if kind == 'bad':
                    bad.append(name)
                if kind != 'plugin':
                    continue
                if name in offered:
                    raise ArchiveRefused('%s is in it twice' % name)
                path = os.path.join(into, name)
                stream = tar.extractfile(member)
                offered[name] = dict(path=path, sha256=_copy_to_new_file(stream, path))
    except ArchiveRefused as exc:
        raise PluginsError(field, 'refused to unpack %s: %s' % (label, exc))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise PluginsError(field, 'cannot unpack %s: %s' % (label, _os_message(exc)))
    if bad:
        raise PluginsError(field, 'file names that are no plugin names in %s: %s' % (label, ', '.join(sorted(bad))))
    return offered


def scan_dir(directory: str, field: str, label: str) -> dict:
    """The plugins of a directory: {name: {path, sha256}} for its regular files (links are not followed)."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise PluginsError(field, 'cannot read %s: %s' % (label, _os_message(exc)))
    offered = {}
    bad = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode) or not_a_plugin(name):
                continue
            if not NAME_RE.match(name):
                bad.append(name)
                continue
            offered[name] = dict(path=path, sha256=file_sha256(path))
        except OSError as exc:
            raise PluginsError(field, 'cannot read %s in %s: %s' % (name, label, _os_message(exc)))
    if bad:
        raise PluginsError(field, 'file names that are no plugin names in %s: %s' % (label, ', '.join(bad)))
    return offered


def choose(offered: dict, only: list, field: str, label: str) -> dict:
    """{name: sha256} to install: what the source offers, limited to ``only`` when given."""
    if not offered:
        raise PluginsError(field, 'no plugins in %s' % label)
    missing = sorted(set(only) - set(offered))
    if missing:
        raise PluginsError('only', 'not in %s: %s' % (label, ', '.join(missing)))
    return dict((name, entry['sha256']) for name, entry in offered.items() if not only or name in only)


# --- the manifest and the destination ----------------------------------------

def render_manifest(data: dict) -> str:
    """The manifest's text: the JSON of Ansible's to_nice_json(sort_keys=true) and a newline."""
    return json.dumps(data, indent=4, sort_keys=True, separators=(',', ': ')) + '\n'


def read_manifest(path: str) -> dict:
    """The manifest as found: exists, data ({} without one), raw bytes, mode, uid, gid, regular."""
    found = dict(exists=False, data={}, raw=None, mode=None, uid=None, gid=None, regular=False)
    try:
        info = os.lstat(path)
        with open(path, 'rb') as stream:
            raw = stream.read()
    except (FileNotFoundError, NotADirectoryError):
        return found
    except OSError as exc:
        raise PluginsError('dest', 'cannot read %s: %s' % (path, _os_message(exc)))
    try:
        data = json.loads(raw.decode('utf-8'))
    except ValueError:
        data = None
    plugins = data.get('plugins') if isinstance(data, dict) else None
    if not isinstance(plugins, list) or not all(isinstance(name, str) and NAME_RE.match(name) for name in plugins):
        raise PluginsError('dest', '%s is not a manifest this module wrote; remove it or fix its plugins list' % path)
    found.update(exists=True, data=data, raw=raw, mode=stat.S_IMODE(info.st_mode), uid=info.st_uid,
                 gid=info.st_gid, regular=stat.S_ISREG(info.st_mode))
    return found


def manifest_checksums(data: dict) -> dict:
    """The manifest's {name: sha256}, {} when it has none that make sense."""
    checksums = data.get('checksums')
    if not isinstance(checksums, dict):
        return {}
    return dict((name, value) for name, value in checksums.items() if isinstance(value, str))


class DestView:
    """The destination's entries by name, looked at once each (lstat, and SHA-256 of regular files)."""

    def __init__(self, dest: str, uid: int, gid: int) -> None:
        self.dest = dest
        self.uid = uid
        self.gid = gid
        self._entries = {}

    def entry(self, name: str):
        """{kind: file|dir|link|other, mode, uid, gid, sha256 (files), target (links)}, None when absent."""
        if name not in self._entries:
            path = os.path.join(self.dest, name)
            try:
                info = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                self._entries[name] = None
                return None
            except OSError as exc:
                raise PluginsError('dest', 'cannot look at %s: %s' % (path, _os_message(exc)))
            mode = info.st_mode
            kind = ('file' if stat.S_ISREG(mode) else 'dir' if stat.S_ISDIR(mode)
                    else 'link' if stat.S_ISLNK(mode) else 'other')
            entry = dict(kind=kind, mode=stat.S_IMODE(mode), uid=info.st_uid, gid=info.st_gid, sha256=None, target=None)
            try:
                if kind == 'file':
                    entry['sha256'] = file_sha256(path)
                elif kind == 'link':
                    entry['target'] = os.readlink(path)
            except OSError as exc:
                raise PluginsError('dest', 'cannot read %s: %s' % (path, _os_message(exc)))
            self._entries[name] = entry
        return self._entries[name]

    def ok(self, name: str, sha256: str) -> bool:
        """Whether the file is there as installed: regular, root:root 0755, with this content."""
        entry = self.entry(name)
        return (entry is not None and entry['kind'] == 'file' and entry['mode'] == PLUGIN_MODE
                and (entry['uid'], entry['gid']) == (self.uid, self.gid) and entry['sha256'] == sha256)

    def removable(self, name: str) -> bool:
        """Only regular files, links and the like are removed, never a directory."""
        entry = self.entry(name)
        return entry is not None and entry['kind'] != 'dir'

    def describe(self, name: str) -> str:
        """One line for the diff: the SHA-256, with what else is off about the entry."""
        entry = self.entry(name)
        if entry['kind'] == 'dir':
            return 'a directory'
        if entry['kind'] == 'link':
            return 'a symbolic link to %s' % entry['target']
        if entry['kind'] == 'other':
            return 'a special file'
        if entry['mode'] == PLUGIN_MODE and (entry['uid'], entry['gid']) == (self.uid, self.gid):
            return entry['sha256']
        return '%s (mode %04o, owner %d:%d)' % (entry['sha256'], entry['mode'], entry['uid'], entry['gid'])


def intact(old: dict, view: DestView) -> bool:
    """Whether the manifest's set is installed as recorded: a checksum for each plugin, each file as installed."""
    plugins = old.get('plugins') or []
    checksums = manifest_checksums(old)
    return (bool(plugins) and sorted(plugins) == sorted(checksums)
            and all(view.ok(name, checksums[name]) for name in plugins))


def identity_matches(old: dict, identity: dict) -> bool:
    """Whether the manifest records this very source (every identity key present and equal)."""
    return all(key in old and old[key] == value for key, value in identity.items())


def reusable(old: dict, identity: dict, view: DestView) -> bool:
    """An archive need not be fetched or unpacked: the manifest's identity is this one and its set is intact."""
    return identity_matches(old, identity) and intact(old, view)


def plan_install(old: dict, wanted: dict, view: DestView) -> dict:
    """copy (names to write), remove (old names the new set lacks) and interim (the manifest to write first, or None)."""
    old_plugins = old.get('plugins') or []
    for name in sorted(wanted):
        entry = view.entry(name)
        if entry is not None and entry['kind'] == 'dir':
            raise PluginsError('dest', '%s is a directory, where plugin %s goes'
                               % (os.path.join(view.dest, name), name))
    copy = sorted(name for name in wanted if not view.ok(name, wanted[name]))
    remove = sorted(name for name in set(old_plugins) - set(wanted) if view.removable(name))
    interim = None
    if set(copy) - set(old_plugins):
        interim = dict(old) if old else dict(format=MANIFEST_FORMAT)
        interim['plugins'] = sorted(set(old_plugins) | set(copy))
        interim['checksums'] = dict((name, value) for name, value in manifest_checksums(old).items()
                                    if name not in copy)
    return dict(copy=copy, remove=remove, interim=interim)


def plan_absent(old: dict, view: DestView) -> list:
    """The manifest's files that are there to remove (never a directory)."""
    return sorted(name for name in set(old.get('plugins') or []) if view.removable(name))


def new_manifest(identity: dict, wanted: dict) -> dict:
    data = dict(identity)
    data.update(format=MANIFEST_FORMAT, plugins=sorted(wanted), checksums=dict(wanted))
    return data


def manifest_differs(found: dict, text: str, uid: int, gid: int) -> bool:
    return not (found['exists'] and found['regular'] and found['raw'] == text.encode('utf-8')
                and found['mode'] == MANIFEST_MODE and (found['uid'], found['gid']) == (uid, gid))


def dir_actions(dest: str, uid: int, gid: int) -> list:
    """What the destination directory needs: created, or its mode and owner set; [] when right."""
    try:
        info = os.stat(dest)
    except FileNotFoundError:
        return ['create directory %s' % dest]
    except OSError as exc:
        raise PluginsError('dest', 'cannot use %s: %s' % (dest, _os_message(exc)))
    if not stat.S_ISDIR(info.st_mode):
        raise PluginsError('dest', '%s exists and is not a directory' % dest)
    if stat.S_IMODE(info.st_mode) != DIR_MODE or (info.st_uid, info.st_gid) != (uid, gid):
        return ['set mode %04o and owner %d:%d on %s' % (DIR_MODE, uid, gid, dest)]
    return []


def state_view(record: dict, plugins: dict) -> dict:
    """What the diff shows: the identity of a set and its plugins."""
    view = dict((key, record.get(key)) for key in IDENTITY_KEYS)
    view['plugins'] = plugins
    return view


# --- the run -----------------------------------------------------------------

class Outcome:
    """What a run did so far, for the result of a run that fails half-way."""

    def __init__(self) -> None:
        self.actions = []
        self.copied = []
        self.removed = []

    def partial(self) -> dict:
        return dict(actions=self.actions, copied=self.copied, removed=self.removed)


def execute(want: dict, module, outcome: Outcome = None, uid: int = 0, gid: int = 0,
            package_dir: str = PACKAGE_DIR, apt_stamps: tuple = APT_STAMPS) -> dict:
    """Carry out a parsed request; ``module`` gives check_mode, run_command and get_bin_path.

    Returns the module's result, with its diff; raises PluginsError (or OSError).
    ``outcome`` collects what was done, for a run that fails on the way.
    """
    outcome = outcome if outcome is not None else Outcome()
    found = read_manifest(want['manifest'])
    view = DestView(want['dest'], uid, gid)
    if want['state'] == 'absent':
        return _absent(want, module, found, view, outcome)
    staging = []
    try:
        return _present(want, module, found, view, outcome, staging, package_dir, apt_stamps)
    finally:
        for directory in staging:
            shutil.rmtree(directory, ignore_errors=True)


def _absent(want: dict, module, found: dict, view: DestView, outcome: Outcome) -> dict:
    old = found['data']
    remove = plan_absent(old, view)
    actions = ['remove %s' % name for name in remove]
    if found['exists']:
        actions.append('remove %s' % want['manifest'])
    before = state_view(old, dict((name, view.describe(name)) for name in sorted(set(old.get('plugins') or []))
                                  if view.entry(name) is not None))
    after = state_view({}, dict((name, view.describe(name)) for name in before['plugins'] if not view.removable(name)))
    if not module.check_mode:
        for name in remove:
            _unlink(os.path.join(want['dest'], name))
            outcome.removed.append(name)
            outcome.actions.append('remove %s' % name)
        if found['exists']:
            _unlink(want['manifest'])
    return dict(changed=bool(actions), dest=want['dest'], method=None, source=None, version=None, plugins=[],
                copied=[], removed=remove, actions=actions,
                diff=dict(before=before, after=after, before_header=want['dest'], after_header=want['dest']))


def _present(want: dict, module, found: dict, view: DestView, outcome: Outcome, staging: list,
             package_dir: str, apt_stamps: tuple) -> dict:
    old = found['data']
    identity = dict(want['identity'])
    label = want['label']
    actions = []
    offered = None
    # A destination that cannot be one fails before anything is installed or fetched.
    dir_steps = dir_actions(want['dest'], view.uid, view.gid)

    if want['method'] == 'package':
        version = ensure_package(module, want, actions, outcome, apt_stamps)
        if version is None:
            # Check mode, and the package is missing: there are no binaries to look at yet.
            before = _before(old, [], view)
            after = dict(before, package='%s, to be installed first' % want['package'])
            return dict(changed=True, dest=want['dest'], method='package', source=identity['source'], version=None,
                        plugins=[], copied=[], removed=[], actions=actions,
                        diff=dict(before=before, after=after, before_header=want['dest'], after_header=want['dest']))
        identity['version'] = version
        label = '%s (package %s %s)' % (package_dir, want['package'], version)
        offered = scan_dir(package_dir, 'package', label)
    elif want['method'] == 'release':
        if not reusable(old, identity, view):
            stage = _staging(staging)
            archive = os.path.join(stage, 'release.tgz')
            download(want['url'], archive, want['sha256'], want['timeout'], want['validate_certs'])
            offered = unpack(archive, os.path.join(stage, 'plugins'), 'url', label)
    else:
        src = want['src']
        try:
            info = os.stat(src)
        except OSError:
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            if want['sha256'] is not None:
                raise PluginsError('sha256', 'checks an archive; %s is a directory' % label)
            offered = scan_dir(src, 'src', label)
        elif info is not None and stat.S_ISREG(info.st_mode):
            try:
                identity['sha256'] = file_sha256(src)
            except OSError as exc:
                raise PluginsError('src', 'cannot read %s: %s' % (label, _os_message(exc)))
            if want['sha256'] is not None and identity['sha256'] != want['sha256']:
                raise PluginsError('sha256', '%s has SHA-256 %s, not %s' % (label, identity['sha256'], want['sha256']))
            if not reusable(old, identity, view):
                offered = unpack(src, os.path.join(_staging(staging), 'plugins'), 'src', label)
        else:
            raise PluginsError('src', 'no directory or archive %s on the node' % src)

    field = dict(package='package', release='url', local='src')[want['method']]
    if offered is None:
        # The manifest's archive, installed and intact: its checksums stand for the source.
        checksums = manifest_checksums(old)
        wanted = dict((name, checksums[name]) for name in checksums if not want['only'] or name in want['only'])
        files = {}
    else:
        wanted = choose(offered, want['only'], field, label)
        files = dict((name, offered[name]['path']) for name in wanted)

    actions.extend(dir_steps)
    steps = plan_install(old, wanted, view)
    if set(steps['copy']) - set(files):  # pragma: no cover - an intact set needs no copy
        raise PluginsError('dest', 'the installed set changed while it was looked at; run again')
    final = new_manifest(identity, wanted)
    text = render_manifest(final)
    write_final = steps['interim'] is not None or manifest_differs(found, text, view.uid, view.gid)
    actions.extend('install %s' % name for name in steps['copy'])
    actions.extend('remove %s' % name for name in steps['remove'])
    if write_final:
        actions.append('write %s' % want['manifest'])

    before = _before(old, wanted, view)
    kept = dict((name, view.describe(name)) for name in before['plugins']
                if name not in wanted and not view.removable(name))
    after = state_view(final, dict(wanted, **kept))

    if not module.check_mode:
        if dir_steps:
            make_dir(want['dest'], view.uid, view.gid)
            outcome.actions.extend(dir_steps)
        if steps['interim'] is not None:
            write_file(want['manifest'], render_manifest(steps['interim']).encode('utf-8'), MANIFEST_MODE,
                       view.uid, view.gid)
        for name in steps['copy']:
            install_file(files[name], want['dest'], name, wanted[name], view.uid, view.gid, field, label)
            outcome.copied.append(name)
            outcome.actions.append('install %s' % name)
        for name in steps['remove']:
            _unlink(os.path.join(want['dest'], name))
            outcome.removed.append(name)
            outcome.actions.append('remove %s' % name)
        if write_final:
            write_file(want['manifest'], text.encode('utf-8'), MANIFEST_MODE, view.uid, view.gid)

    return dict(changed=bool(actions), dest=want['dest'], method=want['method'], source=identity['source'],
                version=identity['version'], plugins=sorted(wanted), copied=steps['copy'], removed=steps['remove'],
                actions=actions,
                diff=dict(before=before, after=after, before_header=want['dest'], after_header=want['dest']))


def _before(old: dict, wanted, view: DestView) -> dict:
    """The diff's before: the manifest's identity, and the entries of its plugins and of the wanted ones."""
    names = sorted(set(old.get('plugins') or []) | set(wanted))
    return state_view(old, dict((name, view.describe(name)) for name in names if view.entry(name) is not None))


def _staging(staging: list) -> str:
    """A private temporary directory, removed at the end of the run (in check mode too)."""
    path = tempfile.mkdtemp(prefix=STAGING_PREFIX)
    staging.append(path)
    return path


# --- package -----------------------------------------------------------------

def parse_dpkg_status(output: str):
    """The version from dpkg-query's '${db:Status-Status} ${Version}' lines, None unless installed."""
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == 'installed':
            return words[1]
    return None


def package_version(module, dpkg_query: str, package: str):
    """The installed version of the package, None when dpkg does not have it installed."""
    # dpkg-query exits 1 for a package it does not know; that is "not installed".
    rc, out, _err = module.run_command([dpkg_query, '--show', '--showformat', '${db:Status-Status} ${Version}\n',
                                        package], expand_user_and_vars=False)
    return parse_dpkg_status(out) if rc == 0 else None


def lists_age(stamps: tuple = APT_STAMPS, now=None) -> float:
    """Seconds since apt-get update last succeeded, by its stamp; infinite when unknown."""
    now = time.time() if now is None else now
    for path in stamps:
        try:
            return now - os.stat(path).st_mtime
        except OSError:
            continue
    return float('inf')


def ensure_package(module, want: dict, actions: list, outcome: Outcome, apt_stamps: tuple = APT_STAMPS):
    """The package's version, installing it with apt-get first if dpkg says it is missing.

    None in check mode when it would be installed. apt-get update runs first when
    the lists are older than cache_valid_time, or once when the install fails.
    """
    package = want['package']
    dpkg_query = module.get_bin_path('dpkg-query')
    if dpkg_query is None:
        raise PluginsError('method', 'package needs dpkg-query, which is not on this node; '
                           'use method=release or method=local')
    version = package_version(module, dpkg_query, package)
    if version is not None:
        return version
    actions.append('install package %s' % package)
    if module.check_mode:
        return None
    apt_get = module.get_bin_path('apt-get')
    if apt_get is None:
        raise PluginsError('package', '%s is not installed and apt-get is not on this node' % package)
    updated = False
    if lists_age(apt_stamps) > want['cache_valid_time']:
        _apt_update(module, apt_get, package)
        updated = True
    rc, out, err = _apt_install(module, apt_get, package)
    if rc != 0 and not updated:
        _apt_update(module, apt_get, package)
        rc, out, err = _apt_install(module, apt_get, package)
    if rc != 0:
        raise PluginsError('package', 'apt-get install %s failed (exit status %d): %s'
                           % (package, rc, _tail(err or out)))
    outcome.actions.append('install package %s' % package)
    version = package_version(module, dpkg_query, package)
    if version is None:
        raise PluginsError('package', 'apt-get installed %s, yet dpkg does not list it as installed' % package)
    return version


def _apt_install(module, apt_get: str, package: str) -> tuple:
    return module.run_command([apt_get] + list(APT_OPTIONS) + ['install', package], environ_update=dict(APT_ENV),
                              expand_user_and_vars=False)


def _apt_update(module, apt_get: str, package: str) -> None:
    rc, out, err = module.run_command([apt_get, '-q', '-o', 'DPkg::Lock::Timeout=120', 'update'],
                                      environ_update=dict(APT_ENV), expand_user_and_vars=False)
    if rc != 0:
        raise PluginsError('package', 'apt-get update, to install %s, failed (exit status %d): %s'
                           % (package, rc, _tail(err or out)))


def _tail(text: str, lines: int = 5) -> str:
    return ' / '.join(line.strip() for line in (text or '').strip().splitlines()[-lines:]) or '(no output)'


# --- download ----------------------------------------------------------------

def download(url: str, path: str, sha256: str, timeout: int, validate_certs: bool = True) -> str:
    """Fetch url into path (a new file), checking its SHA-256 against ``sha256``; the SHA-256."""
    digest = hashlib.sha256()
    try:
        response = open_url(url, timeout=timeout, validate_certs=validate_certs, http_agent=HTTP_AGENT,
                            follow_redirects='safe', decompress=False)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'wb') as out:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
        finally:
            response.close()
    except HTTPError as exc:
        raise PluginsError('url', 'cannot download %s: HTTP status %s %s' % (url, exc.code, exc.reason))
    except URLError as exc:
        raise PluginsError('url', 'cannot download %s: %s' % (url, exc.reason))
    except (UrlConnectionError, HTTPException, OSError, ValueError) as exc:
        raise PluginsError('url', 'cannot download %s: %s' % (url, _os_message(exc)))
    actual = digest.hexdigest()
    if actual != sha256:
        raise PluginsError('sha256', 'the SHA-256 of %s did not match %s; it was %s. The tarball was not unpacked.'
                           % (url, sha256, actual))
    return actual


# --- files -------------------------------------------------------------------

def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_to_new_file(stream, path: str) -> str:
    """Write a stream into a new private file; its SHA-256."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'wb') as out:
        for chunk in iter(lambda: stream.read(CHUNK), b''):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def make_dir(path: str, uid: int, gid: int) -> None:
    """The directory and any missing parents, each mode 0755 and owned uid:gid; fix the directory's own."""
    missing = []
    current = path
    while not os.path.lexists(current):
        missing.append(current)
        current = os.path.dirname(current)
    for directory in reversed(missing):
        os.mkdir(directory, DIR_MODE)
        os.chown(directory, uid, gid)
        os.chmod(directory, DIR_MODE)
    info = os.stat(path)
    if (info.st_uid, info.st_gid) != (uid, gid):
        os.chown(path, uid, gid)
    if stat.S_IMODE(info.st_mode) != DIR_MODE or (info.st_uid, info.st_gid) != (uid, gid):
        os.chmod(path, DIR_MODE)


def write_file(path: str, content: bytes, mode: int, uid: int, gid: int) -> None:
    _cni.replace_file(path, lambda out: out.write(content), mode, uid, gid)


def install_file(src: str, dest_dir: str, name: str, sha256: str, uid: int, gid: int, field: str, label: str) -> None:
    """Install one plugin: copied from src, root:root 0755 before it gets its name, checked against sha256."""
    def fill(out):
        digest = hashlib.sha256()
        with open(src, 'rb') as stream:
            for chunk in iter(lambda: stream.read(CHUNK), b''):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise PluginsError(field, '%s in %s changed while it was installed; run again' % (name, label))
    _cni.replace_file(os.path.join(dest_dir, name), fill, PLUGIN_MODE, uid, gid)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _os_message(exc) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return '%s%s' % (exc.strerror, ': %s' % exc.filename if exc.filename else '')
    return str(exc) or exc.__class__.__name__
