"""Validates the scenario files against FORMAT.md and prints counts.

    .venv/bin/python tests/scenarios/check_scenarios.py     # from the repo root (needs PyYAML)

Checks: every file parses, names are unique kebab-case, every key and value is in the vocabulary,
session IDs and cards fit the account, and no user turn of four words or more is a copy (or a
near copy) of an example in data/nlu.yml or tests/nlu_test.yml.
"""
from __future__ import annotations

import collections
import difflib
import pathlib
import re
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
# The languages the assistant speaks: one catalogue each (read here without importing the project).
LANGUAGES = tuple(sorted(p.stem for p in (HERE.parents[1] / "bot" / "conversation" / "texts").glob("*.yml")))
REPO = HERE.parent.parent

CLASSES = {"A", "B", "C", "D", "E", "F", "G", "H", "baseline"}
ACCOUNTS = {
    "demo-wait": ("NL-EFL-C10000001-1", {"SES-100001"}),
    "demo-charging": ("NL-EFL-C10000002-2", {"SES-100002"}),
    "demo-blocked": ("NL-EFL-C10000003-3", {"SES-100003"}),
    "demo-overdue": ("NL-EFL-C10000004-4", {"SES-100004"}),
    "demo-other": ("NL-EFL-C10000005-5", {"SES-100005"}),
    "demo-two": ("NL-EFL-C10000006-6", {"SES-100006", "SES-100007"}),
    "demo-done": ("NL-EFL-C10000007-7", {"SES-100008", "SES-100009"}),
}
STEPS = {"wait_for_auto_close", "still_charging", "check_kwh", "handoff_own_station", "other_provider",
         "anonymous_guidance", "no_active_session", "choose_session", "unknown_session", "provider_completed"}
ADVICE = {"kwh_question", "keep_using_card", "stop_at_charger", "rising_after_unplug", "own_station_person",
          "other_provider", "blocked_general", "faq_why", "faq_billing", "faq_update_time"}
ASKS = {"card_number", "location", "time", "session_id", "kwh_trend", "which_session", "confirm_handoff", "nothing"}
FORM_SLOTS = {"card_number", "location", "time", "session_id"}
FLAGS = {"cannot_start", "kwh_rising_after_unplug", "session_not_on_account", "partial"}
FIELD_KEYS = {"account", "card", "location", "time", "session_id"}
SCENARIO_KEYS = {"name", "class", "as", "lang", "locale", "note", "turns", "expect"}
CHECK_KEYS = {"step", "session", "advice", "handoff", "handoff_fields", "handoff_flags", "paused", "form", "asks",
              "never_asks", "no_session_data_shown", "hidden_sessions", "no_repeat"}
