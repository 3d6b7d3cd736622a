"""Sample records for the demo org: accounts, contacts and deals that look like a real pipeline.

Deterministic: the same ``records`` and ``today`` give the same records (``random.Random(42)``),
so a demo, a screenshot and a bug report all show the same data. Companies are fictional;
websites and e-mail addresses use the reserved ``.example`` top-level domain, phone numbers
the fictional 555-01xx range. Records are written through the record service in batches,
like any other client, so autonumbers, validation and history behave as usual.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from rapport.platform.errors import InvalidRequest

Progress = Callable[[str, int, int], None]  # (what, done, total), like metadata apply's progress
BATCH = 50
MIN_RECORDS = 3

INDUSTRIES: dict[str, tuple[str, ...]] = {
    "technology": ("Software", "Systems", "Analytics", "Labs", "Networks", "Digital"),
    "manufacturing": ("Manufacturing", "Industries", "Fabrication", "Tooling", "Components"),
    "retail": ("Outfitters", "Market", "Goods", "Supply Co.", "Stores"),
    "finance": ("Capital", "Financial", "Partners", "Advisors", "Insurance"),
    "healthcare": ("Health", "Medical", "Clinics", "Biotech", "Care"),
}
BRANDS = ("Northwind", "Bluefin", "Cedar", "Summit", "Harbor", "Ironwood", "Brightline", "Silverleaf",
          "Redstone", "Oakridge", "Granite", "Lakeside", "Pioneer", "Evergreen", "Horizon", "Crescent",
          "Riverbend", "Falcon", "Copperfield", "Meridian", "Westbrook", "Sterling", "Aurora", "Bluebird",
          "Highland", "Keystone", "Maple", "Orchid", "Quarry", "Tidewater")
FIRST_NAMES = ("Ada", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Isabel", "Jonas", "Kemi",
               "Liam", "Maya", "Nikhil", "Olivia", "Pablo", "Quinn", "Rosa", "Samuel", "Tara", "Umar", "Vera",
               "Wei", "Ximena", "Yusuf", "Zoe", "Amara", "Bruno", "Carmen", "Dmitri", "Esther", "Felix",
               "Greta", "Hamza", "Ines", "Jack", "Leila", "Mateo", "Nora", "Oscar")
LAST_NAMES = ("Anderson", "Baker", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Ito",
              "Jensen", "Kowalski", "Lopez", "Mensah", "Nakamura", "Okafor", "Patel", "Rossi", "Schmidt",
              "Tanaka", "Usman", "Varga", "Walsh", "Xu", "Yilmaz", "Zimmermann", "Murphy", "Novak", "Olsen",
              "Park", "Quinlan", "Reyes", "Silva", "Turner", "Weber", "Khan", "Moreau", "Costa", "Berg")
AREA_CODES = ("206", "212", "303", "312", "415", "512", "617", "702")
PRODUCTS = ("platform licence", "renewal", "expansion", "pilot", "support plan", "onboarding",
            "analytics add-on", "enterprise upgrade", "training package", "integration project")
NEXT_STEPS = ("Send proposal", "Schedule a demo", "Follow up on pricing", "Legal review of the contract",
              "Intro call with the CFO", "Security questionnaire", "Agree on the rollout plan")
# stage → (weight in the mix, probability %); probabilities follow the usual sales-stage defaults
STAGES: dict[str, tuple[int, int]] = {
    "prospecting": (20, 10), "qualification": (18, 20), "proposal": (17, 50),
    "negotiation": (12, 75), "closed_won": (18, 100), "closed_lost": (15, 0),
}


def split(records: int) -> dict[str, int]:
    """How many of each object: about 4 accounts : 12 contacts : 14 deals (40/120/140 of 300)."""
    if records < MIN_RECORDS:
        raise InvalidRequest(f"the demo needs at least {MIN_RECORDS} records (one of each object), got {records}",
                             code="demo.too_few_records")
    accounts = max(1, records * 4 // 30)
    contacts = max(1, records * 12 // 30)
    return {"account": accounts, "contact": contacts, "deal": records - accounts - contacts}


def seed(org_runtime: Any, records: int = 300, progress: Progress | None = None, *,
         today: date | None = None) -> dict[str, int]:
    """Create about ``records`` sample records in an org with the demo bundle applied.

    Returns the number created per object. ``progress(what, done, total)`` is called after
    every batch.
    """
    counts = split(records)
    rng = random.Random(42)
    today = today or date.today()
    service = org_runtime.records()
    done = 0

    def create(object_name: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal done
        created: list[dict[str, Any]] = []
        for start in range(0, len(rows), BATCH):
            created += service.create_many(object_name, rows[start:start + BATCH])
            done += len(rows[start:start + BATCH])
            if progress is not None:
                progress(f"{object_name}s", done, records)
        return created

    accounts = create("account", _accounts(rng, counts["account"]))
    contacts = create("contact", _contacts(rng, counts["contact"], accounts))
    create("deal", _deals(rng, counts["deal"], accounts, contacts, today))
    return counts


def _accounts(rng: random.Random, count: int) -> list[dict[str, Any]]:
    names: set[str] = set()
    rows = []
    for _ in range(count):
        industry = rng.choice(list(INDUSTRIES))
        name = _unique(f"{rng.choice(BRANDS)} {rng.choice(INDUSTRIES[industry])}", names)
        employees = int(rng.choice((rng.uniform(10, 200), rng.uniform(200, 2_000), rng.uniform(2_000, 25_000))))
        revenue = round(employees * rng.uniform(80_000, 260_000), -4)
        rows.append({
            "name": name, "industry": industry, "employees": employees, "annual_revenue": revenue,
            "website": f"https://www.{_slug(name)}.example", "phone": _phone(rng),
        })
    return rows


def _contacts(rng: random.Random, count: int, accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    emails: set[str] = set()
    rows = []
    for _ in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        account = rng.choice(accounts) if rng.random() < 0.9 else None
        domain = f"{_slug(account['name'])}.example" if account else "mail.example"
        local = _unique(f"{first}.{last}".lower(), emails, sep="")
        row: dict[str, Any] = {
            "first_name": first, "last_name": last, "email": f"{local}@{domain}", "phone": _phone(rng),
            "account": account["id"] if account else None, "do_not_call": rng.random() < 0.1,
        }
        if rng.random() < 0.4:
            row["birthdate"] = (date(1958, 1, 1) + timedelta(days=rng.randrange(42 * 365))).isoformat()
        rows.append(row)
    return rows


def _deals(rng: random.Random, count: int, accounts: list[dict[str, Any]], contacts: list[dict[str, Any]],
           today: date) -> list[dict[str, Any]]:
    by_account: dict[str, list[str]] = {}
    for contact in contacts:
        if contact["account"]:
            by_account.setdefault(contact["account"], []).append(contact["id"])
    sizes = [max(1.0, a["employees"] ** 0.5) for a in accounts]  # bigger accounts have more deals
    stages, weights = list(STAGES), [w for w, _ in STAGES.values()]
    rows = []
    for _ in range(count):
        account = rng.choices(accounts, weights=sizes)[0]
        stage = rng.choices(stages, weights=weights)[0]
        closed = stage.startswith("closed_")
        overdue = not closed and rng.random() < 0.08
        days = -rng.randint(3, 180) if closed or overdue else rng.randint(7, 180)
        scale = 0.5 if account["employees"] < 200 else 1.0 if account["employees"] < 2_000 else 2.5
        amount = max(1_000, round(rng.lognormvariate(10.3, 0.8) * scale / 500) * 500)
        people = by_account.get(account["id"], [])
        rows.append({
            "name": f"{account['name']} - {rng.choice(PRODUCTS)}", "account": account["id"],
            "primary_contact": rng.choice(people) if people else None, "stage": stage,
            "amount": amount, "probability": STAGES[stage][1],
            "close_date": (today + timedelta(days=days)).isoformat(),
            "next_step": None if closed else rng.choice(NEXT_STEPS),
        })
    return rows


def _unique(value: str, seen: set[str], sep: str = " ") -> str:
    candidate, number = value, 1
    while candidate in seen:
        number += 1
        candidate = f"{value}{sep}{number}"
    seen.add(candidate)
    return candidate


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _phone(rng: random.Random) -> str:
    return f"+1 {rng.choice(AREA_CODES)} 555 01{rng.randint(0, 99):02d}"
