from __future__ import annotations

import json
import os

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni_conf

DEMO_CONFIG = {
    'type': 'bridge', 'bridge': 'cni_net0', 'isGateway': True, 'ipMasq': True,
    'ipam': {'type': 'host-local', 'subnet': '10.0.10.0/24',
             'routes': [{'dst': '0.0.0.0/0'}, {'dst': '1.1.1.1/32', 'gw': '10.0.10.1'}]},
}


class Exit(Exception):
    def __init__(self, failed, result):
        super().__init__(result)
        self.failed = failed
        self.result = result


class FakeModule:
    """What _cni_conf.run uses of AnsibleModule."""

    def __init__(self, check_mode=False, **params):
        self.params = dict((key, spec.get('default')) for key, spec in _cni_conf.ARGUMENT_SPEC.items())
        self.params.update(owner=str(os.getuid()), group=str(os.getgid()))
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = True
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)

    def fail_json(self, **result):
        raise Exit(True, result)

    def exit_json(self, **result):
        raise Exit(False, result)


def run(**params):
    module = FakeModule(**params)
    with pytest.raises(Exit) as info:
        _cni_conf.run(module)
    result = info.value.result
    result['failed'] = info.value.failed
    result['warnings'] = module.warnings
    return result


def demo(tmp_path, **params):
    args = dict(name='demo_br', conf_dir=str(tmp_path / 'net.d'), file_name='00-demo.conf', cni_version='0.2.0',
                config=DEMO_CONFIG)
    args.update(params)
    return args


def test_four_runs(tmp_path):
    results = [run(check_mode=check, **demo(tmp_path)) for check in (True, False, True, False)]
    assert [result['changed'] for result in results] == [True, True, False, False]
    path = str(tmp_path / 'net.d' / '00-demo.conf')
    assert results[0]['actions'] == ['create directory %s' % (tmp_path / 'net.d'), 'write %s' % path]
    assert results[0]['diff'] == results[1]['diff']
    assert results[1]['diff']['before'] == ''
    with open(path) as stream:
        text = stream.read()
    assert results[1]['diff']['after'] == text
    assert json.loads(text) == dict(cniVersion='0.2.0', name='demo_br', **DEMO_CONFIG)
    assert list(json.loads(text))[:3] == ['cniVersion', 'name', 'type']
    assert results[3]['diff']['before'] == results[3]['diff']['after'] == text
    assert oct(os.stat(path).st_mode & 0o7777) == '0o644'
    assert oct(os.stat(str(tmp_path / 'net.d')).st_mode & 0o7777) == '0o755'
    assert not [name for name in os.listdir(str(tmp_path / 'net.d')) if name != '00-demo.conf']


def test_other_whitespace_and_key_order_is_no_change(tmp_path):
    (tmp_path / 'net.d').mkdir()
    path = tmp_path / 'net.d' / '00-demo.conf'
    network = dict(cniVersion='0.2.0', name='demo_br', **DEMO_CONFIG)
    path.write_text(json.dumps(dict(reversed(list(network.items())))))
    path.chmod(0o644)
    result = run(**demo(tmp_path))
    assert result['changed'] is False
    assert result['diff']['before'] == result['diff']['after']


def test_mode_only(tmp_path):
    run(**demo(tmp_path))
    result = run(mode='0600', **demo(tmp_path))
    path = str(tmp_path / 'net.d' / '00-demo.conf')
    assert result['actions'] == ['set mode 0600 on %s' % path]
    assert result['diff']['before'] == result['diff']['after']
    assert os.stat(path).st_mode & 0o7777 == 0o600


def test_a_world_writable_file_is_given_back_to_root_alone(tmp_path):
    run(**demo(tmp_path))
    path = tmp_path / 'net.d' / '00-demo.conf'
    path.chmod(0o666)
    result = run(**demo(tmp_path, owner='root', group='root'))
    assert result['actions'] == ['set mode 0644 on %s' % path]
    info = os.stat(str(path))
    assert (info.st_mode & 0o7777, info.st_uid, info.st_gid) == (0o644, 0, 0)
    # Group write for root's group stays possible; only others are refused.
    assert run(**demo(tmp_path, mode='0664'))['actions'] == ['set mode 0664 on %s' % path]


def test_change_shows_in_diff(tmp_path):
    run(**demo(tmp_path))
    config = dict(DEMO_CONFIG, bridge='cni_net1')
    result = run(**demo(tmp_path, config=config))
    assert result['actions'] == ['rewrite %s' % (tmp_path / 'net.d' / '00-demo.conf')]
    assert '"bridge": "cni_net0"' in result['diff']['before']
    assert '"bridge": "cni_net1"' in result['diff']['after']


