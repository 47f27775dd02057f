# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark aid: the wall-clock seconds of every task of a run, written as JSON.

Enabled by bench/*.sh with ANSIBLE_CALLBACK_PLUGINS=bench/lib/callback_plugins,
ANSIBLE_CALLBACKS_ENABLED=task_times and PODNET_TASK_TIMES=FILE.
"""

from __future__ import annotations

DOCUMENTATION = r'''
name: task_times
type: aggregate
short_description: Write each task's wall-clock seconds to the file PODNET_TASK_TIMES names
description:
  - A benchmark aid of packetlife.podnet, not part of the collection.
requirements:
  - enabled in callbacks_enabled
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'task_times'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tasks = []
        self._start = time.time()

    def _close(self):
        if self._tasks and self._tasks[-1]['seconds'] is None:
            self._tasks[-1]['seconds'] = round(time.time() - self._tasks[-1]['start'], 4)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self._tasks.append(dict(name=task.get_name(), action=task.action, start=time.time(), seconds=None,
                                status={}))

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def _count(self, status):
        if self._tasks:
            counts = self._tasks[-1]['status']
            counts[status] = counts.get(status, 0) + 1

    def v2_runner_on_ok(self, result):
        self._count('ok')

    def v2_runner_on_skipped(self, result):
        self._count('skipped')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count('failed')

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get('PODNET_TASK_TIMES')
        if not path:
            return
        for task in self._tasks:
            del task['start']
        with open(path, 'w') as stream:
            json.dump(dict(total=round(time.time() - self._start, 3), tasks=self._tasks), stream, indent=1)
