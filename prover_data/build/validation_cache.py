"""Inputs validated before are not validated again: clean files remembered by content.

Iteration N+1's manifest reads iteration N's files again, plus new ones. A file whose
bytes (``identity.file_digest``, already computed for the lock) passed the same
validator, with the same options (``repeated_searches``), passed before and passes
again: the build skips its checks. Only clean files are remembered; a file with a
problem is checked, and reported, every time.

The validator is ``lock.code_digest``, the digest of all the code that the lock
records, not of a list of the readers' files: the rules also live in ``schema.py``
(the columns), ``build/inputs.py`` and ``sql/``, and a list kept by hand is how an
edited rule goes unseen. Edited code costs one validation of each input, once.

Entries live under the build root (``BUILD/.validated/``), one small JSON file each,
written to a temporary name and renamed into place: two builds writing the same entry
write the same bytes, and a build killed mid-write leaves a temporary file that is
never read (an entry that does not parse, or says anything but what was asked, is not
trusted).
"""

from __future__ import annotations

import json
from pathlib import Path

from prover_data.atomic import atomic_write_text
from prover_data.build.lock import code_digest
from prover_data.identity import bytes_digest

DIRECTORY = ".validated"


class ValidationCache:
    """Clean inputs of earlier builds under ``build_root``."""

    def __init__(self, build_root: str | Path):
        self.directory = Path(build_root) / DIRECTORY
        self.validator = code_digest()  # once: a build asks about every input

    def _entry(self, kind: str, digest: str, options: str) -> tuple[Path, dict]:
        doc = {"kind": kind, "input": digest, "validator": self.validator, "options": options}
        key = bytes_digest(json.dumps(doc, sort_keys=True).encode()).split(":")[1]
        return self.directory / f"{kind}-{key}.json", doc

    def known(self, kind: str, digest: str, options: str = "") -> bool:
        path, doc = self._entry(kind, digest, options)
        try:
            return json.loads(path.read_text(encoding="utf-8")) == doc
        except (OSError, ValueError):
            return False

    def remember(self, kind: str, digest: str, options: str = "") -> None:
        path, doc = self._entry(kind, digest, options)
        atomic_write_text(path, json.dumps(doc, sort_keys=True) + "\n")
