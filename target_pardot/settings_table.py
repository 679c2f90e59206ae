"""Every setting of the target, once: the config schema, meltano.yml and the README's
settings table are made from this table (`python scripts/settings_docs.py` rewrites the two
files; tests/unit/test_docs_agree.py fails when they drift).

Adding a setting: one `Setting(...)` here, and its typed field on `settings.Settings`
(a test checks the two agree). A setting of a plain kind (boolean, integer, number,
string, a choice) needs no parsing code: `settings.parse_settings` reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from target_pardot.pardot.limits import DEFAULT_MAX_PAYLOAD, MAX_CONCURRENT_REQUESTS

#: Kinds: how a value is parsed, typed in the schema, and shown in meltano.yml.
BOOLEAN, INTEGER, NUMBER, STRING, CHOICE, LIST_IDS = (
    "boolean", "integer", "number", "string", "choice", "list_ids",
)  # fmt: skip


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str
    #: One text for the schema, meltano.yml and the README (Markdown backticks allowed).
    description: str
    default: Any = None
    #: For CHOICE: (value, label in meltano.yml), in order.
    choices: tuple[tuple[str, str], ...] = ()
    required: bool = False
    secret: bool = False
    #: Smallest value accepted, for INTEGER and NUMBER.
    minimum: float = 0
    #: The README's default column when it is not the default itself.
    default_text: str | None = None
    label: str | None = None
    #: For CHOICE: the values that are numbers may also be given as JSON numbers.
    numbers_too: bool = False
    #: Largest value accepted, for INTEGER and NUMBER (None: no bound).
    maximum: float | None = None
    #: meltano.yml's kind when it is not the one of the setting's kind.
    meltano_kind: str | None = None

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)


SETTINGS: tuple[Setting, ...] = (
    Setting("client_id", STRING, required=True, label="Client ID",
            description="Consumer key of the Salesforce connected app."),
    Setting("client_secret", STRING, secret=True, label="Client Secret",
            default_text="(required, secret; not used by `auth_flow: jwt_bearer`)",
            description="Consumer secret of the Salesforce connected app."),
    Setting("refresh_token", STRING, secret=True, label="Refresh Token",
            default_text="(secret; required for `auth_flow: refresh_token`)",
            description="Refresh token from authorising the connected app."),
    Setting("auth_flow", CHOICE, default="refresh_token",
            choices=(("refresh_token", "Refresh token"),
                     ("client_credentials", "Client credentials"),
                     ("jwt_bearer", "JWT bearer")),
            description="OAuth grant: `refresh_token`, `client_credentials` (client id and "
            "secret only; `login_url` must then be the org's My Domain URL), or `jwt_bearer` "
            "(client id, `username` and an RSA private key; no secret, no refresh token). See "
            "Authentication in the README."),
    Setting("username", STRING,
            default_text="(required for `auth_flow: jwt_bearer`)",
            description="`auth_flow: jwt_bearer`: the Salesforce username the integration runs "
            "as (the JWT's subject)."),
    Setting("private_key", STRING, secret=True, label="Private Key",
            default_text="(secret; `jwt_bearer` needs it or `private_key_path`)",
            description="`auth_flow: jwt_bearer`: the RSA private key (PEM, unencrypted) whose "
            "certificate is uploaded to the connected app."),
    Setting("private_key_path", STRING,
            description="`auth_flow: jwt_bearer`: a file holding that PEM key, instead of "
            "`private_key`."),
    Setting("login_url", STRING,
            default_text="`https://login.salesforce.com/` (`https://test.salesforce.com/` "
            "with `sandbox`)",
            description="Salesforce login URL. Must be https (http only on a loopback host)."),
    Setting("pardot_domain", STRING,
            default_text="`https://pi.pardot.com` (`https://pi.demo.pardot.com` with "
            "`sandbox`)",
            description="Pardot API host. Developer orgs use `https://pi.demo.pardot.com` "
            "too. Must be https (http only on a loopback host)."),
    Setting("business_unit", STRING, required=True, label="Business Unit ID",
            description="Pardot Business Unit ID: starts with `0Uv`, 18 characters "
            "(Salesforce Setup > Pardot Account Setup). Anything else is a configuration "
            "error before any call."),
    Setting("data_object", CHOICE, default="prospects",
            choices=(("prospects", "Prospects"), ("list_memberships", "List memberships")),
            description="`prospects` or `list_memberships`. A stream named `prospects` or "
            "`list_memberships` always loads its own object; every other stream loads this "
            "one."),
    Setting("skip_invalid_records", BOOLEAN, default=False,
            description="`true`: skip invalid rows, count them by reason and file them. "
            "`false`: stop at the first invalid row, without emitting STATE for "
            "undelivered rows."),
    Setting("prospect_operation", CHOICE, default="auto",
            choices=(("auto", "Auto (the cheapest safe path per row)"),
                     ("sync", "Sync (upsert)"), ("update", "Update existing only"),
                     ("import", "Bulk import (v5 Import API)")),
            description="`auto`: the target picks each row's path, the cheapest that "
            "cannot duplicate: batches by `id`, `fid` or mapped email; v3 batches by email "
            "on accounts without AMPSEA; unknown email-only rows through an import when 7 or "
            "more wait and a campaign is available (`default_campaign_id` or a `campaign_id` "
            "column), else `upsertLatestByEmail` (see docs/prospects.md). `sync`: upsert "
            "(v4 `batchUpsert`). `update`: only update existing prospects by `id` or `fid`, "
            "never create (v4 `batchUpdate`). `import`: bulk upsert through the v5 Import "
            "API, a few dozen calls per million rows."),
    Setting("prospect_lists", LIST_IDS, default_text="(none)",
            description='Lists every sent prospect is added to or removed from, by id or '
            'by name: `"1,2,Webinar Q4"` or `[1, 2, "Webinar Q4"]` (see docs/audiences.md).'),
    Setting("prospect_list_operation", CHOICE, default="add",
            choices=(("add", "Add"), ("remove", "Remove")),
            description="`add` or `remove`, for `prospect_lists`."),
    Setting("upsert_by_email", BOOLEAN, default=True,
            description="Email-only rows go through v5 `upsertLatestByEmail`, which never "
            "duplicates (one call per row; known emails go 50 per call with `identity_map`). "
            "`false`: v4 batches, which create a new prospect for every email-only row on "
            "AMPSEA accounts, on every run (Treasure Data's default; see Pitfalls in the "
            "README)."),
    Setting("empty_values", CHOICE, default="skip",
            choices=(("skip", "Skip (leave the field as it is)"), ("clear", "Clear the field")),
            description="What a null, an empty string or a whitespace-only string does to a "
            "non-key field: `skip` leaves the Pardot field as it is; `clear` clears it (on "
            "every path; imports through the `nullOverwrite` column option). The run summary "
            "counts the fields skipped or cleared."),
    Setting("max_rejected_percent", NUMBER, default=50, maximum=100,
            description="When a run rejects more than this share of its rows, it still "
            "delivers the good rows and writes a true STATE, then ends with exit code 1."),
    Setting("api_version", CHOICE, default="auto", numbers_too=True,
            choices=(("auto", "Auto (detect from errors 88/89)"), ("4", "4 (AMPSEA on)"),
                     ("3", "3 (AMPSEA off)")),
            description="`auto`, `4` or `3`: the Pardot API version of prospect and "
            "membership calls. v4 for accounts with AMPSEA, v3 for accounts without it; "
            "`auto` starts on v4 and switches when Pardot answers error 89 (or 88). See "
            "docs/prospects.md."),
    Setting("parallel_tasks", INTEGER, default=1, minimum=1,
            description="Pardot calls in flight at once, across all streams. Capped at "
            f"{MAX_CONCURRENT_REQUESTS}, Pardot's per-account limit, with a warning."),
    Setting("max_payload", INTEGER, default=DEFAULT_MAX_PAYLOAD, minimum=1_000,
            description="Largest body of one batch call, in bytes of the urlencoded body. "
            "Lower it if Pardot answers HTTP 413 or 414."),
    Setting("list_membership_operation", CHOICE, default="upsert",
            choices=(("upsert", "Upsert"), ("delete", "Delete"), ("mirror", "Mirror")),
            description="`upsert`, `delete` or `mirror`, for list memberships. `mirror` makes "
            "each list named in the stream hold exactly the stream's prospects; see "
            "docs/list-memberships.md."),
    Setting("create_missing_lists", BOOLEAN, default=True,
            description="A list name (a `list_name` column, or a name in `prospect_lists`) "
            "that matches no list creates that list, once (never for `delete`). `false`: such "
            "rows are rejected "
            "(`no_such_list`) and a name in `prospect_lists` stops its stream."),
    Setting("mirror_max_removal_percent", NUMBER, default=20, maximum=100,
            description="With `mirror`: a list whose removals would exceed this share of its "
            "current members gets no removals (its additions still happen), and the run ends "
            "with exit code 1."),
    Setting("maximum_retries", INTEGER, default=5,
            description="Retries of a call that failed transiently."),
    Setting("initial_retry_wait", NUMBER, default=1,
            description="Seconds before the first retry; the wait doubles each time, with "
            "full jitter."),
    Setting("maximum_retry_wait", NUMBER, default=120,
            description="Longest wait between two retries, in seconds."),
    Setting("maximum_connection_timeout", NUMBER, default=300, minimum=0.1,
            description="Longest wait for one Pardot reply, in seconds."),
    Setting("sandbox", BOOLEAN, default=False,
            description="Makes the sandbox hosts (test.salesforce.com and "
            "pi.demo.pardot.com) the defaults of `login_url` and `pardot_domain`."),
    Setting("rejected_records_path", STRING, default_text="(none)",
            description='A JSONL file to which every rejected row is appended (never '
            'truncated) as `{"run_id","run_started_at","stream","position","record",'
            '"reason","code"}`: `position` is the row\'s place in its stream. Checked at start '
            "(a directory or an unwritable place is a configuration error); created readable "
            "by its owner only (personal data)."),
    Setting("dry_run", BOOLEAN, default=False,
            description="Validate every row and plan every call; send no write call (its "
            "reads, a token request and the custom-field read among them, check the "
            "credentials). The summary lists the calls it would have made."),
    Setting("dry_run_offline", BOOLEAN, default=False,
            description="A dry run that sends nothing at all, not even the token request: "
            "it needs no reachable host and does not check the credentials."),
    Setting("progress_interval_seconds", NUMBER, default=10,
            description="Seconds between two progress lines on stderr (rows received and "
            "sent, rows/s, API calls); `0` turns them off."),
    Setting("batch_wait_limit_seconds", NUMBER, default=30,
            description="Longest time a received row (or STATE) waits before it is sent (or "
            "written), even when the batch is not full: a slow tap sees its rows loaded and "
            "its STATE emitted as it goes."),
    Setting("search_deleted_prospects", BOOLEAN, default=True,
            description="v5 `secondaryDeletedSearch`: when only deleted prospects have the "
            "email, restore and update the latest one rather than create a new prospect."),
    Setting("lowercase_emails", BOOLEAN, default=False,
            description="Lowercase every email before sending. Pardot matches emails "
            "case-sensitively."),
    Setting("skip_unchanged", BOOLEAN, default=False,
            description="Do not send a row whose payload Pardot already accepted, unchanged, "
            "in an earlier run (a local SQLite ledger); count it as unchanged in the run "
            "summary."),
    Setting("ledger_path", STRING, default_text="(under the user's cache directory)",
            description="SQLite file of the `skip_unchanged` ledger and of the identity map. "
            "Default `~/.cache/target-pardot/ledger-<business_unit>.sqlite3` "
            "(`$XDG_CACHE_HOME` if set). A directory you name must exist and be writable."),
    Setting("identity_map", BOOLEAN, default=True,
            description="With `upsert_by_email`, remember the prospect id Pardot returns for "
            "each email (in the `ledger_path` file) and send known emails in `batchUpdate` "
            "calls by id, 50 per call, instead of one `upsertLatestByEmail` call each."),
    Setting("max_api_calls", INTEGER, minimum=1, default_text="(unlimited)",
            description="Stop cleanly after this many Pardot API calls in one run, leaving "
            "the rest of the daily quota to other integrations; exit code 3, like the daily "
            "limit."),
    Setting("daily_quota_reserve", INTEGER, default=0, minimum=0,
            description="Daily API calls to leave to the account's other integrations: the "
            "run stops cleanly (exit code 3, true STATE) before the account's usage, as Pardot "
            "reports it in `x-api-usage`, would pass the daily maximum minus this many. See "
            "docs/settings.md."),
    Setting("default_campaign_id", INTEGER, minimum=1,
            description="The campaign (`campaignId`) of prospects an import creates when the "
            "row has no `campaign_id`. Pardot requires a campaign for every prospect an "
            "import creates: with `prospect_operation: import`, email-keyed rows without "
            "this setting or a `campaign_id` column are a configuration error before any "
            "call; with `auto` (the default), setting it opens the cheap import path for "
            "unknown email-only rows, which otherwise cost one call each."),
)  # fmt: skip

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}

_SCHEMA_TYPES = {
    BOOLEAN: "boolean", INTEGER: "integer", NUMBER: "number", STRING: "string",
    CHOICE: "string",
}  # fmt: skip
# meltano.yml kinds. A number is `string`: Meltano's `decimal` values cannot be written to
# the config file when they come from an environment variable (Meltano 4.4 fails on a
# Decimal), and `integer` would refuse 0.5; the target reads "0.5" as a number.
_MELTANO_KINDS = {
    BOOLEAN: "boolean", INTEGER: "integer", NUMBER: "string", STRING: "string",
    CHOICE: "options", LIST_IDS: "string",
}  # fmt: skip


def schema_property(setting: Setting) -> dict[str, Any]:
    """The setting's JSON schema, as singer_sdk.typing writes it for the same Property."""
    if setting.kind == LIST_IDS:
        types: list[str] = ["string", "array", "integer"]
    elif setting.numbers_too:
        types = ["string", "integer"]
    elif setting.kind == NUMBER:
        # Meltano passes numbers as text (see _MELTANO_KINDS); parse_settings reads both.
        types = ["number", "string"]
    else:
        types = [_SCHEMA_TYPES[setting.kind]]
    if not setting.required:
        types = [*types, "null"]
    prop: dict[str, Any] = {"type": types}
    if setting.choices:
        numbers = [int(v) for v in setting.values if v.isdigit()] if setting.numbers_too else []
        prop["enum"] = [*setting.values, *numbers]
    if setting.default is not None:
        prop["default"] = setting.default
    prop["description"] = setting.description
    if setting.secret:
        prop.update({"secret": True, "writeOnly": True})
    return prop


