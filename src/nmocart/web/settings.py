"""Settings of one running web application: where the database is and how cookies behave."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WebSettings:
    """What ``create_app`` needs; ``nmocart serve`` builds it from its options.

    ``secure_cookies`` adds the Secure flag to the session cookie; set it when the app is
    served over https (e.g. behind a TLS proxy). Session idle timeout, lockout and token
    lifetime are the account policy's (``nmocart.db.roles.POLICY``), not settings.
    """

    database_url: str
    secure_cookies: bool = False
    max_upload_bytes: int = 20 * 1024 * 1024
