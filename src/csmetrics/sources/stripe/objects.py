"""Stripe object types, the files ``import`` reads, and the shape every object must have.

A raw object is kept as Stripe sent it (canonical JSON text: keys sorted) with
its type, id, ``created`` and, for invoice lines fetched on their own, the
invoice they belong to. Only the fields the mapping reads are checked; others
are kept untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from csmetrics.schema.errors import DataError, Defect
from csmetrics.sources.jsonfiles import MAX_DEFECTS, ObjectDefect, canonical, dotted, shown
from csmetrics.sources.workspace import RawObject

OBJECT_TYPES: dict[str, str] = {
    "customers": "customer",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "invoice_lines": "line_item",
    "charges": "charge",
    "refunds": "refund",
    "credit_notes": "credit_note",
    "prices": "price",
    "products": "product",
    "coupons": "coupon",
}
"""File / raw type name -> Stripe's ``object`` value. ``invoice_lines`` holds lines paged from
``/v1/invoices/{id}/lines`` when an invoice's embedded list was truncated (each with ``invoice``)."""

ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]
)
"""Stripe's zero-decimal currencies: amounts are whole units (docs.stripe.com/currencies#zero-decimal)."""

THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
"""Stripe's three-decimal currencies: amounts are thousandths."""


# -- shape checks ------------------------------------------------------------
Check = Callable[[Any], bool]


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _str(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _opt(check: Check) -> Check:
    return lambda v: v is None or check(v)


def _ref(v: Any) -> bool:
    """An id, or the expanded object holding it."""
    return _str(v) or (isinstance(v, dict) and _str(v.get("id")))


_DESC: dict[Check, str] = {}


def _named(check: Check, desc: str) -> Check:
    _DESC[check] = desc
    return check


INT = _named(_int, "is not an integer (expected a whole number, Stripe's minor units or a Unix time)")
STR = _named(_str, "is not a non-empty string")
REF = _named(_ref, "is not an id (expected a string id or an expanded object with an id)")
OPT_INT = _named(_opt(_int), "is not an integer or null")
OPT_STR = _named(_opt(lambda v: isinstance(v, str)), "is not a string or null")
OPT_REF = _named(_opt(_ref), "is not an id or null")
OPT_DICT = _named(_opt(lambda v: isinstance(v, dict)), "is not an object or null")
OPT_BOOL = _named(_opt(lambda v: isinstance(v, bool)), "is not true, false or null")
OPT_LIST = _named(_opt(lambda v: isinstance(v, list)), "is not an array or null")
LIST_OBJECT = _named(lambda v: isinstance(v, dict) and isinstance(v.get("data"), list),
                     "is not a list object (expected {\"object\": \"list\", \"data\": [...]})")

LINE_FIELDS: dict[str, Check] = {
    "id": STR, "amount": INT, "currency": STR, "period": OPT_DICT, "period.start": INT, "period.end": INT,
    "quantity": OPT_INT, "amount_excluding_tax": OPT_INT, "discount_amounts": OPT_LIST, "taxes": OPT_LIST,
    "tax_amounts": OPT_LIST, "parent": OPT_DICT, "pricing": OPT_DICT, "price": OPT_DICT, "plan": OPT_DICT,
    "proration": OPT_BOOL, "type": OPT_STR, "subscription": OPT_REF, "subscription_item": OPT_REF,
    "metadata": OPT_DICT,
}

FIELDS: dict[str, dict[str, Check]] = {
    "customers": {"id": STR, "created": INT, "name": OPT_STR, "email": OPT_STR, "currency": OPT_STR,
                  "metadata": OPT_DICT},
    "subscriptions": {"id": STR, "customer": REF, "status": STR, "created": INT, "ended_at": OPT_INT,
                      "items": OPT_DICT},
    "invoices": {"id": STR, "customer": REF, "status": OPT_STR, "created": INT, "currency": STR,
                 "lines": LIST_OBJECT},
    "invoice_lines": {**LINE_FIELDS, "invoice": STR},
    "charges": {"id": STR, "customer": OPT_REF, "amount": INT, "created": INT, "currency": STR, "status": STR,
                "metadata": OPT_DICT},
    "refunds": {"id": STR, "charge": OPT_REF, "amount": INT, "created": INT, "currency": STR, "status": OPT_STR},
    "credit_notes": {"id": STR, "invoice": REF, "created": INT, "status": STR, "currency": STR,
                     "lines": LIST_OBJECT},
    "prices": {"id": STR, "currency": STR, "recurring": OPT_DICT},
    "products": {"id": STR},
    "coupons": {"id": STR},
}
"""Per file: dotted field -> check. Fields not listed are kept unchecked."""

CREDIT_NOTE_LINE: dict[str, Check] = {"id": STR, "amount": INT, "invoice_line_item": OPT_STR,
                                      "discount_amounts": OPT_LIST}
RECURRING: dict[str, Check] = {"interval": STR, "interval_count": INT}


def _required(check: Check) -> bool:
    return check in (INT, STR, REF, LIST_OBJECT)


def check_fields(obj: Any, fields: dict[str, Check], prefix: str = "") -> Iterator[tuple[str, Any, str]]:
    """(field, value, what is wrong) for each field of ``obj`` that breaks its check."""
    for path, check in fields.items():
        if "." in path:
            parent_found, parent = dotted(obj, path.rsplit(".", 1)[0])
            if not parent_found or parent is None:
                continue
        found, value = dotted(obj, path)
        if not found:
            if _required(check):
                yield prefix + path, None, "is missing (required)"
            continue
        if not check(value):
            yield prefix + path, shown(value), _DESC[check]


def object_problems(kind: str, obj: Any) -> Iterator[tuple[str, Any, str]]:
    """Every shape problem of one object of file ``kind`` as (field, value, what is wrong)."""
    if not isinstance(obj, dict):
        yield "", type(obj).__name__, "is not a JSON object"
        return
    expected = OBJECT_TYPES[kind]
    if "object" in obj and obj["object"] != expected:
        yield "object", obj["object"], f"is the wrong object type (expected {expected!r} in {kind}.json)"
        return
    yield from check_fields(obj, FIELDS[kind])
    if kind == "invoices" and isinstance(obj.get("lines"), dict) and isinstance(obj["lines"].get("data"), list):
        for i, line in enumerate(obj["lines"]["data"]):
            if not isinstance(line, dict):
                yield f"lines.data[{i}]", type(line).__name__, "is not a JSON object"
                continue
            yield from check_fields(line, LINE_FIELDS, f"lines.data[{i}].")
    if kind == "credit_notes" and isinstance(obj.get("lines"), dict) and isinstance(obj["lines"].get("data"), list):
        for i, line in enumerate(obj["lines"]["data"]):
            yield from check_fields(line, CREDIT_NOTE_LINE, f"lines.data[{i}].")
    if kind == "prices" and isinstance(obj.get("recurring"), dict):
        yield from check_fields(obj["recurring"], RECURRING, "recurring.")


def ref_id(v: Any) -> str | None:
    if isinstance(v, dict):
        return str(v["id"])
    return None if v is None else str(v)


def to_raw(kind: str, obj: dict[str, Any], parent: str = "") -> RawObject:
    if kind == "invoice_lines":
        parent = parent or str(obj["invoice"])
    created = obj.get("created")
    return RawObject(kind, str(obj["id"]), parent, created if isinstance(created, int) else 0, canonical(obj))


# -- import: reading a directory ---------------------------------------------
def _records(path: Path) -> Iterator[tuple[int, str, Any]]:
    """(position, unit, object) of a list-object file or a JSON-lines file; raises DataError on bad JSON.

    JSON lines are streamed (one object in memory at a time); a file whose first
    line is not a JSON value is read whole as one list object.
    """
    with path.open(encoding="utf-8") as f:
        first, first_no = "", 0
        for line in f:
            first_no += 1
            first = line
            if first.strip():
                break
        line_error: json.JSONDecodeError | None = None
        try:
            json.loads(first)
            whole = False
        except json.JSONDecodeError as exc:
            whole, line_error = True, exc
    if whole:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as whole_error:
            lineno, msg, col = whole_error.lineno, whole_error.msg, whole_error.colno
            if first.strip() not in ("{", "[") and line_error is not None:
                # Not a pretty-printed document: report it as the JSON line it is.
                lineno, msg, col = first_no, line_error.msg, line_error.colno
            raise DataError([ObjectDefect(path.name, lineno, None, None,
                                          f"is not valid JSON: {msg} at column {col} (expected one "
                                          "object per line, or a Stripe list object)")]) from None
        if not (isinstance(doc, dict) and doc.get("object") == "list" and isinstance(doc.get("data"), list)):
            raise DataError([ObjectDefect(path.name, None, None, None, "is not a Stripe list object (expected "
                                          "{\"object\": \"list\", \"data\": [...]} or one object per line)")])
        for i, obj in enumerate(doc["data"]):
            yield i, "object", obj
        return
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError([ObjectDefect(path.name, lineno, None, None,
                                              f"is not valid JSON: {exc.msg} at column {exc.colno} (expected one "
                                              "object per line, or a Stripe list object)")]) from None
            if isinstance(obj, dict) and obj.get("object") == "list" and isinstance(obj.get("data"), list):
                for i, inner in enumerate(obj["data"]):
                    yield i, "object", inner
                continue
            yield lineno, "line", obj


def read_dir(directory: Path) -> list[RawObject]:
    """Every object of the Stripe JSON files in ``directory`` (a missing file: none of that type).

    Raises DataError naming the file, line or object index and field of every
    defect (bad JSON, wrong object type, a missing or mistyped field).
    """
    if not directory.is_dir():
        raise DataError([Defect(str(directory), None, None, None, "is not a directory")])
    out: list[RawObject] = []
    defects: list[Defect] = []
    for kind in OBJECT_TYPES:
        path = directory / f"{kind}.json"
        if not path.exists():
            continue
        seen: dict[str, int] = {}
        for pos, unit, obj in _records(path):
            problems = list(object_problems(kind, obj))
            for field, value, msg in problems:
                if len(defects) < MAX_DEFECTS:
                    defects.append(ObjectDefect(path.name, pos, field or None,
                                                None if value is None else str(value), msg, unit=unit))
            if problems:
                continue
            raw = to_raw(kind, obj)
            key = raw.parent + "/" + raw.id
            if key in seen:
                defects.append(ObjectDefect(path.name, pos, "id", raw.id,
                                            f"is a duplicate (first at {unit} {seen[key]}; expected unique ids)",
                                            unit=unit))
                continue
            seen[key] = pos
            out.append(raw)
    if defects:
        raise DataError(defects, truncated=len(defects) >= MAX_DEFECTS)
    return out


def embedded_lines(objs: Iterable[RawObject]) -> Iterator[str]:
    """Ids of invoices whose embedded ``lines`` list is truncated (``has_more``)."""
    for o in objs:
        if o.type == "invoices":
            body = json.loads(o.body)
            if body["lines"].get("has_more"):
                yield o.id


__all__ = ["FIELDS", "OBJECT_TYPES", "THREE_DECIMAL", "ZERO_DECIMAL", "ObjectDefect", "RawObject", "canonical",
           "embedded_lines", "object_problems", "read_dir", "ref_id", "to_raw"]
