"""The study's roles, what each may do, and the account policy (lockout, sessions, tokens) as data.

One definition of who may do what: the service functions check it for every action, and the
web layer asks :func:`allowed` to build its route dependencies and menus.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["POLICY", "ROLE_PERMISSIONS", "AccountPolicy", "Permission", "Role", "allowed", "load_policy"]


class Role(StrEnum):
    """The four roles of issue 7."""

    coordinator = "coordinator"
    investigator = "investigator"
    monitor = "monitor"
    admin = "admin"


class Permission(StrEnum):
    """Actions the service layer guards."""

    read_candidates = "read_candidates"
    """See candidate records, versions, results, diffs, signatures and statuses."""
    edit_candidates = "edit_candidates"
    """Create candidates and save new versions (which screens them)."""
    sign = "sign"
    """Sign an eligibility decision (21 CFR 11.50/11.70/11.200)."""
    change_status = "change_status"
    """Record consent, enrolment, screen failure, withdrawal in the screening log."""
    read_screening_log = "read_screening_log"
    """See the screening log and the CONSORT-style flow."""
    upload_data = "upload_data"
    """Store safety records and kinetics CSV files."""
    read_uploads = "read_uploads"
    """See stored safety and kinetics uploads."""
    read_audit = "read_audit"
    """See and export the audit trail."""
    manage_accounts = "manage_accounts"
    """Add, disable and change the role of user accounts."""


_COORDINATOR = frozenset(
    {
        Permission.read_candidates,
        Permission.edit_candidates,
        Permission.read_screening_log,
        Permission.upload_data,
        Permission.read_uploads,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.coordinator: _COORDINATOR,
    Role.investigator: _COORDINATOR | {Permission.sign, Permission.change_status},
    Role.monitor: frozenset(
        {
            Permission.read_candidates,
            Permission.read_screening_log,
            Permission.read_uploads,
            Permission.read_audit,
        }
    ),
    Role.admin: frozenset({Permission.manage_accounts, Permission.read_screening_log}),
}
"""Issue 7's roles: the investigator does everything a coordinator does plus signing and status
changes; the monitor reads everything including the audit trail and changes nothing; the admin
manages accounts and sees no candidate data beyond the screening log."""


def allowed(role: Role | str, permission: Permission) -> bool:
    """Whether ``role`` may perform ``permission`` (an unknown role may do nothing)."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


class AccountPolicy(BaseModel):
    """Account parameters (``src/nmocart/db/policy.json``): lockout, password length, sessions."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    policy: str
    version: str
    max_failed_logins: int = Field(ge=1, description="Consecutive failed logins that lock the account.")
    lockout_minutes: int = Field(ge=1, description="How long a locked account stays locked.")
    min_password_length: int = Field(ge=8, description="Shortest password accepted.")
    session_idle_minutes: int = Field(ge=1, description="A browser session ends after this idle time.")
    session_absolute_hours: int = Field(ge=1, description="A browser session ends this long after login.")
    api_token_days: int = Field(ge=1, description="An API token expires this long after it is issued.")
    session_touch_seconds: int = Field(
        ge=0, description="A session's last-seen time is written at most this often (fewer writes)."
    )
    argon2_time_cost: int = Field(ge=1, description="argon2id iterations (RFC 9106 second choice: 3).")
    argon2_memory_kib: int = Field(
        ge=8, description="argon2id memory in KiB (RFC 9106 second choice: 64 MiB)."
    )
    argon2_parallelism: int = Field(ge=1, description="argon2id lanes.")


@cache
def load_policy() -> AccountPolicy:
    """The shipped account policy."""
    data = (resources.files("nmocart.db") / "policy.json").read_bytes()
    return AccountPolicy.model_validate_json(data)


POLICY = load_policy()
"""The account policy in force."""
