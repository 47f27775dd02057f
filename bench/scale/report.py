"""The table and JSON of bench/scale.sh.

Usage: report.py SAMPLES.tsv OUT.json NAIVE_MAX IPMASQ

SAMPLES lines are N WAY PHASE RUN SECONDS [TASK_SECONDS]: WAY is raw, collection or
naive, PHASE create, rerun or destroy; TASK_SECONDS is the module task's own time
within an ansible-playbook run (collection only). A figure that ran in several
runs counts with its median.
"""
import json
import statistics
import sys

WAYS = ('collection', 'raw', 'naive')
PHASES = ('create', 'rerun', 'destroy')


def median(values):
    return round(statistics.median(values), 3) if values else None


def main(samples_path, json_path, naive_max, ipmasq):
    runs = {}  # n -> way -> phase -> [seconds]
    tasks = {}  # n -> phase -> [seconds]
    with open(samples_path) as stream:
        for line in stream:
            fields = line.split()
            n, way, phase, seconds = int(fields[0]), fields[1], fields[2], float(fields[4])
            runs.setdefault(n, {}).setdefault(way, {}).setdefault(phase, []).append(seconds)
            if len(fields) > 5:
                tasks.setdefault(n, {}).setdefault(phase, []).append(float(fields[5]))
    sizes = sorted(runs)
    s = dict((n, dict((way, dict((phase, median(runs[n].get(way, {}).get(phase, [])))
                                 for phase in PHASES)) for way in WAYS)) for n in sizes)
    task = dict((n, dict((phase, median(tasks.get(n, {}).get(phase, []))) for phase in PHASES)) for n in sizes)

    def cell(value, fmt='%.2f'):
        return fmt % value if value is not None else '-'

    def ratio(a, b):
        return round(a / b, 2) if a is not None and b else None

    print('Pause pods on one node, network scale (bridge + host-local /22, ipMasq %s); wall clock seconds'
          % ('on' if ipmasq else 'off'))
    print('collection: one pause_pod task (pods:) as an ansible-playbook run, "(task)" that task alone;')
    print('raw: one ssh call running a bash loop; naive: command/shell tasks with loop:, only for N <= %d'
          % naive_max)
    print()
    print('%6s  %-12s %9s %9s %9s %14s' % ('N', 'way', 'create', 'rerun', 'destroy', 'create ms/pod'))
    table = []
    for n in sizes:
        c, r, v, t = s[n]['collection'], s[n]['raw'], s[n]['naive'], task[n]

        def per_pod(seconds, n=n):
            return round(seconds * 1000 / n, 1) if seconds else None
        row = {
            'pods': n, 'seconds': s[n], 'task_seconds': t,
            'ms_per_pod': {'collection_create': per_pod(c['create']), 'collection_task_create': per_pod(t['create']),
                           'raw_create': per_pod(r['create']), 'naive_create': per_pod(v['create'])},
            'ratio': {'create_collection_raw': ratio(c['create'], r['create']),
                      'destroy_collection_raw': ratio(c['destroy'], r['destroy']),
                      'create_collection_naive': ratio(c['create'], v['create']),
                      'destroy_collection_naive': ratio(c['destroy'], v['destroy'])},
            'naive': 'measured' if v['create'] is not None else 'skipped (N > %d)' % naive_max,
        }
        table.append(row)
        for label, way in (('collection', c), ('  (task)', t), ('raw', r), ('naive', v)):
            if way is v and v['create'] is None:
                print('%6s  %-12s %s' % ('', 'naive', 'skipped (N > %d)' % naive_max))
                continue
            cells = (n if way is c else '', label, cell(way['create']), cell(way['rerun']), cell(way['destroy']),
                     cell(per_pod(way['create']), '%.1f'))
            print('%6s  %-12s %9s %9s %9s %14s' % cells)
    print()
    print('%6s  %16s %17s %18s %19s' % ('N', 'create coll/raw', 'destroy coll/raw', 'create coll/naive',
                                        'destroy coll/naive'))
    for row in table:
        print('%6d  %16s %17s %18s %19s' % (row['pods'], cell(row['ratio']['create_collection_raw']),
                                            cell(row['ratio']['destroy_collection_raw']),
                                            cell(row['ratio']['create_collection_naive'], '%.3f'),
                                            cell(row['ratio']['destroy_collection_naive'], '%.3f')))
    print('rerun: raw checks each pod in bash; naive skips every item by creates (each item still a module run)')
    print()

    targets = []
    for n in sizes:
        if n >= 100 and s[n]['raw']['create']:
            value = ratio(s[n]['collection']['create'], s[n]['raw']['create'])
            targets.append(('create %d pods <= 1.5x the raw loop' % n, value, 1.5))
    if 1000 in s:
        targets.append(('create 1000 pods < 60 s', s[1000]['collection']['create'], 60.0))
    if 10 in s and max(sizes) >= 1000:
        top = max(sizes)
        targets.append(('rerun %d pods <= 2x rerun 10 pods' % top,
                        ratio(s[top]['collection']['rerun'], s[10]['collection']['rerun']), 2.0))
    if 100 in s and s[100]['naive']['create']:
        targets.append(('create 100 pods >= 10x faster than naive (coll/naive <= 0.1)',
                        ratio(s[100]['collection']['create'], s[100]['naive']['create']), 0.1))
    results = []
    for what, value, limit in targets:
        met = value is not None and value <= limit if 'create 1000' not in what else value is not None and value < limit
        results.append({'target': what, 'value': value, 'limit': limit, 'met': met})
        print('target %-62s %7s  %s' % (what, cell(value), 'met' if met else 'MISSED'))
    with open(json_path, 'w') as stream:
        json.dump({'ipmasq': ipmasq, 'naive_max': naive_max, 'runs': runs, 'task_runs': tasks, 'table': table,
                   'targets': results}, stream, indent=2, sort_keys=True)
    print('written: %s' % json_path)


if __name__ == '__main__':
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == 'true')
