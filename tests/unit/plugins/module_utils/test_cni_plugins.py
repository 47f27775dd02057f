from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import stat
import tarfile
import threading

import pytest

from ansible.plugins.filter.core import to_nice_json

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni_plugins as cp
from ansible_collections.packetlife.podnet.plugins.module_utils._cni_plugins import ArchiveRefused, PluginsError

UID, GID = os.getuid(), os.getgid()
PLUGINS = dict(bridge=b'bridge v1\n', loopback=b'loopback v1\n', portmap=b'portmap v1\n', vrf=b'vrf v1\n')


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Exit(Exception):
    def __init__(self, failed, result):
        super().__init__(result)
        self.failed = failed
        self.result = result


class FakeModule:
    """What _cni_plugins uses of AnsibleModule; run_command answers from ``commands``."""

    def __init__(self, check_mode=False, diff=True, params=None, commands=None, bins=None):
        self.check_mode = check_mode
        self._diff = diff
        self.params = params
        self.commands = commands if commands is not None else []
        self.bins = bins if bins is not None else {}
        self.calls = []

    def get_bin_path(self, name, required=False):
        return self.bins.get(name)

    def run_command(self, args, environ_update=None, expand_user_and_vars=True):
        self.calls.append(dict(args=list(args), env=environ_update, expand=expand_user_and_vars))
        for match, answer in self.commands:
            if match(args):
                return answer(args) if callable(answer) else answer
        raise AssertionError('unexpected command %r' % (args,))

    def fail_json(self, **result):
        raise Exit(True, result)

    def exit_json(self, **result):
        raise Exit(False, result)


def params(**values):
    result = dict((key, spec.get('default')) for key, spec in cp.ARGUMENT_SPEC.items())
    result.update(values)
    return result


def run(check_mode=False, module=None, package_dir=cp.PACKAGE_DIR, apt_stamps=cp.APT_STAMPS, **values):
    """One run of the module's logic, as the module would report it (with the diff)."""
    module = module if module is not None else FakeModule()
    module.check_mode = check_mode
    try:
        want = cp.parse(params(**values))
        result = cp.execute(want, module, uid=UID, gid=GID, package_dir=package_dir, apt_stamps=apt_stamps)
    except PluginsError as exc:
        return dict(failed=True, msg=str(exc))
    result['failed'] = False
    return result


def make_dir(path, files, mode=0o700):
    os.makedirs(str(path))
    for name, data in files.items():
        with open(os.path.join(str(path), name), 'wb') as stream:
            stream.write(data)
        os.chmod(os.path.join(str(path), name), mode)
    return str(path)


def make_tar(path, entries, compression='gz'):
    """entries: (name, bytes) for regular files, or TarInfo objects as they are."""
    with tarfile.open(str(path), 'w:' + compression) as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
                continue
            name, data = entry
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o700
            info.uid = info.gid = 1000
            tar.addfile(info, io.BytesIO(data))
    with open(str(path), 'rb') as stream:
        return sha(stream.read())


def release_entries(plugins):
    entries = [info('.', tarfile.DIRTYPE)]
    entries += [('./' + name, data) for name, data in sorted(plugins.items())]
    entries += [('./LICENSE', b'Apache License 2.0\n'), ('./README.md', b'# CNI plugins\n')]
    return entries


def info(name, kind=tarfile.REGTYPE, linkname=''):
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = linkname
    return member


def look(dest):
    """{name: (mode, uid, gid, sha256 or None, inode)} of a directory."""
    dest = str(dest)
    found = {}
    for name in sorted(os.listdir(dest)):
        st = os.lstat(os.path.join(dest, name))
        digest = None
        if stat.S_ISREG(st.st_mode):
            with open(os.path.join(dest, name), 'rb') as stream:
                digest = sha(stream.read())
        found[name] = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, digest, st.st_ino)
    return found


def manifest(dest):
    with open(os.path.join(str(dest), cp.MANIFEST_NAME)) as stream:
        return json.load(stream)


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch):
    """Staging directories go to a directory of the test's own, which must be empty after every run."""
    staging = tmp_path / 'staging'
    staging.mkdir()
    monkeypatch.setattr(cp.tempfile, 'tempdir', str(staging))
    yield staging
    assert os.listdir(str(staging)) == []


# --- archive members ---------------------------------------------------------

