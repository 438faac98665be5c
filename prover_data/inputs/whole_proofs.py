"""Whole-proof samples: BurnQED's diversity tests, ``{theorem: {temperature: [proof, ...]}}``.

Rows of a problem are the index of the theorem in the object.
"""

from __future__ import annotations

from pathlib import Path

from prover_data.inputs.problems import Findings, shown
from prover_data.inputs.text_files import json_type, load_json


def read_whole_proofs(path: str | Path) -> dict[str, dict[str, list[str]]]:
    """Whole-proof samples ``{theorem: {temperature: [proof, ...]}}`` (BurnQED diversity tests)."""
    return check_whole_proofs(str(path), load_json(path))


def check_whole_proofs(name: str, doc: object) -> dict[str, dict[str, list[str]]]:
    """``doc``, a parsed document read from file ``name``, once it is known to be well-formed."""
    found = Findings(name)
    if not isinstance(doc, dict) or not doc:
        found.whole("wrong_shape", "expected an object {theorem: {temperature: [proof strings]}}, found "
                    + ("an empty object" if isinstance(doc, dict) else json_type(doc)))
        found.raise_if_any()
    for i, (theorem, samples) in enumerate(doc.items()):
        if not isinstance(samples, dict):
            found.rows("wrong_shape", None, "expected an object {temperature: [proof strings]}", i,
                       f"{shown(theorem)}: {json_type(samples)}")
            continue
        for temperature, proofs in samples.items():
            try:
                float(temperature)
            except ValueError:
                found.rows("bad_temperature", None, "temperature key is not a number", i,
                           f"{shown(theorem)}: {shown(temperature)}")
            if not isinstance(proofs, list) or not all(isinstance(p, str) for p in proofs):
                found.rows("bad_proofs", None, "expected a list of proof strings", i,
                           f"{shown(theorem)} at temperature {temperature}")
    found.raise_if_any()
    return doc
