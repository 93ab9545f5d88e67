"""Fingerprints of the boilerplate stage's decisions: ``benchmarks.stage_fingerprint`` with
``--stage boilerplate`` (kept so the commands in README keep working).

    .venv/bin/python -m benchmarks.boilerplate_fingerprint save before
    .venv/bin/python -m benchmarks.boilerplate_fingerprint check before [SIZES]
"""

from __future__ import annotations

import sys

from benchmarks.stage_fingerprint import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], default_stage="boilerplate"))
