# Kernel adapter tests: they create network namespaces named pt-k-*, so they run
# as root, and the Makefile runs them under both pyroute2 lines the targets may have
# (Debian's 0.7 with /usr/bin/python3, PyPI's 0.9 in the venv).
from __future__ import annotations

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(ROOT, '.collections'))


import subprocess  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402

from ansible_collections.packetlife.podnet.plugins.module_utils._netlink import Kernel, netns_path  # noqa: E402


@pytest.fixture
def names():
    """Two fresh namespace names (pt-k-a-*, pt-k-b-*); whatever of them exists
    afterwards is removed."""
    suffix = uuid.uuid4().hex[:6]
    made = ['pt-k-a-' + suffix, 'pt-k-b-' + suffix]
    yield made
    for name in made:
        if os.path.lexists(netns_path(name)):
            subprocess.run(['ip', 'netns', 'delete', name], check=False)


@pytest.fixture
def kernel():
    """A kernel adapter for the test, closed afterwards."""
    k = Kernel()
    yield k
    k.close()
