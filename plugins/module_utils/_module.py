# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The shape every packetlife.podnet module shares.

PRIVATE: this module is internal to the collection and may change without notice.

A module manages one object (top-level options) or many (a list option whose
elements take the same keys; top-level values other than ``name`` serve as
defaults for every element). One run: validate all input, read the kernel once
per namespace, plan, then change (unless in check mode). ``changed``, the diff and
the returned objects all come from describing the model before and after the plan.
"""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.packetlife.podnet.plugins.module_utils import _netlink, _validate
from ansible_collections.packetlife.podnet.plugins.module_utils._plan import Plan
from ansible_collections.packetlife.podnet.plugins.module_utils._validate import validate_element

try:
    import netaddr  # noqa: F401 pylint: disable=unused-import
    HAS_NETADDR = True
    NETADDR_ERROR = None
except ImportError:
    HAS_NETADDR = False
    NETADDR_ERROR = traceback.format_exc()


class Context:
    """What a manager sees while planning: check mode, and a place for warnings."""

    def __init__(self, check_mode: bool) -> None:
        self.check_mode = check_mode
        self.warnings = []

    def missing(self, field: str, message: str) -> None:
        """Something another task may still create. In check mode that task has
        not run, so this is only a warning; in a real run it stops the module."""
        if self.check_mode:
            self.warnings.append('%s: %s (assumed to be created by an earlier task)' % (field, message))
        else:
            raise _validate.ValidationError(field, message)


def run(item_spec: dict, list_option: str, result_key: str, manager) -> None:
    """Run a module: ``manager`` provides parse, namespaces, read, plan and describe."""
    argument_spec = dict(item_spec)
    argument_spec[list_option] = dict(type='list', elements='dict')
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[('name', list_option)],
        required_one_of=[('name', list_option)],
        supports_check_mode=True,
    )
    if not HAS_NETADDR:
        module.fail_json(msg=missing_required_lib('netaddr'), exception=NETADDR_ERROR)
    if not _netlink.HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib('pyroute2'))

    context = Context(module.check_mode)
    try:
        wants = _parse_all(module.params, item_spec, list_option, manager)
    except _validate.ValidationError as exc:
        module.fail_json(msg=str(exc))

    kernel = _netlink.Kernel()
    try:
        try:
            manager.prepare(kernel, wants)
            before = manager.read(kernel, wants)
            plan = Plan(before)
            manager.plan(plan, wants, context)
        except _validate.ValidationError as exc:
            module.fail_json(msg=str(exc))
        after = plan.state
        if plan.changed and not module.check_mode:
            try:
                plan.execute(kernel)
            except _netlink.KernelError as exc:
                module.fail_json(msg=str(exc), actions=plan.actions)
            kernel.close()
            kernel = _netlink.Kernel()
            try:
                after = manager.read(kernel, wants)
            except _validate.ValidationError as exc:  # such as an engine that went away meanwhile
                module.fail_json(msg='after the changes: %s' % exc, actions=plan.actions)
    finally:
        kernel.close()

    result = dict(changed=plan.changed, actions=plan.actions)
    result[result_key] = dict((manager.key(want), manager.describe(after, want, full=True)) for want in wants)
    if module._diff:
        result['diff'] = dict(
            before=dict((manager.key(want), manager.describe(before, want)) for want in wants),
            after=dict((manager.key(want), manager.describe(after, want)) for want in wants),
        )
    for warning in context.warnings:
        module.warn(warning)
    module.exit_json(**result)


def _parse_all(params: dict, item_spec: dict, list_option: str, manager):
    if params[list_option] is None:
        items = [(dict((key, params[key]) for key in item_spec), '')]
    else:
        defaults = dict((key, params[key]) for key in item_spec if key != 'name' and params[key] is not None)
        items = []
        for position, element in enumerate(params[list_option]):
            field = '%s[%d]' % (list_option, position)
            if not isinstance(element, dict):
                raise _validate.ValidationError(field, 'must be a dictionary')
            merged = dict(defaults)
            merged.update(element)
            items.append((validate_element(item_spec, merged, field), field + '.'))
    wants = [manager.parse(item, prefix) for item, prefix in items]
    seen = {}
    for (item, prefix), want in zip(items, wants):
        key = manager.key(want)
        if key in seen:
            raise _validate.ValidationError(prefix + 'name', '%s is also managed by %sname' % (key, seen[key]))
        seen[key] = prefix
    return wants
