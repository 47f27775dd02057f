#!/usr/bin/env bash
# Run `ansible-test sanity` on this checkout.
#
# ansible-test wants the collection under .../ansible_collections/<ns>/<name>, so the
# files git knows about (tracked, plus untracked ones that are not ignored) are copied
# into a temporary tree of that shape. The results land in tests/output/sanity/.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${VENV:-$repo/.venv}
python_version=${SANITY_PYTHON:-3.11}

# ansible-test bootstraps pip into each of its virtual environments with a get-pip
# script downloaded from a host outside the package registries. The cache path it
# checks first is ~/.ansible/test/cache/get_pip_<pip version>.py; put a stand-in
# there that bootstraps pip from the interpreter's own ensurepip and then installs
# the requested version from the package index.
pip_version=$("$venv/bin/python" - <<'EOF'
from ansible_test._internal.python_requirements import get_venv_packages


class Python:
    version = "3.11"


print(get_venv_packages(Python())["pip"])
EOF
)
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$get_pip")"
cat > "$get_pip" <<'EOF'
"""Stand-in for get-pip.py written by packetlife.podnet's tests/sanity/run.sh."""
import ensurepip
import subprocess
import sys

ensurepip.bootstrap()
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call(
    [sys.executable, "-m", "pip", "install", "-q", "--cert", "/etc/ssl/certs/ca-certificates.crt"] + args
))
EOF

workdir=$(mktemp -d /tmp/podnet-sanity.XXXXXX)
trap 'rm -rf "$workdir"' EXIT
collection="$workdir/ansible_collections/packetlife/podnet"
mkdir -p "$collection"

# git ls-files -c also lists tracked files deleted in the work tree; skip those.
cd "$repo"
git ls-files -z -co --exclude-standard \
    | while IFS= read -r -d '' path; do
        if [[ -e $path || -L $path ]]; then printf '%s\0' "$path"; fi
    done \
    | rsync -a --from0 --files-from=- ./ "$collection/"

echo "sanity: $(find "$collection" -type f | wc -l) files copied to $collection"

status=0
(cd "$collection" && "$venv/bin/ansible-test" sanity --venv --python "$python_version" --color no "$@") \
    || status=$?

rm -rf "$repo/tests/output/sanity"
mkdir -p "$repo/tests/output/sanity"
if [[ -d $collection/tests/output ]]; then
    cp -a "$collection/tests/output/." "$repo/tests/output/sanity/"
fi
exit "$status"
