"""De-identification: profiles and the standard's table, the engine, keyed pseudonyms, the
identifier finder, dates, and reading and masking pixels."""
