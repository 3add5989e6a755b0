"""What the console's work screens share: who may see which screen (the same role sets as
the REST API's routes for the same use case), the services' actor for a staff member, and the
translation of a service's `InvalidInput` or `Refused` into a form's errors."""

from __future__ import annotations

from tailguard.errors import FieldError, InvalidInput, Refused
from tailguard.infra.auth import Role, TokenClaims
from tailguard.services.contacts import Actor
from tailguard.web import i18n
from tailguard.web.common import TEMPLATES, FormErrors

R = Role
# origination (api/routes_origination.py)
REVIEWERS = (R.CREDIT_OFFICER, R.RISK, R.COMPLIANCE)
OVERRIDE_MAKERS = (R.CREDIT_OFFICER,)
OVERRIDE_CHECKERS = (R.CREDIT_OFFICER, R.RISK)
# collections (api/routes_recovery.py)
QUEUE_WORKERS = (R.COLLECTOR, R.TEAM_LEAD)
FIELD_READERS = (R.COLLECTOR, R.TEAM_LEAD, R.ADMINISTRATOR, R.RISK)
FIELD_PLANNERS = (R.TEAM_LEAD,)
PARTNER_READERS = (R.RISK, R.TEAM_LEAD, R.COMPLIANCE, R.ADMINISTRATOR)
PARTNER_EDITORS = (R.RISK, R.TEAM_LEAD)
STRATEGY_READERS = (R.RISK, R.TEAM_LEAD, R.COMPLIANCE, R.ADMINISTRATOR)
STRATEGY_EDITORS = (R.RISK,)
# monitoring (api/routes_monitoring.py)
RULE_READERS = (R.RISK, R.COMPLIANCE, R.ADMINISTRATOR, R.TEAM_LEAD)
RULE_EDITORS = (R.RISK,)
# risk and compliance read-outs
MODEL_READERS = (R.RISK, R.COMPLIANCE, R.ADMINISTRATOR)
VINTAGE_READERS = (R.RISK, R.COMPLIANCE, R.ADMINISTRATOR, R.SERVICING)
COMPLIANCE_READERS = (R.COMPLIANCE, R.ADMINISTRATOR, R.RISK)
COMPLIANCE_RUNNERS = (R.COMPLIANCE, R.ADMINISTRATOR)

NAV: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("/console/applications", "nav.applications", REVIEWERS),
    ("/console/collections/next", "nav.queue", QUEUE_WORKERS),
    ("/console/field-plans", "nav.field", FIELD_READERS),
    ("/console/partners", "nav.partners", PARTNER_READERS),
    ("/console/strategy", "nav.strategy", STRATEGY_READERS),
    ("/console/rules", "nav.rules", RULE_READERS),
    ("/console/champion-challenger", "nav.cc", STRATEGY_READERS),
    ("/console/models", "nav.models", MODEL_READERS),
    ("/console/vintages", "nav.vintages", VINTAGE_READERS),
    ("/console/compliance", "nav.compliance", COMPLIANCE_READERS),
)
"""The work screens in the header, each shown only to the roles that may open it."""


def nav_for(role: Role | None) -> list[tuple[str, str]]:
    return [(href, key) for href, key, roles in NAV if role in roles]


def actor(user: TokenClaims) -> Actor:
    return Actor(user.subject, user.role.value, user.agency_id)


def errors_of(exc: InvalidInput | Refused, lang: str) -> FormErrors:
    """Field errors beside their inputs; a refusal (a rule, not a field) in the summary."""
    if isinstance(exc, Refused):
        return FormErrors({}, [i18n.refusal(lang, exc.code, exc.message)])
    return FormErrors.of(exc, lang)


def one_error(field: str, code: str, message: str, lang: str) -> FormErrors:
    return FormErrors.of(InvalidInput([FieldError(field, code, message)]), lang)


def _nav(user: TokenClaims | None) -> list[tuple[str, str]]:
    return nav_for(user.role if user is not None else None)


# The console's header lists the work screens a role may open (templates/console_base.html).
TEMPLATES.env.globals["console_nav"] = _nav
