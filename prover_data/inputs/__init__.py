"""Validated readers of every input format, one module per format.

Other programs write our inputs: BurnQED's search (trajectory parquet, embeddings
parquet, theorem lists, whole-proof samples, search config) and LeanDojo's tracer
(Benchmark 4 JSON). A file that is subtly wrong -- a mistyped column, a dangling
parent, a truncated write -- must stop the pipeline with a message a person can act
on, not become a silently smaller dataset (BurnQED's loader logs and skips a file it
cannot read). So every reader checks the whole file, collects *every* problem and
raises one ``InputError``. A problem names the file, the row (0-based; for JSON the
index of the entry in its list) or a run of consecutive rows, and the column or key.
A rule broken in many places is reported as its first few row runs plus one line
counting the rest, never one line per row.

One module per format, each holding its reader and its rules: ``trajectories``,
``theorem_lists``, ``leandojo``, ``burnqed_embeddings``, ``search_config``,
``whole_proofs``. What they share: ``problems`` (collecting problems in row runs),
``parquet_files`` and ``text_files`` (opening and parsing files, naming why one is
unreadable), ``arrow_values`` (vectorized value checks). ``detect`` tells which
format a file is, for ``prover-data validate``.
"""
