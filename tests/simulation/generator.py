"""Seeded generation of scenarios: accounts, identities, streams as taps write them,
settings drawn from the settings table, faults and lifecycle steps.

Everything comes from one ``random.Random(seed)``, so a seed is the whole case. Feature
switches (``features``) turn on combinations that today's code is known to get wrong
(known_defects.py); the ordinary sweep runs without the open ones.
"""

from __future__ import annotations

import random
from typing import Any

from tests.simulation.identities import (
    BAD_SCORE,
    Identities,
    draw_identities,
    field_values,
    once_each,
)
from tests.simulation.model import KEY_COLUMNS, SETTINGS_BY_NAME
from tests.simulation.scenario import (
    CAMPAIGN_ID,
    CUSTOM_FIELDS,
    DAILY_LIMIT,
    FLAG_LISTS,
    INPROCESS,
    MEMBERSHIP_LISTS,
    SHARED_LEDGER,
    SIGKILL,
    SIGTERM,
    Account,
    Faults,
    PreRef,
    Scenario,
    SeededProspect,
    Step,
)

#: Feature switches; each names a combination (see known_defects.py).
EMPTY_KEY_CELLS = "empty_key_cells"
RESTART_IDENTITY_MAP = "restart_with_identity_map"
V3_AUTO_FAULTS = "v3_auto_with_faults"
IMPORT_LISTS_SKIP = "import_lists_with_skip_unchanged"
MIRROR_THEN_SKIP = "mirror_then_skip_unchanged"
V4_SAME_PROSPECT_RETRIED = "v4_same_prospect_parallel_or_retried"
RENAME_REPLAYED = "match_email_replayed"
IMPORT_EMPTY_CELLS = "import_empty_cells"
MATCH_EMAIL_IDENTITY_MAP = "match_email_with_identity_map"
SKIP_UNCHANGED_TOGGLED = "skip_unchanged_toggled"
V3_CASE_SKIP_UNCHANGED = "v3_case_variants_with_skip_unchanged"
LEDGER_AFTER_STOP = "skip_unchanged_after_a_stop"
IMPORT_CLEAR_ABSENT = "import_clear_with_absent_columns"
ALL_FEATURES = frozenset(
    {EMPTY_KEY_CELLS, RESTART_IDENTITY_MAP, V3_AUTO_FAULTS, IMPORT_LISTS_SKIP, MIRROR_THEN_SKIP,
     V4_SAME_PROSPECT_RETRIED, RENAME_REPLAYED, IMPORT_EMPTY_CELLS, MATCH_EMAIL_IDENTITY_MAP,
     SKIP_UNCHANGED_TOGGLED, LEDGER_AFTER_STOP, V3_CASE_SKIP_UNCHANGED, IMPORT_CLEAR_ABSENT})
#: max_rejected_percent: mostly the default (50), sometimes a share the rows Pardot must
#: refuse can pass, sometimes off (100).
#: Share of sync runs drawn as `prospect_operation: auto` with a campaign.
AUTO_RATE = 0.3
MAX_REJECTED_PERCENTS = (None, None, None, 0, 5, 100)


def choice_values(name: str) -> tuple[str, ...]:
    """A choice setting's values, from the settings table (empty if it has none)."""
    setting = SETTINGS_BY_NAME.get(name)
    return setting.values if setting is not None else ()


def has_setting(name: str) -> bool:
    return name in SETTINGS_BY_NAME


def generate(seed: int, features: frozenset[str] = frozenset(), focus: str | None = None
             ) -> Scenario:
    """The case of ``seed``. ``features``: the switches on (see known_defects.py);
    ``focus``: one switch whose combination is made likely (to look for its seed)."""
    rng = random.Random(seed)
    boost = frozenset({focus}) if focus else frozenset()
    account = draw_account(rng, v3_likely=V3_AUTO_FAULTS in boost)
    pool = draw_identities(rng, account, many=RESTART_IDENTITY_MAP in boost)
    account.seeded = pool.seeded
    account.seeded_memberships = [
        (rng.choice(MEMBERSHIP_LISTS), index)
        for index in rng.sample(range(len(pool.seeded)), k=min(4, len(pool.seeded)))]
    plan = ScenarioPlan(rng, account, pool, features, boost)
    # Its own stream: drawing `auto` takes nothing from the case's dice, so every seed
    # keeps the case it had before `auto` existed, apart from the runs drawn as auto.
    plan.auto_dice = random.Random(f"{seed}:prospect_operation auto")
    steps = [plan.step(i) for i in range(rng.randint(3 if boost else 2, 6))]
    return Scenario(seed=seed, account=account, steps=steps, features=features, focus=focus)


