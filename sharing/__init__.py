"""Sharing (授权用证): relying parties and their purposes, use requests, the citizen's consents,
the signed data a relying party fetches with a consent, and the citizen's access log.

- ``sharing.service``: the rules (services take a session, ``flush``, never commit)
- ``sharing.auth``: relying parties by API key (``erp_...``), the admin token, rate limits
- ``sharing.routes``: ``router`` (mounted at ``/sharing``), the admin API under it
- ``sharing.runtime``: what the app makes once at start-up (``app.state.sharing``)
- ``sharing.cli``: ``elicence relying-party ...`` and ``elicence purpose ...``
"""
