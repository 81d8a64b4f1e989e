"""The spending guard: how many jobs one person, and the whole team, may create.

A job is counted *before* it is sent, in one transaction that checks every limit and reserves a place
(so no burst of parallel requests gets past a limit), and the place is given back when the upstream
refuses the job. The counts live in the job store's SQLite file, shared by every worker.
"""

import time
from dataclasses import dataclass

from limits import parse_many

from app.core.i18n import gettext
from app.core.messages import N_
from app.storage.sqlite import connect

DAY = 86400
PRUNE_EVERY = 64  # every 64th place also clears the places no window counts any more
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

    def __init__(self, rule, wait, team: bool = False) -> None:
        super().__init__(rule)
        self.rule, self.wait, self.team = rule, max(1, int(wait)), team


@dataclass(frozen=True)
class Rule:
    amount: int
    seconds: int
    text: str


def rules_from(rate_limit: str, daily_cap: int) -> list[Rule]:
    """SUBMIT_RATE_LIMIT ('10 per minute;100/hour') and DAILY_SUBMIT_CAP as rules for one person."""
    rules = [Rule(item.amount, item.get_expiry(), str(item)) for item in parse_many(rate_limit)] if rate_limit else []
    if daily_cap:
        rules.append(Rule(daily_cap, DAY, f"{daily_cap} per day"))
    return rules


def rule_text(rule: Rule) -> str:
    """'5 per minute', in the reader's language."""
    if rule.seconds in PERIODS:
        return gettext(PERIODS[rule.seconds], num=rule.amount)
    return gettext("%(num)d per %(seconds)d seconds", num=rule.amount, seconds=rule.seconds)


PERIODS = {
    1: N_("%(num)d per second"),
    60: N_("%(num)d per minute"),
    3600: N_("%(num)d per hour"),
    86400: N_("%(num)d per day"),
    2592000: N_("%(num)d per month"),
}


class Allowance:
    """Reserve-then-send counting over sliding windows, per person and for the team."""

    def __init__(self, path, person_rules, team_daily_cap: int = 0) -> None:
        self.path, self.person_rules, self.team_daily_cap = path, list(person_rules), team_daily_cap
        self.clock = time.time  # tests put their own clock here: windows are then exact
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self):
        return connect(self.path)

    def reserve(self, who: str | None) -> int:
        """A place for one job by `who`; returns its id, or raises LimitReached."""
        now = self.clock()
        checks = [(rule, False) for rule in self.person_rules]
        if self.team_daily_cap:
            checks.append((Rule(self.team_daily_cap, DAY, f"{self.team_daily_cap} per day for the whole team"), True))
        # One statement checks every limit and takes the place, so no burst gets past a limit, and the write
        # lock is held only while SQLite runs it (a transaction of several statements would hold it while
        # its thread waits for the GIL on a busy worker).
        conditions, args = [], [who, now]
        for rule, team in checks:
            conditions.append(
                "(SELECT COUNT(*) FROM allowance WHERE at > ?) < ?"
                if team
                else "(SELECT COUNT(*) FROM allowance WHERE who = ? AND at > ?) < ?"
            )
            args.extend([now - rule.seconds, rule.amount] if team else [who, now - rule.seconds, rule.amount])
        with self._connect() as db:
            for _ in range(3):
                taken = db.execute(
                    f"INSERT INTO allowance (who, at) SELECT ?, ? WHERE {' AND '.join(conditions) or 1}", args
                )
                if taken.rowcount == 1:
                    place = int(taken.lastrowid or 0)  # the row just taken
                    if place % PRUNE_EVERY == 0:  # older places count for nothing
                        db.execute("DELETE FROM allowance WHERE at < ?", (now - self._longest(),))
                    return place
                for rule, team in checks:  # which limit refused it, and how long until a place frees
                    self._refuse_if_full(db, rule, team, who, now)
            raise LimitReached(rule_text(checks[0][0]), 1)  # places came and went three times: try again soon

    @staticmethod
    def _refuse_if_full(db, rule, team, who, now: float):
        since = now - rule.seconds
        where, args = ("1", ()) if team else ("who = ?", (who,))
        # The place that frees first is the oldest of the last `amount` counted (none: there is room).
        oldest = db.execute(
            f"SELECT at FROM allowance WHERE {where} AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?",
            (*args, since, rule.amount - 1),
        ).fetchone()
        if oldest is not None:
            raise LimitReached(rule_text(rule), oldest[0] + rule.seconds - now, team=team)

    def release(self, place: int) -> None:
        """The upstream refused the job: its place is free again."""
        with self._connect() as db:
            db.execute("DELETE FROM allowance WHERE id = ?", (place,))

    def _longest(self):
        return max([DAY, *[r.seconds for r in self.person_rules]])
