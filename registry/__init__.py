"""The e-licence library (电子证照库): settings, engine and session, ORM models, the citizen ID
vault and the audit chain. Import from the submodules:

- ``registry.settings``: ``Settings``, ``get_settings()``
- ``registry.database``: ``Database`` (read-only transactions, the one writer, the change counter)
- ``registry.db``: ``make_engine``, ``make_session_factory``, ``insert_unless_taken``
- ``registry.models``: the ORM models (``Base.metadata`` is what the migrations build)
- ``registry.vault``: ``CitizenIdVault``
- ``registry.audit``: ``append_audit``, ``verify_audit_chain``, ``AuditReport``
- ``registry.signing_keys``: store and load signing keys, the platform root key
- ``registry.errors``: ``ServiceError`` and its HTTP-flavoured subclasses
- ``registry.migrate``: ``upgrade``, ``downgrade``, ``current_revision``, ``head_revision``
"""
