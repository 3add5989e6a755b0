"""The messages that carry offers and incentive awards to the borrower, in Chinese and English.

Kept apart from `engagement/templates.py` (the reminders) because these are rendered from an
offer's stored terms or an award, not from the loan's state row; like the reminders they are
jinja2 with strict undefined variables, address 尊敬的客户 / Dear customer, and never show a
name, ID or card number. The subject is the in-app title; SMS uses the body.
"""

from __future__ import annotations

from typing import Any

from jinja2 import DictLoader, Environment, StrictUndefined, UndefinedError

from tailguard.engagement.templates import LANGUAGES, RenderedMessage
from tailguard.errors import InvalidInput

KIND_NAMES = {
    "zh": {"due-date-change": "变更还款日", "deferral": "短期延期还款",
           "arrears-plan": "逾期款项分期", "balloon-settle": "尾款一次性结清",
           "balloon-refinance": "尾款分期", "balloon-extend": "尾款展期",
           "balloon-trade-in": "置换新车", "balloon-return": "交还车辆"},
    "en": {"due-date-change": "a new due date", "deferral": "a short payment break",
           "arrears-plan": "an instalment plan for your arrears",
           "balloon-settle": "settling the balloon", "balloon-refinance": "balloon instalments",
           "balloon-extend": "a balloon extension", "balloon-trade-in": "a trade-in",
           "balloon-return": "returning the vehicle"},
}

_SOURCES: dict[str, str] = {
    "offer.zh.subject": "【{{ lender }}】为您提供：{{ kind_name }}",
    "offer.zh.body": (
        "尊敬的客户：\n"
        "针对您的汽车贷款（合同号 {{ loan_id }}），我们为您提供{{ kind_name }}方案"
        "{% if monthly %}，新的月还款额 {{ monthly }} 元{% endif %}"
        "{% if payoff %}，今日结清金额 {{ payoff }} 元{% endif %}"
        "{% if months %}，期限 {{ months }} 个月{% endif %}。"
        "请在 {{ valid_until }} 前在 App 中查看并确认，逾期失效。\n"
        "{{ lender }}"
    ),
    "offer.en.subject": "{{ lender }}: an offer for you: {{ kind_name }}",
    "offer.en.body": (
        "Dear customer,\n"
        "For your car loan {{ loan_id }} we can offer you {{ kind_name }}"
        "{% if monthly %}, with a new monthly payment of {{ monthly }} yuan{% endif %}"
        "{% if payoff %}, settling today for {{ payoff }} yuan{% endif %}"
        "{% if months %}, over {{ months }} months{% endif %}. "
        "Please review and confirm it in the app by {{ valid_until }}; after that it lapses.\n"
        "{{ lender }}"
    ),
    "incentive.zh.subject": "【{{ lender }}】您获得一笔还款奖励 {{ amount }} 元",
    "incentive.zh.body": (
        "尊敬的客户：\n"
        "感谢您{{ reason_zh }}。{{ amount }} 元奖励已计入您的汽车贷款（合同号 {{ loan_id }}）"
        "账户，将用于抵扣后续应还款项{% if closed %}，或按您的申请退还{% endif %}。\n"
        "{{ lender }}"
    ),
    "incentive.en.subject": "{{ lender }}: a reward of {{ amount }} yuan for you",
    "incentive.en.body": (
        "Dear customer,\n"
        "Thank you for {{ reason_en }}. A reward of {{ amount }} yuan has been credited to your "
        "car loan {{ loan_id }} and will go towards what you owe next"
        "{% if closed %}, or be paid back to you on request{% endif %}.\n"
        "{{ lender }}"
    ),
}
TEMPLATES = ("offer", "incentive")
REASONS = {
    "balloon-early-settlement": ("提前结清尾款", "settling your balloon early"),
    "on-time-streak": ("连续按时还款", "paying on time, month after month"),
}

_ENV = Environment(loader=DictLoader(_SOURCES), undefined=StrictUndefined, autoescape=False)


def render(template: str, language: str, context: dict[str, Any]) -> RenderedMessage:
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