@pytest.mark.parametrize('name, kind, expected', [
    ('bridge', tarfile.REGTYPE, ('plugin', 'bridge')),
    ('./bridge', tarfile.REGTYPE, ('plugin', 'bridge')),
    ('host-local', tarfile.AREGTYPE, ('plugin', 'host-local')),
    ('./.hidden', tarfile.REGTYPE, ('skip', '.hidden')),
    ('./LICENSE', tarfile.REGTYPE, ('skip', 'LICENSE')),
    ('LICENSE.txt', tarfile.REGTYPE, ('skip', 'LICENSE.txt')),
    ('./README.md', tarfile.REGTYPE, ('skip', 'README.md')),
    ('./NOTES.md', tarfile.REGTYPE, ('skip', 'NOTES.md')),
    ('.', tarfile.DIRTYPE, ('skip', '.')),
    ('./', tarfile.DIRTYPE, ('skip', './')),
    ('docs', tarfile.DIRTYPE, ('skip', 'docs')),
    ('./docs/bridge', tarfile.REGTYPE, ('skip', 'docs/bridge')),
    ('./has space', tarfile.REGTYPE, ('bad', 'has space')),
    ('./-dash', tarfile.REGTYPE, ('bad', '-dash')),
])
def test_classify_member(name, kind, expected):
    assert cp.classify_member(info(name, kind)) == expected


@pytest.mark.parametrize('member, reason', [
    (info('../bridge'), 'points outside'),
    (info('./a/../../bridge'), 'points outside'),
    (info('/usr/lib/cni/bridge'), 'points outside'),
    (info('./bridge', tarfile.SYMTYPE, '/usr/bin/bash'), 'is a link'),
    (info('./bridge', tarfile.LNKTYPE, 'loopback'), 'is a link'),
    (info('./docs/link', tarfile.SYMTYPE, '../../etc'), 'is a link'),
    (info('./console', tarfile.CHRTYPE), 'not a regular file'),
    (info('./fifo', tarfile.FIFOTYPE), 'not a regular file'),
])
def test_classify_member_refuses(member, reason):
    with pytest.raises(ArchiveRefused, match=reason):
        cp.classify_member(member)


def test_not_a_plugin():
    assert [name for name in ('bridge', 'LICENSE', 'README', 'x.md', '.x', 'license', 'readme.txt')
            if cp.not_a_plugin(name)] == ['LICENSE', 'README', 'x.md', '.x']


@pytest.mark.parametrize('compression', ['gz', 'xz', ''])
def test_unpack_release_tarball(tmp_path, compression):
    archive = tmp_path / 'release.tar'
    make_tar(archive, release_entries(PLUGINS) + [info('./docs', tarfile.DIRTYPE), ('./docs/guide', b'x')],
             compression)
    offered = cp.unpack(str(archive), str(tmp_path / 'out'), 'url', 'the tarball')
    assert dict((name, entry['sha256']) for name, entry in offered.items()) == \
        dict((name, sha(data)) for name, data in PLUGINS.items())
    assert sorted(os.listdir(str(tmp_path / 'out'))) == sorted(PLUGINS)
    assert all(offered[name]['path'] == str(tmp_path / 'out' / name) for name in PLUGINS)


@pytest.mark.parametrize('extra, message', [
    (info('./evil', tarfile.SYMTYPE, '/etc/shadow'), 'url: refused to unpack the tarball: ./evil is a link (to /etc/shadow)'),
    (('../escape', b'x'), 'url: refused to unpack the tarball: ../escape points outside the archive'),
    (('./bridge', b'again'), 'url: refused to unpack the tarball: bridge is in it twice'),
    (('./no good', b'x'), 'url: file names that are no plugin names in the tarball: no good'),
])
def test_unpack_refuses(tmp_path, extra, message):
    archive = tmp_path / 'bad.tgz'
    make_tar(archive, release_entries(PLUGINS) + [extra])
    with pytest.raises(PluginsError) as raised:
        cp.unpack(str(archive), str(tmp_path / 'out'), 'url', 'the tarball')
    assert str(raised.value) == message
    assert not os.path.exists(str(tmp_path / 'escape'))


def test_unpack_not_an_archive(tmp_path):
    (tmp_path / 'x.tgz').write_bytes(b'not a tarball at all')
    with pytest.raises(PluginsError, match=r'^src: cannot unpack node:/x.tgz: '):
        cp.unpack(str(tmp_path / 'x.tgz'), str(tmp_path / 'out'), 'src', 'node:/x.tgz')


def test_scan_dir_takes_regular_files_only(tmp_path):
    src = make_dir(tmp_path / 'src', dict(PLUGINS, LICENSE=b'l', **{'README.md': b'r', '.hidden': b'h'}))
    os.symlink('bridge', os.path.join(src, 'link'))
    os.mkdir(os.path.join(src, 'subdir'))
    offered = cp.scan_dir(src, 'src', 'node:' + src)
    assert sorted(offered) == sorted(PLUGINS)
    (tmp_path / 'src' / 'bad name').write_bytes(b'x')
    with pytest.raises(PluginsError, match='^src: file names that are no plugin names in node:.*: bad name$'):
        cp.scan_dir(src, 'src', 'node:' + src)


