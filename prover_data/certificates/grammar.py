"""Proof certificates: the line format a character-level model learns proofs in.

A certificate writes one whole proof as text a byte-level language model can read and
write: the theorem, then for every step the goal state the tactic was applied to and
the tactic. Lines start with a marker, so a person (and the validator) can tell the
structure at a glance and a model learns it from a few examples.

Grammar (``NL`` is one ``\\n``; every line, the last one too, ends with it)::

    certificate  := theorem first_step step* end
    theorem      := "@T " NAME [" : " STATEMENT] NL continuation*
    first_step   := goal+ tactic
    step         := goal* tactic
    goal         := hypothesis* target
    hypothesis   := "@C " NAMES " : " TYPE NL continuation*
    target       := "@G " ["case " TAG " "] "⊢" TEXT NL continuation*
    tactic       := "@P " TEXT NL continuation*
    end          := "@E" NL
    continuation := " " TEXT NL

* ``@T`` -- the theorem: its full name (no whitespace) and, when the theorem index
  has it, its statement. Base theorems without an indexed statement have the name
  only; their first step's goal states the theorem anyway.
* ``@C`` (constraint) -- one hypothesis of the goal below it, as Lean prints it
  (``x y : ℝ``, ``h₀ : f 1 = 5``).
* ``@G`` -- one goal: ``⊢`` and the target, prefixed by ``case TAG`` when Lean names
  the goal. A state with several goals is several ``@C* @G`` groups, in Lean's order
  (the first is the one the tactic works on).
* ``@P`` (proof step) -- the tactic applied to the state above it. A corpus written
  with ``[certificates] states = "first"`` gives the initial state only: later steps
  are bare ``@P`` lines (the whole-proof style, several times shorter).
* ``@E`` -- end of the certificate. Without it a text is truncated.

Multi-line text (a long hypothesis, a tactic block, a statement) is kept line for
line: each line after the first is written as a *continuation line*, one space
followed by the original line (an empty original line becomes a single space). So a
line that starts with ``@`` is always a marker and a line that starts with a space is
always a continuation; a line that starts with anything else, or is empty, is an
encoding error. Nothing else is escaped: the text of a line is Lean's, byte for byte.

A goal state round-trips exactly: ``render_state(parse_state(s)) == s``. Derivation
only writes states that do (Lean's ``pp`` output does: goals separated by one blank
line, an optional ``case`` line, hypotheses, then ``⊢``), and counts the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKERS = ("T", "C", "G", "P", "E")
END_LINE = "@E"
TURNSTILE = "⊢"
_TARGET = re.compile(r"^(?:case (\S+) )?⊢")


@dataclass(frozen=True)
class Goal:
    """One goal of a Lean state: its hypotheses, its target (from ``⊢`` on), its case tag."""

    hypotheses: tuple[str, ...]
    target: str
    case: str | None = None


@dataclass(frozen=True)
class Step:
    """A tactic and the goals it was applied to."""

    goals: tuple[Goal, ...]
    tactic: str


@dataclass(frozen=True)
class Certificate:
    """One proof, as the format holds it."""

    theorem: str
    statement: str | None
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class CertificateError:
    line: int  # 1-based line of the certificate text
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


# ------------------------------------------------------------------ Lean states


def parse_state(state_pp: str) -> tuple[Goal, ...] | None:
    """Split a pretty-printed Lean state into goals; ``None`` if that would lose bytes.

    Goals are separated by one blank line; within a goal an optional first line
    ``case TAG``, then hypotheses (a line that does not start with a space starts a
    new one; each holds `` : ``), then the target from the line starting with ``⊢`` to
    the end of the goal.
    """
    if not state_pp:
        return None
    goals = []
    for block in state_pp.split("\n\n"):
        lines = block.split("\n")
        case = None
        if lines[0].startswith("case ") and len(lines[0].split(" ")) == 2 and lines[0][5:]:
            case = lines[0][5:]
            lines = lines[1:]
        at = next((i for i, line in enumerate(lines) if line.startswith(TURNSTILE)), None)
        if at is None:
            return None
        hypotheses: list[str] = []
        for line in lines[:at]:
            if line.startswith(" ") and hypotheses:
                hypotheses[-1] += "\n" + line
            elif " : " in line and not line.startswith(" "):
                hypotheses.append(line)
            else:
                return None
        goal = Goal(tuple(hypotheses), "\n".join(lines[at:]), case)
        goals.append(goal)
    goals = tuple(goals)
    return goals if render_state(goals) == state_pp else None


def render_state(goals: tuple[Goal, ...]) -> str:
    """The Lean state text of ``goals`` (inverse of ``parse_state``)."""
    blocks = []
    for g in goals:
        lines = ([f"case {g.case}"] if g.case is not None else []) + list(g.hypotheses) + [g.target]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# ------------------------------------------------------------------ writing and reading


def _item(marker: str, text: str) -> str:
    first, *rest = text.split("\n")
    return "".join([f"@{marker} {first}\n", *(f" {line}\n" for line in rest)])


def encode(cert: Certificate) -> str:
    """The certificate's text (see the grammar above)."""
    head = cert.theorem if cert.statement is None else f"{cert.theorem} : {cert.statement}"
    parts = [_item("T", head)]
    for step in cert.steps:
        for g in step.goals:
            parts.extend(_item("C", h) for h in g.hypotheses)
            parts.append(_item("G", g.target if g.case is None else f"case {g.case} {g.target}"))
        parts.append(_item("P", step.tactic))
    parts.append(END_LINE + "\n")
    return "".join(parts)


