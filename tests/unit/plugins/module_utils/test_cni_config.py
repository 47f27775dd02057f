from __future__ import annotations

import copy
import json
import os
import re

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni_config
from ansible_collections.packetlife.podnet.plugins.module_utils._cni_config import CniConfigError
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError

# The tutorial's /tmp/00-demo.conf (step 4).
DEMO = {
    'cniVersion': '0.2.0',
    'name': 'demo_br',
    'type': 'bridge',
    'bridge': 'cni_net0',
    'isGateway': True,
    'ipMasq': True,
    'ipam': {
        'type': 'host-local',
        'subnet': '10.0.10.0/24',
        'routes': [{'dst': '0.0.0.0/0'}, {'dst': '1.1.1.1/32', 'gw': '10.0.10.1'}],
    },
}

PODS = {
    'cniVersion': '1.0.0',
    'name': 'pods',
    'plugins': [
        {'type': 'bridge', 'bridge': 'cni0', 'isGateway': True, 'ipMasq': True,
         'ipam': {'type': 'host-local', 'ranges': [[{'subnet': '10.244.1.0/24', 'gateway': '10.244.1.1'}]],
                  'routes': [{'dst': '0.0.0.0/0'}]}},
        {'type': 'portmap', 'capabilities': {'portMappings': True}},
    ],
}


def changed(base, path, value):
    """A deep copy of base with the dotted path (list indexes as numbers) set, or removed for value None."""
    result = copy.deepcopy(base)
    keys = [int(key) if key.isdigit() else key for key in path.split('.')]
    target = result
    for key in keys[:-1]:
        target = target[key]
    if value is None:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return result


@pytest.mark.parametrize('network', [
    DEMO,
    PODS,
    changed(DEMO, 'cniVersion', '1.1.0'),
    changed(DEMO, 'ipam.gateway', '10.0.10.254'),
    changed(changed(DEMO, 'ipam.rangeStart', '10.0.10.100'), 'ipam.rangeEnd', '10.0.10.200'),
    changed(PODS, 'plugins.0.ipam.ranges', [[{'subnet': '10.1.0.0/24'}, {'subnet': '10.1.1.0/24'}],
                                            [{'subnet': 'fd00:10::/64', 'rangeStart': 'fd00:10::10'}]]),
    changed(PODS, 'plugins.0.ipam.routes', [{'dst': '::/0', 'gw': 'fd00:10::1'}, {'dst': '10.0.0.0/8'}]),
    changed(PODS, 'disableCheck', 'true'),
    changed(PODS, 'cniVersions', ['0.4.0', '1.0.0']),
    # host-local may get its ranges from the runtime (the ipRanges capability).
    changed(changed(DEMO, 'ipam.subnet', None), 'capabilities', {'ipRanges': True}),
    changed(PODS, 'plugins.1.ipam', {}),
    {'cniVersion': '0.3.1', 'name': 'a.b-c_1', 'type': 'macvlan', 'master': 'eth0', 'ipam': {'type': 'dhcp'}},
], ids=lambda network: json.dumps(network)[:60])
def test_validate_network_accepts(network):
    _cni_config.validate_network(network, 'config')


