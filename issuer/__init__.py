"""The department service: departments, licence types, issuance, revocation, status lists and
the trust list. Mounted at ``/issuer``; the public documents live at ``/status-lists/{id}``,
``/trust-list`` and ``/root-key``."""
