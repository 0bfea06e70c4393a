"""The console's Starlette application: pages, actions, live updates, and the guards around them.

Every request but the sign-in page and the static files needs a signed-in
user (:class:`Guard`); every unsafe request needs the session's CSRF token
(a form field or the ``X-CSRF-Token`` header htmx sends); every response
carries a Content-Security-Policy that allows only the console's own scripts
and styles. The access log names the method, the path (never the query
string, which may hold a search) and the user.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal
from importlib.resources import files
from typing import Any
from urllib.parse import quote, urlencode

import structlog
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from orderflow.aggregates.order_taking_setup import Permission
from orderflow.aggregates.values import ApprovalState, CustomerType, WorkflowStatus
from orderflow.application import repair
from orderflow.console.actions import Actions
from orderflow.console.auth import SignInLimiter, User, csrf_matches, new_csrf_token, read_users, verify
from orderflow.console.reads import APPROVALS, FLAGS, ConsoleReader, ListQuery
from orderflow.contract.envelope import format_time, parse_time
from orderflow.settings import ConsoleSettings

log = structlog.get_logger("orderflow.console")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
OPEN_PATHS = ("/signin", "/static/")
LIVE_POLL_SECONDS = 0.25
LIVE_HEARTBEAT_SECONDS = 15.0


def templates() -> Environment:
    env = Environment(loader=PackageLoader("orderflow.console", "templates"), autoescape=select_autoescape(default=True))
    env.filters.update(money=_money, when=_when, blank=lambda v: "" if v is None else v)
    env.globals.update(quote=lambda v: quote(str(v), safe=""), urlencode=urlencode,
                       statuses=[s.value for s in WorkflowStatus], customer_types=[t.value for t in CustomerType],
                       approvals=list(APPROVALS), approval_states=[s.value for s in ApprovalState],
                       flags=list(FLAGS), format_time=format_time)
    return env


class Console:
    """The routes over one reader (queries) and one :class:`Actions` (publishing), for the configured users."""

    def __init__(self, settings: ConsoleSettings, reader: ConsoleReader, actions: Actions):
        self.settings = settings
        self.reader = reader
        self.actions = actions
        self.users = read_users(settings.users_json)
        self.limiter = SignInLimiter(settings.signin_attempts_per_minute)
        self.env = templates()

    # -- helpers ------------------------------------------------------------------------------------

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        user = request.scope.get("user")
        context |= {"request": request, "user": user, "csrf": request.session.get("csrf", ""),
                    "partial": request.headers.get("hx-request") == "true"}
        return HTMLResponse(self.env.get_template(name).render(context), status_code=status)

    def user_of(self, request: Request) -> User | None:
        """The signed-in user: the trusted proxy header's, or the session's while it has not expired."""
        if self.settings.trusted_header:
            named = request.headers.get(self.settings.trusted_header, "")
            user = self.users.get(named)
            if user is not None and not request.session.get("csrf"):
                request.session["csrf"] = new_csrf_token()
            return user
        session = request.session
        user = self.users.get(session.get("user", ""))
        signed_in = session.get("signed_in_at", 0)
        if user is None or not isinstance(signed_in, (int, float)) or time.time() - signed_in > self.settings.session_max_age_seconds:
            return None
        return user

    def personal_shown(self, user: User) -> bool:
        return bool(set(user.roles).intersection(self.settings.personal_roles))

    # -- sign-in ------------------------------------------------------------------------------------

    async def signin_page(self, request: Request) -> Response:
        if not request.session.get("csrf"):
            request.session["csrf"] = new_csrf_token()
        return self.render(request, "signin.html", trusted=bool(self.settings.trusted_header))

    async def signin(self, request: Request) -> Response:
        form = await request.form()
        user_id, password = str(form.get("user", ""))[:100], str(form.get("password", ""))[:1000]
        client = request.client.host if request.client else "?"
        keys = (f"user:{user_id}", f"client:{client}")
        if self.settings.trusted_header:
            return PlainTextResponse("sign-in is done by the reverse proxy", status_code=404)
        if not self.limiter.allowed(*keys):
            log.warning("console sign-in refused: too many attempts", client=client)
            return self.render(request, "signin.html", status=429, error="Too many sign-in attempts: wait a minute.")
        user = await run_in_threadpool(verify, self.users, user_id, password)
        if user is None:
            self.limiter.failed(*keys)
            log.info("console sign-in failed", client=client)
            return self.render(request, "signin.html", status=401, error="Wrong user or password.")
        request.session.clear()
        request.session.update(user=user.user_id, signed_in_at=int(time.time()), csrf=new_csrf_token())
        log.info("console sign-in", user=user.user_id)
        return RedirectResponse("/", status_code=303)

    async def signout(self, request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/signin", status_code=303)

    # -- pages --------------------------------------------------------------------------------------

    async def orders(self, request: Request) -> Response:
        query = ListQuery.from_params(request.query_params)
        page = await run_in_threadpool(self.reader.list_orders, query, self.personal_shown(request.scope["user"]))
        return self.render(request, "orders.html", query=query, page=page, sortable=_sortable())

    async def order(self, request: Request) -> Response:
        reference = request.path_params["reference"]
        as_of, bad_time = _as_of(request.query_params.get("as_of", ""))
        version = request.query_params.get("version", "")
        user: User = request.scope["user"]
        try:
            page = await run_in_threadpool(self.reader.order_page, reference, as_of,
                                           int(version) if version.isdigit() else None, self.personal_shown(user))
        except LookupError as error:
            return self.render(request, "error.html", status=404, message=str(error))
        permissions = (await run_in_threadpool(self.reader.app.get_setup)).permissions
        may = {p.name: user.may(permissions, p) for p in Permission}
        return self.render(request, "order.html", page=page, order=page.order, reference=reference, may=may,
                           bad_time=bad_time, as_of_text=request.query_params.get("as_of", ""))

    async def diff(self, request: Request) -> Response:
        reference = request.path_params["reference"]
        before, after = request.query_params.get("before", "1"), request.query_params.get("after", "")
        try:
            order, old, new, changes = await run_in_threadpool(
                self.reader.version_pair, reference, int(before or 1), int(after or 0) or -1)
        except (LookupError, ValueError) as error:
            return self.render(request, "error.html", status=404, message=str(error))
        return self.render(request, "diff.html", order=order, reference=reference, old=old, new=new, changes=changes)

    async def failed(self, request: Request) -> Response:
        failed = await run_in_threadpool(self.reader.failed)
        return self.render(request, "failed.html", failed=failed)

    async def failed_edit(self, request: Request) -> Response:
        try:
            entry, payload = await run_in_threadpool(self.reader.failed_payload, request.path_params["entry"])
        except LookupError as error:
            return self.render(request, "error.html", status=404, message=str(error))
        return self.render(request, "failed_edit.html", entry=entry, payload=payload)

    async def repair(self, request: Request) -> Response:
        """Redrive (the message as it was, or edited) or discard one journal entry, as the signed-in user,
        through issue 19's service API (the one the CLI's ``orderflow errors`` calls)."""
        entry_id, action = request.path_params["entry"], request.path_params["action"]
        form = {k: str(v)[:100_000] for k, v in (await request.form()).items()}
        user: User = request.scope["user"]
        settings = self.actions.settings
        try:
            if action == "discard":
                change = await run_in_threadpool(lambda: repair.discard(
                    settings, entry_id, user=user.user_id, reason=form.get("reason", "").strip()))
                detail, applied = f"discarded ({change.reason})", True
            elif action == "redrive":
                edited = json.loads(form["payload"]) if form.get("payload") else None
                outcome = await run_in_threadpool(lambda: repair.redrive(
                    settings, repair.Scope(entry_id=entry_id), user=user.user_id, payload=edited))
                skipped = "; ".join(s.why for s in outcome.skipped)
                applied = bool(outcome.sent)
                detail = (f"redriven{' with the edited payload' if edited is not None else ''}: published again to "
                          f"{', '.join(f'{s.topic}:{s.partition}' for s in outcome.sent)}; the engine applies it "
                          "and records what became of it on the entry" if outcome.sent else f"not sent: {skipped}")
            else:
                return PlainTextResponse("no such repair", status_code=404)
        except ValueError as error:  # RepairRefused, or an edit that is not JSON
            return self.render(request, "outcome.html", applied=False, detail=str(error))
        log.info("console repair", user=user.user_id, action=action, entry=entry_id, applied=applied)
        return self.render(request, "outcome.html", applied=applied, detail=detail)

    async def act(self, request: Request) -> Response:
        reference, action = request.path_params["reference"], request.path_params["action"]
        form = {k: str(v)[:2000] for k, v in (await request.form()).items()}
        user: User = request.scope["user"]
        try:
            outcome = await run_in_threadpool(self.actions.act, action, reference, form, user.actor())
        except (ValueError, KeyError) as error:
            return self.render(request, "outcome.html", applied=False, detail=str(error))  # 200: htmx shows it
        log.info("console action", user=user.user_id, action=action, order=reference, applied=outcome.applied)
        return self.render(request, "outcome.html", applied=outcome.applied, detail=outcome.detail)

    async def live(self, request: Request) -> Response:
        """Server-sent events: ``changed`` whenever the list (with ``?order=``, that order; with ``?journal=1``,
        the error journal) moves."""
        reference = request.query_params.get("order", "")
        journal = request.query_params.get("journal") == "1"
        if reference:
            mark = lambda: self.reader.order_mark(reference)  # noqa: E731
        else:
            mark = (lambda: self.reader.change_mark("error_journal")) if journal else self.reader.change_mark

        async def stream():
            last = await run_in_threadpool(mark)
            quiet_since = time.monotonic()
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                await asyncio.sleep(LIVE_POLL_SECONDS)
                now = await run_in_threadpool(mark)
                if now != last:
                    last, quiet_since = now, time.monotonic()
                    yield f"event: changed\ndata: {now}\n\n"
                elif time.monotonic() - quiet_since > LIVE_HEARTBEAT_SECONDS:
                    quiet_since = time.monotonic()
                    yield ": still here\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"x-accel-buffering": "no"})

    def routes(self) -> list:
        static = StaticFiles(directory=str(files("orderflow.console") / "static"))
        return [
            Route("/signin", self.signin_page, methods=["GET"]),
            Route("/signin", self.signin, methods=["POST"]),
            Route("/signout", self.signout, methods=["POST"]),
            Route("/", self.orders),
            Route("/orders/{reference}", self.order),
            Route("/orders/{reference}/diff", self.diff),
            Route("/orders/{reference}/actions/{action}", self.act, methods=["POST"]),
            Route("/failed", self.failed),
            Route("/failed/{entry}/edit", self.failed_edit),
            Route("/failed/{entry}/{action}", self.repair, methods=["POST"]),
            Route("/live", self.live),
            Mount("/static", static, name="static"),
        ]


class Guard:
    """Signed-in users only (but on the sign-in page and the static files), the CSRF token on every unsafe
    method, the security headers on every response, and an access log line without the query string."""

    def __init__(self, app: ASGIApp, console: Console):
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope, receive)
        path, method = scope["path"], scope["method"]
        user = self.console.user_of(request)
        scope["user"] = user
        status = {"code": 0}

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *SECURITY_HEADERS]
            await send(message)

        refusal = self.refusal(request, user, path, method)
        if refusal is None and method not in ("GET", "HEAD", "OPTIONS"):
            refusal = await self.csrf_refusal(request)
            receive = _replay(request)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)
        log.info("console request", method=method, path=path, status=status["code"],
                 user=user.user_id if user else None, ms=round((time.perf_counter() - started) * 1000, 1))

    def refusal(self, request: Request, user: User | None, path: str, method: str) -> Response | None:
        if user is not None or path.startswith(OPEN_PATHS):
            return None
        if method == "GET" and request.headers.get("hx-request") != "true" and path != "/live":
            return RedirectResponse("/signin", status_code=303)
        return PlainTextResponse("sign in first", status_code=401)

    async def csrf_refusal(self, request: Request) -> Response | None:
        given = request.headers.get("x-csrf-token")
        await request.body()  # kept, so that the route reads the same body again
        if given is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            field = (await request.form()).get("csrf")
            given = field if isinstance(field, str) else None
        if csrf_matches(request.session.get("csrf"), given):
            return None
        log.warning("console request refused: CSRF token missing or wrong", path=request.url.path)
        return PlainTextResponse("refused: the form's security token is missing or wrong; reload the page",
                                 status_code=403)


def _replay(request: Request) -> Receive:
    """A receive that gives the body already read (for the CSRF check) to the route again."""
    async def receive() -> dict:
        body = await request.body()
        return {"type": "http.request", "body": body, "more_body": False}
    return receive


def build_app(settings: ConsoleSettings, reader: ConsoleReader, actions: Actions) -> Starlette:
    """The console as an ASGI application (served by ``orderflow console`` with uvicorn)."""
    console = Console(settings, reader, actions)
    secret = settings.session_secret or secrets.token_urlsafe(32)
    app = Starlette(routes=console.routes(), middleware=[
        Middleware(SessionMiddleware, secret_key=secret, session_cookie="orderflow_console",
                   max_age=settings.session_max_age_seconds, same_site="strict", https_only=False),
        Middleware(Guard, console=console),
    ])
    app.state.console = console
    return app


def _sortable() -> dict[str, str]:
    from orderflow.console.reads import SORTABLE
    return dict.fromkeys(SORTABLE, "")


def _as_of(text: str) -> tuple[datetime | None, bool]:
    """The as-of instant of the query (``datetime-local`` in UTC, or ISO 8601 with a zone); (None, True) if bad."""
    if not text:
        return None, False
    try:
        when = parse_time(text) if text.endswith("Z") or "+" in text else datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None, True
    return when, False


def _money(value: Any) -> str:
    if value is None or value == "":
        return ""
    return f"{Decimal(str(value)):,.2f}"


def _when(value: Any) -> str:
    if value is None or value == "":
        return ""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if at.tzinfo else at.strftime("%Y-%m-%d %H:%M:%S")