@pytest.mark.parametrize('network, message', [
    (changed(DEMO, 'name', 'demo br'), "config.name: 'demo br' is not a valid network name"),
    (changed(DEMO, 'name', '-demo'), "config.name: '-demo' is not a valid network name"),
    (changed(DEMO, 'name', None), 'config.name: None is not a valid network name'),
    (changed(DEMO, 'cniVersion', '9.9.9'), "config.cniVersion: '9.9.9' is not a CNI specification version"),
    (changed(DEMO, 'cniVersion', None), 'config.cniVersion: None is not a CNI specification version'),
    (changed(PODS, 'cniVersions', ['1.0.0', '2.0.0']), "config.cniVersions[1]: '2.0.0' is not a CNI spec"),
    (changed(DEMO, 'type', None), 'config.type: a plugin type must be a non-empty string'),
    (changed(DEMO, 'type', ''), 'config.type: a plugin type must be a non-empty string'),
    (changed(DEMO, 'type', '../../bin/sh'), "config.type: plugin type '../../bin/sh' must be a file name"),
    (changed(PODS, 'plugins', []), 'config.plugins: must be a non-empty list'),
    (changed(PODS, 'plugins.1', 'portmap'), 'config.plugins[1]: a plugin configuration must be a dictionary'),
    (changed(PODS, 'plugins.1.type', 'a/b'), "config.plugins[1].type: plugin type 'a/b' must be a file name"),
    (changed(PODS, 'type', 'bridge'), 'config.type: a network with plugins has no type of its own'),
    (changed(PODS, 'disableCheck', 'maybe'), "config.disableCheck: 'maybe' is neither true nor false"),
    (changed(PODS, 'plugins.0.ipam.ranges.0.0.gateway', '10.0.11.1'),
     'config.plugins[0].ipam.ranges[0][0].gateway: 10.0.11.1 is not inside subnet 10.244.1.0/24'),
    (changed(PODS, 'plugins.0.ipam', {'type': 'host-local', 'subnet': '10.0.10.0/24', 'gateway': '10.0.11.1'}),
     'config.plugins[0].ipam.gateway: 10.0.11.1 is not inside subnet 10.0.10.0/24'),
    (changed(DEMO, 'ipam.gateway', '10.0.11.1'), 'config.ipam.gateway: 10.0.11.1 is not inside subnet 10.0.10.0/24'),
    (changed(DEMO, 'ipam.gateway', 'fd00::1'), 'config.ipam.gateway: fd00::1 is not inside subnet 10.0.10.0/24'),
    (changed(DEMO, 'ipam.gateway', '10.0.10.300'), "config.ipam.gateway: '10.0.10.300' is not an IP address"),
    (changed(DEMO, 'ipam.subnet', '10.0.10.1/24'),
     'config.ipam.subnet: 10.0.10.1/24 has host bits set; did you mean 10.0.10.0/24?'),
    (changed(DEMO, 'ipam.subnet', '10.0.10.0'), "config.ipam.subnet: '10.0.10.0' is not in CIDR notation"),
    (changed(DEMO, 'ipam.subnet', '10.0.10.0/31'), 'config.ipam.subnet: 10.0.10.0/31 is too small'),
    (changed(DEMO, 'ipam.rangeStart', '10.0.9.1'), 'config.ipam.rangeStart: 10.0.9.1 is not inside subnet'),
    (changed(changed(DEMO, 'ipam.rangeStart', '10.0.10.200'), 'ipam.rangeEnd', '10.0.10.100'),
     'config.ipam.rangeEnd: 10.0.10.100 is before rangeStart 10.0.10.200'),
    (changed(DEMO, 'ipam.subnet', None), 'config.ipam: host-local needs a subnet or ranges'),
    (changed(changed(DEMO, 'ipam.subnet', None), 'ipam.gateway', '10.0.10.1'),
     'config.ipam.gateway: needs config.ipam.subnet'),
    (changed(PODS, 'plugins.0.ipam.ranges', [[{'subnet': '10.1.0.0/16'}, {'subnet': '10.1.1.0/24'}]]),
     'config.plugins[0].ipam.ranges[0][1]: overlaps config.plugins[0].ipam.ranges[0][0] in the same'),
    (changed(PODS, 'plugins.0.ipam.ranges', [[{'subnet': '10.1.0.0/16'}], [{'subnet': '10.1.1.0/24'}]]),
     'config.plugins[0].ipam.ranges[1]: overlaps range set config.plugins[0].ipam.ranges[0]'),
    (changed(PODS, 'plugins.0.ipam.ranges', [[{'subnet': '10.1.0.0/16'}, {'subnet': 'fd00::/64'}]]),
     'config.plugins[0].ipam.ranges[0]: a range set must not mix IPv4 and IPv6'),
    (changed(PODS, 'plugins.0.ipam.ranges', [[]]), 'config.plugins[0].ipam.ranges[0]: a range set must be a'),
    (changed(PODS, 'plugins.0.ipam.ranges', [[{'gateway': '10.0.0.1'}]]),
     'config.plugins[0].ipam.ranges[0][0].subnet: every range needs a subnet'),
    (changed(DEMO, 'ipam.ranges', [[{'subnet': '10.0.20.0/24'}]]),
     'config.ipam: CNI version 0.2.0 allows only one range set per IP family'),
    (changed(DEMO, 'ipam.ranges', [[{'subnet': '10.0.10.128/25'}]]),
     'config.ipam.ranges[0]: overlaps range set config.ipam'),
    (changed(DEMO, 'ipam.routes.1.dst', '1.1.1.1'), r"config.ipam.routes[1].dst: '1.1.1.1' is not in CIDR"),
    (changed(DEMO, 'ipam.routes.1.dst', '1.1.1.0/16'), 'config.ipam.routes[1].dst: 1.1.1.0/16 has host bits set'),
    (changed(DEMO, 'ipam.routes.1.gw', '10.0.10.256'), r"config.ipam.routes[1].gw: '10.0.10.256' is not an IP"),
    (changed(DEMO, 'ipam.routes.1.gw', 'fd00::1'), 'config.ipam.routes[1].gw: fd00::1 is not of the same IP'),
    (changed(DEMO, 'ipam.routes.0', '0.0.0.0/0'), 'config.ipam.routes[0]: a route must be a dictionary'),
    (changed(DEMO, 'ipam.routes.0', {'gw': '10.0.10.1'}), 'config.ipam.routes[0].dst: every route needs'),
    (changed(DEMO, 'ipam', 'host-local'), 'config.ipam: must be a dictionary, got a string'),
    (changed(DEMO, 'ipam.type', None), 'config.ipam.type: a plugin type must be a non-empty string'),
    (changed(DEMO, 'bridge', 'cni_net0_too_long'), "config.bridge: interface name 'cni_net0_too_long' is longer"),
    (changed(DEMO, 'bridge', 'cni net0'), "config.bridge: interface name 'cni net0' must not contain ' '"),
    (changed(DEMO, 'isGateway', 'yes'), "config.isGateway: must be true or false, got 'yes'"),
    ('demo', 'config: the network configuration must be a dictionary, got a string'),
], ids=lambda value: value if isinstance(value, str) else '')
def test_validate_network_refuses(network, message):
    with pytest.raises(ValidationError, match='^' + re.escape(message)):
        _cni_config.validate_network(network, 'config')


