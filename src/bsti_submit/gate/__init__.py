"""The gate: verification of the bytes that will leave, burned-in text detection, deid filter
evaluation, and the quarantine for what is held."""