def test_choose():
    offered = dict((name, dict(path='/x/' + name, sha256=sha(data))) for name, data in PLUGINS.items())
    assert cp.choose(offered, [], 'url', 'u') == dict((name, sha(data)) for name, data in PLUGINS.items())
    assert cp.choose(offered, ['bridge'], 'url', 'u') == dict(bridge=sha(PLUGINS['bridge']))
    with pytest.raises(PluginsError, match='^only: not in u: dhcp, tuning$'):
        cp.choose(offered, ['tuning', 'bridge', 'dhcp'], 'url', 'u')
    with pytest.raises(PluginsError, match='^url: no plugins in u$'):
        cp.choose({}, [], 'url', 'u')


# --- options -----------------------------------------------------------------

@pytest.mark.parametrize('values, message', [
    (dict(dest='opt/cni/bin'), "dest: must be an absolute path, got 'opt/cni/bin'"),
    (dict(only=['bridge', '../sh']), "only: plugin names are file names, got '../sh'"),
    (dict(method='release', sha256='a' * 64, version='1.0.0'), 'url: required with method=release'),
    (dict(method='release', url='http://x/y.tgz', version='1.0.0'),
     'sha256: required with method=release, the SHA-256 of http://x/y.tgz'),
    (dict(method='release', url='http://x/y.tgz', sha256='a' * 63, version='1'), 'sha256: 64 hexadecimal digits'),
    (dict(method='release', url='http://x/y.tgz', sha256='a' * 64), 'version: required with method=release'),
    (dict(method='release', url='/srv/y.tgz', sha256='a' * 64, version='1'), 'url: an http, https, ftp or file URL'),
    (dict(method='release', url='http://x/y.tgz', sha256='a' * 64, version='1', timeout=0), 'timeout: must be'),
    (dict(method='local'), 'src: required with method=local, an absolute path, got (nothing)'),
    (dict(method='local', src='plugins'), 'src: required with method=local, an absolute path, got plugins'),
    (dict(method='package', url='http://x/y.tgz'), 'url: is not used with method=package'),
    (dict(method='package', version='1.0'), 'version: is not used with method=package'),
    (dict(method='release', url='http://x', sha256='a' * 64, version='1', src='/x'), 'src: is not used'),
    (dict(method='local', src='/x', url='http://x'), 'url: is not used with method=local'),
    (dict(package='Not A Package'), 'package: a Debian package name'),
])
def test_parse_refuses(values, message):
    with pytest.raises(PluginsError) as raised:
        cp.parse(params(**values))
    assert str(raised.value).startswith(message)


def test_parse_identity():
    want = cp.parse(params(method='release', url='http://x/y.tgz', sha256='A' * 64, version='9.9.9',
                           only=['portmap', 'bridge']))
    assert want['identity'] == dict(method='release', source='http://x/y.tgz', version='9.9.9', sha256='a' * 64,
                                    only=['bridge', 'portmap'])
    want = cp.parse(params(method='local', src='/srv/x.tgz', origin='controller:/srv/x.tgz', sha256='', version=''))
    assert want['identity'] == dict(method='local', source='controller:/srv/x.tgz', version=None, sha256=None,
                                    only=None)
    assert cp.parse(params(method='local', src='/srv/x'))['identity']['source'] == 'node:/srv/x'
    # absent needs nothing else, and ignores the rest
    assert cp.parse(params(state='absent', method='release', dest='/opt/cni/bin/'))['dest'] == '/opt/cni/bin'


# --- manifest, identity, reuse, plan -----------------------------------------

def test_render_manifest_is_to_nice_json():
    data = dict(format=1, method='local', source='controller:/tmp/é', version=None, sha256=None, only=['a'],
                plugins=['a'], checksums=dict(a='0' * 64))
    assert cp.render_manifest(data) == to_nice_json(data, sort_keys=True) + '\n'


def test_read_manifest(tmp_path):
    path = str(tmp_path / cp.MANIFEST_NAME)
    assert cp.read_manifest(path)['exists'] is False
    assert cp.read_manifest(str(tmp_path / 'no-dir' / cp.MANIFEST_NAME))['exists'] is False
    for text in ('{"plugins": ["../../bin/sh"]}', '{"plugins": "bridge"}', '[]', 'not json'):
        (tmp_path / cp.MANIFEST_NAME).write_text(text)
        with pytest.raises(PluginsError, match='is not a manifest this module wrote; remove it or fix its plugins list'):
            cp.read_manifest(path)
    (tmp_path / cp.MANIFEST_NAME).write_text('{"plugins": ["bridge"]}')
    assert cp.read_manifest(path)['data'] == dict(plugins=['bridge'])