def test_validate_network_without_field_prefix():
    with pytest.raises(ValidationError, match=r'^plugins\[0\]\.ipam\.ranges\[0\]\[0\]\.gateway: '):
        _cni_config.validate_network(changed(PODS, 'plugins.0.ipam.ranges.0.0.gateway', '10.0.11.1'), '')


def test_plugin_types():
    assert _cni_config.plugin_types(DEMO, 'config') == [('config.type', 'bridge'), ('config.ipam.type', 'host-local')]
    assert _cni_config.plugin_types(changed(PODS, 'plugins.1.ipam', {}), 'config') == [
        ('config.plugins[0].type', 'bridge'),
        ('config.plugins[0].ipam.type', 'host-local'),
        ('config.plugins[1].type', 'portmap'),
    ]


def write(directory, name, content):
    path = directory / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


@pytest.mark.parametrize('name', ['00-demo.conf', '00-demo.json'])
def test_load_network_single_plugin(tmp_path, name):
    path = write(tmp_path, name, DEMO)
    assert _cni_config.load_network(path) == {'cniVersion': '0.2.0', 'name': 'demo_br', 'plugins': [DEMO]}


def test_load_network_single_plugin_without_name_or_version(tmp_path):
    path = write(tmp_path, 'x.conf', {'type': 'loopback'})
    assert _cni_config.load_network(path) == {'cniVersion': '', 'name': '', 'plugins': [{'type': 'loopback'}]}


def test_load_network_list(tmp_path):
    path = write(tmp_path, '10-pods.conflist', changed(PODS, 'disableCheck', 'True'))
    assert _cni_config.load_network(path) == changed(PODS, 'disableCheck', True)


@pytest.mark.parametrize('name, content, message', [
    ('a.conf', '{"name": "x", "type": "bridge",}', 'a.conf: cannot read the configuration'),
    ('a.conf', '', 'a.conf: cannot read the configuration'),
    ('a.conf', '[1, 2]', 'a.conf: the configuration must be a JSON object'),
    ('a.conf', {'name': 'x', 'plugins': [{'type': 'bridge'}]}, "a.conf: the plugin configuration has no 'type'"),
    ('a.json', {'name': 'x', 'type': ''}, "a.json: the plugin configuration has no 'type'"),
    ('a.conf', {'name': 7, 'type': 'bridge'}, 'a.conf: name must be a string, not a number'),
    ('a.conflist', DEMO, 'a.conflist: the configuration list needs a non-empty plugins list'),
    ('a.conflist', {'cniVersion': '1.0.0', 'plugins': [{'type': 'bridge'}]}, 'a.conflist: the configuration list has no name'),
    ('a.conflist', changed(PODS, 'plugins.1.type', None), r"a.conflist: plugins\[1\]: the plugin configuration has no 'type'"),
    ('a.conflist', changed(PODS, 'disableGC', 'no'), "a.conflist: disableGC: 'no' is neither true nor false"),
    ('a.txt', DEMO, 'a.txt: not a CNI configuration file'),
])
def test_load_network_refuses(tmp_path, name, content, message):
    path = write(tmp_path, name, content)
    with pytest.raises(CniConfigError, match='^' + str(tmp_path) + '/' + message):
        _cni_config.load_network(path)


