"""API tokens: created once and shown once, stored as SHA-256 hashes, looked up per request or session, revoked."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from .extensions import db
from .models import ApiToken, as_utc, utcnow

PREFIX = "wrt_"
SHOWN = 10  # characters of a token kept in clear, so `flask tokens list` can tell tokens apart
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often, not on every request


class TokenError(ValueError):
    """A token command was given something it cannot use."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: the token's user and the collaborations that user belongs to."""

    user_id: str
    collaborations: frozenset[str]
    token_id: int = 0
    operator: bool = False  # may read tenant-wide totals (/metrics)


def digest(token: str) -> str:
    # 256 random bits need no slow hash: nobody can guess one, and a fast hash keeps lookups cheap.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user_id: str, collaborations: list[str] | tuple[str, ...] = (), name: str | None = None,
                 operator: bool = False, callback_url: str | None = None) -> tuple[ApiToken, str]:
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user_id, name=name, token_hash=digest(token), shown=token[:SHOWN],
                   collaborations=sorted(set(collaborations)), operator=operator, callback_url=callback_url,
                   webhook_secret="whsec_" + secrets.token_urlsafe(32) if callback_url else None)
    db.session.add(row)
    db.session.commit()
    return row, token


def authenticate(token: str) -> Principal | None:
    """The principal for a bearer token, or None when it is unknown or revoked."""
    if not token.startswith(PREFIX) or len(token) > 128:
        return None
    return _principal(ApiToken.query.filter_by(token_hash=digest(token)).one_or_none())


def session_reference(token: str) -> dict | None:
    """What the pages' signed session cookie keeps for a valid token: its id and a piece of its hash,
    never the token; None when the token is unknown or revoked."""
    who = authenticate(token)
    return None if who is None else {"token_id": who.token_id, "hash": digest(token)[:16]}


def authenticate_session(reference) -> Principal | None:
    """The principal for a session reference while its token exists and is not revoked."""
    if not isinstance(reference, dict) or not isinstance(reference.get("token_id"), int):
        return None
    row = db.session.get(ApiToken, reference["token_id"])
    return _principal(row) if row is not None and row.token_hash[:16] == reference.get("hash") else None


def _principal(row: ApiToken | None) -> Principal | None:
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - as_utc(row.last_used_at) > TOUCH_EVERY:
        row.last_used_at = now
        db.session.commit()
    return Principal(row.user_id, frozenset(row.collaborations or ()), row.id, bool(row.operator))


def list_tokens() -> list[dict]:
    return [{"id": t.id, "user_id": t.user_id, "name": t.name, "token": f"{t.shown}…",
             "collaborations": t.collaborations or [], "operator": bool(t.operator),
             "created_at": t.created_at.isoformat(),
             "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
             "revoked": t.revoked_at is not None} for t in ApiToken.query.order_by(ApiToken.id)]


def revoke_token(token_id: int) -> ApiToken:
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise TokenError(f"no token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.commit()
    return row
