"""The Buergerservice citizen as a synthetic user (a journey for ``nahtlos.load``).

Each user logs in as ``buerger<index>``, then keeps doing what citizens do:
fills pages of two or three application forms (drafts saved server-side),
opens form pages and the dashboard, looks at appointment slots, fees and
documents, sometimes pays, books or submits a complete form. Every few steps
it verifies its session: ``/api/me`` must still name this user, and every
draft must read back exactly what the user last wrote.

A write whose fate is unknown (5xx, timeout, dropped connection) makes the
user accept either state on the next read-back, so a failed request is
counted as a failed request and not, in addition, as a lost draft.

    from nahtlos.load import LoadConfig, SyntheticUsers
    from examples.buergerservice.users import BuergerserviceJourney
    report = await SyntheticUsers(LoadConfig(base_url=..., users=500, rate=300),
                                  journey=BuergerserviceJourney).run()
"""

from __future__ import annotations

import itertools
from typing import Any, Awaitable, Callable

from nahtlos.load import Outcome, Reply, VirtualUser

from examples.buergerservice.registry import POSTCODES

DraftState = dict[str, dict[str, str]] | None  # page -> field -> value; None = no draft
FORMS = ("residence-registration", "parking-permit", "dog-licence")
OFFICES = ("kvr-ruppertstrasse", "bb-pasing", "bb-riem", "bb-leonrodplatz")
WORDS = ("Erika", "Mustermann", "Leopoldstraße 12", "Bello", "Dackel", "Augsburg", "Sendling", "BMW")
UNKNOWN_FATE = (Outcome.ERROR_5XX, Outcome.TIMEOUT, Outcome.CONNECTION_ERROR)