def draw_account(rng: random.Random, *, v3_likely: bool = False) -> Account:
    ampsea = rng.random() < (0.3 if v3_likely else 0.65)
    return Account(ampsea=ampsea, v3_case_insensitive=v3_likely or rng.random() < 0.6,
                   seeded=[], seeded_memberships=[])


class ScenarioPlan:
    """Decisions that hold for the whole scenario, and the draw of each step."""

    def __init__(self, rng: random.Random, account: Account, pool: Identities,
                 features: frozenset[str], boost: frozenset[str]) -> None:
        self.rng, self.account, self.pool, self.features = rng, account, pool, features
        self.boost = boost
        self.upsert_by_email = (not account.ampsea and rng.random() < 0.5) or (
            account.ampsea and rng.random() < 0.85)
        self.identity_map = rng.random() < 0.7
        self.runs: list[Step] = []
        self.auto_dice = random.Random(0)  # generate() gives each case its own
        self.restarted = False
        focus_restart = RESTART_IDENTITY_MAP in boost
        self.restarts = rng.random() < (0.6 if focus_restart else 0.25)
        self.restart_rate = 0.35 if focus_restart else 0.2
        # Edits and restarts would leave skip_unchanged out of the case (see below).
        self.edits = rng.random() < 0.3 and not boost & {MIRROR_THEN_SKIP, IMPORT_LISTS_SKIP}
        if boost & {MIRROR_THEN_SKIP, IMPORT_LISTS_SKIP}:
            self.restarts = False
        # The ledger only knows what this target sent (documented): a fresh account or a
        # change made in Pardot would make skip_unchanged skip rows on purpose.
        self.skip_unchanged_ok = not (self.restarts or self.edits)
        # skip_unchanged on in every run, or off in every run: the ledger is only true
        # when every run that writes to the account has the same setting (documented).
        on = [IMPORT_LISTS_SKIP in boost or rng.random() < 0.5,
              MIRROR_THEN_SKIP in boost or rng.random() < 0.5]
        self.skip_all = on[0] or (MIRROR_THEN_SKIP in boost and on[1])
        if (self.restarts and self.identity_map and self.upsert_by_email
                and RESTART_IDENTITY_MAP not in features):
            self.identity_map = False
        self.mirrors = MIRROR_THEN_SKIP in boost or rng.random() < 0.4
        self.csv = EMPTY_KEY_CELLS in features and rng.random() < 0.6
        self.renames = account.ampsea and self.upsert_by_email
        self.rename_rate = (0.2 if boost & {RENAME_REPLAYED, MATCH_EMAIL_IDENTITY_MAP}
                            else 0.05)
        self.import_rate = 0.5 if boost & {IMPORT_LISTS_SKIP, IMPORT_EMPTY_CELLS,
                                           IMPORT_CLEAR_ABSENT} else 0.15
        self.membership_rate = 0.6 if MIRROR_THEN_SKIP in boost else 0.3
        self.rerun_rate = 0.6 if boost & {IMPORT_LISTS_SKIP, MIRROR_THEN_SKIP} else 0.35

    # ------------------------------------------------------------------ steps

    def step(self, index: int) -> Step:
        roll = self.rng.random()
        if index > 0 and self.restarts and roll < self.restart_rate:
            self.restarted = True
            return Step(action="restart", account=self.fresh_account())
        if index > 0 and self.edits and roll < 0.35:
            return self.edit_step()
        earlier = [s for s in self.runs if s.stream == "prospects"]
        if self.restarted and earlier and self.rng.random() < 0.7:
            # The same load again, against the fresh account (a CI job's second run).
            step = self.rerun_step(max(earlier, key=lambda s: len(s.rows)))
        elif self.runs and self.rng.random() < self.rerun_rate:
            step = self.rerun_step(self.rng.choice(self.runs))
        elif self.rng.random() < self.membership_rate:
            step = self.membership_step()
        else:
            step = self.prospect_step()
        self.restarted = False
        self.runs.append(step)
        return step

    def fresh_account(self) -> Account:
        """The same kind of account, started afresh: new prospects, ids from the start."""
        seeded = [SeededProspect(email=s.email.replace("@", ".r@"), fid=None,
                                 fields={"company": "fresh"})
                  for s in self.pool.seeded]
        return Account(ampsea=self.account.ampsea,
                       v3_case_insensitive=self.account.v3_case_insensitive,
                       seeded=seeded, seeded_memberships=[])

    def edit_step(self) -> Step:
        index = self.rng.randrange(len(self.pool.seeded))
        if self.rng.random() < 0.5:
            change: dict[str, Any] = {"company": "edited in Pardot"}
        else:
            change = {"email": f"edited{self.rng.randrange(10**6)}@pardot.example"}
        return Step(action="edit", edit=(PreRef(index), change))

    def prospect_step(self) -> Step:
        rng = self.rng
        settings = self.common_settings()
        operation = "sync"
        if self.account.ampsea and self.upsert_by_email and rng.random() < self.import_rate:
            operation = "import"
        if operation != "sync":
            settings["prospect_operation"] = operation
            settings["default_campaign_id"] = CAMPAIGN_ID
        elif self.auto_dice.random() < AUTO_RATE:
            # The default, with a campaign: the planner's import lane is open. Its rows
            # are those of sync (the import lane takes only what it may).
            settings["prospect_operation"] = "auto"
            settings["default_campaign_id"] = CAMPAIGN_ID
        settings["upsert_by_email"] = self.upsert_by_email
        settings["identity_map"] = self.identity_map
        if self.account.ampsea:
            settings["lowercase_emails"] = rng.random() < 0.25
        self.draw_lists(settings)
        if has_setting("empty_values"):
            settings["empty_values"] = rng.choice(choice_values("empty_values"))
        if self.skip_unchanged("prospects"):
            settings["skip_unchanged"] = True
        step = Step(action="run", stream="prospects", settings=settings,
                    shape="csv" if self.csv else "db")
        self.add_faults_and_lifecycle(step)
        self.pool.renames = self.renames
        self.pool.rename_rate = self.rename_rate
        step.rows = self.pool.prospect_rows(
            rng, operation="sync" if operation == "auto" else operation,
            email_rows=self.upsert_by_email or not self.account.ampsea)
        self.apply_gates(step)
        return step

    def rerun_step(self, earlier: Step) -> Step:
        """The same rows again (a tap re-sending its data), some of them changed, with
        settings that may have changed too."""
        rng = self.rng
        settings = dict(earlier.settings)
        settings.update(self.common_settings())
        rows = [dict(row) for row in earlier.rows]
        if rng.random() < 0.5:
            for row in rows:
                if earlier.stream == "prospects" and rng.random() < 0.3:
                    keys = {k: v for k, v in row.items() if k in KEY_COLUMNS}
                    row.clear()
                    row.update(keys | field_values(rng))
        for row in rows:  # the old address of a renamed prospect is gone
            row.pop("match_email", None)
        if earlier.stream == "prospects":
            if IMPORT_LISTS_SKIP in self.boost or rng.random() < 0.5:
                self.draw_lists(settings)
            settings.pop("skip_unchanged", None)
            if self.skip_unchanged("prospects"):
                settings["skip_unchanged"] = True
        else:
            self.draw_membership_operation(settings)
        step = Step(action="run", stream=earlier.stream, rows=rows, settings=settings,
                    shape=earlier.shape)
        self.add_faults_and_lifecycle(step)
        if step.stream == "prospects":
            self.apply_gates(step)
        return step

    def skip_unchanged(self, stream: str) -> bool:
        """Whether this run skips unchanged rows: the case's choice, or a fresh draw when
        runs may turn it on and off."""
        if not self.skip_unchanged_ok:
            return False
        if SKIP_UNCHANGED_TOGGLED in self.features:
            return self.rng.random() < 0.5
        return self.skip_all

    def draw_lists(self, settings: dict[str, Any]) -> None:
        rng = self.rng
        settings.pop("prospect_lists", None)
        settings.pop("prospect_list_operation", None)
        if rng.random() < 0.6:
            settings["prospect_lists"] = ",".join(
                str(x) for x in rng.sample(FLAG_LISTS, k=rng.randint(1, 2)))
            settings["prospect_list_operation"] = rng.choice(choice_values(
                "prospect_list_operation"))

    def apply_gates(self, step: Step) -> None:
        """Leave out the combinations of open defects (known_defects.py) unless their
        switch is on, and mark the rows Pardot must refuse."""
        settings, rows = step.settings, step.rows
        # `auto` may put rows in an import: the import's open defects apply to it too.
        import_ = settings.get("prospect_operation") in ("import", "auto")
        if import_ and settings.get("skip_unchanged") and IMPORT_LISTS_SKIP not in self.features:
            settings.pop("prospect_lists", None)
            settings.pop("prospect_list_operation", None)
        replayed = bool(step.faults.fault_rate or step.faults.applied_but_lost_rate
                        or step.lifecycle != INPROCESS)
        if (replayed and RENAME_REPLAYED not in self.features) or (
                settings.get("identity_map") and MATCH_EMAIL_IDENTITY_MAP not in self.features):
            for row in rows:
                row.pop("match_email", None)
        if not self.account.ampsea and settings.get("skip_unchanged") and (
                V3_CASE_SKIP_UNCHANGED not in self.features):
            for row in rows:  # every email in one case (the pool's)
                if isinstance(row.get("email"), str):
                    row["email"] = row["email"].lower()
        if self.account.ampsea and (settings["parallel_tasks"] > 1 or step.faults.names()) and (
                V4_SAME_PROSPECT_RETRIED not in self.features):
            rows = once_each(rows)
        if import_ and IMPORT_EMPTY_CELLS not in self.features:
            rows = [{k: None if v == "" else v for k, v in row.items()} for row in rows]
        if (import_ and settings.get("empty_values") == "clear"
                and IMPORT_CLEAR_ABSENT not in self.features):
            rows = every_column(rows)  # as a CSV tap writes them: absent is null
        step.rows = rows
        step.invalid_rows = frozenset(i for i, row in enumerate(rows)
                                      if row.get("score") == BAD_SCORE)
        if step.invalid_rows:
            settings["skip_invalid_records"] = True
        self.draw_max_rejected_percent(step)

    @staticmethod
    def draw_max_rejected_percent(step: Step) -> None:
        """Drawn from the step's own rows (not from the case's dice, so that the seeds of
        known_defects.py keep their cases); only on runs played in one go, where the
        share of a resumed run would differ from the step's."""
        step.settings.pop("max_rejected_percent", None)
        if not has_setting("max_rejected_percent") or step.lifecycle != INPROCESS:
            return
        dice = random.Random(repr((sorted(step.settings.items()), step.rows)))
        percent = dice.choice(MAX_REJECTED_PERCENTS)
        if percent is not None:
            step.settings["max_rejected_percent"] = percent

    def membership_step(self) -> Step:
        rng = self.rng
        settings = self.common_settings()
        operation = self.draw_membership_operation(settings)
        rows = self.pool.membership_rows(rng, mirror=operation == "mirror")
        step = Step(action="run", stream="list_memberships", rows=rows, settings=settings)
        self.add_faults_and_lifecycle(step)
        return step

    def draw_membership_operation(self, settings: dict[str, Any]) -> str:
        rng = self.rng
        operations = [op for op in choice_values("list_membership_operation")
                      if op != "mirror" or self.mirrors]
        operation = rng.choice(operations)
        settings["list_membership_operation"] = operation
        settings.pop("skip_unchanged", None)
        settings.pop("mirror_max_removal_percent", None)
        if operation == "mirror":
            percent = rng.choice((20, 50, 100))
            settings["mirror_max_removal_percent"] = (
                100 if MIRROR_THEN_SKIP in self.boost else percent)
        if self.skip_unchanged("list_memberships") and (
                not self.mirrors or MIRROR_THEN_SKIP in self.features):
            settings["skip_unchanged"] = True
        return operation

    def common_settings(self) -> dict[str, Any]:
        rng = self.rng
        settings: dict[str, Any] = {
            "parallel_tasks": rng.choice((1, 1, 2, 3, 5)),
            "batch_wait_limit_seconds": rng.choice((0.2, 1, 30)),
            "maximum_retries": rng.choice((5, 8)),
        }
        if self.account.ampsea:
            settings["api_version"] = rng.choice(("auto", "4"))
        else:
            settings["api_version"] = rng.choice(("auto", "3"))
        return settings

    def add_faults_and_lifecycle(self, step: Step) -> None:
        rng = self.rng
        faults = Faults()
        v3_focus = V3_AUTO_FAULTS in self.boost and not self.account.ampsea
        if v3_focus:
            step.settings["api_version"] = "auto"
        if v3_focus or rng.random() < 0.4:
            faults.fault_rate = rng.choice((0.05, 0.1, 0.2))
        if v3_focus or rng.random() < 0.3:
            faults.applied_but_lost_rate = rng.choice((0.05, 0.1))
        if rng.random() < 0.2:
            faults.token_lifetime_calls = rng.choice((2, 5))
        if rng.random() < 0.15:
            faults.reserved_slots = rng.choice((2, 4))
        v3_faulty = not self.account.ampsea and (faults.fault_rate or faults.applied_but_lost_rate)
        if v3_faulty and step.settings.get("api_version") == "auto":
            if V3_AUTO_FAULTS in self.features:
                # Email-only rows in v4 batches until Pardot says 89, several in flight.
                step.settings["upsert_by_email"] = False
                step.settings["parallel_tasks"] = rng.choice((3, 5))
            else:
                step.settings["api_version"] = "3"
        step.faults = faults
        roll = rng.random()
        if roll < 0.08:
            step.lifecycle = DAILY_LIMIT
        elif roll < 0.12:
            step.lifecycle = SIGKILL
        elif roll < 0.16:
            step.lifecycle = SIGTERM
        elif roll < 0.18 and step.stream == "prospects" and not step.settings.get(
                "prospect_operation"):
            step.lifecycle = SHARED_LEDGER
        else:
            step.lifecycle = INPROCESS
        if (step.lifecycle in (SIGKILL, SIGTERM) and step.settings.get("skip_unchanged")
                and LEDGER_AFTER_STOP not in self.features):
            step.lifecycle = INPROCESS
        if step.lifecycle in (SIGKILL, SIGTERM):
            # Slow calls, so that the kill lands mid-run.
            faults.latency_ms = rng.choice((20, 40))
        step.state_every = rng.choice((1, 5, 10, 25))
        self.focus_on_order(step)

    def focus_on_order(self, step: Step) -> None:
        """Switched-on combinations that depend on the order of calls are played one call
        at a time, with faults drawn from the emulator's seeded dice, so that a seed
        fails (or passes) the same way every time."""
        focus = self.boost & {RENAME_REPLAYED, V4_SAME_PROSPECT_RETRIED, RESTART_IDENTITY_MAP}
        if not focus or step.stream != "prospects":
            return
        if RENAME_REPLAYED in focus:
            step.faults.applied_but_lost_rate = 0.2
            # With transient faults too (up to 0.2), an attempt fails with p up to 0.36:
            # six in a row (maximum_retries 5) is 0.2% per call, about one step in twelve
            # of 40 retried calls (imports/create of seed 63). An exhausted retry budget is
            # the product's honest answer to that, not the defect this focus looks for; at
            # nine attempts it is 0.01% per call.
            step.settings["maximum_retries"] = max(step.settings.get("maximum_retries", 0), 8)
        elif V4_SAME_PROSPECT_RETRIED in focus and self.account.ampsea:
            step.faults.token_lifetime_calls = 2
        elif RESTART_IDENTITY_MAP in focus and self.restarted:
            step.faults = Faults()
        else:
            return
        step.settings["parallel_tasks"] = 1
        step.lifecycle = INPROCESS


def every_column(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with every non-key column of the stream, null where it had none."""
    columns = list(dict.fromkeys(c for row in rows for c in row if c not in KEY_COLUMNS))
    return [{**{c: None for c in columns}, **row} for row in rows]


__all__ = ["ALL_FEATURES", "CUSTOM_FIELDS", "generate"]