def test_load_network_missing_file(tmp_path):
    with pytest.raises(CniConfigError, match='cannot read the configuration: .*No such file'):
        _cni_config.load_network(str(tmp_path / 'none.conf'))


def single(name, plugin_type='bridge'):
    return {'cniVersion': '1.0.0', 'name': name, 'type': plugin_type}


def listed(name):
    return {'cniVersion': '1.0.0', 'name': name, 'plugins': [{'type': 'bridge'}]}


@pytest.mark.parametrize('files, name, expected', [
    # .conf and .json files in byte order of their names.
    ({'20-a.conf': single('net'), '10-b.json': single('net'), '30-c.conf': single('other')}, 'net', '10-b.json'),
    ({'B.conf': single('net'), 'a.conf': single('net')}, 'net', 'B.conf'),
    # .conflist files come first, whatever their names.
    ({'00-a.conf': single('net'), '99-z.conflist': listed('net')}, 'net', '99-z.conflist'),
    ({'00-a.conflist': listed('other'), '50-b.conflist': listed('net'), '10-c.conf': single('net')}, 'net',
     '50-b.conflist'),
    # Other extensions are not read, broken or not; a broken file after the match is never reached.
    ({'00-a.conf.bak': 'broken', '00-a.txt': single('net'), '10-b.conf': single('net'), '20-c.conf': 'broken'},
     'net', '10-b.conf'),
    # Network names are compared exactly.
    ({'10-a.conf': single('Net'), '20-b.conf': single('net')}, 'net', '20-b.conf'),
])
def test_find_network(tmp_path, files, name, expected):
    for file_name, content in files.items():
        write(tmp_path, file_name, content)
    (tmp_path / '00-dir.conf').mkdir()
    path, network = _cni_config.find_network(str(tmp_path), name)
    assert path == str(tmp_path / expected)
    assert network == _cni_config.load_network(path)
    assert network['name'] == name


def test_find_network_stops_at_a_broken_file(tmp_path):
    write(tmp_path, '10-a.conf', '{')
    write(tmp_path, '20-b.conf', single('net'))
    with pytest.raises(CniConfigError, match='10-a.conf: cannot read the configuration'):
        _cni_config.find_network(str(tmp_path), 'net')


@pytest.mark.parametrize('directory', ['', 'missing'])
def test_find_network_none(tmp_path, directory):
    write(tmp_path, '10-a.conf', single('other'))
    conf_dir = str(tmp_path / directory) if directory else str(tmp_path)
    with pytest.raises(CniConfigError, match="^no network configuration named 'net' in " + conf_dir + '$'):
        _cni_config.find_network(conf_dir, 'net')


def test_lookup_order(tmp_path):
    for file_name in ['b.conf', 'a.json', 'c.conflist', '.conf', 'd.yaml', 'a.conflist']:
        write(tmp_path, file_name, '{}')
    assert [os.path.basename(path) for path in _cni_config.lookup_order(str(tmp_path))] == [
        'a.conflist', 'c.conflist', '.conf', 'a.json', 'b.conf']


FAKE_PLUGIN = '''#!/bin/sh
cat > "$(dirname "$0")/stdin.txt"
printf '%s %s\\n' "$CNI_COMMAND" "$CNI_PATH" > "$(dirname "$0")/env.txt"
{answer}
'''


def fake_plugin(directory, answer, name='fake', executable=True):
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(FAKE_PLUGIN.format(answer=answer))
    path.chmod(0o755 if executable else 0o644)
    return str(path)