def installed(tmp_path, files, mode=0o755):
    dest = make_dir(tmp_path / 'dest', files, mode)
    return dest, cp.DestView(dest, UID, GID)


def test_identity_and_intact(tmp_path):
    dest, view = installed(tmp_path, PLUGINS)
    identity = dict(method='release', source='http://x', version='1', sha256='a' * 64, only=None)
    old = dict(identity, format=1, plugins=sorted(PLUGINS), checksums=dict((n, sha(d)) for n, d in PLUGINS.items()))
    assert cp.identity_matches(old, identity) and cp.intact(old, view) and cp.reusable(old, identity, view)
    assert not cp.identity_matches(old, dict(identity, version='2'))
    assert not cp.identity_matches(old, dict(identity, only=['bridge']))
    # a key the manifest lacks is no match, even when the identity's value is null
    assert not cp.identity_matches(dict((k, v) for k, v in old.items() if k != 'only'), identity)
    assert not cp.intact(dict(old, plugins=[]), view)
    assert not cp.intact(dict(old, checksums=dict(old['checksums'], extra='0' * 64)), view)
    assert not cp.intact(dict(old, checksums='nonsense'), view)


@pytest.mark.parametrize('spoil', ['content', 'mode', 'missing', 'symlink'])
def test_intact_notices_a_changed_file(tmp_path, spoil):
    dest, _view = installed(tmp_path, PLUGINS)
    path = os.path.join(dest, 'portmap')
    if spoil == 'content':
        with open(path, 'ab') as stream:
            stream.write(b'x')
    elif spoil == 'mode':
        os.chmod(path, 0o775)
    elif spoil == 'missing':
        os.unlink(path)
    else:
        os.unlink(path)
        os.symlink('bridge', path)
    old = dict(plugins=sorted(PLUGINS), checksums=dict((n, sha(d)) for n, d in PLUGINS.items()))
    assert not cp.intact(old, cp.DestView(dest, UID, GID))


def test_plan_install(tmp_path):
    files = dict(bridge=b'b1', loopback=b'l1', vrf=b'v1', foreign=b'f')
    dest, view = installed(tmp_path, files)
    os.mkdir(os.path.join(dest, 'dhcp'))
    old = dict(format=1, method='release', plugins=['bridge', 'dhcp', 'gone', 'loopback', 'vrf'],
               checksums=dict(bridge=sha(b'b1'), loopback=sha(b'l1'), vrf=sha(b'v1'), dhcp='0' * 64))
    wanted = dict(bridge=sha(b'b2'), loopback=sha(b'l1'), portmap=sha(b'p1'))
    steps = cp.plan_install(old, wanted, view)
    assert steps['copy'] == ['bridge', 'portmap']
    # never a directory, never a file the manifest does not list, nothing that is not there
    assert steps['remove'] == ['vrf']
    assert steps['interim']['plugins'] == ['bridge', 'dhcp', 'gone', 'loopback', 'portmap', 'vrf']
    assert steps['interim']['checksums'] == dict(loopback=sha(b'l1'), vrf=sha(b'v1'), dhcp='0' * 64)
    assert steps['interim']['method'] == 'release'
    # only replacing files the manifest lists already: no interim manifest
    assert cp.plan_install(old, dict(bridge=sha(b'b2')), view)['interim'] is None
    assert cp.plan_install({}, dict(bridge=sha(b'b2')), view)['interim'] == \
        dict(format=1, plugins=['bridge'], checksums={})
    assert cp.plan_absent(old, view) == ['bridge', 'loopback', 'vrf']
    with pytest.raises(PluginsError, match='dhcp is a directory, where plugin dhcp goes'):
        cp.plan_install(old, dict(dhcp='0' * 64), view)


def test_plan_copies_a_file_with_the_wrong_owner_or_mode(tmp_path):
    dest, view = installed(tmp_path, dict(bridge=b'b1', loopback=b'l1'))
    os.chmod(os.path.join(dest, 'loopback'), 0o700)
    steps = cp.plan_install({}, dict(bridge=sha(b'b1'), loopback=sha(b'l1')), view)
    assert steps['copy'] == ['loopback']
    other = cp.DestView(dest, UID + 1, GID)
    assert cp.plan_install({}, dict(bridge=sha(b'b1')), other)['copy'] == ['bridge']


# --- whole runs: local, release, absent ---------------------------------------

