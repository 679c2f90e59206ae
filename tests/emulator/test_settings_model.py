"""The typed settings and the settings table name the same settings, in the same order,
and the control keys still reach them."""

from __future__ import annotations

from dataclasses import fields

import pytest

from pardot_emulator.app import App
from pardot_emulator.config import SPECS, SettingError, defaults
from pardot_emulator.settings import EmulatorSettings


def test_every_setting_of_the_table_is_a_typed_field():
    assert [f.name for f in fields(EmulatorSettings)] == [spec.name for spec in SPECS]


def test_the_defaults_round_trip_through_the_typed_value():
    assert EmulatorSettings.from_values(defaults()).values() == defaults()


def test_configure_coerces_into_the_typed_value_and_keeps_the_old_one_whole():
    app = App()
    before = app.settings
    app.configure(daily_limit="25", lists="1-3", fault_kinds="drop,slow")
    assert (app.settings.daily_limit, app.settings.lists) == (25, frozenset({1, 2, 3}))
    assert app.settings.fault_kinds == ("drop", "slow")
    assert before.daily_limit is None, "a reader holding the old value never sees it change"
    with pytest.raises(SettingError, match="reserved_slots"):
        app.configure(concurrency_limit=1, reserved_slots=2)
    assert app.settings.concurrency_limit == 5, "a refused change leaves the settings as they were"


def test_the_state_reports_the_settings_under_the_same_keys():
    config = App(lists="1-3,7").state()["config"]
    assert list(config) == [spec.name for spec in SPECS]
    assert config["lists"] == "1-3,7"
    assert config["fault_kinds"] == ["http500", "http503", "code183", "drop", "slow"]

