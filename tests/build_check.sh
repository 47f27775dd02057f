#!/usr/bin/env bash
# Build the collection artifact into build/, install it into a scratch collections
# path and check that `ansible-doc` renders every module from the installed copy,
# which is what a user of the published collection reads.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${VENV:-$repo/.venv}

cd "$repo"
rm -rf build
"$venv/bin/ansible-galaxy" collection build --force --output-path build .
artifact=$(ls build/packetlife-podnet-*.tar.gz)
echo "build: $artifact ($(tar -tzf "$artifact" | wc -l) entries)"

# Install and document from the scratch dir with only the installed copy on the
# collections path, so neither this checkout's ansible.cfg nor its .collections
# link is consulted.
scratch=$(mktemp -d /tmp/podnet-build.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
artifact=$repo/$artifact
cd "$scratch"
: > "$scratch/ansible.cfg"
export ANSIBLE_CONFIG="$scratch/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$scratch/collections" ANSIBLE_NOCOLOR=1
"$venv/bin/ansible-galaxy" collection install --offline -p "$scratch/collections" "$artifact"

modules=()
for path in "$repo"/plugins/modules/*.py; do
    [[ -e $path ]] || continue
    name=$(basename "$path" .py)
    [[ $name == __init__ ]] || modules+=("$name")
done
if (( ${#modules[@]} == 0 )); then
    echo "build: no modules under plugins/modules yet, nothing to document"
    exit 0
fi

# ansible-doc exits 0 with a warning for a plugin it cannot load, so its stderr and
# its JSON are checked too.
failed=0
for name in "${modules[@]}"; do
    fqcn=packetlife.podnet.$name
    if ! "$venv/bin/ansible-doc" -t module "$fqcn" > "$scratch/$name.txt" 2> "$scratch/$name.err" \
        || grep -q -e WARNING -e ERROR "$scratch/$name.err" \
        || ! "$venv/bin/ansible-doc" -t module --json "$fqcn" 2>> "$scratch/$name.err" \
            | "$venv/bin/python" -c '
import json, sys
doc = json.load(sys.stdin)[sys.argv[1]]
sys.exit(0 if doc.get("doc") and doc.get("examples") and doc.get("return") else 1)
' "$fqcn"; then
        echo "build: ansible-doc $fqcn FAILED (needs DOCUMENTATION, EXAMPLES and RETURN):" >&2
        cat "$scratch/$name.err" >&2
        failed=1
    else
        echo "build: ansible-doc $fqcn ok ($(wc -l < "$scratch/$name.txt") lines)"
    fi
done
exit "$failed"
