"""Storage tests: the backend-agnostic contract (contract.py) and the SQLite backend."""
from __future__ import annotations

import os
import sys

# contract.py is imported by each backend's test module as `contract`, whatever pytest's
# import mode: this folder has no __init__.py.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
