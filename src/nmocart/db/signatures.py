"""Investigator e-signatures of eligibility decisions (21 CFR 11.50, 11.70, 11.200).

A signature records the signer's printed name, the UTC time and the meaning, and is bound to
the SHA-256 of the exact record version and screening result it signs. The signer re-enters the
password (a wrong one counts toward lockout). Signatures are never edited or removed (the table is
append-only); a later version is simply unsigned until signed again.
"""

from __future__ import annotations

from dataclasses import dataclass

from nmocart.db import audit
from nmocart.db.accounts import Actor, record_attempt, require, try_password
from nmocart.db.candidates import SignatureView, candidate_signatures, find_candidate, stored_version
from nmocart.db.database import Database
from nmocart.db.errors import AuthenticationError, ConflictError, InvalidInputError, storable_text
from nmocart.db.models import Signature, User
from nmocart.db.roles import Permission

__all__ = ["MEANING_PREFIX", "SignatureState", "sign", "signature_state", "standard_meaning"]

MEANING_PREFIX = "I confirm the eligibility decision: "
"""The standard meaning; a meaning starting with it must name the version's actual decision."""
MAX_MEANING = 500


def standard_meaning(decision: str) -> str:
    """The standard meaning for a decision: ``I confirm the eligibility decision: eligible``."""
    return f"{MEANING_PREFIX}{decision}"


def sign(
    db: Database, actor: Actor, candidate_id: str, password: str, meaning: str, version: int | None = None
) -> SignatureView:
    """Sign a candidate's version (default: the latest) as investigator.

    ``version`` is the version the investigator was shown: signing is refused with
    :class:`ConflictError` if a newer one has been saved since. Raises :class:`ForbiddenError` for other
    roles, :class:`AuthenticationError` for a wrong password, :class:`InvalidInputError` for an
    empty meaning or one that names another decision.
    """
    text = storable_text("meaning", " ".join(meaning.split()))
    if not text:
        raise InvalidInputError(
            f"meaning: empty; say what the signature means, e.g. {standard_meaning('eligible')!r}"
        )
    if len(text) > MAX_MEANING:
        raise InvalidInputError(f"meaning: longer than {MAX_MEANING} characters; shorten it")
    failure: AuthenticationError | None = None
    attempt = try_password(db, password, user_id=actor.user_id)  # argon2id before the write lock
    with db.write() as session:
        name = require(session, actor, Permission.sign)
        user = session.get(User, actor.user_id)
        assert user is not None
        candidate = find_candidate(session, candidate_id)
        number = candidate.latest_version if version is None else version
        if number != candidate.latest_version:
            raise ConflictError(
                f"version: {candidate_id} version {number} is not the latest ({candidate.latest_version}); "
                "review the latest version and sign that"
            )
        stored = stored_version(session, candidate, number)
        if text.startswith(MEANING_PREFIX) and text != standard_meaning(stored.decision):
            raise InvalidInputError(
                f"meaning: {text!r} does not match the decision of version {number} "
                f"({stored.decision}); write {standard_meaning(stored.decision)!r}"
            )
        _, failure = record_attempt(session, db, attempt, password, "signature_password")
        if failure is None:
            signature = Signature(
                version_id=stored.id,
                user_id=user.id,
                printed_name=user.full_name,
                signed_at=db.now(),
                meaning=text,
                record_sha256=stored.record_sha256,
                result_sha256=stored.result_sha256,
                decision=stored.decision,
            )
            session.add(signature)
            session.flush()
            audit.append(
                session,
                db,
                actor=name,
                entity="signature",
                entity_id=f"{candidate_id}/v{number}",
                candidate_id=candidate_id,
                action="sign",
                changes=[
                    {"field": "version", "old": None, "new": number},
                    {"field": "printed_name", "old": None, "new": user.full_name},
                    {"field": "meaning", "old": None, "new": text},
                    {"field": "record_sha256", "old": None, "new": stored.record_sha256},
                    {"field": "result_sha256", "old": None, "new": stored.result_sha256},
                    {"field": "decision", "old": None, "new": stored.decision},
                ],
                at=signature.signed_at,
            )
            view = SignatureView(
                candidate_id,
                number,
                user.username,
                user.full_name,
                signature.signed_at,
                text,
                stored.record_sha256,
                stored.result_sha256,
                stored.decision,
            )
    if failure is not None:
        raise failure
    return view


@dataclass(frozen=True)
class SignatureState:
    """Whether the candidate's current version is signed, and every signature of every version."""

    candidate_id: str
    latest_version: int
    latest_signed: bool
    signatures: tuple[SignatureView, ...]

    @property
    def stale(self) -> tuple[SignatureView, ...]:
        """Signatures left on earlier versions (the current one was edited after signing)."""
        return tuple(s for s in self.signatures if s.version != self.latest_version)


def signature_state(db: Database, actor: Actor, candidate_id: str) -> SignatureState:
    """Every signature of a candidate, oldest first, and whether the latest version is signed."""
    with db.read() as session:
        require(session, actor, Permission.read_candidates)
        candidate = find_candidate(session, candidate_id)
        every = sorted(candidate_signatures(session, candidate), key=lambda s: (s.signed_at, s.version))
        return SignatureState(
            candidate_id,
            candidate.latest_version,
            any(s.version == candidate.latest_version for s in every),
            tuple(every),
        )