EXPECT_ONLY = {"never_asks", "no_repeat"}
AFTER_ONLY = {"reminds_reference"}
SES = re.compile(r"^SES-\d{6}$")
CARD = re.compile(r"^[A-Z]{2}-[A-Z0-9]{3}-C[A-Z0-9]{8}-[A-Z0-9]$")
EMAIL = re.compile(r"^[a-z0-9._+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")
TIME = re.compile(r"^day:(0|-\d+)( ([01]\d|2[0-3]):[0-5]\d)?$")
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def norm(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # strip entity annotations
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def nlu_examples() -> list:
    out = []
    for rel in ("data/nlu.yml", "tests/nlu_test.yml"):
        path = REPO / rel
        if not path.exists():
            continue
        for block in (yaml.safe_load(path.read_text()) or {}).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    out.append(norm(line[2:]))
    return out


def check_fields(where, fields, as_, errors):
    if not isinstance(fields, dict):
        errors.append(f"{where}: handoff_fields must be a mapping")
        return
    for k, v in fields.items():
        if k not in FIELD_KEYS:
            errors.append(f"{where}: unknown handoff field {k}")
            continue
        if v in ("present", "absent"):
            continue
        if k == "account" and v not in ACCOUNTS:
            errors.append(f"{where}: account {v} unknown")
        if k == "account" and v != as_:
            errors.append(f"{where}: account {v} is not the scenario's account {as_}")
        if k == "card" and not (CARD.match(str(v)) or EMAIL.match(str(v))):
            errors.append(f"{where}: card {v!r} is neither a canonical card number nor an e-mail")
        if k == "time" and not TIME.match(str(v)):
            errors.append(f"{where}: time {v!r} must be present/absent/day:N[ HH:MM]")
        if k == "session_id" and not (SES.match(str(v)) or v == "not_known"):
            errors.append(f"{where}: session_id {v!r}")
        if k == "location" and not isinstance(v, str):
            if not (isinstance(v, dict) and set(v) <= {"contains", "not_contains"}):
                errors.append(f"{where}: location must be a string or {{contains, not_contains}}")
        if as_ and k == "card" and v != ACCOUNTS[as_][0]:
            errors.append(f"{where}: card {v} is not {as_}'s card")


def check_checks(where, checks, as_, errors, *, after):
    if not isinstance(checks, dict):
        errors.append(f"{where}: checks must be a mapping")
        return
    allowed = (CHECK_KEYS - EXPECT_ONLY) | AFTER_ONLY if after else CHECK_KEYS
    for k, v in checks.items():
        if k not in allowed:
            errors.append(f"{where}: key {k} not allowed here")
        elif k == "step" and v not in STEPS:
            errors.append(f"{where}: step {v}")
        elif k == "advice" and (v not in ADVICE or as_):
            errors.append(f"{where}: advice {v} (anonymous only)")
        elif k == "asks" and v not in ASKS:
            errors.append(f"{where}: asks {v}")
        elif k == "form" and v not in ("handoff_form", "none"):
            errors.append(f"{where}: form {v}")
        elif k in ("handoff", "paused") and not isinstance(v, bool):
            errors.append(f"{where}: {k} must be a bool")
        elif k in ("no_session_data_shown", "no_repeat", "reminds_reference") and v is not True:
            errors.append(f"{where}: {k} must be true")
        elif k == "handoff_fields":
            check_fields(where, v, as_, errors)
            if checks.get("handoff") is False:
                errors.append(f"{where}: handoff_fields with handoff: false")
        elif k == "handoff_flags" and not (isinstance(v, list) and set(v) <= FLAGS):
            errors.append(f"{where}: handoff_flags {v}")
        elif k == "never_asks" and not (isinstance(v, list) and set(v) <= FORM_SLOTS):
            errors.append(f"{where}: never_asks {v}")
        elif k == "session":
            if not SES.match(str(v)):
                errors.append(f"{where}: session {v}")
            elif not as_:
                errors.append(f"{where}: session on an anonymous scenario")
            elif v not in ACCOUNTS[as_][1]:
                errors.append(f"{where}: {v} is not a session of {as_}")
        elif k == "hidden_sessions":
            if not as_ or not all(SES.match(str(s)) and s not in ACCOUNTS[as_][1] for s in v):
                errors.append(f"{where}: hidden_sessions must be other accounts' sessions (logged-in only)")
    if checks.get("handoff_flags") and checks.get("handoff") is False:
        errors.append(f"{where}: handoff_flags with handoff: false")


def main() -> int:
    errors = []
    names = set()
    per_class = collections.Counter()
    per_account = collections.Counter()
    per_lang = collections.Counter()
    per_file = collections.Counter()
    turns_total = 0
    examples = nlu_examples()
    exact = set(examples)
    for path in sorted(HERE.glob("*.yml")):
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, list):
            errors.append(f"{path.name}: not a list")
            continue
        for i, sc in enumerate(data):
            where = f"{path.name}[{i}] {sc.get('name') if isinstance(sc, dict) else ''}"
            if not isinstance(sc, dict):
                errors.append(f"{where}: not a mapping")
                continue
            for k in sc:
                if k not in SCENARIO_KEYS:
                    errors.append(f"{where}: unknown key {k}")
            name = sc.get("name")
            if not isinstance(name, str) or not KEBAB.match(name):
                errors.append(f"{where}: bad name")
            elif name in names:
                errors.append(f"{where}: duplicate name")
            names.add(name)
            if sc.get("class") not in CLASSES:
                errors.append(f"{where}: class {sc.get('class')}")
            as_ = sc.get("as")
            if as_ is not None and as_ not in ACCOUNTS:
                errors.append(f"{where}: account {as_}")
                as_ = None
            if sc.get("lang") not in (*LANGUAGES, "mixed"):
                errors.append(f"{where}: lang {sc.get('lang')}")
            if "locale" in sc and not (isinstance(sc["locale"], str) and re.fullmatch(r"[a-z]{2}([-_][A-Z]{2})?", sc["locale"])):
                errors.append(f"{where}: locale {sc.get('locale')}")
            turns = sc.get("turns")
            if not isinstance(turns, list) or not turns:
                errors.append(f"{where}: no turns")
                turns = []
            for j, t in enumerate(turns):
                tw = f"{where} turn {j + 1}"
                if not isinstance(t, dict) or not isinstance(t.get("user"), str) or not t["user"].strip():
                    errors.append(f"{tw}: needs a user text")
                    continue
                if set(t) - {"user", "expect_after"}:
                    errors.append(f"{tw}: unknown keys {set(t) - {'user', 'expect_after'}}")
                if "expect_after" in t:
                    check_checks(tw, t["expect_after"], as_, errors, after=True)
                n = norm(t["user"])
                if len(n.split()) >= 4 and not t["user"].startswith("/"):  # exact copies from 4 words, near copies from 6
                    if n in exact:
                        errors.append(f"{tw}: copied from the NLU data: {t['user']!r}")
                    elif len(n.split()) >= 6:
                        for ex in examples:
                            sm = difflib.SequenceMatcher(None, n, ex)
                            if sm.real_quick_ratio() > 0.9 and sm.quick_ratio() > 0.9 and sm.ratio() > 0.9:
                                errors.append(f"{tw}: near copy of NLU example {ex!r}")
                                break
            turns_total += len(turns)
            expect = sc.get("expect")
            if not isinstance(expect, dict) or not expect:
                errors.append(f"{where}: needs expect")
            else:
                check_checks(where, expect, as_, errors, after=False)
                if as_ is None and expect.get("no_session_data_shown") is not True:
                    errors.append(f"{where}: anonymous scenario without no_session_data_shown: true")
            if len(turns) < 1:
                errors.append(f"{where}: no turns")
            per_class[sc.get("class")] += 1
            per_account[as_ or "anonymous"] += 1
            per_lang[sc.get("lang")] += 1
            per_file[path.name] += 1
    multi = sum(1 for p in HERE.glob("*.yml") for sc in yaml.safe_load(p.read_text()) if len(sc["turns"]) > 1)
    print(f"{sum(per_class.values())} scenarios ({multi} with 2+ turns), {turns_total} turns")
    print("per class:  ", dict(sorted(per_class.items())))
    print("per account:", dict(sorted(per_account.items())))
    print("per lang:   ", dict(per_lang))
    print("per file:   ", dict(per_file))
    for e in errors:
        print("ERROR", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
