"""The CNI runtime against scripted plugins: what each command receives, and
the spec 1.1 verbs (STATUS, GC) that Debian's 1.1.1 plugins do not speak."""
from __future__ import annotations

import json

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni

# A plugin that logs its command, environment and stdin, and answers as a
# CNI 1.1.0 plugin: a result for ADD, supportedVersions for VERSION.
RECORDER = """#!/bin/sh
input=$(cat)
printf '%s\\t%s\\t%s\\t%s\\t%s\\n' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_IFNAME" "$CNI_ARGS" "$input" >> "$LOG"
case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion": "1.1.0", "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]}' ;;
ADD) echo '{"cniVersion": "1.1.0", "ips": [{"address": "10.9.0.2/24"}]}' ;;
esac
"""


@pytest.fixture
def recorder(tmp_path, monkeypatch):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name in ('first', 'second'):
        plugin = bin_dir / name
        plugin.write_text(RECORDER)
        plugin.chmod(0o755)
    log = tmp_path / 'log'
    monkeypatch.setenv('LOG', str(log))

    def calls():
        lines = log.read_text().splitlines() if log.exists() else []
        return [dict(zip(('command', 'cid', 'ifname', 'args', 'stdin'), line.split('\t'))) for line in lines]
    return _cni.Runtime([str(bin_dir)], cache_dir=str(tmp_path / 'cache')), calls


NETWORK = {'cniVersion': '1.1.0', 'name': 'net', 'plugins': [
    {'type': 'first'}, {'type': 'second', 'capabilities': {'portMappings': True}}]}


def test_add_chains_and_del_reverses_with_cached_result(recorder):
    runtime, calls = recorder
    result = runtime.add(NETWORK, b'{}', 'c1', '/run/netns/p', 'eth0', [('K', 'V')], {'portMappings': [1]})
    assert result['ips'][0]['address'] == '10.9.0.2/24'
    runtime.delete(NETWORK, 'c1', '/run/netns/p', 'eth0', [('K', 'V')], {'portMappings': [1]})
    seen = [(c['command'], json.loads(c['stdin']).get('type')) for c in calls()]
    assert seen == [('ADD', 'first'), ('ADD', 'second'), ('DEL', 'second'), ('DEL', 'first')]
    first_add, second_add, second_del = (json.loads(c['stdin']) for c in calls()[:3])
    assert 'prevResult' not in first_add and second_add['prevResult'] == result
    assert second_add['runtimeConfig'] == {'portMappings': [1]} and 'runtimeConfig' not in first_add
    assert second_del['prevResult'] == result  # DEL gets the cached result from 0.4.0 on
    assert {c['cid'] for c in calls()} == {'c1'} and {c['args'] for c in calls()} == {'K=V'}


def test_status_and_gc_for_spec_1_1(recorder):
    runtime, calls = recorder
    assert runtime.status(NETWORK) == ['first', 'second']
    assert runtime.gc(NETWORK, [('c1', 'eth0')]) == ['first', 'second']
    asked = [(c['command'], json.loads(c['stdin'])) for c in calls() if c['command'] in ('STATUS', 'GC')]
    assert [pair[0] for pair in asked] == ['STATUS', 'STATUS', 'GC', 'GC']
    assert asked[2][1]['cni.dev/valid-attachments'] == [{'containerID': 'c1', 'ifname': 'eth0'}]
    # Configurations before 1.1.0 know neither verb, and disableGC turns GC off.
    assert runtime.status(dict(NETWORK, cniVersion='1.0.0')) == []
    assert runtime.gc(dict(NETWORK, disableGC=True), []) == []


def test_check_before_0_4_0_is_left_to_the_caller(recorder):
    runtime, calls = recorder
    assert runtime.check(dict(NETWORK, cniVersion='0.3.1'), 'c1', '/run/netns/p', 'eth0') is False
    assert calls() == []
