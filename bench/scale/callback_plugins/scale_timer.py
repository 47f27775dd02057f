# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# bench/scale.sh times whole ansible-playbook runs; this tells how much of such a
# run was the task itself (module transfer, its run on the node, its result), the
# rest being ansible-playbook's start-up, inventory and templating.

from __future__ import annotations

DOCUMENTATION = r'''
name: scale_timer
type: aggregate
short_description: Wall time of each task, for bench/scale.sh
description:
  - Appends one line C(TASK_NAME<TAB>SECONDS) per finished task to the file named by the environment
    variable C(SCALE_TIMER_FILE); does nothing without it.
requirements:
  - enabled by bench/scale.sh (ANSIBLE_CALLBACKS_ENABLED)
'''

import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'scale_timer'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get('SCALE_TIMER_FILE')
        self._task = None
        self._start = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task = task.get_name()
        self._start = time.time()

    def _done(self, result):
        if self._path and self._start is not None:
            with open(self._path, 'a') as stream:
                stream.write('%s\t%.3f\n' % (self._task, time.time() - self._start))

    def v2_runner_on_ok(self, result):
        self._done(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result)
