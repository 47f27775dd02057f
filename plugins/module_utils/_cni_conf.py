# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The manager of the cni_conf module: one CNI network configuration file.

PRIVATE: this module is internal to the collection and may change without notice.

One run: validate the options and the network (optionally asking every plugin
which CNI versions it supports), read the file that is there, compare, then write
or remove. The content is compared as parsed JSON, so a file with other
whitespace or key order but the same values is left alone; mode and ownership are
compared too. A file is written to a temporary file in the same directory, with
its mode and owner already set, and renamed over the old one, so a runtime never
reads half a configuration. Check mode and the diff come from the same comparison.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni, _cni_config, _user, _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._cni_config import CniConfigError
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError

ITEM_SPEC = dict(
    name=dict(type='str'),
    config=dict(type='dict'),
    cni_version=dict(type='str', default='1.0.0'),
    dest=dict(type='path'),
    conf_dir=dict(type='path', default='/etc/cni/net.d'),
    priority=dict(type='int', default=10),
    file_name=dict(type='str'),
    mode=dict(type='raw', default='0644'),
    owner=dict(type='str', default='root'),
    group=dict(type='str', default='root'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    validate_plugins=dict(type='bool', default=False),
    cni_bin_dir=dict(type='list', elements='path', default=['/opt/cni/bin']),
    shadowed=dict(type='str', choices=['warn', 'fail', 'ignore'], default='warn'),
)
ITEM_CONSTRAINTS = dict(
    mutually_exclusive=[('dest', 'conf_dir'), ('dest', 'priority'), ('dest', 'file_name')],
    required_if=[('state', 'present', ('config',))],
    required_one_of=[('name', 'config', 'dest', 'file_name')],
)
# Keys that say which file an element is: never taken from the top level.
_IDENTITY = ('name', 'config', 'dest', 'file_name')
ARGUMENT_SPEC = dict(ITEM_SPEC, networks=dict(type='list', elements='dict'))
MODULE_ARGS = dict(
    argument_spec=ARGUMENT_SPEC,
    mutually_exclusive=ITEM_CONSTRAINTS['mutually_exclusive'] + [('networks', key) for key in _IDENTITY],
    required_one_of=[_IDENTITY + ('networks',)],
    supports_check_mode=True,
)

# Seconds a plugin may take to answer VERSION.
PLUGIN_TIMEOUT = 10
# The kernel's limit on a file name in bytes, and what is left of it for the name of a
# configuration: _cni.replace_file writes it first as .NAME.XXXXXXXX.tmp.
NAME_MAX = 255
FILE_NAME_MAX = NAME_MAX - len('..XXXXXXXX.tmp')
_OCTAL_MODE = re.compile(r'^0?[0-7]{3,4}$')


def run(module) -> None:
    """Make the file(s) match the options; ``module`` is the AnsibleModule."""
    params = module.params
    files = []
    try:
        for item, prefix in elements(params):
            files.append(_inspect(item, prefix, module.warn))
        _check_distinct(files)
        _create_directories_once(files)
    except (ValidationError, CniConfigError) as exc:
        module.fail_json(msg=str(exc))

    # Nothing is written before every file is checked.
    actions = []
    for entry in files:
        actions.extend(entry['actions'])
        if entry['actions'] and not module.check_mode:
            try:
                apply(entry['path'], entry['want'], entry['have'])
            except OSError as exc:
                module.fail_json(msg='%s: %s' % (entry['path'], exc), actions=actions)

    results = [dict(path=entry['path'], network=entry['want']['network'], shadowed_by=entry['shadowed_by'],
                    actions=entry['actions'], changed=bool(entry['actions'])) for entry in files]
    if params['networks'] is None:
        result = dict(results[0], actions=actions)
        del result['changed']
    else:
        result = dict(networks=results, actions=actions)
    result['changed'] = bool(actions)
    if module._diff:
        diffs = [_diff(entry) for entry in files]
        result['diff'] = diffs[0] if params['networks'] is None else diffs
    module.exit_json(**result)


def elements(params: dict) -> list:
    """(options, field prefix) for each file: the top level, or each of ``networks`` over the top-level defaults."""
    if params['networks'] is None:
        if params['state'] == 'present' and params['config'] is None:
            raise ValidationError('config', 'is required when state=present')
        return [(params, '')]
    # Only top-level values that differ from the default are passed down, so that an
    # element's own dest may still exclude conf_dir and priority.
    defaults = dict((key, value) for key, value in params.items()
                    if key in ITEM_SPEC and key not in _IDENTITY and value is not None
                    and value != ITEM_SPEC[key].get('default'))
    if not params['networks']:
        raise ValidationError('networks', 'must list at least one network')
    items = []
    for position, element in enumerate(params['networks']):
        field = 'networks[%d]' % position
        if not isinstance(element, dict):
            raise ValidationError(field, 'must be a dictionary, got %r' % (element,))
        # A top-level default gives way to a key of the element it cannot go with
        # (conf_dir and priority to an element's dest).
        merged = dict((key, value) for key, value in defaults.items()
                      if not any(key in pair and other in element
                                 for pair in ITEM_CONSTRAINTS['mutually_exclusive'] for other in pair if other != key))
        merged.update(element)
        items.append((_validate.validate_element(ITEM_SPEC, merged, field, **ITEM_CONSTRAINTS), field + '.'))
    return items


def _inspect(params: dict, prefix: str, warn) -> dict:
    """Check one file's options and read the file: what it is, what it should be, what to do."""
    try:
        want = parse(params)
        if want['state'] == 'present' and params['validate_plugins']:
            check_plugins(want['network'], params['cni_bin_dir'])
        path = resolve_path(want)
        have = read(path, want['path_field'])
        shadowed_by = None
        if want['state'] == 'present':
            shadowed_by, message = shadowing(path, want['network']['name'])
            if message and params['shadowed'] == 'fail':
                raise ValidationError('name', message)
            if message and params['shadowed'] == 'warn':
                warn(prefix + message)
    except ValidationError as exc:
        if not prefix:
            raise
        raise ValidationError(prefix + exc.field, str(exc)[len(exc.field) + 2:])
    except CniConfigError as exc:
        if not prefix:
            raise
        raise ValidationError(prefix.rstrip('.'), str(exc))
    return dict(path=path, want=want, have=have, shadowed_by=shadowed_by, actions=plan(path, want, have),
                field=prefix + want['path_field'])


def _check_distinct(files: list) -> None:
    """No two elements manage one file."""
    seen = {}
    for entry in files:
        other = seen.setdefault(os.path.normpath(entry['path']), entry['field'])
        if other != entry['field']:
            raise ValidationError(entry['field'], '%s is also managed by %s' % (entry['path'], other))


def _create_directories_once(files: list) -> None:
    """A directory several files need is created by the first of them (each was planned alone)."""
    planned = set()
    for entry in files:
        entry['actions'] = [action for action in entry['actions'] if action not in planned]
        planned.update(action for action in entry['actions'] if action.startswith('create directory '))


def _diff(entry: dict) -> dict:
    """The file's JSON before and after, the same text when only formatting differs."""
    want, have = entry['want'], entry['have']
    before = have['text']
    after = _cni_config.render(want['network']) if want['network'] is not None else ''
    if want['network'] is not None and have['json'] is not None and _cni_config.same_json(have['json'], want['network']):
        after = before
    return dict(before=before, after=after, before_header=entry['path'], after_header=entry['path'])


def parse(params: dict) -> dict:
    """Check every option and build what the file should be."""
    name = params['name']
    if name is not None:
        _cni_config.network_name(name, 'name')
    want = dict(state=params['state'], network=None, list_form=None, stem=name)
    config = params['config']
    if params['state'] == 'present':
        want['network'] = network(config, name, params['cni_version'])
        want['list_form'] = 'plugins' in want['network']
        want['stem'] = want['network']['name']
    elif config is not None:
        want['list_form'] = 'plugins' in config
        if name is None and isinstance(config.get('name'), str):
            want['stem'] = config['name']
    want.update(file_path(params, want['stem'], want['list_form']))
    want['mode'] = file_mode(params['mode'], 'mode')
    want['uid'] = _user_id(params['owner'], 'owner')
    want['gid'] = _user.group_id(params['group'], 'group', 'this host')
    return want


def network(config: dict, name, cni_version: str) -> dict:
    """The network as it will be written: config with cniVersion and name filled in, validated."""
    if name is not None and 'name' in config and config['name'] != name:
        raise ValidationError('config.name', '%r differs from name %r' % (config['name'], name))
    result = {}
    if 'cniVersion' not in config:
        result['cniVersion'] = _cni_config.spec_version(cni_version, 'cni_version')
    if 'name' not in config:
        if name is None:
            raise ValidationError('name', 'is required when config has no name')
        result['name'] = name
    result.update(config)
    _cni_config.validate_network(result, 'config')
    return result


def file_path(params: dict, stem, list_form) -> dict:
    """``path`` (or ``candidates`` when the extension is not known yet) and the field it came from.

    ``list_form`` is True for a network with plugins, False for a single plugin,
    None when not known (state=absent without config).
    """
    if params['dest'] is not None:
        path, field = _absolute(params['dest'], 'dest'), 'dest'
    else:
        conf_dir = _absolute(params['conf_dir'], 'conf_dir')
        if params['file_name'] is not None:
            file_name = params['file_name']
            if file_name in ('', '.', '..') or '/' in file_name or '\0' in file_name:
                raise ValidationError('file_name', '%r is not a file name' % file_name)
            path, field = os.path.join(conf_dir, file_name), 'file_name'
        else:
            if params['priority'] < 0:
                raise ValidationError('priority', 'must be 0 or more, got %d' % params['priority'])
            if stem is None:
                raise ValidationError('name', 'is required to name the file unless dest or file_name is given')
            path = os.path.join(conf_dir, '%02d-%s' % (params['priority'], stem))
            field = 'name'
            if list_form is None:
                return dict(path=None, path_field=field, candidates=[path + '.conflist', path + '.conf'])
            path += '.conflist' if list_form else '.conf'
    _check_extension(path, field, list_form)
    _check_name_length(path, field)
    return dict(path=path, path_field=field, candidates=None)


def file_mode(value, field: str) -> int:
    """A numeric file mode: an octal string such as '0644', or the number YAML made of 0644;
    never one that lets others write the file (anyone could then name the plugins the
    runtime runs as root)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o7777:
        mode = value
    elif isinstance(value, str) and _OCTAL_MODE.match(value):
        mode = int(value, 8)
    else:
        raise ValidationError(field, 'must be an octal mode such as 0644, got %r' % (value,))
    if mode & 0o002:
        raise ValidationError(field, '%04o lets every user write the file, and the runtime runs the plugins it names '
                              'as root: give a mode without write for others, such as 0644' % mode)
    return mode


def check_plugins(network: dict, bin_dirs: list) -> None:
    """Every plugin and IPAM plugin is in bin_dirs and supports the network's cniVersion."""
    # Like libcni, skip directories that do not exist, as long as one does.
    if not bin_dirs:
        raise ValidationError('cni_bin_dir', 'must name at least one directory')
    if not any(os.path.isdir(directory) for directory in bin_dirs):
        if len(bin_dirs) == 1:
            raise ValidationError('cni_bin_dir', '%s is not a directory' % bin_dirs[0])
        raise ValidationError('cni_bin_dir', 'none of %s is a directory' % ', '.join(bin_dirs))
    for field, plugin_type in _cni_config.plugin_types(network, 'config'):
        try:
            versions = _cni_config.plugin_versions(bin_dirs, plugin_type, PLUGIN_TIMEOUT)
        except CniConfigError as exc:
            raise ValidationError(field, str(exc))
        if network['cniVersion'] not in versions:
            raise ValidationError(field, 'CNI plugin %s supports CNI versions %s, not %s' % (
                _cni_config.find_plugin(bin_dirs, plugin_type), ', '.join(versions), network['cniVersion']))


def resolve_path(want: dict) -> str:
    """The one file the task manages; for state=absent by name alone, the one that exists."""
    if want['path'] is not None:
        return want['path']
    existing = [path for path in want['candidates'] if os.path.lexists(path)]
    if len(existing) > 1:
        raise ValidationError('name', 'both %s exist; give file_name or config to say which to remove'
                              % ' and '.join(existing))
    return existing[0] if existing else want['candidates'][-1]


def read(path: str, field: str) -> dict:
    """The file as it is: text for the diff (canonical when it is JSON), parsed JSON, mode and owner."""
    have = dict(exists=False, text='', json=None, mode=None, uid=None, gid=None)
    if not os.path.lexists(path):
        return have
    if os.path.isdir(path):
        raise ValidationError(field, '%s is a directory' % path)
    try:
        with open(path, 'rb') as stream:
            raw = stream.read()
        stat = os.stat(path)
    except OSError as exc:
        raise ValidationError(field, 'cannot read %s: %s' % (path, exc))
    have.update(exists=True, text=raw.decode('utf-8', 'replace'),
                mode=stat.st_mode & 0o7777, uid=stat.st_uid, gid=stat.st_gid)
    try:
        have['json'] = json.loads(have['text'])
    except ValueError:
        return have
    have['text'] = _cni_config.render(have['json'])
    return have


def shadowing(path: str, name: str):
    """(file, message) when libcni would read another file first and not use this one, else (None, None)."""
    path = os.path.normpath(path)
    conf_dir = os.path.dirname(path)
    order = _cni_config.libcni_order(set(_cni_config.lookup_order(conf_dir)) | set([path]))
    for other in order:
        if other == path:
            break
        try:
            network = _cni_config.load_network(other)
        except CniConfigError as exc:
            return other, ('libcni reads %s before %s and fails on it, so network %s cannot be loaded: %s'
                           % (other, path, name, exc))
        if network['name'] == name:
            return other, ('network %s is also defined in %s, which libcni reads first, so %s is not used'
                           % (name, other, path))
    return None, None


def plan(path: str, want: dict, have: dict) -> list:
    """What the task does, in plain words; empty when nothing changes."""
    if want['state'] == 'absent':
        return ['remove %s' % path] if have['exists'] else []
    actions = []
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        actions.append('create directory %s' % directory)
    if have['json'] is None or not _cni_config.same_json(have['json'], want['network']):
        actions.append('%s %s' % ('rewrite' if have['exists'] else 'write', path))
        return actions
    if have['mode'] != want['mode']:
        actions.append('set mode %04o on %s' % (want['mode'], path))
    if (have['uid'], have['gid']) != (want['uid'], want['gid']):
        actions.append('set owner %d:%d on %s' % (want['uid'], want['gid'], path))
    return actions


def apply(path: str, want: dict, have: dict) -> None:
    """Carry out the plan."""
    if want['state'] == 'absent':
        os.unlink(path)
        return
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
        os.chmod(directory, 0o755)
    if have['json'] is None or not _cni_config.same_json(have['json'], want['network']):
        text = _cni_config.render(want['network']).encode('utf-8')
        _cni.replace_file(os.path.realpath(path), lambda stream: stream.write(text), want['mode'], want['uid'],
                          want['gid'])
        return
    if (have['uid'], have['gid']) != (want['uid'], want['gid']):
        os.chown(path, want['uid'], want['gid'])
    # After chown, which clears set-user-ID bits.
    if have['mode'] != want['mode'] or (have['uid'], have['gid']) != (want['uid'], want['gid']):
        os.chmod(path, want['mode'])


def _check_extension(path: str, field: str, list_form) -> None:
    ext = _cni_config.extension(path)
    if list_form is True and ext not in _cni_config.LIST_EXTENSIONS:
        raise ValidationError(field, 'a configuration with plugins must go into a .conflist file, '
                              'or libcni cannot read it: %s' % os.path.basename(path))
    if list_form is False and ext not in _cni_config.SINGLE_EXTENSIONS:
        raise ValidationError(field, 'a single plugin configuration must go into a .conf or .json file, '
                              'or libcni cannot read it: %s' % os.path.basename(path))
    if ext not in _cni_config.LIST_EXTENSIONS + _cni_config.SINGLE_EXTENSIONS:
        raise ValidationError(field, 'libcni reads only .conf, .conflist and .json files, not %s'
                              % os.path.basename(path))


def _check_name_length(path: str, field: str) -> None:
    """The file name, and the temporary name it is first written under, must fit the kernel's NAME_MAX."""
    size = len(os.path.basename(path).encode('utf-8'))
    if size > FILE_NAME_MAX:
        raise ValidationError(field, 'the file name is %d bytes long; at most %d bytes fit (the kernel allows %d, and '
                              'the file is first written under a temporary name %d bytes longer)'
                              % (size, FILE_NAME_MAX, NAME_MAX, NAME_MAX - FILE_NAME_MAX))


def _absolute(path: str, field: str) -> str:
    if not os.path.isabs(path):
        raise ValidationError(field, 'must be an absolute path, got %r' % path)
    return os.path.normpath(path)


def _user_id(value: str, field: str) -> int:
    """The owner's UID, which must be root's: the owner of a configuration can rewrite it."""
    uid = _user.user_id(value, field, 'this host')
    if uid != 0:
        raise ValidationError(field, '%s is not root: the owner of a CNI configuration can rewrite it, and the '
                              'runtime runs the plugins it names as root, so it must be owned by root' % value)
    return uid
