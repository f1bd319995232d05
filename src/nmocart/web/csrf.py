"""Cross-site request forgery protection for the browser pages.

Every form carries the session's CSRF token (random, stored with the server-side session) and
every state-changing request made with the session cookie must present it, as the form field
``csrf_token`` or the header ``X-CSRF-Token`` (which the layout sets for htmx requests). Before
sign-in the login form uses a double-submit token: a random value in an HttpOnly,
SameSite=Strict cookie that the form must repeat. API calls authenticated with
``Authorization: Bearer`` carry no ambient credential and need no token.
"""

from __future__ import annotations

import hmac

FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
LOGIN_COOKIE = "nmocart_login_csrf"


def token_matches(expected: str, presented: str | None) -> bool:
    """Whether ``presented`` equals the expected token (constant-time comparison)."""
    return (
        bool(expected)
        and presented is not None
        and hmac.compare_digest(expected.encode(), presented.encode())
    )
