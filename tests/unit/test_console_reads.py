"""The console's list queries and sign-in rules, on an embedded database (no browser, no broker)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("starlette")

from orderflow.console import reads  # noqa: E402
from orderflow.console.auth import BadUsers, SignInLimiter, csrf_matches, read_users, verify  # noqa: E402
from orderflow.console.reads import ConsoleReader, ListQuery  # noqa: E402
from orderflow.db import Database  # noqa: E402
from orderflow.projections.web_orders import COLUMNS, WebOrdersView  # noqa: E402

STATUSES = ("Received", "Reservation", "Shipped")


def fill(db: Database, totals: list[Decimal]) -> None:
    view = WebOrdersView(is_postgres=False)
    with db.transaction() as cursor:
        view.create_tables(cursor)
        cursor.execute("CREATE TABLE IF NOT EXISTS projection_tracking (name TEXT PRIMARY KEY, position BIGINT)")
        for n, total in enumerate(totals, start=1):
            row = dict.fromkeys(COLUMNS)
            row |= {"web_order_no": f"WO{n:010d}", "storefront_reference": f"SF-{n:06d}", "order_date": "2026-11-02",
                    "workflow_status": STATUSES[n % 3], "current_total": str(total), "amount_paid": "0",
                    "amount_mismatch": n % 5 == 0, "unpaid": False, "underpaid": False, "overpaid": False,
                    "refused": False, "version_count": 1, "last_event": "Placed", "position": n,
                    "sell_to_customer_no": f"C{n % 4}", "sell_to_customer_name": "Anna Lind"}
            cursor.execute(f"INSERT INTO web_orders (id, {', '.join(COLUMNS)}) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})",
                           [f"id-{n:04d}", *(row[c] for c in COLUMNS)])


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'console.db'}")
    yield database
    database.close()


def every_page(reader: ConsoleReader, **query: str) -> list[list[dict]]:
    pages, after = [], ""
    while True:
        page = reader.list_orders(ListQuery(**query, after=after), personal_shown=True)
        pages.append(page.rows)
        after = page.next_after
        if not after:
            return pages


@settings(max_examples=15, deadline=None)
@given(totals=st.lists(st.decimals(min_value=0, max_value=999, places=2), min_size=0, max_size=130),
       direction=st.sampled_from(["asc", "desc"]))
def test_keyset_pages_together_hold_every_row_once_in_sort_order(tmp_path_factory, totals, direction):
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('pages') / 'console.db'}")
    try:
        fill(database, totals)
        reader = ConsoleReader(app=None, db=database)
        pages = every_page(reader, sort="current_total", direction=direction)
        rows = [row for page in pages for row in page]
        keys = [(Decimal(row["current_total"]), row["id"]) for row in rows]
        assert keys == sorted(keys, reverse=direction == "desc")
        assert len(rows) == len(totals) == len({row["id"] for row in rows})
        assert all(len(page) <= reads.PAGE_SIZE for page in pages)
    finally:
        database.close()


def test_filters_combine_and_the_counts_cover_every_order(db):
    fill(db, [Decimal(n) for n in range(1, 31)])
    reader = ConsoleReader(app=None, db=db)
    page = reader.list_orders(ListQuery(status="Shipped", flag="mismatch"), personal_shown=True)
    assert page.rows and all(r["workflow_status"] == "Shipped" and r["amount_mismatch"] for r in page.rows)
    assert page.total == 30 and dict(page.counts)["Shipped"] == 10


def test_the_search_is_exact_unless_it_ends_with_a_star(db):
    fill(db, [Decimal(1)] * 12)
    reader = ConsoleReader(app=None, db=db)
    exact = reader.list_orders(ListQuery(q="WO0000000001"), personal_shown=True).rows
    prefix = reader.list_orders(ListQuery(q="WO000000001*"), personal_shown=True).rows
    assert [r["web_order_no"] for r in exact] == ["WO0000000001"]
    assert {r["web_order_no"] for r in prefix} == {"WO0000000010", "WO0000000011", "WO0000000012"}


def test_a_search_with_like_wildcards_matches_them_literally(db):
    fill(db, [Decimal(1)] * 3)
    rows = ConsoleReader(app=None, db=db).list_orders(ListQuery(q="WO%*"), personal_shown=True).rows
    assert rows == []


def test_a_role_without_personal_fields_sees_the_customer_name_masked(db):
    fill(db, [Decimal(1)])
    [row] = ConsoleReader(app=None, db=db).list_orders(ListQuery(), personal_shown=False).rows
    assert row["sell_to_customer_name"] == reads.MASK


def test_unknown_filter_values_and_a_broken_cursor_are_ignored():
    query = ListQuery.from_params({"status": "Lost", "sort": "sell_to_customer_name; DROP", "direction": "sideways",
                                   "date_from": "yesterday", "after": "%%%"})
    assert (query.status, query.sort, query.direction, query.date_from) == ("", "web_order_no", "desc", "")
    assert reads._read_cursor(query.after) is None


def test_users_need_argon2_hashes_never_passwords():
    with pytest.raises(BadUsers, match="argon2 hash"):
        read_users('{"ann": {"password_hash": "secret", "roles": ["Sales"]}}')
    with pytest.raises(BadUsers, match="roles"):
        read_users('{"ann": {"password_hash": ""}}')


def test_the_right_password_signs_in_and_a_wrong_one_or_an_unknown_user_does_not():
    from argon2 import PasswordHasher

    users = read_users(f'{{"ann": {{"password_hash": "{PasswordHasher().hash("pw")}", "roles": ["Sales"]}}}}')
    assert verify(users, "ann", "pw").roles == ("Sales",)
    assert verify(users, "ann", "wrong") is None and verify(users, "bob", "pw") is None


def test_sign_in_attempts_are_limited_per_minute_then_allowed_again():
    now = [0.0]
    limiter = SignInLimiter(3, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.allowed("user:ann", "client:1")
        limiter.failed("user:ann", "client:1")
    assert not limiter.allowed("user:ann", "client:2")  # the user is limited from any address
    assert not limiter.allowed("user:bob", "client:1")  # and the address for any user
    now[0] = 61
    assert limiter.allowed("user:ann", "client:1")


def test_a_csrf_token_matches_only_itself_and_never_when_missing():
    assert csrf_matches("abc", "abc")
    assert not csrf_matches("abc", "abd") and not csrf_matches("abc", None) and not csrf_matches(None, None)
    assert not csrf_matches("", "")