def config_schema() -> dict[str, Any]:
    """The target's own settings as a JSON schema (the SDK adds its built-in ones)."""
    return {
        "type": "object",
        "properties": {s.name: schema_property(s) for s in SETTINGS},
        "required": [s.name for s in SETTINGS if s.required],
        "$schema": "https://json-schema.org/draft/2020-12/schema",
    }


def meltano_setting(setting: Setting) -> dict[str, Any]:
    """The setting as meltano.yml's loader lists it."""
    entry: dict[str, Any] = {"name": setting.name}
    if setting.secret:
        entry.update({"kind": "password", "sensitive": True})
    else:
        entry["kind"] = setting.meltano_kind or _MELTANO_KINDS[setting.kind]
    if setting.label:
        entry["label"] = setting.label
    if setting.default is not None:
        entry["value"] = setting.default
    if setting.choices:
        entry["options"] = [{"label": label, "value": value} for value, label in setting.choices]
    entry["description"] = setting.description
    return entry


def readme_default(setting: Setting) -> str:
    if setting.default_text:
        return setting.default_text
    if setting.required:
        return "(required, secret)" if setting.secret else "(required)"
    if isinstance(setting.default, bool):
        return f"`{str(setting.default).lower()}`"
    if setting.default is not None:
        return f"`{setting.default}`"
    return "(none)"


def readme_row(setting: Setting) -> str:
    return f"| `{setting.name}` | {readme_default(setting)} | {setting.description} |"
