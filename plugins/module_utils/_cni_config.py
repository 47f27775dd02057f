# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""CNI network configuration files: read, find, validate, and ask plugins their versions.

PRIVATE: this module is internal to the collection and may change without notice.

Reading and finding follow libcni (containernetworking/cni ``libcni/conf.go``), so
that what this collection reads is what a container runtime would read:

- A ``.conflist`` file holds a network in list form: ``name``, ``cniVersion`` and a
  non-empty ``plugins`` list. A ``.conf`` or ``.json`` file holds one plugin
  configuration, which ``load_network`` lifts into list form the way libcni's
  ``ConfListFromConf`` does: the whole file becomes the only plugin.
- ``find_network`` looks for a network by name the way ``LoadConfList`` does:
  ``.conflist`` files first, in byte order of their paths, then ``.conf`` and
  ``.json`` files, likewise sorted. The first file with that network name wins, and
  a file that cannot be read on the way is an error, as it is for libcni.

Validation raises ``_validate.ValidationError`` naming the field, such as
``config.plugins[0].ipam.gateway``; everything else raises ``CniConfigError``.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.packetlife.podnet.plugins.module_utils import _cni, _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import ValidationError

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module through missing_required_lib
    netaddr = None

# Every version of the CNI specification so far (SPEC.md, "Released versions").
SPEC_VERSIONS = ('0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0')
# The network name rule of the specification.
NETWORK_NAME = re.compile(r'^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$')
LIST_EXTENSIONS = ('.conflist',)
SINGLE_EXTENSIONS = ('.conf', '.json')
# The version a VERSION request is sent with, as libcni 1.x sends its own.
VERSION_REQUEST = '1.0.0'

# Bridge plugin options whose values Go decodes as booleans.
_BRIDGE_BOOLS = ('isGateway', 'isDefaultGateway', 'forceAddress', 'ipMasq', 'hairpinMode', 'promiscMode')


class CniConfigError(Exception):
    """A configuration file or plugin that cannot be used; the message says which and why."""


def extension(path: str) -> str:
    """The extension as Go's filepath.Ext sees it: from the last dot of the base name."""
    base = os.path.basename(path)
    dot = base.rfind('.')
    return base[dot:] if dot >= 0 else ''


def load_network(path: str) -> dict:
    """Read a .conflist, .conf or .json file and return the network in list form."""
    ext = extension(path)
    if ext not in LIST_EXTENSIONS + SINGLE_EXTENSIONS:
        raise CniConfigError('%s: not a CNI configuration file (the extension must be .conf, .conflist or .json)' % path)
    try:
        with open(path, 'rb') as stream:
            raw = stream.read()
    except OSError as exc:
        raise CniConfigError('%s: cannot read the configuration: %s' % (path, exc))
    return network_from_bytes(raw, path, single=ext in SINGLE_EXTENSIONS)