def items(text: str) -> list[tuple[int, str, str]]:
    """``(line, marker, payload)`` of each item, continuation lines joined back.

    Assumes valid text; the validator is the place that explains invalid text.
    """
    out: list[tuple[int, str, str]] = []
    for n, line in enumerate(text.split("\n")[:-1], start=1):
        if line.startswith(" ") and out:
            ln, marker, payload = out[-1]
            out[-1] = (ln, marker, payload + "\n" + line[1:])
        elif line.startswith("@"):
            out.append((n, line[1:2], line[3:]))
    return out


def decode(text: str) -> Certificate:
    """The certificate a valid text holds (inverse of ``encode``).

    Raises ``ValueError`` naming the first error when the text is not valid.
    """
    errors = validate_certificate(text)
    if errors:
        raise ValueError(str(errors[0]))
    its = items(text)
    head = its[0][2]
    name, _, statement = head.partition(" : ")
    steps: list[Step] = []
    goals: list[Goal] = []
    hyps: list[str] = []
    for _, marker, payload in its[1:]:
        if marker == "C":
            hyps.append(payload)
        elif marker == "G":
            case = _TARGET.match(payload).group(1)
            target = payload[len(f"case {case} "):] if case is not None else payload
            goals.append(Goal(tuple(hyps), target, case))
            hyps = []
        elif marker == "P":
            steps.append(Step(tuple(goals), payload))
            goals = []
    return Certificate(name, statement if " : " in head else None, tuple(steps))


def theorem_line(text: str) -> str:
    """The ``@T`` item of a certificate, continuation lines included: the sampling prompt."""
    lines = text.split("\n")
    end = 1
    while end < len(lines) and lines[end].startswith(" "):
        end += 1
    return "\n".join(lines[:end]) + "\n"


def split_corpus(text: str) -> list[str]:
    """The certificates of a corpus file, each ending with its ``@E`` line.

    Text after the last ``@E`` line (a truncated certificate) is returned as the last
    element, so a validator sees it.
    """
    out = []
    start = 0
    for m in re.finditer(r"(?m)^@E\n", text):
        out.append(text[start:m.end()])
        start = m.end()
    if start < len(text):
        out.append(text[start:])
    return out


# ------------------------------------------------------------------ validation

# Parser states: what the previous item was.
_START, _THEOREM, _HYPOTHESIS, _GOAL, _TACTIC, _END = range(6)


