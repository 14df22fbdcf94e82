"""Shareable query codes: a query object as compact, URL-safe text (`?q=...`), and back, validated."""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

import orjson
from pydantic import BaseModel

from opsloop.query.registry import QueryInvalid, parse_query

#: Longest code accepted (a URL stays well under the 8 KiB most servers and browsers allow).
MAX_CODE_LENGTH = 6000
#: Largest JSON a code may expand to, so a small code cannot inflate into a huge body.
MAX_JSON_BYTES = 200_000


class ShareCodeInvalid(ValueError):
    """A shareable code that is not one opsloop made, or whose query is not valid; the message says why."""


def query_json(query: BaseModel | dict[str, Any]) -> dict[str, Any]:
    """The query object as JSON, validated, with fields left at their defaults omitted (`kind` always kept)."""
    model = query if isinstance(query, BaseModel) else parse_query(query)
    data = model.model_dump(mode="json", exclude_defaults=True)
    return {"kind": model.kind, **data}  # type: ignore[attr-defined]


def encode_query(query: BaseModel | dict[str, Any]) -> str:
    """A URL-safe code for a query: its compact JSON, deflated, in base64url without padding."""
    raw = orjson.dumps(query_json(query))
    packed = zlib.compress(raw, 9)[2:-4]  # raw deflate: the zlib header and checksum are dead weight here
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode_query(code: str) -> BaseModel:
    """The validated query a code stands for; `ShareCodeInvalid` naming what is wrong otherwise."""
    code = code.strip()
    if not code:
        raise ShareCodeInvalid("q: the shareable query code is empty")
    if len(code) > MAX_CODE_LENGTH:
        raise ShareCodeInvalid(f"q: the shareable query code is longer than {MAX_CODE_LENGTH} characters")
    try:
        packed = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
    except (binascii.Error, ValueError):
        raise ShareCodeInvalid("q: not a shareable query code (it is not base64url text)") from None
    inflater = zlib.decompressobj(-15)
    try:
        raw = inflater.decompress(packed, MAX_JSON_BYTES)
    except zlib.error:
        raise ShareCodeInvalid("q: not a shareable query code (it does not unpack)") from None
    if inflater.unconsumed_tail:
        raise ShareCodeInvalid(f"q: the query is larger than {MAX_JSON_BYTES} bytes")
    if not inflater.eof:
        raise ShareCodeInvalid("q: the shareable query code is cut short")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ShareCodeInvalid("q: the shareable query code does not hold JSON") from None
    try:
        return parse_query(body)
    except QueryInvalid as exc:
        raise ShareCodeInvalid(f"q: the shared query is not valid: {exc}") from None
