"""Pardot's published limits, and the defaults derived from them: one place per fact."""

from __future__ import annotations

#: Requests in flight per account; a sixth gets error 66. Shared with other integrations.
MAX_CONCURRENT_REQUESTS = 5
#: Prospects per v4 batch call; more gets error 70.
MAX_BATCH_ROWS = 50
#: Treasure Data's row rule: a prospect whose serialized JSON is longer is an invalid row.
MAX_ROW_JSON_CHARS = 7_500
#: Longest email Pardot accepts (error 4 beyond it).
MAX_EMAIL_CHARS = 255

#: Default `max_payload`: bytes of one urlencoded batch-call body. Under the 1 MiB
#: request-body limit common in front of web servers, and large enough that 50 typical
#: rows (a few hundred characters each) never need splitting.
DEFAULT_MAX_PAYLOAD = 1_000_000

#: Business unit ids look like 0Uv + 15 characters.
BUSINESS_UNIT_PREFIX = "0Uv"
BUSINESS_UNIT_LENGTH = 18

#: How many rejected rows are logged one by one before only counting them.
REJECTED_ROWS_LOGGED = 10

#: Import API: bytes of one CSV batch. Pardot says "under 10 MB"; 10,000,000 is under
#: either reading of MB, header row included.
MAX_IMPORT_BATCH_BYTES = 10_000_000
#: Import API: batches per import; an 11th gets HTTP 429 (Pardot's ImportSaveManager).
MAX_BATCHES_PER_IMPORT = 10
#: Import API: lists one row may join or leave through addToList / removeFromList.
MAX_IMPORT_LISTS_PER_ROW = 20