@pytest.mark.parametrize('config, file_name', [
    (DEMO_CONFIG, '10-demo_br.conf'),
    ({'plugins': [DEMO_CONFIG, {'type': 'portmap', 'capabilities': {'portMappings': True}}]}, '10-demo_br.conflist'),
])
def test_file_name_from_priority_and_name(tmp_path, config, file_name):
    result = run(name='demo_br', conf_dir=str(tmp_path), config=config)
    assert result['path'] == str(tmp_path / file_name)
    removed = run(name='demo_br', conf_dir=str(tmp_path), state='absent')
    assert removed['actions'] == ['remove %s' % (tmp_path / file_name)]
    assert removed['diff']['after'] == '' and removed['diff']['before'] == result['diff']['after']
    assert os.listdir(str(tmp_path)) == []


def test_absent_refuses_two_candidates(tmp_path):
    for name in ('10-x.conf', '10-x.conflist'):
        (tmp_path / name).write_text('{}')
    result = run(name='x', conf_dir=str(tmp_path), state='absent')
    assert result['failed'] and result['msg'].startswith('name: both ')


@pytest.mark.parametrize('shadowed, failed', [('warn', False), ('fail', True), ('ignore', False)])
def test_shadowed(tmp_path, shadowed, failed):
    (tmp_path / '50-other.conflist').write_text(json.dumps(
        {'cniVersion': '1.0.0', 'name': 'demo_br', 'plugins': [{'type': 'bridge'}]}))
    result = run(shadowed=shadowed, **demo(tmp_path, conf_dir=str(tmp_path)))
    assert result['failed'] is failed
    message = ('network demo_br is also defined in %s, which libcni reads first, so %s is not used'
               % (tmp_path / '50-other.conflist', tmp_path / '00-demo.conf'))
    if failed:
        assert result['msg'] == 'name: ' + message
        assert not (tmp_path / '00-demo.conf').exists()
    else:
        assert result['shadowed_by'] == str(tmp_path / '50-other.conflist')
        assert result['warnings'] == ([message] if shadowed == 'warn' else [])


def test_a_later_file_does_not_shadow(tmp_path):
    (tmp_path / '50-other.conf').write_text(json.dumps(dict(cniVersion='1.0.0', name='demo_br', type='bridge')))
    result = run(**demo(tmp_path, conf_dir=str(tmp_path)))
    assert result['shadowed_by'] is None and result['warnings'] == []


@pytest.mark.parametrize('params, message', [
    (dict(cni_version='9.9.9'), "cni_version: '9.9.9' is not a CNI specification version"),
    (dict(config=dict(DEMO_CONFIG, cniVersion='9.9.9')), "config.cniVersion: '9.9.9' is not a CNI"),
    (dict(config=dict(DEMO_CONFIG, name='other')), "config.name: 'other' differs from name 'demo_br'"),
    (dict(name='demo br'), "name: 'demo br' is not a valid network name"),
    (dict(file_name='00-demo.conflist'), 'file_name: a single plugin configuration must go into a .conf or .json'),
    (dict(file_name='00-demo.yaml'), 'file_name: a single plugin configuration must go into a .conf or .json'),
    (dict(file_name='a/b.conf'), "file_name: 'a/b.conf' is not a file name"),
    (dict(conf_dir='net.d'), "conf_dir: must be an absolute path, got 'net.d'"),
    (dict(mode='rw-r--r--'), "mode: must be an octal mode such as 0644, got 'rw-r--r--'"),
    (dict(owner='no-such-user-here'), "owner: no user named 'no-such-user-here' on this host"),
    # World-writable modes, as strings and as the numbers YAML makes of them.
    (dict(mode='0666'), 'mode: 0666 lets every user write the file'),
    (dict(mode='0777'), 'mode: 0777 lets every user write the file'),
    (dict(mode='0646'), 'mode: 0646 lets every user write the file'),
    (dict(mode=0o602), 'mode: 0602 lets every user write the file'),
    (dict(mode='1777'), 'mode: 1777 lets every user write the file'),
    (dict(owner='nobody'), 'owner: nobody is not root: the owner of a CNI configuration can rewrite it'),
    (dict(owner='65534'), 'owner: 65534 is not root'),
    (dict(config=dict(DEMO_CONFIG, ipam=dict(DEMO_CONFIG['ipam'], gateway='10.0.11.1'))),
     'config.ipam.gateway: 10.0.11.1 is not inside subnet 10.0.10.0/24'),
    (dict(validate_plugins=True, cni_bin_dir=['/nonexistent/cni']), 'cni_bin_dir: /nonexistent/cni is not a directory'),
    (dict(validate_plugins=True, cni_bin_dir=['/nonexistent/a', '/nonexistent/b']),
     'cni_bin_dir: none of /nonexistent/a, /nonexistent/b is a directory'),
    (dict(validate_plugins=True, cni_bin_dir=[]), 'cni_bin_dir: must name at least one directory'),
])
def test_refused_before_anything_changes(tmp_path, params, message):
    result = run(**demo(tmp_path, **params))
    assert result['failed'] and result['msg'].startswith(message)
    assert not (tmp_path / 'net.d').exists()


