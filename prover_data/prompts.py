"""The SFT prompt: the one text both the data layer and the trainers wrap a state in.

BurnQED trains and searches with DeepSeek-Prover's tactic-state format
(python/data/merge_sft_dataset.py ``format_sft_pair`` and the policy crate's
``format_tactic_message``): the model sees the state in a Lean comment inside a closed
code fence and learns to continue with one tactic. The search wraps the same message in
DeepSeek's chat tokens; the training text is the message alone, as in BurnQED. Keep it
byte-identical: a changed prompt is a different task.

It lives here, not in ``prover_models``, because the build writes it too: the
preference pairs' ``prompt`` column (``sql/70_preferences.sql``, which reads it as the
DuckDB variable ``prompt_template``) must be exactly what ``train-sft`` feeds the model.
"""

from __future__ import annotations

PROMPT_TEMPLATE = (
    "Complete the following Lean 4 code:\n\n"
    "```lean4\n"
    "/- tactic state:\n"
    "{state}\n"
    "-/\n"
    "```\n"
)


def format_prompt(state: str) -> str:
    """The prompt for one proof state; the tactic follows it directly."""
    return PROMPT_TEMPLATE.format(state=state)
