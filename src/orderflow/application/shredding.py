"""Forgetting a customer (crypto-shredding): each customer's personal fields under a key of their own.

An order's events are stored with their personal fields (the property names
the schemas mark ``x-personal``, :mod:`orderflow.contract.personal`) replaced by
``<encrypted>``; the values themselves travel in the same stored event, in one
AES-GCM ciphertext under the key of the order's customer (the event state's
``__personal__``: the customer's subject id and the ciphertext). Reading the
event puts them back. Deleting the customer's key (``orderflow forget``) makes
every such field of every event of that customer read as ``<forgotten>``,
wherever the events are read: the aggregates, history, the read models (after
a rebuild), exports, outbound re-publishing. Amounts, lines, statuses, numbers
and times are never personal and stay.

Who the customer of an order is (:func:`customer_of`), decided at placement:
its web account (``account:<web_account_no>``), else for a B2B customer the
sell-to customer (``customer:<no>``), else its e-mail address (a guest,
``email:<address>``), else the order alone (``order:<storefront reference>``).

The key store (:class:`CustomerKeys`, two tables next to the events) maps a
hash of the customer id to a random subject id and its key, and each order to
its subject. Events carry only the random subject id, so once the key row is
deleted nothing links the customer id (an e-mail address, say) to its orders.
A new customer's key row and each new order's row are written in the
transaction that records the order's first event (staged rows, see
:mod:`orderflow.application.positions`): an order costs no transaction of its own, and a
key is never stored without the events sealed with it, nor the other way round.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from base64 import b64decode, b64encode
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Cipher, Mapper, StoredEvent
from eventsourcing.utils import get_topic

from orderflow.application.positions import Rows, Staged
from orderflow.contract.personal import personal_fields

ENCRYPTED = "<encrypted>"
FORGOTTEN = "<forgotten>"
FIELD = "__personal__"
ORDER_TOPICS = "orderflow.aggregates.web_order:WebOrder."
KINDS = ("account", "customer", "email", "order")
KEY_TTL_SECONDS = 30.0
"""How long a process trusts a key it read: another process's ``forget`` shows here within this time."""
CACHED_SUBJECTS = 2_000
"""Customers' keys, and orders' subjects, kept in memory at most (memory flat however many orders: issue 10)."""


class UnknownCustomer(LookupError):
    """No customer with a key under this id (never seen, or already forgotten)."""


def customer_of(order: Any, storefront_reference: str) -> str:
    """The customer an order's personal data belongs to, as ``kind:id`` (see the module docstring)."""
    order = order if isinstance(order, dict) else {}
    b2c = order.get("b2c_customer") if isinstance(order.get("b2c_customer"), dict) else {}
    account = b2c.get("web_account_no")
    if isinstance(account, str) and account.strip():
        return f"account:{account.strip()}"
    number = order.get("sell_to_customer_no")
    if order.get("customer_type") == "B2B Customer" and isinstance(number, str) and number.strip():
        return f"customer:{number.strip()}"
    email = b2c.get("email") or order.get("email")
    if isinstance(email, str) and email.strip():
        return f"email:{email.strip().lower()}"
    return f"order:{storefront_reference}"


def candidates(customer: str) -> list[str]:
    """The customer ids ``orderflow forget CUSTOMER`` may mean: ``kind:id`` as given, else every kind of id."""
    customer = customer.strip()
    kind, _, rest = customer.partition(":")
    if kind in KINDS and rest:
        return [f"{kind}:{rest.lower() if kind == 'email' else rest}"]
    if "@" in customer:
        return [f"email:{customer.lower()}"]
    return [f"{kind}:{customer}" for kind in ("account", "customer", "order")]


def customer_hash(customer: str) -> str:
    return hashlib.sha256(f"orderflow-customer:{customer}".encode()).hexdigest()