def test_validate_plugins_missing_type(tmp_path):
    (tmp_path / 'bin').mkdir()
    result = run(validate_plugins=True, cni_bin_dir=[str(tmp_path / 'bin')], **demo(tmp_path))
    assert result['msg'] == "config.type: CNI plugin 'bridge' not found in %s" % (tmp_path / 'bin')


def test_validate_plugins_unsupported_version(tmp_path):
    (tmp_path / 'bin').mkdir()
    for name in ('bridge', 'host-local'):
        plugin = tmp_path / 'bin' / name
        plugin.write_text('#!/bin/sh\necho \'{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}\'\n')
        plugin.chmod(0o755)
    result = run(validate_plugins=True, cni_bin_dir=[str(tmp_path / 'bin')], **demo(tmp_path))
    assert result['msg'] == 'config.type: CNI plugin %s supports CNI versions 0.4.0, 1.0.0, not 0.2.0' % (
        tmp_path / 'bin' / 'bridge')


# The list form: many files in one call.

def networks(tmp_path, *elements, **params):
    args = dict(conf_dir=str(tmp_path / 'net.d'), cni_version='0.2.0', networks=list(elements))
    args.update(params)
    return args


def test_networks_four_runs_and_defaults(tmp_path):
    peer = dict(DEMO_CONFIG, ipam=dict(DEMO_CONFIG['ipam'], rangeStart='10.0.10.250'))
    args = networks(tmp_path, dict(name='demo_br', file_name='00-demo.conf', config=DEMO_CONFIG),
                    dict(name='demo_peer', config=peer, priority=20))
    results = [run(check_mode=check, **args) for check in (True, False, True, False)]
    assert [result['changed'] for result in results] == [True, True, False, False]
    paths = [str(tmp_path / 'net.d' / '00-demo.conf'), str(tmp_path / 'net.d' / '20-demo_peer.conf')]
    assert [entry['path'] for entry in results[1]['networks']] == paths
    assert results[1]['actions'] == ['create directory %s' % (tmp_path / 'net.d'), 'write %s' % paths[0],
                                     'write %s' % paths[1]]
    assert results[0]['diff'] == results[1]['diff'] and len(results[1]['diff']) == 2
    assert [diff['after_header'] for diff in results[1]['diff']] == paths
    # The top-level cni_version reached both elements.
    assert [entry['network']['cniVersion'] for entry in results[3]['networks']] == ['0.2.0', '0.2.0']
    assert [entry['changed'] for entry in results[3]['networks']] == [False, False]
    assert 'path' not in results[3] and 'network' not in results[3]


def test_networks_bad_element_writes_nothing(tmp_path):
    args = networks(tmp_path, dict(name='demo_br', file_name='00-demo.conf', config=DEMO_CONFIG),
                    dict(name='bad', config=dict(type='bridge', ipam=dict(type='host-local', subnet='10.0.10.1/24'))))
    result = run(**args)
    assert result['failed']
    assert result['msg'].startswith('networks[1].config.ipam.subnet: ')
    assert not (tmp_path / 'net.d').exists()


@pytest.mark.parametrize('element, message', [
    ('demo_br', "networks[1]: must be a dictionary, got 'demo_br'"),
    (dict(name='other', file_name='00-demo.conf', config={'type': 'bridge'}),
     'networks[1].file_name: %s is also managed by networks[0].file_name'),
    (dict(name='other', config={'type': 'bridge'}, colour='blue'), 'networks[1]: unsupported key(s) colour'),
    (dict(name='other'), 'networks[1]: state is present but all of the following are missing: config'),
    (dict(name='other', dest='/x.conf', priority=3, config={'type': 'bridge'}),
     'networks[1]: parameters are mutually exclusive: dest|priority'),
])
def test_networks_refused(tmp_path, element, message):
    args = networks(tmp_path, dict(name='demo_br', file_name='00-demo.conf', config=DEMO_CONFIG), element)
    result = run(**args)
    assert result['failed']
    if '%s' in message:
        message = message % (tmp_path / 'net.d' / '00-demo.conf')
    assert result['msg'].startswith(message), result['msg']
    assert not (tmp_path / 'net.d').exists()


def test_networks_empty_and_single_form_without_config(tmp_path):
    assert run(**networks(tmp_path))['msg'] == 'networks: must list at least one network'
    assert run(name='x', conf_dir=str(tmp_path))['msg'] == 'config: is required when state=present'