def test_local_directory_four_runs_and_diff(tmp_path):
    src = make_dir(tmp_path / 'src', dict(PLUGINS, LICENSE=b'licence'))
    dest = str(tmp_path / 'opt' / 'cni' / 'bin')
    args = dict(method='local', src=src, dest=dest, only=['bridge', 'loopback', 'portmap'])
    results = [run(check_mode=check, **args) for check in (True, False, True, False)]
    assert [result['failed'] for result in results] == [False] * 4
    assert [result['changed'] for result in results] == [True, True, False, False]
    assert results[0] == results[1]
    assert results[1]['copied'] == ['bridge', 'loopback', 'portmap']
    assert results[1]['plugins'] == ['bridge', 'loopback', 'portmap']
    assert results[1]['version'] is None and results[1]['source'] == 'node:' + src
    assert results[1]['actions'] == ['create directory %s' % dest, 'install bridge', 'install loopback',
                                     'install portmap', 'write %s/%s' % (dest, cp.MANIFEST_NAME)]
    assert results[3] == dict(results[1], changed=False, copied=[], actions=[],
                              diff=dict(results[1]['diff'], before=results[1]['diff']['after']))
    assert results[2] == results[3]

    diff = results[1]['diff']
    assert diff['before'] == dict(method=None, source=None, version=None, sha256=None, only=None, plugins={})
    assert diff['after'] == dict(method='local', source='node:' + src, version=None, sha256=None,
                                 only=['bridge', 'loopback', 'portmap'],
                                 plugins=dict((n, sha(PLUGINS[n])) for n in ('bridge', 'loopback', 'portmap')))
    assert diff['before_header'] == diff['after_header'] == dest

    files = look(dest)
    assert sorted(files) == [cp.MANIFEST_NAME, 'bridge', 'loopback', 'portmap']
    assert all(files[n][:4] == (0o755, UID, GID, sha(PLUGINS[n])) for n in ('bridge', 'loopback', 'portmap'))
    assert files[cp.MANIFEST_NAME][0] == 0o644
    assert [stat.S_IMODE(os.stat(str(p)).st_mode) for p in (tmp_path / 'opt', tmp_path / 'opt' / 'cni', dest)] \
        == [0o755] * 3
    assert manifest(dest) == dict(format=1, method='local', source='node:' + src, version=None, sha256=None,
                                  only=['bridge', 'loopback', 'portmap'], plugins=['bridge', 'loopback', 'portmap'],
                                  checksums=dict((n, sha(PLUGINS[n])) for n in ('bridge', 'loopback', 'portmap')))


def test_drift_is_repaired_and_shown(tmp_path):
    src = make_dir(tmp_path / 'src', PLUGINS)
    dest = str(tmp_path / 'dest')
    assert run(method='local', src=src, dest=dest)['changed']
    os.chmod(os.path.join(dest, 'bridge'), 0o700)
    with open(os.path.join(dest, 'vrf'), 'ab') as stream:
        stream.write(b'tampered')
    result = run(method='local', src=src, dest=dest)
    assert result['changed'] and result['copied'] == ['bridge', 'vrf'] and result['removed'] == []
    assert result['actions'] == ['install bridge', 'install vrf']
    assert result['diff']['before']['plugins']['bridge'] == '%s (mode 0700, owner %d:%d)' % (
        sha(PLUGINS['bridge']), UID, GID)
    assert result['diff']['before']['plugins']['vrf'] == sha(PLUGINS['vrf'] + b'tampered')
    assert result['diff']['after']['plugins'] == dict((n, sha(d)) for n, d in PLUGINS.items())
    assert not run(method='local', src=src, dest=dest)['changed']


def serve(directory):
    """An HTTP server on 127.0.0.1 for directory, in a thread; (base URL, list of request paths, stop)."""
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()
    return 'http://127.0.0.1:%d/' % server.server_address[1], requests, stop


@pytest.fixture
def releases(tmp_path):
    www = tmp_path / 'www'
    www.mkdir()
    v10 = dict((name, data + b'10\n') for name, data in PLUGINS.items() if name != 'vrf')
    sums = dict(v9=make_tar(www / 'v9.tgz', release_entries(PLUGINS)),
                v10=make_tar(www / 'v10.tgz', release_entries(v10)))
    with open(str(www / 'v10.tgz'), 'rb') as stream:
        (www / 'tampered.tgz').write_bytes(stream.read() + b'tampered')
    sums['tampered'] = sha((www / 'tampered.tgz').read_bytes())
    make_tar(www / 'link.tgz', release_entries(PLUGINS) + [info('./sh', tarfile.SYMTYPE, '/bin/sh')])
    sums['link'] = sha((www / 'link.tgz').read_bytes())
    base, requests, stop = serve(www)
    yield dict(base=base, requests=requests, sums=sums, v10=v10)
    stop()


