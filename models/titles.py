"""The names people know the kinds of data by: every import kind and result view, as sheet
titles, in the formats list and in messages about ids of a kind."""

from __future__ import annotations

from models.i18n import N_

TITLES: dict[str, str] = {
    "decisions": N_("Funding decisions"),
    "assignments": N_("Experts per proposal"),
    "invitations": N_("Invitations"),
    "review_status": N_("Review progress"),
    "panels": N_("Panels"),
    "panel_proposals": N_("Proposals per panel"),
    "conflicts": N_("Conflicts of interest"),
    "findings": N_("Screening findings"),
    "screening": N_("Screening results"),
    "rankings": N_("Rankings"),
    "leniencies": N_("Expert leniency"),
    "pool": N_("Experts set aside"),
    "audit": N_("Audit log"),
    "guide": N_("Guide directions"),
    "batches": N_("Batches"),
    "units": N_("Units"),
    "unit_relations": N_("Unit relations"),
    "people": N_("People"),
    "employment": N_("Employment"),
    "experts": N_("Experts"),
    "direction_experts": N_("Guide drafters and advisers"),
    "credit_penalties": N_("Credit penalties"),
    "ratings": N_("Expert ratings"),
    "proposals": N_("Proposals"),
    "joint_directions": N_("Joint research directions"),
    "team_members": N_("Project teams"),
    "person_relations": N_("Person relations"),
    "recusals": N_("Recusal requests"),
    "in_progress_projects": N_("Projects in progress"),
    "reviews": N_("Reviews"),
    "truth_proposals": N_("Ground truth: proposals"),
    "truth_experts": N_("Ground truth: experts"),
    "planted": N_("Ground truth: planted breaks"),
}
"""Sheet titles: every export kind and view (a test keeps this complete)."""
