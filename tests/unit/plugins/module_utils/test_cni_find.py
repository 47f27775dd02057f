"""Runtime.find runs only plugins that root alone can change: the file and every
plugin directory owned by root and writable by neither group nor others."""
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni, _pod
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError

as_root = pytest.mark.skipif(os.geteuid() != 0, reason='changes file owners')


def _bin_dir(path, mode=0o755, plugins=('bridge',), plugin_mode=0o755):
    path.mkdir()
    for name in plugins:
        plugin = path / name
        plugin.write_text('#!/bin/sh\nexit 1\n')
        plugin.chmod(plugin_mode)
    path.chmod(mode)
    return str(path)


def test_a_root_owned_plugin_in_a_root_owned_directory_is_found(tmp_path):
    good = _bin_dir(tmp_path / 'bin')
    assert _cni.Runtime([good]).find('bridge') == os.path.join(good, 'bridge')
    # Set-group-ID and sticky bits are no write permission.
    os.chmod(good, 0o3755)
    assert _cni.Runtime([str(tmp_path / 'missing'), good]).find('bridge') == os.path.join(good, 'bridge')


@pytest.mark.parametrize('dir_mode, plugin_mode, what', [
    (0o775, 0o755, r'directory {dir} is writable by its group \(mode 0775\)'),
    (0o757, 0o755, r'directory {dir} is writable by others \(mode 0757\)'),
    (0o777, 0o755, r'directory {dir} is writable by its group and others \(mode 0777\)'),
    (0o1777, 0o755, r'directory {dir} is writable by its group and others \(mode 1777\)'),
    (0o755, 0o775, r'file {dir}/bridge is writable by its group \(mode 0775\)'),
    (0o755, 0o757, r'file {dir}/bridge is writable by others \(mode 0757\)'),
])
def test_writable_by_others_is_refused(tmp_path, dir_mode, plugin_mode, what):
    bad = _bin_dir(tmp_path / 'bin', dir_mode, plugin_mode=plugin_mode)
    with pytest.raises(_cni.CniError, match='^refusing to run CNI plugin bridge: ' + what.format(dir=bad)
                       + '; a plugin runs as root'):
        _cni.Runtime([bad]).find('bridge')


def test_every_directory_of_the_search_path_counts(tmp_path):
    """The plugins search CNI_PATH for IPAM and delegate plugins: a writable
    directory later in the list is refused too, even when the plugin is found first."""
    good = _bin_dir(tmp_path / 'good')
    later = _bin_dir(tmp_path / 'later', 0o775, plugins=())
    with pytest.raises(_cni.CniError, match='directory %s is writable by its group' % later):
        _cni.Runtime([good, later]).find('bridge')


def test_a_link_into_a_writable_directory_is_refused(tmp_path):
    open_dir = _bin_dir(tmp_path / 'open', 0o777)
    good = _bin_dir(tmp_path / 'good', plugins=())
    os.symlink(os.path.join(open_dir, 'bridge'), os.path.join(good, 'bridge'))
    with pytest.raises(_cni.CniError, match='directory %s is writable by its group and others' % open_dir):
        _cni.Runtime([good]).find('bridge')


@as_root
def test_not_owned_by_root_is_refused(tmp_path):
    good = _bin_dir(tmp_path / 'bin')
    os.chown(os.path.join(good, 'bridge'), 65534, 65534)
    with pytest.raises(_cni.CniError, match=r'file %s/bridge is owned by UID 65534, not root' % good):
        _cni.Runtime([good]).find('bridge')
    os.chown(os.path.join(good, 'bridge'), 0, 0)
    os.chown(good, 65534, 0)
    with pytest.raises(_cni.CniError, match=r'directory %s is owned by UID 65534, not root' % good):
        _cni.Runtime([good]).find('bridge')


def test_pause_pod_names_cni_bin_dir(tmp_path):
    """pause_pod turns the refusal into an error of cni_bin_dir, before anything changes."""
    bad = _bin_dir(tmp_path / 'bin', 0o775)
    config = tmp_path / 'net.conflist'
    config.write_text(json.dumps({'cniVersion': '1.0.0', 'name': 'pt-net', 'plugins': [{'type': 'bridge'}]}))
    manager = _pod.PodManager()
    want = manager.parse({'name': 'pt-pod', 'config': str(config), 'cni_bin_dir': [bad], 'timeout': 30}, 'pods[2].')
    with pytest.raises(ValidationError, match=r'^pods\[2\]\.cni_bin_dir: refusing to run CNI plugin bridge: '
                                              r'directory %s is writable by its group' % bad):
        manager._network(want)
