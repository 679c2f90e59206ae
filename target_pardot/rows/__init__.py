"""Pure functions from a Singer record to what Pardot receives: payloads, fields, validation."""
