"""Print the table of bench/tutorial.sh and write its JSON.

    python3 bench/lib/table.py tutorial TIMES_FILE JSON_FILE

TIMES_FILE has one "NAME SECONDS" line per timed run; a NAME that ran in several
rounds counts with its median. Targets are the ratios of issue 6.
"""
import json
import statistics
import sys

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


def tutorial(times_path, json_path):
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
    results = []
    for what, num, den, limit in TARGETS:
        ratio = s[num] / s[den]
        results.append(dict(target=what, ratio=round(ratio, 3), limit=limit, met=ratio <= limit))
        print('target %-42s %5.2f  %s' % (what, ratio, 'met' if ratio <= limit else 'MISSED'))
    with open(json_path, 'w') as stream:
        json.dump(dict(seconds=s, runs=runs, targets=results), stream, indent=2, sort_keys=True)
    print('written: %s' % json_path)


if __name__ == '__main__':
    if len(sys.argv) != 4 or sys.argv[1] != 'tutorial':
        sys.exit(__doc__)
    tutorial(sys.argv[2], sys.argv[3])
