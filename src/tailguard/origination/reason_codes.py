"""Reason codes of credit decisions, worded in Chinese and English.

Codes are stable identifiers (stored with each decision, counted in reports); the words may be
improved at any time, so they are looked up when shown, never stored as the reason itself.
A test checks that every code the decision engine can give has both labels.
"""

from __future__ import annotations

from tailguard.risk.reasons import label as feature_label

LABELS: dict[str, tuple[str, str]] = {
    "IDENTITY_MISMATCH": ("姓名与身份证号不一致", "name does not match the ID number"),
    "DISHONEST_DEBTOR": ("列入失信被执行人名单", "on the dishonest-debtor list"),
    "CONSUMPTION_RESTRICTED": ("被限制高消费", "under a consumption restriction order"),
    "ENFORCEMENT_CASE": ("存在被执行案件", "has open enforcement cases"),
    "BUREAU_OVERDUE_NOW": ("征信显示当前逾期", "credit report shows an account overdue now"),
    "BUREAU_SEVERE_DELINQUENCY": ("近24个月严重逾期", "severe delinquency in the last 24 months"),
    "BUREAU_DELINQUENCY": ("近24个月有逾期记录", "delinquency in the last 24 months"),
    "MANY_INQUIRIES": ("近6个月征信查询次数过多", "many credit inquiries in 6 months"),
    "THIN_FILE": ("征信无记录（白户）", "no credit history (thin file)"),
    "PHONE_NOT_HOLDER": ("手机号非本人实名", "phone not registered to the applicant"),
    "PHONE_NEW": ("手机号在网时长过短", "phone number in service only briefly"),
    "CARD_NOT_HOLDER": ("银行卡四要素不一致", "bank card does not belong to the applicant"),
    "INCOME_UNVERIFIED": ("收入无法核实", "income could not be verified"),
    "INCOME_OVERSTATED": ("核实收入明显低于申报", "verified income well below declared"),
    "GUARANTOR_UNSUITABLE": ("担保人不符合要求", "guarantor is not acceptable"),
    "NO_INCOME": ("无收入", "no income declared"),
    "DEBT_TO_INCOME": ("负债收入比超出上限", "debt-to-income far above the limit"),
    "DEBT_TO_INCOME_HIGH": ("负债收入比偏高", "debt-to-income above the limit"),
    "CROSS_PROVINCE": ("异地（跨省）申请", "cross-province application"),
    "REGION_HIGH_DEFAULT": ("所在地区违约率偏高", "high default rate in the region"),
    "FAR_FROM_DEALER": ("居住地距经销商过远", "lives far from the dealer"),
    "LTV_ABOVE_LIMIT": ("贷款价值比超过地区上限", "loan-to-value above the regional limit"),
    "DOWN_PAYMENT_BELOW_MINIMUM": ("首付比例低于地区下限",
                                   "down payment below the regional minimum"),
    "BALLOON_ABOVE_LIMIT": ("尾款比例超过地区上限", "balloon share above the regional limit"),
    "DOCUMENTS_MISSING": ("缺少必备材料", "required documents missing"),
    "NO_SCORE": ("无评分（模型未配置或输入不全）", "no score (no model, or inputs missing)"),
    "SCORE_BELOW_CUTOFF": ("评分低于拒绝线", "score below the decline cut-off"),
    "SCORE_GREY_ZONE": ("评分处于人工审核区间", "score between the cut-offs: manual review"),
    "MODEL_FACTOR": ("评分主要影响因素", "main factor behind the score"),
    "OVERRIDE": ("人工改判（经复核）", "officer's override, approved by a second person"),
}
ROLES = {"borrower": ("借款人", "borrower"), "co-borrower": ("共同借款人", "co-borrower"),
         "guarantor": ("担保人", "guarantor")}


def label(code: str, party: str | None = None, detail: str | None = None) -> tuple[str, str]:
    """(Chinese, English) for a reason; the party and a model feature's name are added."""
    zh, en = LABELS.get(code, (code, code))
    if code == "MODEL_FACTOR" and detail:
        feature_zh, feature_en = feature_label(detail)
        zh, en = f"{zh}：{feature_zh}", f"{en}: {feature_en}"
    elif detail:
        zh, en = f"{zh}（{detail}）", f"{en} ({detail})"
    if party in ROLES:
        zh, en = f"{ROLES[party][0]}：{zh}", f"{ROLES[party][1]}: {en}"
    return zh, en