def but(args, **values):
    """args with some values replaced."""
    result = dict(args)
    result.update(values)
    return result


def release(releases, name, version, **values):
    return dict(method='release', url=releases['base'] + name + '.tgz', sha256=releases['sums'][name],
                version=version, **values)


def test_release_four_runs_then_a_new_version(tmp_path, releases):
    dest = str(tmp_path / 'dest')
    args = dict(release(releases, 'v9', '9.9.9'), dest=dest)
    results = [run(check_mode=check, **args) for check in (True, False, True, False)]
    assert [result['changed'] for result in results] == [True, True, False, False]
    assert results[0] == results[1]
    assert results[1]['plugins'] == results[1]['copied'] == sorted(PLUGINS)
    assert results[1]['version'] == '9.9.9'
    # the third and fourth runs find the release installed and intact: no download
    assert releases['requests'] == ['/v9.tgz', '/v9.tgz']
    assert results[3]['diff']['before'] == results[3]['diff']['after'] == results[1]['diff']['after']
    assert manifest(dest)['sha256'] == releases['sums']['v9']
    # Held open, the old files keep their inodes, which a new file therefore cannot get.
    held = dict((name, open(os.path.join(dest, name), 'rb')) for name in releases['v10'])

    # 10.0.0 lacks vrf and changes every other plugin: each a new file renamed into place
    results = [run(check_mode=check, dest=dest, **release(releases, 'v10', '10.0.0')) for check in (True, False)]
    assert [result['changed'] for result in results] == [True, True]
    assert results[0] == results[1]
    assert results[1]['copied'] == sorted(releases['v10']) and results[1]['removed'] == ['vrf']
    after = look(dest)
    assert sorted(after) == sorted([cp.MANIFEST_NAME] + list(releases['v10']))
    for name, stream in held.items():
        assert after[name][4] != os.fstat(stream.fileno()).st_ino
        assert stream.read() == PLUGINS[name]
        stream.close()
    assert results[1]['diff']['before']['plugins'] == dict((n, sha(d)) for n, d in PLUGINS.items())
    assert results[1]['diff']['after']['plugins'] == dict((n, sha(d)) for n, d in releases['v10'].items())
    assert results[1]['diff']['after']['version'] == '10.0.0'


def test_release_refused_before_anything_changes(tmp_path, releases):
    dest = str(tmp_path / 'dest')
    assert run(dest=dest, **release(releases, 'v9', '9.9.9'))['changed']
    before = look(dest)
    tampered = run(dest=dest, **but(release(releases, 'tampered', '10.0.1'), sha256=releases['sums']['v10']))
    assert tampered['failed']
    assert 'did not match %s; it was %s' % (releases['sums']['v10'], releases['sums']['tampered']) in tampered['msg']
    assert tampered['msg'].startswith('sha256: ')
    linked = run(dest=dest, **release(releases, 'link', '10.0.2'))
    assert linked['msg'] == 'url: refused to unpack %slink.tgz: ./sh is a link (to /bin/sh)' % releases['base']
    missing = run(dest=dest, **but(release(releases, 'v9', '9.9.9'), url=releases['base'] + 'nothing.tgz'))
    assert missing['msg'] == 'url: cannot download %snothing.tgz: HTTP status 404 File not found' % releases['base']
    only = run(dest=dest, only=['bridge', 'tuning'], **release(releases, 'v10', '10.0.0'))
    assert only['msg'] == 'only: not in %sv10.tgz: tuning' % releases['base']
    assert look(dest) == before


def test_local_archive_reused_and_checked(tmp_path, releases):
    archive = tmp_path / 'www' / 'v9.tgz'
    dest = str(tmp_path / 'dest')
    args = dict(method='local', src=str(archive), origin='controller:/srv/v9.tgz', version='9.9.9', dest=dest)
    results = [run(check_mode=check, **args) for check in (True, False, True, False)]
    assert [result['changed'] for result in results] == [True, True, False, False]
    assert manifest(dest)['sha256'] == releases['sums']['v9']
    assert manifest(dest)['source'] == 'controller:/srv/v9.tgz'
    wrong = run(**but(args, sha256='0' * 64))
    assert wrong['msg'] == 'sha256: controller:/srv/v9.tgz has SHA-256 %s, not %s' % (releases['sums']['v9'], '0' * 64)
    assert run(**but(args, src=str(tmp_path / 'www'), sha256='0' * 64))['msg'] == \
        'sha256: checks an archive; controller:/srv/v9.tgz is a directory'
    assert run(**but(args, src=str(tmp_path / 'none')))['msg'] == \
        'src: no directory or archive %s on the node' % (tmp_path / 'none')


