"""What every console action does around its office call: check, then audit.

One place for the two rules of a change made from a page (docs/console.md):
the form's CSRF token and the viewer's role are checked first (a 403 page
otherwise, nothing changed), and the change is written to the audit log in
its own transaction with the viewer's name and address.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from sync.office import audit
from sync.office.errors import OfficeError

from .web import Viewer, check_csrf, require


async def posted(request: Request) -> dict[str, str]:
    """A form's text fields (a missing one reads as empty, as the pages always did)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


#: The posted fields of a form, for handlers that take several (one parameter, not five).
Posted = Annotated[dict[str, str], Depends(posted)]


def allowed(viewer: Viewer, form: dict[str, str], roles: tuple[str, ...]) -> None:
    """A POST of ``viewer``: its CSRF token, then its role (403 page on either)."""
    check_csrf(viewer.csrf, form.get("csrf", ""), viewer)
    require(viewer, roles)


def audited(session: Session, viewer: Viewer, action: str, subject: str, **what: Any) -> None:
    """The audit line of ``viewer``'s change (or download), in the request's transaction;
    ``what``: its ``before`` and ``after``."""
    audit.record(
        session, actor=viewer.name, action=action, subject=subject, address=viewer.address, **what
    )


def number(text: object) -> int:
    """A whole number typed in a form field (else a refusal shown on the page)."""
    try:
        return int(str(text).strip())
    except ValueError:
        raise OfficeError("bad_number", f"{text!r}: 请填写整数 / not a whole number") from None
