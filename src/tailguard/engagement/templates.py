"""Message templates in Chinese and English (jinja2), rendered from facts, never from I/O.

Each template has a subject (the e-mail subject, the in-app title) and a body (plain text; SMS
and WeChat use the body). Templates are kept here as text so that rendering is pure and a
template change is reviewed like code. They never name the borrower in full or show an ID or
card number: a message may be read by someone else holding the phone.

Templates: `due-reminder` (an instalment due in N days), `overdue-notice` (an instalment past
due), `balloon-approaching` (the balloon due in 120/90/60/30 days, with the options at
maturity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import DictLoader, Environment, StrictUndefined, UndefinedError

from tailguard.errors import InvalidInput

LANGUAGES = ("zh", "en")
BALLOON_MILESTONES = (120, 90, 60, 30)
"""Days before the balloon's due date when the borrower hears about it."""

_SOURCES: dict[str, str] = {
    # -- due-date reminder
    "due-reminder.zh.subject": "【{{ lender }}】还款提醒：{{ due_date }} 应还 {{ amount }} 元",
    "due-reminder.zh.body": (
        "尊敬的客户：\n"
        "您的汽车贷款（合同号 {{ loan_id }}）第 {{ installment }} 期将于 {{ due_date }}"
        "（{{ days }} 天后）到期，应还金额 {{ amount }} 元。"
        "请在到期日前确保还款账户余额充足。如已还款，请忽略本消息。\n"
        "{{ lender }}"
    ),
    "due-reminder.en.subject": "{{ lender }}: {{ amount }} yuan due on {{ due_date }}",
    "due-reminder.en.body": (
        "Dear customer,\n"
        "Instalment {{ installment }} of your car loan {{ loan_id }} is due on {{ due_date }} "
        "(in {{ days }} day{{ 's' if days != 1 }}): {{ amount }} yuan. Please make sure the "
        "repayment account holds enough by then. If you have already paid, please ignore "
        "this message.\n"
        "{{ lender }}"
    ),
    # -- overdue notice
    "overdue-notice.zh.subject": "【{{ lender }}】逾期提醒：合同 {{ loan_id }} 已逾期 {{ dpd }} 天",
    "overdue-notice.zh.body": (
        "尊敬的客户：\n"
        "您的汽车贷款（合同号 {{ loan_id }}）已逾期 {{ dpd }} 天，"
        "截至 {{ as_of }} 逾期应还 {{ overdue }} 元（含罚息 {{ penalty }} 元）。"
        "请尽快还款，以免影响您的信用记录。如有困难，请联系我们商量还款安排。\n"
        "{{ lender }}"
    ),
    "overdue-notice.en.subject": "{{ lender }}: loan {{ loan_id }} is {{ dpd }} days overdue",
    "overdue-notice.en.body": (
        "Dear customer,\n"
        "Your car loan {{ loan_id }} is {{ dpd }} day{{ 's' if dpd != 1 }} overdue. On "
        "{{ as_of }} the overdue amount is {{ overdue }} yuan (penalty interest "
        "{{ penalty }} yuan included). Please pay as soon as you can to protect your credit "
        "record; if you are in difficulty, contact us to agree a repayment plan.\n"
        "{{ lender }}"
    ),
    # -- balloon approaching
    "balloon-approaching.zh.subject": (
        "【{{ lender }}】尾款提醒：{{ balloon_date }} 到期尾款 {{ balloon }} 元"
    ),
    "balloon-approaching.zh.body": (
        "尊敬的客户：\n"
        "您的汽车贷款（合同号 {{ loan_id }}）尾款 {{ balloon }} 元将于 {{ balloon_date }}"
        "（{{ days }} 天后）到期。到期时您可以选择：一次性结清、尾款分期、展期（在监管上限内）、"
        "置换新车或交还车辆。请在 App 中查看各选项的金额，或联系我们。\n"
        "{{ lender }}"
    ),
    "balloon-approaching.en.subject": (
        "{{ lender }}: your balloon of {{ balloon }} yuan is due on {{ balloon_date }}"
    ),
    "balloon-approaching.en.body": (
        "Dear customer,\n"
        "The balloon payment of your car loan {{ loan_id }}, {{ balloon }} yuan, is due on "
        "{{ balloon_date }} (in {{ days }} days). At maturity you may settle it, refinance "
        "it into instalments, extend (within the regulatory cap), trade the car in, or return "
        "it. The app shows the amounts of each option; or contact us.\n"
        "{{ lender }}"
    ),
}
TEMPLATES = tuple(sorted({key.split(".")[0] for key in _SOURCES}))

_ENV = Environment(loader=DictLoader(_SOURCES), undefined=StrictUndefined, autoescape=False,
                   keep_trailing_newline=False)


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    template: str
    language: str
    subject: str
    body: str


def render(template: str, language: str, context: dict[str, Any]) -> RenderedMessage:
    """The subject and body of `template` in `language` from `context` (every variable the
    template uses must be given: a missing one is an error naming it)."""
    if template not in TEMPLATES:
        raise InvalidInput.one("template", "unknown", f"one of {', '.join(TEMPLATES)}")
    if language not in LANGUAGES:
        raise InvalidInput.one("language", "invalid", "zh or en")
    try:
        subject = _ENV.get_template(f"{template}.{language}.subject").render(context)
        body = _ENV.get_template(f"{template}.{language}.body").render(context)
    except UndefinedError as exc:
        raise InvalidInput.one("params", "missing", str(exc)) from None
    return RenderedMessage(template, language, " ".join(subject.split()), body)