def test_absent_removes_exactly_the_manifest_files(tmp_path):
    src = make_dir(tmp_path / 'src', PLUGINS)
    dest = str(tmp_path / 'dest')
    assert run(method='local', src=src, dest=dest)['changed']
    (tmp_path / 'dest' / 'foreign').write_bytes(b'not ours')
    os.unlink(os.path.join(dest, 'vrf'))
    os.mkdir(os.path.join(dest, 'vrf'))
    os.unlink(os.path.join(dest, 'portmap'))
    os.symlink('/nonexistent', os.path.join(dest, 'portmap'))
    results = [run(check_mode=check, state='absent', dest=dest) for check in (True, False, True, False)]
    assert [result['changed'] for result in results] == [True, True, False, False]
    assert results[0] == results[1]
    assert results[1]['removed'] == ['bridge', 'loopback', 'portmap']
    assert results[1]['plugins'] == [] and results[1]['method'] is None and results[1]['version'] is None
    assert results[1]['diff']['before']['plugins']['portmap'] == 'a symbolic link to /nonexistent'
    assert results[1]['diff']['after']['plugins'] == dict(vrf='a directory')
    assert sorted(os.listdir(dest)) == ['foreign', 'vrf']
    assert results[3]['removed'] == [] and results[3]['actions'] == []


def test_interrupted_run_leaves_a_manifest_that_knows_the_new_files(tmp_path, monkeypatch):
    old_src = make_dir(tmp_path / 'old', dict(bridge=PLUGINS['bridge']))
    new_src = make_dir(tmp_path / 'new', PLUGINS)
    dest = str(tmp_path / 'dest')
    assert run(method='local', src=old_src, dest=dest)['changed']
    real_install = cp.install_file
    written = []

    def failing(src, dest_dir, name, *args):
        if written:
            raise OSError(28, 'No space left on device')
        written.append(name)
        return real_install(src, dest_dir, name, *args)
    monkeypatch.setattr(cp, 'install_file', failing)
    with pytest.raises(OSError):
        cp.execute(cp.parse(params(method='local', src=new_src, dest=dest)), FakeModule(), uid=UID, gid=GID)
    assert written == ['loopback']
    record = manifest(dest)
    assert record['plugins'] == sorted(PLUGINS) and record['checksums'] == dict(bridge=sha(PLUGINS['bridge']))
    monkeypatch.setattr(cp, 'install_file', real_install)
    assert run(state='absent', dest=dest)['removed'] == ['bridge', 'loopback']
    assert os.listdir(dest) == []


def test_module_run_without_diff(tmp_path):
    src = make_dir(tmp_path / 'src', PLUGINS)
    module = FakeModule(diff=False, params=params(method='local', src=src, dest=str(tmp_path / 'dest')))
    with pytest.raises(Exit) as raised:
        cp.run(module)
    # run() owns as root; as another user the first chown fails, which is reported, not raised
    if os.getuid() == 0:
        assert not raised.value.failed and 'diff' not in raised.value.result
    else:
        assert raised.value.failed and raised.value.result['msg'].startswith('dest: ')
    module = FakeModule(params=params(dest='relative'))
    with pytest.raises(Exit) as raised:
        cp.run(module)
    assert raised.value.failed and raised.value.result['msg'].startswith('dest: must be an absolute path')


# --- package -----------------------------------------------------------------

def dpkg(status):
    return (lambda args: args[0] == '/usr/bin/dpkg-query',
            status if callable(status) else (0, status, '') if status else (1, '', 'no packages found matching'))


def test_package_installed(tmp_path):
    package_dir = make_dir(tmp_path / 'usr-lib-cni', PLUGINS, 0o755)
    module = FakeModule(commands=[dpkg('installed 1.1.1+ds1-3+b5\n')], bins={'dpkg-query': '/usr/bin/dpkg-query'})
    result = run(module=module, dest=str(tmp_path / 'dest'), package_dir=package_dir)
    assert result['version'] == '1.1.1+ds1-3+b5' and result['method'] == 'package'
    assert result['source'] == 'containernetworking-plugins'
    assert result['copied'] == sorted(PLUGINS)
    assert module.calls == [dict(args=['/usr/bin/dpkg-query', '--show', '--showformat',
                                       '${db:Status-Status} ${Version}\n', 'containernetworking-plugins'],
                                 env=None, expand=False)]
    assert manifest(str(tmp_path / 'dest'))['version'] == '1.1.1+ds1-3+b5'


