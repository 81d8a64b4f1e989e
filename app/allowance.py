"""The spending guard: how many jobs one person, and the whole team, may create.

A job is counted *before* it is sent, in one transaction that checks every limit and reserves a place
(so no burst of parallel requests gets past a limit), and the place is given back when the upstream
refuses the job. The counts live in the job store's SQLite file, shared by every worker.
"""

import time
from dataclasses import dataclass

from flask_babel import gettext
from limits import parse_many

from app.problems import N_
from app.sqlite import connect

DAY = 86400
SCHEMA = """
CREATE TABLE IF NOT EXISTS allowance (
    id  INTEGER PRIMARY KEY,
    who TEXT NOT NULL,
    at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS allowance_by_who ON allowance (who, at);
CREATE INDEX IF NOT EXISTS allowance_by_time ON allowance (at);
"""


class LimitReached(Exception):
    """No place left; rule says which limit (as a person reads it) and wait how many seconds until one frees."""

    def __init__(self, rule, wait, team=False):
        super().__init__(rule)
        self.rule, self.wait, self.team = rule, max(1, int(wait)), team


@dataclass(frozen=True)
class Rule:
    amount: int
    seconds: int
    text: str


def rules_from(rate_limit, daily_cap):
    """SUBMIT_RATE_LIMIT ('10 per minute;100/hour') and DAILY_SUBMIT_CAP as rules for one person."""
    rules = [Rule(item.amount, item.get_expiry(), str(item)) for item in parse_many(rate_limit)] if rate_limit else []
    if daily_cap:
        rules.append(Rule(daily_cap, DAY, f"{daily_cap} per day"))
    return rules


def rule_text(rule):
    """'5 per minute', in the reader's language."""
    if rule.seconds in PERIODS:
        return gettext(PERIODS[rule.seconds], num=rule.amount)
    return gettext("%(num)d per %(seconds)d seconds", num=rule.amount, seconds=rule.seconds)


PERIODS = {1: N_("%(num)d per second"), 60: N_("%(num)d per minute"), 3600: N_("%(num)d per hour"),
           86400: N_("%(num)d per day"), 2592000: N_("%(num)d per month")}


class Allowance:
    """Reserve-then-send counting over sliding windows, per person and for the team."""

    def __init__(self, path, person_rules, team_daily_cap=0):
        self.path, self.person_rules, self.team_daily_cap = path, list(person_rules), team_daily_cap
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self):
        return connect(self.path)

    def reserve(self, who):
        """A place for one job by `who`; returns its id, or raises LimitReached."""
        now = time.time()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")      # one reservation at a time, across workers
            try:
                for rule in self.person_rules:
                    self._check(db, rule, now, "who = ?", (who,), team=False)
                if self.team_daily_cap:
                    self._check(db, Rule(self.team_daily_cap, DAY, f"{self.team_daily_cap} per day for the whole team"),
                                now, "1", (), team=True)
                place = db.execute("INSERT INTO allowance (who, at) VALUES (?, ?)", (who, now)).lastrowid
                db.execute("DELETE FROM allowance WHERE at < ?", (now - self._longest(),))
                db.execute("COMMIT")
                return place
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _check(self, db, rule, now, where, args, team):
        since = now - rule.seconds
        used = db.execute(f"SELECT COUNT(*) FROM allowance WHERE {where} AND at > ?", (*args, since)).fetchone()[0]
        if used >= rule.amount:
            # The place that frees first is the oldest of the last `amount` counted.
            oldest = db.execute(f"SELECT at FROM allowance WHERE {where} AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?",
                                (*args, since, rule.amount - 1)).fetchone()[0]
            raise LimitReached(rule_text(rule), oldest + rule.seconds - now, team=team)

    def release(self, place):
        """The upstream refused the job: its place is free again."""
        with self._connect() as db:
            db.execute("DELETE FROM allowance WHERE id = ?", (place,))

    def _longest(self):
        return max([DAY, *[r.seconds for r in self.person_rules]])
