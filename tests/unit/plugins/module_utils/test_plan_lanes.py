"""Plan lanes: steps of different lanes run side by side, each lane in its order,
steps outside lanes alone; a failure stops new steps and rolls back all done."""
from __future__ import annotations

import threading

import pytest

from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import KernelError
from ansible_collections.packetlife.podnet.plugins.module_utils._plan import Plan


def recorder():
    log, lock = [], threading.Lock()

    def step(text, wait=None, fail=False):
        def execute(kernel):
            if wait is not None:
                wait.wait(timeout=5)  # a threading.Barrier: passes only if the lanes overlap
            if fail:
                raise OSError(5, 'boom')
            with lock:
                log.append(text)
        return execute

    def undo(text):
        return lambda kernel: log.append('undo ' + text)
    return log, step, undo


def test_lanes_overlap_and_keep_their_order():
    log, step, undo = recorder()
    plan = Plan({})
    meet = threading.Barrier(2)
    plan.call('first, alone', step('first'))
    for pod in ('a', 'b'):
        with plan.lane(pod):
            plan.call('make ' + pod, step('make ' + pod, wait=meet), undo(pod))
            plan.call('add ' + pod, step('add ' + pod))
    plan.call('last, alone', step('last'))
    plan.execute(None)
    assert plan.actions == ['first, alone', 'make a', 'add a', 'make b', 'add b', 'last, alone']
    assert log[0] == 'first' and log[-1] == 'last' and sorted(log[1:5]) == ['add a', 'add b', 'make a', 'make b']
    assert log.index('make a') < log.index('add a') and log.index('make b') < log.index('add b')


def test_nested_lane_restores_the_outer_one():
    plan = Plan({})
    with plan.lane('a'):
        with plan.lane(None):
            plan.call('alone', lambda kernel: None)
        plan.call('in a', lambda kernel: None)
    plan.call('after', lambda kernel: None)
    assert [step[3] for step in plan.steps] == [None, 'a', None]


def test_failure_stops_the_section_and_rolls_back_everything_done():
    log, step, undo = recorder()
    plan = Plan({})
    plan.call('prepare', step('prepare'), undo('prepare'))
    with plan.lane('a'):
        plan.call('make a', step('make a'), undo('make a'))
        plan.call('add a', step('add a', fail=True))
        plan.call('start a', step('start a'), undo('start a'))
    for pod in 'bcdefgh':
        with plan.lane(pod):
            plan.call('make ' + pod, step('make ' + pod), undo('make ' + pod))
    plan.call('never', step('never'))
    with pytest.raises(KernelError, match=r'^add a: \[Errno 5\] boom; rolled back: .*make a.*prepare$'):
        plan.execute(None)
    assert 'start a' not in log and 'never' not in log
    made = [text for text in log if text.startswith('make ')]
    # Everything made was undone, in the reverse order of making, 'prepare' last.
    assert [text for text in log if text.startswith('undo ')] == ['undo ' + text for text in reversed(made)] + [
        'undo prepare']
