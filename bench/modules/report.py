"""Medians of bench/modules.sh's samples: print the table, write the JSON.

Usage: report.py SAMPLES.tsv SKIPPED.tsv OUT.json REPEATS
SAMPLES lines are MODULE KIND RUN START END (seconds since the epoch); MODULE
"baseline" holds the once-per-run baselines, and every module has its own
ping_playbook and ssh_true taken right before it in the same run.
"""
import json
import statistics
import sys

samples_path, skipped_path, json_path, repeats = sys.argv[1:5]
runs = {}  # module -> kind -> {run: seconds}
order = []
with open(samples_path) as f:
    for line in f:
        module, kind, run, start, end = line.rstrip('\n').split('\t')
        if module not in order:
            order.append(module)
        runs.setdefault(module, {}).setdefault(kind, {})[int(run)] = round(float(end) - float(start), 3)
skipped = {}
with open(skipped_path) as f:
    for line in f:
        module, reason = line.rstrip('\n').split('\t', 1)
        skipped[module] = reason


def median(values):
    values = list(values)
    return round(statistics.median(values), 3) if values else None


order.remove('baseline')
all_ping = [v for m in runs.values() for v in m.get('ping_playbook', {}).values()]
all_ssh = [v for m in runs.values() for v in m.get('ssh_true', {}).values()]
ping, ssh = median(all_ping), median(all_ssh)
result = {
    'repeats': int(repeats),
    'lab': {'name': 'pbmod', 'subnet': '198.18.9.0/24', 'nodes': ['mod1']},
    'unit': 'seconds, wall clock; median over the runs',
    'baseline': {
        'ping_playbook': {'median': ping, 'samples': all_ping},
        'ssh_true': {'median': ssh, 'samples': all_ssh},
    },
    'modules': {},
    'skipped': skipped,
}
# The module's own share: each run minus the baseline of the same way of
# running taken right before it, median over the runs.
pairs = {'cold': 'ping_playbook', 'idempotent': 'ping_playbook', 'absent': 'ping_playbook', 'raw': 'ssh_true'}
for module in order:
    kinds = runs[module]
    entry = {}
    for kind, by_run in kinds.items():
        entry[kind] = {'median': median(by_run.values()), 'samples': [by_run[r] for r in sorted(by_run)]}
        base = kinds.get(pairs.get(kind), {})
        if base:
            entry[kind]['minus_baseline'] = median(by_run[r] - base[r] for r in by_run if r in base)
    result['modules'][module] = entry
with open(json_path, 'w') as f:
    json.dump(result, f, indent=2)
    f.write('\n')

print('seconds, median of %s runs; "-base": minus the ping-playbook (cold, idem) or ssh (raw) baseline'
      ' taken right before, per run' % repeats)
print('%-13s %7s %7s %7s %8s %7s %10s %10s %9s'
      % ('module', 'cold', 'idem', 'raw', 'ping pb', 'ssh', 'cold-base', 'idem-base', 'raw-base'))


def seconds(value):
    return '-' if value is None else '{:.2f}'.format(value)


def cell(module, kind, key='median'):
    return seconds(result['modules'][module].get(kind, {}).get(key))


for module in order:
    print('%-13s %7s %7s %7s %8s %7s %10s %10s %9s' % (
        module, cell(module, 'cold'), cell(module, 'idempotent'), cell(module, 'raw'),
        seconds(ping), seconds(ssh),
        cell(module, 'cold', 'minus_baseline'), cell(module, 'idempotent', 'minus_baseline'),
        cell(module, 'raw', 'minus_baseline')))
for module, reason in skipped.items():
    print('%-13s not measured: %s' % (module, reason))
print('written: %s' % json_path)
