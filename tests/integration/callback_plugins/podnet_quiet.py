# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The integration tests run every module task with diff: true and most of them
# change something, so the default callback would print hundreds of banners and
# diffs. This one prints which target runs, every failure in full, and the recap.

from __future__ import annotations

DOCUMENTATION = r'''
name: podnet_quiet
type: stdout
short_description: Quiet screen output for the packetlife.podnet integration tests
description:
  - The default callback, but successful and skipped results and diffs are shown only with C(-v).
  - Failures, unreachable hosts, the start of each test target and the recap are always shown.
extends_documentation_fragment:
  - default_callback
  - result_format_callback
requirements:
  - set as the stdout callback (tests/integration/run.sh does)
'''

import os
import re

from ansible.plugins.callback.default import CallbackModule as DefaultCallbackModule


class CallbackModule(DefaultCallbackModule):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'podnet_quiet'

    def __init__(self):
        super().__init__()
        self._target = None
        self._targets_dir = None

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        # With both off, the default callback prints a task's banner only with a result it shows.
        self.set_option('display_ok_hosts', self._display.verbosity > 0)
        self.set_option('display_skipped_hosts', self._display.verbosity > 0)

    def _quiet(self) -> bool:
        return self._display.verbosity == 0

    def v2_runner_on_ok(self, result) -> None:
        if not self._quiet():
            super().v2_runner_on_ok(result)

    def v2_runner_item_on_ok(self, result) -> None:
        if not self._quiet():
            super().v2_runner_item_on_ok(result)

    def v2_on_file_diff(self, result) -> None:
        if not self._quiet():
            super().v2_on_file_diff(result)

    def v2_playbook_on_include(self, included_file) -> None:
        if not self._quiet():
            super().v2_playbook_on_include(included_file)

    def v2_playbook_on_start(self, playbook) -> None:
        super().v2_playbook_on_start(playbook)
        # The targets are those beside the playbook; helpers it borrows from elsewhere are not announced.
        self._targets_dir = os.path.join(os.path.dirname(os.path.abspath(playbook._file_name)), 'targets')

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        super().v2_playbook_on_task_start(task, is_conditional)
        # Included files are announced before they run, so announce a target
        # with its first task instead; setup_* targets only serve the others.
        path = task.get_path()
        match = re.match(r'([^/]+)/tasks/', os.path.relpath(path, self._targets_dir)) if path and self._targets_dir else None
        if self._quiet() and match and not match.group(1).startswith('setup_') and match.group(1) != self._target:
            self._target = match.group(1)
            self._display.display('target %s' % self._target)
