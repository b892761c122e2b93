"""The card application: its profile (the single source of truth), the reference card
that emulates it, and the APDUs a terminal or an encoder sends to it."""