def validate_certificate(text: str | bytes) -> list[CertificateError]:
    """Every structural error of one certificate, in line order (empty when valid).

    The first error is the one to show a person: later ones may follow from it.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            line = text[:e.start].count(b"\n") + 1
            return [CertificateError(line, f"not UTF-8 (invalid byte at offset {e.start})")]
    if not text:
        return [CertificateError(1, "empty certificate (expected a @T line)")]
    errors: list[CertificateError] = []
    lines = text.split("\n")
    complete_last_line = lines[-1] == ""
    if complete_last_line:
        lines = lines[:-1]
    state = _START
    for n, line in enumerate(lines, start=1):
        item, problem = _line_item(line, state)
        if problem is not None:
            errors.append(CertificateError(n, problem))
        if item is not None:
            state, problems = _next_state(state, *item)
            errors.extend(CertificateError(n, p) for p in problems)
    if state != _END:
        errors.append(CertificateError(len(lines) + 1, "truncated: no @E line at the end"))
    elif not complete_last_line:
        errors.append(CertificateError(len(lines), "truncated: the last line has no newline"))
    return errors


def _line_item(line: str, state: int) -> tuple[tuple[str, str] | None, str | None]:
    """(marker and text of the item a line starts, or None; what is wrong with the line, or None).

    A continuation line starts no item; it is wrong only outside one (before @T, after @E).
    """
    if line == "":
        return None, "empty line (an empty line inside multi-line text is written as one space)"
    if line.startswith(" "):
        return None, ("continuation line (starting with a space) outside an item"
                      if state in (_START, _END) else None)
    if not line.startswith("@"):
        return None, (f"line starts with {line[0]!r}: expected a marker (@T @C @G @P @E) or a continuation "
                      "line (one space, then the text)")
    marker = line[1:2]
    if marker not in MARKERS:
        return None, f"unknown marker {line[:2]!r} (expected one of {', '.join('@' + m for m in MARKERS)})"
    if marker == "E":
        return (marker, line[3:]), (None if line == END_LINE else f"the end line is exactly '@E', got {line[:40]!r}")
    if line[2:3] != " " or not line[3:]:
        return None, f"@{marker} must be followed by a space and text"
    return (marker, line[3:]), None


def _next_state(state: int, marker: str, payload: str) -> tuple[int, list[str]]:
    """The parser state after an item, and what is wrong with the item where it stands."""
    if state == _END:
        return _END, ["text after the @E line (one certificate per text)"]
    problems = []
    if state == _START and marker != "T":
        problems.append(f"missing @T: a certificate starts with its theorem, got @{marker}")
        state = _THEOREM  # go on checking the steps
    if marker == "T":
        if state != _START:
            problems.append("a second @T inside a certificate (the previous one has no @E)")
        elif " " in payload.partition(" : ")[0] or payload.startswith(" :"):
            problems.append("@T is 'NAME' or 'NAME : STATEMENT' with a name without spaces")
        return _THEOREM, problems
    if marker == "C":
        if " : " not in payload:
            problems.append("a hypothesis is 'NAMES : TYPE'")
        return _HYPOTHESIS, problems
    if marker == "G":
        if not _TARGET.match(payload):
            problems.append("a goal is '⊢ TARGET' or 'case TAG ⊢ TARGET'")
        return _GOAL, problems
    if marker == "P":
        if state == _THEOREM:
            problems.append("step without goal: the first @P must follow a @G line")
        elif state == _HYPOTHESIS:
            problems.append("hypotheses without a goal: @C lines end with a @G line before @P")
        return _TACTIC, problems
    if state == _THEOREM:  # marker E
        problems.append("certificate without steps")
    elif state in (_GOAL, _HYPOTHESIS):
        problems.append("step without tactic: the last goals need a @P line before @E")
    return _END, problems


def validate_corpus(text: str) -> list[CertificateError]:
    """Errors of every certificate in a corpus file, with line numbers of the file."""
    errors = []
    offset = 0
    for cert in split_corpus(text):
        errors.extend(CertificateError(e.line + offset, e.message) for e in validate_certificate(cert))
        offset += cert.count("\n")
    return errors
