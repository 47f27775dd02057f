# Kernel adapter tests: they create network namespaces named pt-k-*, so they run
# as root, and the Makefile runs them under both pyroute2 lines the targets may have
# (Debian's 0.7 with /usr/bin/python3, PyPI's 0.9 in the venv).
from __future__ import annotations

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(ROOT, '.collections'))