def test_package_missing_in_check_mode(tmp_path):
    module = FakeModule(commands=[dpkg('config-files 1.1.1\n')], bins={'dpkg-query': '/usr/bin/dpkg-query'})
    result = run(check_mode=True, module=module, dest=str(tmp_path / 'dest'))
    assert result['changed'] and result['actions'] == ['install package containernetworking-plugins']
    assert result['plugins'] == result['copied'] == [] and result['version'] is None
    assert [call['args'][0] for call in module.calls] == ['/usr/bin/dpkg-query']
    assert not os.path.exists(str(tmp_path / 'dest'))


@pytest.mark.parametrize('age, first_install_rc, expected', [
    (10, 0, ['dpkg', 'install', 'dpkg']),
    (10, 100, ['dpkg', 'install', 'update', 'install', 'dpkg']),
    (7200, 0, ['dpkg', 'update', 'install', 'dpkg']),
])
def test_package_installed_by_apt(tmp_path, age, first_install_rc, expected):
    package_dir = make_dir(tmp_path / 'usr-lib-cni', PLUGINS, 0o755)
    stamp = tmp_path / 'stamp'
    stamp.write_bytes(b'')
    os.utime(str(stamp), (os.stat(str(stamp)).st_atime, os.stat(str(stamp)).st_mtime - age))
    state = dict(install_calls=0, installed=False)

    def status(args):
        return (0, 'installed 1.1.1\n', '') if state['installed'] else (1, '', '')

    def install(args):
        state['install_calls'] += 1
        if state['install_calls'] == 1 and first_install_rc:
            return (first_install_rc, '', 'E: Unable to locate package containernetworking-plugins')
        state['installed'] = True
        return (0, '', '')

    module = FakeModule(commands=[dpkg(status),
                                  (lambda args: args[-1] == 'update', (0, '', '')),
                                  (lambda args: args[-2] == 'install', install)],
                        bins={'dpkg-query': '/usr/bin/dpkg-query', 'apt-get': '/usr/bin/apt-get'})
    result = run(module=module, dest=str(tmp_path / 'dest'), package_dir=package_dir, apt_stamps=(str(stamp),))
    assert not result['failed'], result
    assert result['actions'][0] == 'install package containernetworking-plugins'
    assert result['version'] == '1.1.1'
    kinds = ['dpkg' if call['args'][0].endswith('dpkg-query') else call['args'][-1] if call['args'][-1] == 'update'
             else 'install' for call in module.calls]
    assert kinds == expected
    apt = [call for call in module.calls if call['args'][0] == '/usr/bin/apt-get']
    assert all(call['env']['DEBIAN_FRONTEND'] == 'noninteractive' for call in apt)
    assert all(isinstance(call['args'], list) for call in module.calls)


def test_package_install_fails(tmp_path):
    module = FakeModule(commands=[dpkg(''),
                                  (lambda args: args[-1] == 'update', (0, '', '')),
                                  (lambda args: args[-2] == 'install', (100, '', 'E: Unable to locate package x'))],
                        bins={'dpkg-query': '/usr/bin/dpkg-query', 'apt-get': '/usr/bin/apt-get'})
    result = run(module=module, dest=str(tmp_path / 'dest'), apt_stamps=())
    assert result['msg'] == ('package: apt-get install containernetworking-plugins failed (exit status 100): '
                             'E: Unable to locate package x')
    assert not os.path.exists(str(tmp_path / 'dest'))


def test_package_without_dpkg(tmp_path):
    assert run(module=FakeModule(), dest=str(tmp_path / 'dest'))['msg'].startswith(
        'method: package needs dpkg-query, which is not on this node')


def test_parse_dpkg_status():
    assert cp.parse_dpkg_status('installed 1.1.1+ds1-3+b5') == '1.1.1+ds1-3+b5'
    assert cp.parse_dpkg_status('not-installed \n') is None
    assert cp.parse_dpkg_status('config-files 1.0\n') is None
    assert cp.parse_dpkg_status('half-installed 1.0\ninstalled 1.0\n') == '1.0'


def test_lists_age(tmp_path):
    stamp = tmp_path / 'stamp'
    stamp.write_bytes(b'')
    assert cp.lists_age((str(tmp_path / 'none'), str(stamp)), now=os.stat(str(stamp)).st_mtime + 5) == 5
    assert cp.lists_age((str(tmp_path / 'none'),)) == float('inf')


def test_dest_that_is_no_directory_fails_before_the_download(tmp_path, releases):
    (tmp_path / 'file').write_bytes(b'x')
    result = run(dest=str(tmp_path / 'file'), **release(releases, 'v9', '9.9.9'))
    assert result['msg'] == 'dest: %s exists and is not a directory' % (tmp_path / 'file')
    assert releases['requests'] == []