def network_from_bytes(raw: bytes, path: str, single=None) -> dict:
    """A network in list form from a file's bytes. SINGLE says whether it holds one
    plugin (.conf, .json) or a list; None decides by the presence of ``plugins``
    (for bytes without a file name, such as libcni's result cache)."""
    try:
        data = json.loads(raw.decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CniConfigError('%s: cannot read the configuration: %s' % (path, exc))
    if not isinstance(data, dict):
        raise CniConfigError('%s: the configuration must be a JSON object' % path)
    for key in ('name', 'cniVersion'):
        if key in data and not isinstance(data[key], str):
            raise CniConfigError('%s: %s must be a string, not %s' % (path, key, _json_type(data[key])))
    if single is None:
        single = 'plugins' not in data
    if single:
        _check_type_present(data, path)
        return {'cniVersion': data.get('cniVersion', ''), 'name': data.get('name', ''), 'plugins': [data]}
    if 'name' not in data:
        raise CniConfigError('%s: the configuration list has no name' % path)
    plugins = data.get('plugins')
    if not isinstance(plugins, list) or not plugins:
        raise CniConfigError('%s: the configuration list needs a non-empty plugins list' % path)
    for position, plugin in enumerate(plugins):
        if not isinstance(plugin, dict):
            raise CniConfigError('%s: plugins[%d] must be a JSON object' % (path, position))
        _check_type_present(plugin, '%s: plugins[%d]' % (path, position))
    network = dict(data)
    for key in ('disableCheck', 'disableGC'):
        if key in network:
            try:
                network[key] = _libcni_bool(network[key])
            except ValueError as exc:
                raise CniConfigError('%s: %s: %s' % (path, key, exc))
    return network


def lookup_order(conf_dir: str) -> list:
    """The files libcni's LoadConfList reads for a network, in the order it reads them."""
    try:
        with os.scandir(conf_dir) as entries:
            paths = [os.path.join(conf_dir, entry.name) for entry in entries if not entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CniConfigError('%s: cannot list the directory: %s' % (conf_dir, exc))
    return libcni_order(paths)


def libcni_order(paths) -> list:
    """Paths of one directory in libcni's reading order: .conflist files, then .conf and .json
    files, each group sorted; other files are left out."""
    paths = sorted(paths)
    return ([path for path in paths if extension(path) in LIST_EXTENSIONS]
            + [path for path in paths if extension(path) in SINGLE_EXTENSIONS])


def find_network(conf_dir: str, name: str):
    """The (path, network) libcni would pick for the network NAME in conf_dir."""
    for path in lookup_order(conf_dir):
        network = load_network(path)
        if network['name'] == name:
            return path, network
    raise CniConfigError('no network configuration named %r in %s' % (name, conf_dir))


def validate_network(network: dict, field: str) -> None:
    """Check a network in list form (with plugins) or a single plugin configuration (with type).

    Field names follow the form given: ``config.plugins[0].ipam.subnet`` for a
    list, ``config.ipam.subnet`` for a single plugin.
    """
    if not isinstance(network, dict):
        raise ValidationError(field, 'the network configuration must be a dictionary, got %s' % _json_type(network))
    network_name(network.get('name'), _join(field, 'name'))
    version = network.get('cniVersion')
    spec_version(version, _join(field, 'cniVersion'))
    if 'cniVersions' in network:
        versions = network['cniVersions']
        if not isinstance(versions, list):
            raise ValidationError(_join(field, 'cniVersions'), 'must be a list of CNI versions')
        for position, value in enumerate(versions):
            spec_version(value, '%s[%d]' % (_join(field, 'cniVersions'), position))
    if 'plugins' not in network:
        _validate_plugin(network, field, version)
        return
    if 'type' in network:
        raise ValidationError(_join(field, 'type'), 'a network with plugins has no type of its own; '
                              'give either one plugin (type) or a list (plugins)')
    for key in ('disableCheck', 'disableGC'):
        if key in network:
            try:
                _libcni_bool(network[key])
            except ValueError as exc:
                raise ValidationError(_join(field, key), str(exc))
    plugins = network['plugins']
    if not isinstance(plugins, list) or not plugins:
        raise ValidationError(_join(field, 'plugins'), 'must be a non-empty list of plugin configurations')
    for position, plugin in enumerate(plugins):
        _validate_plugin(plugin, '%s[%d]' % (_join(field, 'plugins'), position), version)


def network_name(value, field: str) -> str:
    """A network name as the specification allows it."""
    if not isinstance(value, str) or not NETWORK_NAME.match(value):
        raise ValidationError(field, '%r is not a valid network name: it must start with a letter or digit, '
                              'followed by letters, digits, _ . or -' % (value,))
    return value


def spec_version(value, field: str) -> str:
    """A version of the CNI specification."""
    if value not in SPEC_VERSIONS:
        raise ValidationError(field, '%r is not a CNI specification version; known versions are %s'
                              % (value, ', '.join(SPEC_VERSIONS)))
    return value


def plugin_types(network: dict, field: str) -> list:
    """(field, type) of every executable a network runs: each plugin and its IPAM plugin."""
    if 'plugins' in network:
        plugins = [('%s[%d]' % (_join(field, 'plugins'), position), plugin)
                   for position, plugin in enumerate(network['plugins'])]
    else:
        plugins = [(field, network)]
    result = []
    for plugin_field, plugin in plugins:
        result.append((_join(plugin_field, 'type'), plugin['type']))
        ipam = plugin.get('ipam')
        if isinstance(ipam, dict) and ipam.get('type'):
            result.append((_join(plugin_field, 'ipam.type'), ipam['type']))
    return result


def find_plugin(bin_dirs: list, plugin_type: str) -> str:
    """The executable for a plugin type: the first file of that name in bin_dirs."""
    try:
        _plugin_type(plugin_type, 'type')
        return _cni.Runtime(bin_dirs).find(plugin_type)
    except (ValidationError, _cni.CniError) as exc:
        raise CniConfigError(str(exc))


def plugin_versions(bin_dirs: list, plugin_type: str, timeout: float) -> list:
    """The CNI spec versions a plugin supports, from its answer to CNI_COMMAND=VERSION."""
    find_plugin(bin_dirs, plugin_type)
    try:
        return _cni.Runtime(bin_dirs, timeout=timeout).version(plugin_type, VERSION_REQUEST)
    except _cni.CniError as exc:
        raise CniConfigError(str(exc))


def render(network: dict) -> str:
    """The file text for a network: 2-space indented JSON in the given key order, newline at the end."""
    return json.dumps(network, indent=2, ensure_ascii=False) + '\n'


def same_json(a, b) -> bool:
    """JSON equality that tells true from 1 and 1 from 1.0, ignoring key order."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _join(field: str, key: str) -> str:
    return '%s.%s' % (field, key) if field else key


def _json_type(value) -> str:
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, list):
        return 'a list'
    return 'an object'


def _check_type_present(plugin: dict, where: str) -> None:
    if not isinstance(plugin.get('type'), str) or plugin['type'] == '':
        raise CniConfigError("%s: the plugin configuration has no 'type'" % where)


def _libcni_bool(value) -> bool:
    """libcni reads disableCheck and disableGC as booleans or the strings true/false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ('true', 'false'):
        return value.lower() == 'true'
    raise ValueError('%r is neither true nor false' % (value,))


def _plugin_type(value, field: str) -> str:
    """A plugin type names an executable in the plugin directories."""
    if not isinstance(value, str) or value == '':
        raise ValidationError(field, 'a plugin type must be a non-empty string, got %r' % (value,))
    if '/' in value or '\0' in value or value in ('.', '..'):
        raise ValidationError(field, "plugin type %r must be a file name, without '/'" % value)
    return value


def _validate_plugin(plugin, field: str, version) -> None:
    if not isinstance(plugin, dict):
        raise ValidationError(field, 'a plugin configuration must be a dictionary, got %s' % _json_type(plugin))
    plugin_type = _plugin_type(plugin.get('type'), _join(field, 'type'))
    if plugin_type == 'bridge':
        if 'bridge' in plugin:
            _validate.ifname(plugin['bridge'], _join(field, 'bridge'))
        for key in _BRIDGE_BOOLS:
            if key in plugin and not isinstance(plugin[key], bool):
                raise ValidationError(_join(field, key), 'must be true or false, got %r' % (plugin[key],))
    if 'ipam' not in plugin:
        return
    ipam = plugin['ipam']
    ipam_field = _join(field, 'ipam')
    if not isinstance(ipam, dict):
        raise ValidationError(ipam_field, 'must be a dictionary, got %s' % _json_type(ipam))
    if not ipam:
        return  # an empty ipam is how plugins such as portmap are often written
    ipam_type = _plugin_type(ipam.get('type'), _join(ipam_field, 'type'))
    if 'routes' in ipam:
        _validate_routes(ipam['routes'], _join(ipam_field, 'routes'))
    if ipam_type == 'host-local':
        capabilities = plugin.get('capabilities')
        runtime_ranges = isinstance(capabilities, dict) and capabilities.get('ipRanges') is True
        _validate_host_local(ipam, ipam_field, version, runtime_ranges)


def _validate_routes(routes, field: str) -> None:
    if not isinstance(routes, list):
        raise ValidationError(field, 'must be a list of routes')
    for position, route in enumerate(routes):
        route_field = '%s[%d]' % (field, position)
        if not isinstance(route, dict):
            raise ValidationError(route_field, 'a route must be a dictionary with dst and optionally gw')
        if 'dst' not in route:
            raise ValidationError(_join(route_field, 'dst'), 'every route needs a destination network')
        dst = _validate.network(route['dst'], _join(route_field, 'dst'))
        if route.get('gw') is not None:
            gw = _validate.ip_address(route['gw'], _join(route_field, 'gw'))
            if _validate.ip_version(gw) != _validate.ip_version(dst):
                raise ValidationError(_join(route_field, 'gw'), '%s is not of the same IP version as dst %s' % (gw, dst))


def _validate_host_local(ipam: dict, field: str, version, runtime_ranges: bool) -> None:
    """What host-local's LoadIPAMConfig and Range.Canonicalize refuse, checked ahead of time."""
    range_sets = []
    if 'subnet' in ipam:
        # The old single-range form becomes the first range set, as host-local does.
        range_sets.append((field, [(field, ipam)]))
    else:
        for key in ('rangeStart', 'rangeEnd', 'gateway'):
            if key in ipam:
                raise ValidationError(_join(field, key), 'needs %s' % _join(field, 'subnet'))
    if 'ranges' in ipam:
        ranges_field = _join(field, 'ranges')
        if not isinstance(ipam['ranges'], list):
            raise ValidationError(ranges_field, 'must be a list of range sets, each a list of ranges')
        for set_position, range_set in enumerate(ipam['ranges']):
            set_field = '%s[%d]' % (ranges_field, set_position)
            if not isinstance(range_set, list) or not range_set:
                raise ValidationError(set_field, 'a range set must be a non-empty list of ranges')
            range_sets.append((set_field, [('%s[%d]' % (set_field, position), value)
                                           for position, value in enumerate(range_set)]))
    if not range_sets:
        if runtime_ranges:
            return
        raise ValidationError(field, 'host-local needs a subnet or ranges')

    checked = []  # (set field, first, last, range field) of every range so far
    families = []
    for set_field, ranges in range_sets:
        set_families = set()
        for range_field, value in ranges:
            first, last = _validate_range(value, range_field)
            set_families.add(first.version)
            if len(set_families) > 1:
                raise ValidationError(set_field, 'a range set must not mix IPv4 and IPv6 ranges')
            for other_set, other_first, other_last, other_field in checked:
                if first.version == other_first.version and first <= other_last and other_first <= last:
                    if other_set == set_field:
                        raise ValidationError(range_field, 'overlaps %s in the same range set' % other_field)
                    raise ValidationError(set_field, 'overlaps range set %s' % other_set)
            checked.append((set_field, first, last, range_field))
        families.extend(set_families)
    if version in ('0.1.0', '0.2.0') and (families.count(4) > 1 or families.count(6) > 1):
        raise ValidationError(field, 'CNI version %s allows only one range set per IP family' % version)


def _validate_range(value, field: str):
    """The first and last address a host-local range hands out."""
    if not isinstance(value, dict):
        raise ValidationError(field, 'a range must be a dictionary with a subnet')
    if 'subnet' not in value:
        raise ValidationError(_join(field, 'subnet'), 'every range needs a subnet')
    subnet_field = _join(field, 'subnet')
    subnet = netaddr.IPNetwork(_validate.network(value['subnet'], subnet_field))
    if subnet.prefixlen > (30 if subnet.version == 4 else 126):
        raise ValidationError(subnet_field, '%s is too small to allocate addresses from' % subnet)
    addresses = {}
    for key in ('gateway', 'rangeStart', 'rangeEnd'):
        if value.get(key) is None:
            continue
        key_field = _join(field, key)
        address = netaddr.IPAddress(_validate.ip_address(value[key], key_field))
        if address.version != subnet.version or address not in subnet:
            raise ValidationError(key_field, '%s is not inside subnet %s' % (address, subnet))
        addresses[key] = address
    # host-local's defaults: from the address after the network address to the last
    # one before the broadcast address (IPv4) or the last address (IPv6).
    first = addresses.get('rangeStart', netaddr.IPAddress(subnet.first + 1, subnet.version))
    last = addresses.get('rangeEnd', netaddr.IPAddress(subnet.last - (1 if subnet.version == 4 else 0),
                                                       subnet.version))
    if first > last:
        raise ValidationError(_join(field, 'rangeEnd'), '%s is before rangeStart %s' % (last, first))
    return first, last
