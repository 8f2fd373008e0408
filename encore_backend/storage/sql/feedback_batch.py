"""Many feedback (and their customers) in one transaction: the batch endpoint and `encore import`.

Same outcome as calling `SqlFeedbackStore.ingest` once per item, in order, but with a handful of
statements per batch: one lookup of known external_ids, one of known customer emails, one
multi-row insert of new customers and one of the feedback (RETURNING their ids, in order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.bulk_rows import in_values, insert_numbered

f, c = m.feedback, m.customers
CUSTOMER_FIELDS = ("name", "lifetime_value", "tier")
Item = tuple[Mapping[str, Any], Mapping[str, Any] | None]


def ingest_items(conn: Connection, items: Sequence[Item], now: datetime) -> list[tuple[int, bool]]:
    """(feedback_id, created) per item; a repeated (venue_id, external_id), in the batch or
    stored, gives the first feedback's id and False, and its customer is not touched."""
    known = _known_external_ids(conn, items)
    results: list[tuple[int, bool] | None] = [None] * len(items)
    fresh: list[int] = []
    first_of: dict[tuple[str, str], int] = {}
    for index, (feedback, _customer) in enumerate(items):
        key = _key(feedback)
        if key is not None and key in known:
            results[index] = (known[key], False)
        elif key is not None and key in first_of:
            continue  # a repeat within the batch: filled once the first one has its id
        else:
            fresh.append(index)
            if key is not None:
                first_of[key] = index
    customer_ids = upsert_customers(conn, [items[i][1] for i in fresh], now)
    rows = [
        {
            **_feedback_values(items[i][0]),
            "customer_id": cid,
            "status": "new",
            "ingested_at": now,
        }
        for i, cid in zip(fresh, customer_ids, strict=True)
    ]
    for index, feedback_id in zip(fresh, insert_numbered(conn, f, rows), strict=True):
        results[index] = (feedback_id, True)
    for index, (feedback, _customer) in enumerate(items):
        if results[index] is None:
            first = results[first_of[_key(feedback)]]  # type: ignore[index]
            assert first is not None
            results[index] = (first[0], False)
    return [r for r in results if r is not None]


def _key(feedback: Mapping[str, Any]) -> tuple[str, str] | None:
    external_id = feedback.get("external_id")
    return None if external_id is None else (str(feedback["venue_id"]), str(external_id))


def _feedback_values(feedback: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("venue_id", "rating", "comment", "created_at", "external_id")
    return {k: feedback.get(k) for k in keys}


def _known_external_ids(conn: Connection, items: Sequence[Item]) -> dict[tuple[str, str], int]:
    """Stored (venue_id, external_id) → feedback_id among the batch's keys."""
    keys = {k for k in (_key(fb) for fb, _ in items) if k is not None}
    venues = sorted({v for v, _ in keys})
    external_ids = sorted({e for _, e in keys})
    found: dict[tuple[str, str], int] = {}
    columns = (f.c.venue_id, f.c.external_id, f.c.feedback_id)
    for condition in in_values(conn, f.c.external_id, external_ids) if keys else ():
        query = select(*columns).where(f.c.venue_id.in_(venues), condition)
        for venue_id, external_id, feedback_id in conn.execute(query):
            if (venue_id, external_id) in keys:
                found[(venue_id, external_id)] = int(feedback_id)
    return found


def upsert_customers(
    conn: Connection, customers: Sequence[Mapping[str, Any] | None], now: datetime
) -> list[int | None]:
    """The customer id of each entry (None for None): matched by email and updated with the
    given fields (later entries win, as one upsert after another would), else inserted."""
    merged: dict[str, dict[str, Any]] = {}
    for customer in customers:
        if customer and customer.get("email"):
            merged.setdefault(customer["email"], {}).update(_given(customer))
    by_email = _stored_customers(conn, list(merged))
    _update_changed(conn, merged, by_email, now)
    new = [{"email": e, **_all_fields(g)} for e, g in merged.items() if e not in by_email]
    ids = insert_numbered(conn, c, [_stamped(r, now) for r in new])
    ids_by_email = {e: int(row["customer_id"]) for e, row in by_email.items()}
    ids_by_email.update({r["email"]: i for r, i in zip(new, ids, strict=True)})
    return _assign(customers, ids_by_email, _anonymous_ids(conn, customers, now))


def _anonymous_ids(
    conn: Connection, customers: Sequence[Mapping[str, Any] | None], now: datetime
) -> list[int]:
    """New customers for the entries with fields but no email (each is a new customer)."""
    rows = [
        _stamped({"email": None, **_all_fields(_given(x))}, now)
        for x in customers
        if x and not x.get("email")
    ]
    return insert_numbered(conn, c, rows)


def _assign(
    customers: Sequence[Mapping[str, Any] | None],
    ids_by_email: Mapping[str, int],
    anonymous: list[int],
) -> list[int | None]:
    pending = iter(anonymous)
    out: list[int | None] = []
    for customer in customers:
        if not customer:
            out.append(None)
        elif customer.get("email"):
            out.append(ids_by_email[customer["email"]])
        else:
            out.append(next(pending))
    return out


def _given(customer: Mapping[str, Any]) -> dict[str, Any]:
    return {k: customer[k] for k in CUSTOMER_FIELDS if customer.get(k) is not None}


def _all_fields(given: Mapping[str, Any]) -> dict[str, Any]:
    return {k: given.get(k) for k in CUSTOMER_FIELDS}


def _stamped(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    return {**row, "created_at": now, "updated_at": now}


def _stored_customers(conn: Connection, emails: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    columns = (c.c.customer_id, c.c.email, *(c.c[k] for k in CUSTOMER_FIELDS))
    for condition in in_values(conn, c.c.email, emails) if emails else ():
        query = select(*columns).where(condition)
        found.update({r.email: dict(r._mapping) for r in conn.execute(query)})
    return found


def _update_changed(
    conn: Connection,
    merged: Mapping[str, Mapping[str, Any]],
    stored: Mapping[str, Mapping[str, Any]],
    now: datetime,
) -> None:
    """Write the given fields of known customers, only where they differ from what is stored."""
    for email, given in merged.items():
        row = stored.get(email)
        if row is None or all(_same(row[k], v) for k, v in given.items()):
            continue
        change = update(c).where(c.c.customer_id == row["customer_id"])
        conn.execute(change.values(**given, updated_at=now))


def _same(stored: Any, given: Any) -> bool:
    try:
        return bool(stored == given) or (stored is not None and float(stored) == float(given))
    except (TypeError, ValueError):
        return False
