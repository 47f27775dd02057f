# Make `ansible_collections.packetlife.podnet` importable from the checkout
# (the Makefile links .collections/ansible_collections/packetlife/podnet to the repo).
from __future__ import annotations

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
COLLECTIONS = os.path.join(ROOT, '.collections')
LINK = os.path.join(COLLECTIONS, 'ansible_collections', 'packetlife', 'podnet')
if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(os.path.relpath(ROOT, os.path.dirname(LINK)), LINK)
sys.path.insert(0, COLLECTIONS)
