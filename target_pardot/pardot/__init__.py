"""The only code that speaks HTTP to Pardot: client, auth flows, reply classification, limits."""