def test_plugin_versions_asks_version(tmp_path):
    fake_plugin(tmp_path / 'bin', """echo '{"cniVersion":"1.0.0","supportedVersions":["0.3.1","1.0.0"]}'""")
    dirs = [str(tmp_path / 'none'), str(tmp_path / 'bin')]
    assert _cni_config.plugin_versions(dirs, 'fake', 5) == ['0.3.1', '1.0.0']
    assert json.loads((tmp_path / 'bin' / 'stdin.txt').read_text()) == {'cniVersion': '1.0.0'}
    assert (tmp_path / 'bin' / 'env.txt').read_text() == 'VERSION %s\n' % ':'.join(dirs)


def test_plugin_versions_first_directory_wins(tmp_path):
    fake_plugin(tmp_path / 'one', """echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'""")
    fake_plugin(tmp_path / 'two', """echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0"]}'""")
    assert _cni_config.plugin_versions([str(tmp_path / 'one'), str(tmp_path / 'two')], 'fake', 5) == ['1.0.0']


def test_plugin_versions_old_plugin_without_list(tmp_path):
    fake_plugin(tmp_path, """echo '{"cniVersion":"0.2.0"}'""")
    assert _cni_config.plugin_versions([str(tmp_path)], 'fake', 5) == ['0.1.0', '0.2.0']


@pytest.mark.parametrize('answer, message', [
    ("""echo '{"code":7,"msg":"broken plugin"}'; exit 1""", r'failed on VERSION: broken plugin \[CNI error code 7\]'),
    ("echo oops >&2; exit 2", r'failed on VERSION: exit status 2: oops'),
    ("echo 'not json'", "failed on VERSION: printed something that is not JSON: not json"),
    ("""echo '{"cniVersion":"1.0.0"}'""", 'failed on VERSION: answered without a list of supportedVersions'),
    ("exec sleep 5", 'failed on VERSION: did not answer within 0.5 seconds'),
])
def test_plugin_versions_refuses(tmp_path, answer, message):
    path = fake_plugin(tmp_path, answer)
    with pytest.raises(CniConfigError, match='^CNI plugin %s %s' % (path, message)):
        _cni_config.plugin_versions([str(tmp_path)], 'fake', 0.5)


def test_plugin_versions_not_executable(tmp_path):
    path = fake_plugin(tmp_path, 'true', executable=False)
    with pytest.raises(CniConfigError, match='^CNI plugin %s is not executable' % path):
        _cni_config.plugin_versions([str(tmp_path)], 'fake', 5)


@pytest.mark.parametrize('plugin_type, message', [
    ('nope', "CNI plugin 'nope' not found in {0}/a, {0}/b$"),
    ('../bin/sh', "type: plugin type '../bin/sh' must be a file name"),
])
def test_plugin_versions_missing(tmp_path, plugin_type, message):
    (tmp_path / 'a').mkdir()
    with pytest.raises(CniConfigError, match='^' + message.format(tmp_path)):
        _cni_config.plugin_versions([str(tmp_path / 'a'), str(tmp_path / 'b')], plugin_type, 5)


@pytest.mark.skipif(not os.path.exists('/usr/lib/cni/bridge'), reason='containernetworking-plugins not installed')
def test_plugin_versions_real_bridge():
    versions = _cni_config.plugin_versions(['/usr/lib/cni'], 'bridge', 10)
    assert {'0.2.0', '0.3.1', '0.4.0', '1.0.0'} <= set(versions)
    assert set(versions) <= set(_cni_config.SPEC_VERSIONS)


def test_render_keeps_key_order():
    text = _cni_config.render({'name': 'x', 'cniVersion': '1.0.0', 'a': {'z': 1, 'b': [True]}})
    assert text == '{\n  "name": "x",\n  "cniVersion": "1.0.0",\n  "a": {\n    "z": 1,\n    "b": [\n      true\n    ]\n  }\n}\n'


@pytest.mark.parametrize('a, b, same', [
    ({'a': 1, 'b': 2}, {'b': 2, 'a': 1}, True),
    ({'a': 1}, {'a': True}, False),
    ({'a': 1}, {'a': 1.0}, False),
    ({'a': [1, 2]}, {'a': [2, 1]}, False),
])
def test_same_json(a, b, same):
    assert _cni_config.same_json(a, b) is same


def test_extension_like_go():
    assert [_cni_config.extension(name) for name in ['/a/b.conf', '/a/.conf', '/a/b', '/a.d/b', 'x.conf.bak']] == [
        '.conf', '.conf', '', '', '.bak']
