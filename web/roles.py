"""What each role may do. The server checks it on every request, whatever a page showed."""

from __future__ import annotations

from models.i18n import N_
from models.server_tables import ROLES

OFFICER_RUNS = (
    "import",
    "screen",
    "waive",
    "pool",
    "conflicts",
    "assign",
    "replace",
    "reviews",
    "rank",
    "select",
)
"""The runs a programme officer starts (``reviews`` is importing returned reviews)."""
CHAIR_ACTIONS = ("override", "finalize", "unlock")

PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "export": frozenset({"officer", "chair", "admin"}),
    "invitations": frozenset({"officer"}),  # carries the experts' phone numbers and e-mail
    **{run: frozenset({"officer"}) for run in OFFICER_RUNS},
    **{action: frozenset({"chair"}) for action in CHAIR_ACTIONS},
    "users": frozenset({"admin"}),
}


def allowed(role: str, action: str) -> bool:
    """Whether ``role`` may do ``action`` (an unknown action is refused)."""
    return role in PERMISSIONS.get(action, frozenset())


#: Words the pages show as they are stored (roles, job states, statuses), for the catalogue.
SHOWN_WORDS = (
    N_("admin"),
    N_("officer"),
    N_("chair"),
    N_("viewer"),
    N_("queued"),
    N_("running"),
    N_("done"),
    N_("failed"),
    N_("eligible"),
    N_("warnings"),
    N_("rejected"),
    N_("reject"),
    N_("warn"),
    N_("invited"),
    N_("accepted"),
    N_("declined"),
    N_("replaced"),
    N_("reserve"),
)
