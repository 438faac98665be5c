"""JSON and TOML input files: read as UTF-8 text and parse, naming what is wrong.

A missing, empty, non-UTF-8 or unparsable file is one ``InputError`` naming the
file and where (byte offset, or line and column). ``json_array_items`` decodes a
top-level JSON array one element at a time, for inputs that run to gigabytes.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Iterator

from prover_data.errors import InputError


def read_text(path: str | Path, what: str) -> str:
    """The file's text; a missing, empty or non-UTF-8 file is an error (``what`` it should hold)."""
    p = Path(path)
    name = str(p)
    if not p.is_file():
        raise InputError.one(name, "no such file" if not p.exists() else "not a regular file", check="no_file")
    data = p.read_bytes()
    if not data.strip():
        raise InputError.one(name, f"empty file: expected {what}", check="empty_file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError.one(name, f"not UTF-8 text (invalid byte {data[e.start]:#04x} at offset {e.start}, "
                                   f"line {line})", check="not_utf8") from None


def load_json(path: str | Path) -> object:
    """The parsed document; a parse error names its line and column, and a cut-short file says so."""
    text = read_text(path, "JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        end = "" if text.rstrip().endswith(("}", "]")) else " (the file ends early: truncated?)"
        raise InputError.one(str(path), f"not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}{end}",
                             check="bad_json") from None


def json_type(value: object) -> str:
    """What a JSON value is, in the words of a message ("an object", "a list", ...)."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def load_toml(path: str | Path) -> dict:
    """The parsed document; a parse error is one problem with tomllib's description of it."""
    text = read_text(path, "TOML")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError.one(str(path), f"not valid TOML: {e}", check="bad_toml") from None


class NotStreamable(Exception):
    """Not a well-formed top-level JSON array: the whole-document parse says what is wrong."""


_WHITESPACE = re.compile(r"[ \t\r\n]*")


def json_array_items(path: str | Path, chunk_chars: int = 1 << 24) -> Iterator[object]:
    """The elements of a file's top-level JSON array, decoded one at a time.

    Memory stays bounded by one element plus a chunk of text. Raises ``NotStreamable``
    (possibly after yielding some elements) when the file is not a readable JSON array.
    """
    decoder = json.JSONDecoder()
    try:
        f = open(path, encoding="utf-8")
    except OSError:
        raise NotStreamable from None
    with f:
        buf, pos, eof = "", 0, False

        def fill() -> None:
            nonlocal buf, pos, eof
            try:
                more = f.read(chunk_chars)
            except UnicodeDecodeError:
                raise NotStreamable from None
            eof = not more
            buf, pos = buf[pos:] + more, 0

        def skip_whitespace() -> None:
            nonlocal pos
            while True:
                pos = _WHITESPACE.match(buf, pos).end()
                if pos < len(buf) or eof:
                    return
                fill()

        fill()
        skip_whitespace()
        if buf.startswith("\ufeff", pos):
            pos += 1
            skip_whitespace()
        if buf[pos:pos + 1] != "[":
            raise NotStreamable
        pos += 1
        skip_whitespace()
        if buf[pos:pos + 1] == "]":
            pos += 1
        else:
            while True:
                while True:
                    try:
                        item, end = decoder.raw_decode(buf, pos)
                    except json.JSONDecodeError:
                        end = None
                    # Complete only once its separator is in the buffer: a number cut by
                    # the chunk ("6.5e|3") decodes as a shorter one.
                    after = _WHITESPACE.match(buf, end).end() if end is not None else len(buf)
                    if end is not None and (buf[after:after + 1] in (",", "]") or eof):
                        break
                    if eof:  # cannot decode, and there is no more text
                        raise NotStreamable
                    fill()  # the element runs past the chunk
                pos = end
                yield item
                skip_whitespace()
                sep = buf[pos:pos + 1]
                pos += 1
                if sep == "]":
                    break
                if sep != ",":
                    raise NotStreamable
                skip_whitespace()
        skip_whitespace()
        if pos < len(buf):
            raise NotStreamable
