"""The study database: accounts, candidate versions, signatures, screening log, uploads, audit trail.

Interface for the web layer (stable; every function checks the acting user's *stored* role and
raises a :mod:`nmocart.db.errors` exception whose ``status`` is the HTTP status to answer):

Opening (``nmocart.db.database``)
    ``open_database(data_dir=None, url=None) -> Database`` resolves ``--data-dir`` /
    ``--database-url`` / ``NMOCART_DATABASE_URL`` (default ``./nmocart-data/nmocart.sqlite3``)
    and raises ``NotMigratedError("database not migrated (...); run: nmocart db upgrade --data-dir X")``
    unless the schema is at the head revision: call it at startup. ``upgrade(engine)`` migrates.
    ``Database.read()`` / ``Database.write()`` are session context managers (``write`` holds the
    study's write lock and commits); ``Database.clock`` is injectable for tests.

Accounts (``nmocart.db.accounts``; roles and permissions in ``nmocart.db.roles``)
    ``authenticate(db, username, password) -> Actor`` (lockout: ``AccountLockedError``),
    ``create_session(db, actor) -> SessionGrant(token, csrf_token, actor)``,
    ``lookup_session(db, token) -> SessionInfo(actor, csrf_token) | None`` (idle/absolute timeout),
    ``end_session(db, token)``, ``issue_token(db, username, password) -> ApiTokenGrant(token,
    expires_at, actor)``, ``lookup_token(db, token) -> Actor | None``, ``revoke_token``,
    ``add_user / list_users / disable_user / set_role`` (admin or ``SystemOperator``).
    ``allowed(role, Permission.x)`` and ``Actor.can(Permission.x)`` for route dependencies.

Candidates (``nmocart.db.candidates``)
    ``parse_screening_record(bytes | str | dict) -> ScreeningRecord`` (``InvalidInputError`` with the
    CLI's messages in ``.problems``), ``create_candidate(db, actor, record) -> VersionView``
    (``ConflictError`` if the id exists), ``save_version(db, actor, candidate_id, record,
    base_version, reason) -> VersionView`` (``ConflictError`` on a stale base, ``InvalidInputError``
    without a reason or for an unchanged record), ``get_version(db, actor, candidate_id, version=None)``,
    ``list_versions``, ``diff_versions(db, actor, id, old, new) -> [FieldChange(path, kind, old,
    new)]``, ``list_candidates``, ``candidate_audit``.

Signatures (``nmocart.db.signatures``)
    ``sign(db, actor, candidate_id, password, meaning, version=None) -> SignatureView``
    (investigators; wrong password -> ``AuthenticationError``, counted toward lockout),
    ``signature_state(db, actor, candidate_id) -> SignatureState(latest_signed, signatures)``,
    ``standard_meaning(decision)``.

Screening log (``nmocart.db.screening_log``)
    ``change_status(db, actor, candidate_id, new_status, effective_date, reason)``,
    ``screening_log(db, actor) -> [LogRow]``, ``screening_log_csv(rows)``,
    ``consort_flow(rows) -> ConsortFlow``, ``TRANSITIONS``.

Uploads (``nmocart.db.uploads``)
    ``store_upload(db, actor, "safety" | "kinetics", filename, content) -> UploadView``,
    ``list_uploads(db, actor, kind=None)``, ``get_upload(db, actor, upload_id)`` (with content).

Audit trail (``nmocart.db.audit``)
    ``audit_trail(db, actor, AuditFilter(candidate_id, actor, since, until, limit, offset))``,
    ``audit_csv(rows)``, ``verify_chain(engine) -> ChainReport``, ``neutralise_cell``.
"""

from __future__ import annotations
