#!/usr/bin/env bash
# The benchmark suite of issue 6, one command (as root, after `make deps`):
#
#   bench/run.sh                      all parts, then the tables and bench/output/results.json
#   BENCH_PARTS="tutorial" bench/run.sh     some parts only (tutorial scale modules)
#
#   tutorial  bench/tutorial.sh: steps 1-5 on two nodes, collection against the raw
#             commands and a naive command-task playbook (converge, rerun, check, teardown)
#   scale     bench/scale.sh: N pause pods on one node (N = 10 100 500 1000)
#   modules   bench/modules.sh: each module once, cold and idempotent, against its raw commands
#
# Each part brings up its own virtual lab (pbench, pbscale, pbmod in
# 198.18.4-9.0/24) and takes it down again; they run one after the other so
# that they do not slow each other down. Benchmarks, not tests: they print
# figures and fail only when a run itself fails (or a rerun changes something).
# bench/README.md explains the figures and the targets.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
out=$repo/bench/output
mkdir -p "$out"
parts=${BENCH_PARTS:-tutorial scale modules}
declare -A command=([tutorial]="bench/tutorial.sh" [scale]="bench/scale.sh" [modules]="bench/modules.sh -r 3")
for part in $parts; do
    [[ -n ${command[$part]:-} ]] || { echo "bench: unknown part '$part' (tutorial scale modules)" >&2; exit 2; }
done
started=$(date +%s)
for part in $parts; do
    echo "=== bench: $part (${command[$part]}) ===" >&2
    read -r -a argv <<< "${command[$part]}"
    "${argv[@]}" | tee "$out/$part.txt"
done
read -r -a part_list <<< "$parts"
python3 - "$out" "${part_list[@]}" <<'PY'
import json, os, platform, sys, time
out, parts = sys.argv[1], sys.argv[2:]
merged = dict(machine=dict(host=platform.node(), cpus=os.cpu_count(), kernel=platform.release()),
              finished=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))
for part in parts:
    with open(os.path.join(out, part + '.json')) as stream:
        merged[part] = json.load(stream)
with open(os.path.join(out, 'results.json'), 'w') as stream:
    json.dump(merged, stream, indent=2, sort_keys=True)
print('\nbench: all figures in %s' % os.path.join(out, 'results.json'))
PY
for part in $parts; do
    echo
    cat "$out/$part.txt"
done
echo "bench: $(( $(date +%s) - started )) s in all" >&2
