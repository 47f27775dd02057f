"""Print the table of bench/tutorial.sh and write its JSON.

    python3 bench/lib/table.py tutorial TIMES_FILE JSON_FILE LOG_DIR

TIMES_FILE has one "NAME SECONDS" line per timed run; a NAME that ran in several
rounds counts with its median. Targets are the ratios of issue 6. LOG_DIR holds
NAME.tasks.json per run (bench/lib/callback_plugins/task_times.py), from which
the collection's runs are split into tasks on the nodes and on the controller.
"""
import json
import os
import statistics
import sys

# Tasks that run on the controller alone (no module on a node).
CONTROLLER_ACTIONS = ('set_fact', 'assert', 'debug', 'include_role', 'include_tasks', 'import_tasks',
                      'validate_argument_spec', 'meta')

TARGETS = [
    # (what, numerator, denominator, at most)
    ('converge <= 0.3x naive', 'collection_converge', 'naive_converge', 0.3),
    ('rerun <= 0.2x naive converge', 'collection_rerun', 'naive_converge', 0.2),
    ('check-mode rerun <= 0.2x naive converge', 'collection_check', 'naive_converge', 0.2),
    ('teardown <= converge', 'collection_teardown', 'collection_converge', 1.0),
]


def medians(path):
    runs = {}
    with open(path) as stream:
        for line in stream:
            name, seconds = line.split()
            runs.setdefault(name, []).append(float(seconds))
    return dict((name, statistics.median(values)) for name, values in runs.items()), runs


def profile(path):
    """(tasks run on the nodes, their seconds, controller-side and skipped tasks, their seconds)."""
    with open(path) as stream:
        tasks = json.load(stream)['tasks']
    remote = [task for task in tasks if task['action'].rsplit('.', 1)[-1] not in CONTROLLER_ACTIONS
              and task['status'].get('ok', 0) + task['status'].get('failed', 0) > 0]
    rest = [task for task in tasks if task not in remote]
    return dict(node_tasks=len(remote), node_seconds=round(sum(task['seconds'] for task in remote), 2),
                other_tasks=len(rest), other_seconds=round(sum(task['seconds'] for task in rest), 2),
                slowest=[(task['name'], task['seconds']) for task in sorted(remote, key=lambda t: -t['seconds'])[:3]])


def tutorial(times_path, json_path, log_dir):
    s, runs = medians(times_path)

    def cell(key):
        return '%.2f s' % s[key] if key in s else '-'

    print('Tutorial steps 1-5 on two nodes (median of %d)' % len(runs['collection_converge']))
    print('%-22s %12s %10s %10s %14s %14s' % ('', 'collection', 'raw', 'naive', 'coll / naive', 'coll / raw'))
    rows = [('converge', 'converge'), ('rerun (changed=0)', 'rerun'), ('rerun, check mode', 'check'),
            ('teardown', 'teardown')]
    for label, key in rows:
        coll = s['collection_' + key]
        base = 'converge' if key in ('rerun', 'check') else key
        print('%-22s %12s %10s %10s %14s %14s' % (
            label, cell('collection_' + key), cell('raw_' + key), cell('naive_' + key),
            '%.2f' % (coll / s['naive_' + base]) + ('' if base == key else '*'),
            '%.1f' % (coll / s['raw_' + base]) + ('' if base == key else '*')))
    print('* against the converge of that way: raw and naive cannot rerun (the first `ip netns add` fails)')
    profiles = {}
    for key in ('converge', 'rerun', 'check', 'teardown'):
        path = os.path.join(log_dir, 'collection_%s.tasks.json' % key)
        if os.path.exists(path):
            profiles[key] = found = profile(path)
            print('collection %-9s %2d tasks on the nodes %5.2f s, %2d on the controller or skipped %5.2f s'
                  % (key, found['node_tasks'], found['node_seconds'], found['other_tasks'], found['other_seconds']))
    results = []
    for what, num, den, limit in TARGETS:
        ratio = s[num] / s[den]
        results.append(dict(target=what, ratio=round(ratio, 3), limit=limit, met=ratio <= limit))
        print('target %-42s %5.2f  %s' % (what, ratio, 'met' if ratio <= limit else 'MISSED'))
    with open(json_path, 'w') as stream:
        json.dump(dict(seconds=s, runs=runs, targets=results, profiles=profiles), stream, indent=2, sort_keys=True)
    print('written: %s' % json_path)


if __name__ == '__main__':
    if len(sys.argv) != 5 or sys.argv[1] != 'tutorial':
        sys.exit(__doc__)
    tutorial(sys.argv[2], sys.argv[3], sys.argv[4])