class BuergerserviceJourney:
    verify_every = 6  # every n-th step checks identity and reads back every draft
    # Citizens come and go: after this many steps (drawn per session) a user checks its drafts one
    # last time, logs out and later logs in again as a new visitor, who follows the canary weights.
    session_steps = (10, 40)
    password = "demo"
    actions: tuple[tuple[Callable[..., Awaitable[None]], float], ...]  # set below the class

    def __init__(self, user: VirtualUser) -> None:
        self.username = f"buerger{user.index:05d}"
        self.steps = 0
        self.writes = itertools.count(1)
        self.definitions: dict[str, dict[str, Any]] = {}
        self.expected: dict[str, DraftState] = {}  # form -> what the server must hold
        self.unsure: dict[str, list[DraftState]] = {}  # form -> acceptable states after an unknown fate
        self.slot: str | None = None
        self.session_length = 0

    async def step(self, user: VirtualUser) -> None:
        if not user.logged_in:
            await self.login(user)
            return
        self.steps += 1
        if self.steps >= self.session_length:
            await self.logout(user)
            return
        if self.steps % self.verify_every == 0:
            await self.verify(user)
            return
        actions, weights = zip(*self.actions)
        await user.rng.choices(actions, weights=weights)[0](self, user)

    # -- session ----------------------------------------------------------

    async def login(self, user: VirtualUser) -> None:
        reply = await user.request("POST", "/api/login", json={"username": self.username, "password": self.password},
                                   authenticated=False)
        if reply.ok and user.begin_session():
            self.expected, self.unsure, self.definitions = {}, {}, {}
            self.steps, self.session_length = 0, user.rng.randint(*self.session_steps)

    async def logout(self, user: VirtualUser) -> None:
        await self.verify(user)
        if user.logged_in:  # the verification may have found the session lost
            await user.request("POST", "/api/logout", authenticated=False)
            user.end_session()

    async def verify(self, user: VirtualUser) -> None:
        reply = await user.request("GET", "/api/me")
        if reply.ok and reply.json().get("user_id") != self.username:
            user.mark_session_lost(reply)  # someone else's session is as lost as no session
            return
        for form in sorted(set(self.expected) | set(self.unsure)):
            if not user.logged_in:
                return
            await self.read_draft(user, form)

    # -- drafts -----------------------------------------------------------

    def candidates(self, form: str) -> list[DraftState]:
        return self.unsure.get(form) or [self.expected.get(form)]

    def settle(self, form: str, state: DraftState) -> None:
        self.unsure.pop(form, None)
        if state:
            self.expected[form] = state
        else:
            self.expected.pop(form, None)

    def wrote(self, form: str, reply: Reply, after: Callable[[DraftState], DraftState]) -> None:
        """Track a draft write: applied when ok, either way when its fate is unknown."""
        if reply.ok:
            self.settle(form, after(self.expected.get(form)))
        elif reply.outcome in UNKNOWN_FATE:
            states = self.candidates(form)
            self.unsure[form] = states + [after(state) for state in states]

    async def read_draft(self, user: VirtualUser, form: str) -> None:
        reply = await user.request("GET", f"/api/drafts/{form}", expect=(200, 404))
        if not reply.ok:
            return
        held: DraftState = reply.json()["pages"] if reply.status == 200 else None
        if held in self.candidates(form):
            user.draft_verified()
        else:
            user.mark_draft_lost(reply)
        self.settle(form, held)  # continue from what the server holds: count each loss once

    async def definition(self, user: VirtualUser, form: str) -> dict[str, Any] | None:
        if form not in self.definitions:
            reply = await user.request("GET", f"/api/forms/{form}")
            if not reply.ok:
                return None
            self.definitions[form] = reply.json()
        return self.definitions[form]

    def value(self, user: VirtualUser, field: dict[str, Any]) -> str:
        rng, kind = user.rng, field["type"]
        if kind == "date":
            return f"{rng.randint(1950, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if kind == "number":
            return str(rng.randint(1, 6))
        if kind == "email":
            return f"{self.username}@example.org"
        if kind == "postcode":
            return rng.choice(POSTCODES)
        if kind == "plate":
            return f"M-{rng.choice('ABCDEFGH')}{rng.choice('KLMNOPRS')} {rng.randint(1, 9999)}"
        return f"{rng.choice(WORDS)} {next(self.writes)}"  # unique, so a stale write is visible

    async def fill_page(self, user: VirtualUser) -> None:
        form = user.rng.choice(FORMS)
        definition = await self.definition(user, form)
        if definition is None:
            return
        page = user.rng.choice(definition["pages"])
        values = {field["name"]: self.value(user, field) for field in page["fields"]}
        reply = await user.request("PUT", f"/api/drafts/{form}/{page['name']}", json={"fields": values})
        self.wrote(form, reply, lambda state: {**(state or {}), page["name"]: values})

    async def check_draft(self, user: VirtualUser) -> None:
        forms = sorted(set(self.expected) | set(self.unsure))
        await (self.read_draft(user, user.rng.choice(forms)) if forms else self.fill_page(user))

    async def submit(self, user: VirtualUser) -> None:
        complete = [form for form in sorted(self.expected) if form not in self.unsure
                    and form in self.definitions and self._complete(form)]
        if not complete:
            await self.fill_page(user)
            return
        form = user.rng.choice(complete)
        reply = await user.request("POST", f"/api/forms/{form}/submit", expect=(201,))
        self.wrote(form, reply, lambda state: None)

    def _complete(self, form: str) -> bool:
        held = self.expected[form] or {}
        return all(page["name"] in held for page in self.definitions[form]["pages"])

    # -- browsing ---------------------------------------------------------

    async def view_form_page(self, user: VirtualUser) -> None:
        form = user.rng.choice(FORMS)
        pages = [p["name"] for p in self.definitions[form]["pages"]] if form in self.definitions else []
        await user.request("GET", f"/forms/{form}/{user.rng.choice(pages)}" if pages else "/forms")

    async def dashboard(self, user: VirtualUser) -> None:
        await user.request("GET", "/")

    async def me(self, user: VirtualUser) -> None:
        await user.request("GET", "/api/me")

    async def slots(self, user: VirtualUser) -> None:
        reply = await user.request("GET", f"/api/appointments/slots?office={user.rng.choice(OFFICES)}&limit=5")
        if reply.ok and reply.json()["slots"]:
            self.slot = user.rng.choice(reply.json()["slots"])["id"]

    async def book(self, user: VirtualUser) -> None:
        if self.slot is None:
            await self.slots(user)
            return
        slot, self.slot = self.slot, None
        await user.request("POST", "/api/appointments", json={"slot_id": slot}, expect=(201, 409))

    async def fees(self, user: VirtualUser) -> None:
        await user.request("GET", f"/api/payments/fees?service={user.rng.choice(FORMS)}")

    async def pay(self, user: VirtualUser) -> None:
        await user.request("POST", "/api/payments", json={"service": user.rng.choice(FORMS)}, expect=(201,))

    async def documents(self, user: VirtualUser) -> None:
        await user.request("GET", "/api/documents")

    async def preferences(self, user: VirtualUser) -> None:
        await user.request("PUT", "/api/preferences", json={"language": user.rng.choice(("de", "en"))})


# What a step does, and how often (relative weights; verification comes on top).
ACTIONS: tuple[tuple[Callable[[BuergerserviceJourney, VirtualUser], Awaitable[None]], float], ...] = (
    (BuergerserviceJourney.fill_page, 30),
    (BuergerserviceJourney.check_draft, 10),
    (BuergerserviceJourney.view_form_page, 10),
    (BuergerserviceJourney.me, 12),
    (BuergerserviceJourney.dashboard, 8),
    (BuergerserviceJourney.slots, 6),
    (BuergerserviceJourney.fees, 6),
    (BuergerserviceJourney.documents, 5),
    (BuergerserviceJourney.pay, 2),
    (BuergerserviceJourney.submit, 2),
    (BuergerserviceJourney.book, 1),
    (BuergerserviceJourney.preferences, 1),
)
BuergerserviceJourney.actions = ACTIONS
