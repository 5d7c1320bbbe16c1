"""Pure rules on the typed API: defaulting, validation, rendering. No I/O here."""