class CustomerKeys:
    """The key store: customer (hashed) -> random subject id and key; order -> subject.

    In the event store's own database (``customer_keys``, ``order_customers``),
    or in memory for ``memory:``. With a master cipher (``ORDERFLOW_CIPHER_KEY``)
    the keys are stored encrypted with it.
    """

    def __init__(self, datastore: Any = None, postgres: bool = False, wrap: Cipher | None = None,
                 staged: Staged | None = None):
        self._datastore, self._postgres, self._wrap = datastore, postgres, wrap
        self._staged = staged if staged is not None else Staged()
        self._subjects: dict[str, tuple[str | None, float]] = {}
        """customer hash -> its subject (None: no key), as read or staged, trusted for ``KEY_TTL_SECONDS``."""
        self._recording = threading.local()
        """``pending``: (customer hash, subject, order id) staged for the transaction this thread is recording."""
        self._lock = threading.Lock()
        self._memory: dict[str, tuple[str, bytes]] = {}
        self._memory_orders: dict[str, str] = {}
        self._keys: dict[str, tuple[bytes | None, float]] = {}
        self._orders: OrderedDict[str, str] = OrderedDict()
        self.forgotten = 0
        """How many customers this process forgot: a reader that keeps decoded events drops them when it grows."""
        if datastore is not None:
            self._create_tables()

    # -- SQL -----------------------------------------------------------------------------------------

    def _table(self, name: str) -> str:
        return f"{self._datastore.schema}.{name}" if self._postgres else name

    def _sql(self, sql: str, params: tuple = (), fetch: bool = False, then: tuple[str, tuple] | None = None,
             commit: bool = True) -> list[Any]:
        """Run ``sql`` (and ``then``, in the same transaction); return ``sql``'s rows if ``fetch``."""
        rows: list[Any] = []
        with self._datastore.transaction(commit=commit) as cursor:
            for n, (text, args) in enumerate([(sql, params), *([then] if then else [])]):
                text = text.format(keys=self._table("customer_keys"), orders=self._table("order_customers"))
                cursor.execute(text.replace("?", "%s") if self._postgres else text, args)
                if n == 0 and fetch:
                    rows = list(cursor.fetchall())
        return rows

    def _create_tables(self) -> None:
        blob = "BYTEA" if self._postgres else "BLOB"
        self._sql(f"CREATE TABLE IF NOT EXISTS {{keys}} (subject TEXT PRIMARY KEY, customer_hash TEXT UNIQUE NOT NULL, "
                  f"key {blob} NOT NULL)")
        self._sql("CREATE TABLE IF NOT EXISTS {orders} (order_id TEXT PRIMARY KEY, subject TEXT NOT NULL)")

    # -- keys ------------------------------------------------------------------------------------------

    def subject_for(self, customer: str, order_id: str) -> str:
        """The subject id of ``customer``, created with a fresh key if the customer has none (or was forgotten);
        ``order_id`` is remembered as one of its orders. Written with the events being recorded (staged rows);
        a key another process created meanwhile for the same customer is an ``IntegrityError`` there."""
        digest = customer_hash(customer)
        subject: str | None
        if self._datastore is None:
            subject, key = _new_subject(), AESGCM.generate_key(256)
            stored = self._wrap.encrypt(key) if self._wrap else key
            with self._lock:
                subject, _ = self._memory.setdefault(digest, (subject, stored))
                self._memory_orders.setdefault(order_id, subject)
            self._cache_order(order_id, subject)
            return subject
        cached = self._subjects.get(digest)
        if cached is None or time.monotonic() - cached[1] >= KEY_TTL_SECONDS:
            self.prefetch([customer])
            cached = self._subjects[digest]
        subject = cached[0]
        if subject is not None and self.key(subject) is None:
            subject = None  # forgotten: the customer starts again with a new key
        if subject is None:
            subject, key = _new_subject(), AESGCM.generate_key(256)
            stored = self._wrap.encrypt(key) if self._wrap else key
            self._staged.add(Rows("customer_keys", ("subject", "customer_hash", "key"), [(subject, digest, stored)],
                                  pg_types=("text", "text", "bytea")))
            self._put(self._subjects, digest, (subject, time.monotonic()))
            self._put(self._keys, subject, (key, time.monotonic()))
            # Until its row is written, the store cannot give the key back: it must not be lost to the cache's bound.
            self._recording.__dict__.setdefault("pending_keys", {})[subject] = key
        self._staged.add(Rows("order_customers", ("order_id", "subject"), [(order_id, subject)], skip_existing=True))
        self._recording.__dict__.setdefault("pending", []).append((digest, subject, order_id))
        self._cache_order(order_id, subject)
        return subject

    def prefetch(self, customers: list[str], cursor: Any = None) -> None:
        """Read the subjects and keys of these customers (those not known) in one query (with ``cursor``, in its
        transaction)."""
        if self._datastore is None:
            return
        now = time.monotonic()
        hashes = {customer_hash(c) for c in customers}
        digests = [d for d in hashes if (c := self._subjects.get(d)) is None or now - c[1] >= KEY_TTL_SECONDS]
        if not digests:
            return
        sql = f"SELECT subject, customer_hash, key FROM {{keys}} WHERE customer_hash IN ({','.join('?' * len(digests))})"
        if cursor is None:
            rows = self._sql(sql, tuple(digests), fetch=True, commit=False)
        else:
            sql = sql.format(keys=self._table("customer_keys"))
            cursor.execute(sql.replace("?", "%s") if self._postgres else sql, tuple(digests))
            rows = list(cursor.fetchall())
        found = {row["customer_hash"]: row for row in rows}
        for digest in digests:
            row = found.get(digest)
            self._put(self._subjects, digest, (None if row is None else row["subject"], now))
            if row is not None:
                stored = bytes(row["key"])
                self._put(self._keys, row["subject"], (self._wrap.decrypt(stored) if self._wrap else stored, now))

    def settle(self, recorded: bool) -> None:
        """The transaction that wrote the staged rows ended; if it was not recorded, forget what it would have made."""
        pending, self._recording.pending = self._recording.__dict__.get("pending", []), []
        self._recording.pending_keys = {}
        if recorded:
            return
        for digest, subject, order_id in pending:
            self._subjects.pop(digest, None)
            self._keys.pop(subject, None)
            self._orders.pop(order_id, None)

    def key(self, subject: str) -> bytes | None:
        """The subject's key; None once its customer was forgotten."""
        if (pending := self._recording.__dict__.get("pending_keys")) and subject in pending:
            return pending[subject]  # created by this thread's batch, not written yet
        cached = self._keys.get(subject)
        if cached is not None and time.monotonic() - cached[1] < KEY_TTL_SECONDS:
            return cached[0]
        if self._datastore is None:
            stored = next((k for s, k in self._memory.values() if s == subject), None)
        else:
            rows = self._sql("SELECT key FROM {keys} WHERE subject = ?", (subject,), fetch=True)
            stored = bytes(rows[0]["key"]) if rows else None
        key = self._wrap.decrypt(stored) if stored is not None and self._wrap else stored
        self._put(self._keys, subject, (key, time.monotonic()))
        return key

    def prefetch_keys(self, subjects: Any) -> None:
        """Read the keys of these subjects (those not cached, or cached longer than the TTL) in one query.

        Unsealing a page of events asks for each of their customers' keys; read one by one that is a
        round trip per customer. A subject without a key row (forgotten) is cached as None, as :meth:`key` does.
        """
        if self._datastore is None:
            return
        now = time.monotonic()
        wanted = [s for s in set(subjects) if (c := self._keys.get(s)) is None or now - c[1] >= KEY_TTL_SECONDS]
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start:start + 1000]
            rows = self._sql(f"SELECT subject, key FROM {{keys}} WHERE subject IN ({','.join('?' * len(chunk))})",
                             tuple(chunk), fetch=True, commit=False)
            found = {row["subject"]: bytes(row["key"]) for row in rows}
            for subject in chunk:
                stored = found.get(subject)
                key = self._wrap.decrypt(stored) if stored is not None and self._wrap else stored
                self._put(self._keys, subject, (key, now))

    def find(self, customer: str) -> tuple[str, int] | None:
        """The customer's subject id and how many orders it has; None if it has no key."""
        digest = customer_hash(customer)
        if self._datastore is None:
            found = self._memory.get(digest)
            if found is None:
                return None
            return found[0], sum(1 for s in self._memory_orders.values() if s == found[0])
        rows = self._sql("SELECT subject FROM {keys} WHERE customer_hash = ?", (digest,), fetch=True)
        if not rows:
            return None
        subject = rows[0]["subject"]
        return subject, self._sql("SELECT count(*) AS n FROM {orders} WHERE subject = ?", (subject,), fetch=True)[0]["n"]

    def forget(self, customer: str) -> tuple[str, int] | None:
        """Delete the customer's key; return its subject and how many orders it had (None: no such customer)."""
        digest = customer_hash(customer)
        if self._datastore is None:
            with self._lock:
                found = self._memory.pop(digest, None)
            if found is None:
                return None
            subject = found[0]
            orders = sum(1 for s in self._memory_orders.values() if s == subject)
        else:
            rows = self._sql("DELETE FROM {keys} WHERE customer_hash = ? RETURNING subject", (digest,), fetch=True)
            if not rows:
                return None
            subject = rows[0]["subject"]
            orders = self._sql("SELECT count(*) AS n FROM {orders} WHERE subject = ?", (subject,), fetch=True)[0]["n"]
        self._subjects.pop(digest, None)
        self._keys[subject] = (None, time.monotonic())
        self.forgotten += 1
        return subject, orders

    # -- orders ----------------------------------------------------------------------------------------

    def subject_of_order(self, order_id: str) -> str | None:
        subject = self._orders.get(order_id)
        if subject is not None:
            self._orders.move_to_end(order_id)
            return subject
        if self._datastore is None:
            subject = self._memory_orders.get(order_id)
        else:
            rows = self._sql("SELECT subject FROM {orders} WHERE order_id = ?", (order_id,), fetch=True)
            subject = rows[0]["subject"] if rows else None
        if subject is not None:
            self._cache_order(order_id, subject)
        return subject

    def subjects_of(self, order_ids: list[str]) -> dict[str, str]:
        """The subject ids of these orders (those that have one), read in a few queries: the pseudonymous
        customer key of exports, the same for all of a customer's orders and kept after a forget."""
        if self._datastore is None:
            return {o: s for o in order_ids if (s := self._memory_orders.get(o)) is not None}
        found: dict[str, str] = {}
        for start in range(0, len(order_ids), 500):
            chunk = tuple(order_ids[start:start + 500])
            rows = self._sql(f"SELECT order_id, subject FROM {{orders}} WHERE order_id IN ({','.join('?' * len(chunk))})",
                             chunk, fetch=True, commit=False)
            found.update({row["order_id"]: row["subject"] for row in rows})
        return found

    def _put(self, cache: dict[str, tuple[Any, float]], name: str, entry: tuple[Any, float]) -> None:
        """Remember ``entry`` (a value and when it was read) in a cache of at most :data:`CACHED_SUBJECTS`:
        when full, expired entries go first, then the oldest quarter. What is dropped is read again when needed."""
        if name not in cache and len(cache) >= CACHED_SUBJECTS:
            now = time.monotonic()
            kept = [(k, v) for k, v in list(cache.items()) if now - v[1] < KEY_TTL_SECONDS]
            if len(kept) >= CACHED_SUBJECTS:
                kept = kept[CACHED_SUBJECTS // 4:]
            with self._lock:
                cache.clear()
                cache.update(kept)
        cache[name] = entry

    def _cache_order(self, order_id: str, subject: str) -> None:
        self._orders[order_id] = subject
        if len(self._orders) > CACHED_SUBJECTS:
            self._orders.popitem(last=False)


class ShreddingMapper(Mapper[UUID]):
    """The library's mapper, with the personal fields of order events under the customer's key.

    ``keys`` is set by the application once its recorder exists; until then (and for other aggregates'
    events) it maps as the library does.
    """

    keys: CustomerKeys | None = None
    stored_forgotten = 0
    """How many events this mapper stored with a forgotten customer's fields as forgotten (the events in memory
    still hold them: the read models written inline skip such a batch)."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if self.keys is None or not get_topic(type(domain_event)).startswith(ORDER_TOPICS):
            return super().to_stored_event(domain_event)
        state = dict(vars(domain_event))
        subject = self._subject(state)
        if subject is None:
            return super().to_stored_event(domain_event)
        key = self.keys.key(subject)
        names = personal_fields().names
        values: list[str] = []
        if key is None:  # the customer was forgotten and the order still takes events: they are stored forgotten
            state = _swap(state, names, _is_value, lambda _: FORGOTTEN)
            self.stored_forgotten += 1
        else:

            def seal(value: str) -> str:
                values.append(value)
                return ENCRYPTED

            state = _swap(state, names, _is_value, seal)
            if values:
                nonce = _nonce()
                sealed = AESGCM(key).encrypt(nonce, json.dumps(values).encode(), subject.encode())
                state[FIELD] = {"s": subject, "c": b64encode(nonce + sealed).decode()}
        masked = object.__new__(type(domain_event))  # the event itself is not changed: it may be in use
        object.__setattr__(masked, "__dict__", state)
        return super().to_stored_event(masked)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        domain_event = super().to_domain_event(stored_event)
        sealed = domain_event.__dict__.pop(FIELD, None)
        if sealed is not None:
            self._unseal(domain_event, sealed)
        return domain_event

    def to_domain_events(self, stored_events: Any) -> list[Any]:
        """:meth:`to_domain_event` of each, with the keys of all their customers read in one query."""
        events = [Mapper.to_domain_event(self, stored_event) for stored_event in stored_events]
        sealed = [(event, seal) for event in events if (seal := event.__dict__.pop(FIELD, None)) is not None]
        if sealed and self.keys is not None:
            self.keys.prefetch_keys(seal["s"] for _, seal in sealed)
        for event, seal in sealed:
            self._unseal(event, seal)
        return events

    def _unseal(self, domain_event: Any, sealed: dict[str, str]) -> None:
        """Put the sealed values back in place of ``<encrypted>`` (``<forgotten>`` once the key is gone).

        The event's state was just decoded, so nobody else holds it: it is changed in place, in the order
        :func:`_swap` sealed the values.
        """
        values = iter(self._open(sealed))
        _unseal_in_place(domain_event.__dict__, personal_fields().names, values)

    def prefetch(self, events: Any) -> None:
        """Read the keys of the customers of the orders these events place, in one query, before they are mapped."""
        if self.keys is None:
            return
        customers = []
        for event in events:
            state = vars(event)
            if state.get("originator_version") == 1 and "storefront_reference" in state \
                    and get_topic(type(event)).startswith(ORDER_TOPICS):
                source = state.get("draft") if "draft" in state else state.get("payload")
                customers.append(customer_of(source, state["storefront_reference"]))
        if customers:
            self.keys.prefetch(customers)

    def _subject(self, state: dict[str, Any]) -> str | None:
        assert self.keys is not None
        order_id = str(state["originator_id"])
        if state.get("originator_version") == 1 and "storefront_reference" in state:
            source = state.get("draft") if "draft" in state else state.get("payload")
            return self.keys.subject_for(customer_of(source, state["storefront_reference"]), order_id)
        return self.keys.subject_of_order(order_id)

    def _open(self, sealed: dict[str, str]) -> list[str]:
        assert self.keys is not None
        key = self.keys.key(sealed["s"])
        if key is None:
            return []
        raw = b64decode(sealed["c"])
        cipher = _ciphers.get(key)
        if cipher is None:
            if len(_ciphers) >= CACHED_SUBJECTS:
                _ciphers.clear()
            cipher = _ciphers[key] = AESGCM(key)
        try:
            return json.loads(cipher.decrypt(raw[:12], raw[12:], sealed["s"].encode()))
        except InvalidTag:  # a newer key of a customer forgotten and seen again: the old values stay forgotten
            return []


class _Random(threading.local):
    """Random bytes (nonces, subject ids), read from the OS 4 KiB at a time rather than one system call each."""

    def __init__(self) -> None:
        self.pool, self.at = b"", 0

    def take(self, n: int = 12) -> bytes:
        if self.at + n > len(self.pool):
            self.pool, self.at = os.urandom(4092), 0
        self.at += n
        return self.pool[self.at - n:self.at]


_random = _Random().take


def _nonce() -> bytes:
    """A random 96-bit AES-GCM nonce."""
    return _random(12)


def _new_subject() -> str:
    """A random subject id: a version-4 UUID (as ``uuid.uuid4()`` makes it) in hex."""
    return uuid.UUID(bytes=_random(16), version=4).hex


_ciphers: dict[bytes, AESGCM] = {}
"""Key -> its AES-GCM cipher, for unsealing: a customer's events are many, the cipher is made once (a cache)."""


def _is_value(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _swap(value: Any, names: frozenset[str], match: Callable[[Any], bool], swap: Callable[[str], str],
          depth: int = 0) -> Any:
    """``value`` with every personal field whose value ``match``\\ es replaced by ``swap(value)``, in order.

    Copy on write: a dict or list is copied only when something in it is replaced, and left as it is (shared)
    otherwise; ``value`` itself is never changed. Only containers are descended into (issue 10: most values
    are leaves, and a call per leaf was most of the time spent sealing an event).
    """
    if depth > 12:
        return value
    if isinstance(value, dict):
        copy = None
        for k, v in value.items():
            if k in names and match(v):
                new = swap(v)
            elif isinstance(v, (dict, list)):
                new = _swap(v, names, match, swap, depth + 1)
                if new is v:
                    continue
            else:
                continue
            if copy is None:
                copy = dict(value)
            copy[k] = new
        return value if copy is None else copy
    if isinstance(value, list):
        copied = None
        for i, v in enumerate(value):
            if isinstance(v, (dict, list)) and (new := _swap(v, names, match, swap, depth + 1)) is not v:
                if copied is None:
                    copied = list(value)
                copied[i] = new
        return value if copied is None else copied
    return value


def _unseal_in_place(value: Any, names: frozenset[str], values: Any, depth: int = 0) -> None:
    """:func:`_swap` with ``match`` ``== ENCRYPTED`` and ``swap`` the next of ``values``, on ``value`` itself."""
    if depth > 12:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if k in names and v == ENCRYPTED:
                value[k] = next(values, FORGOTTEN)
            elif isinstance(v, (dict, list)):
                _unseal_in_place(v, names, values, depth + 1)
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, (dict, list)):
                _unseal_in_place(v, names, values, depth + 1)
