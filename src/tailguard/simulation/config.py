"""Every parameter of the simulator, with its value and where it comes from.

`WorldSpec` says what portfolio to generate; `Behaviour` how borrowers act; `Treatments` what
the lender does to them (the baseline does nothing). A challenger configuration is the same
world and behaviour with other treatments, so a comparison measures the treatments alone.
The table in `src/tailguard/simulation/README.md` mirrors the values here; a unit test checks
that every field below appears there.

Sources are named per field. "Assumption" means no published figure was found that fits a
Chinese balloon auto-loan book: the value is a calibration choice, stated so it can be argued
with, and the baseline test holds the resulting KPIs inside the documented ranges.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class WorldSpec:
    """The generated portfolio."""

    product_mix: tuple[tuple[str, float], ...] = (
        ("auto-balloon", 0.45), ("auto-balloon-choose-later", 0.15),
        ("auto-equal-installment", 0.35), ("auto-equal-principal", 0.05),
    )
    """Assumption: balloon products dominate captive-lender offers (reference file)."""
    balloon_shares: tuple[tuple[float, float], ...] = (
        (0.10, 0.15), (0.20, 0.25), (0.25, 0.20), (0.30, 0.25), (0.40, 0.15),
    )
    """Balloons of 0–40 % of the financed amount (china-auto-finance.md: public offers)."""
    used_balloon_share_max: float = 0.30
    """Assumption: lenders keep used-car balloons lower (older cars, less residual value)."""
    balloon_terms: tuple[tuple[int, float], ...] = ((12, 0.20), (24, 0.35), (36, 0.35), (48, 0.10))
    """12–48 months for balloon offers (china-auto-finance.md)."""
    installment_terms: tuple[tuple[int, float], ...] = (
        (12, 0.15), (24, 0.30), (36, 0.35), (48, 0.10), (60, 0.10))
    """Up to 60 months: auto loans at most 5 years (china-auto-finance.md)."""
    used_term_max: int = 36
    """Used-car loans at most 3 years (china-auto-finance.md)."""
    used_share: float = 0.20
    """Assumption: share of financed cars that are used."""
    nev_share_new: float = 0.35
    """NEV share of new-car sales about 31.6 % in 2023 (CAAM); rounded up for 2024 growth."""
    nev_share_used: float = 0.10
    """Assumption: NEVs are still a small part of the used-car trade."""
    max_ltv_new: float = 0.80
    """Private new cars: set by each lender since 2024; this lender's policy (assumption)."""
    max_ltv_used: float = 0.70
    """Used cars 70 % (china-auto-finance.md)."""
    extra_down_shares: tuple[tuple[float, float], ...] = (
        (0.0, 0.45), (0.05, 0.2), (0.10, 0.2), (0.20, 0.15))
    """Down payment above the minimum (assumption)."""
    buyer_income_factor: float = 2.5
    """A car-buying household's median disposable income over the province's per-capita
    disposable income (assumption: two earners, above-average income)."""
    income_sigma: float = 0.5
    """Log-normal spread of borrower income (assumption)."""
    price_to_income_new: float = 1.2
    """Median new-car price over the buyer's annual income (assumption)."""
    price_to_income_used: float = 0.6
    """Median used-car price over the buyer's annual income (assumption)."""
    max_dti: float = 0.5
    """Underwriting: a buyer whose instalment would exceed this share of income buys a cheaper
    car (assumption: the common 50 % debt-to-income guideline)."""
    price_sigma: float = 0.35
    """Log-normal spread of the price-to-income ratio (assumption)."""
    id_other_province_min: float = 0.05
    id_other_province_max: float = 0.30
    """ID registered in another province, rising linearly with the dealer province's income
    from the poorest to the richest province. The 2020 census counted about 125 million
    inter-provincial migrants (about 9 % of the population), concentrated in the rich coastal
    provinces (NBS, 7th census bulletin)."""
    id_other_city_share: float = 0.15
    """ID registered in another city of the same province (assumption; 人户分离 about 35 % of
    the population in the 2020 census, most of it within a province)."""
    residence_same_city: float = 0.85
    residence_same_province: float = 0.10
    """Residence against the dealer's city; the rest live in another province (assumption)."""
    registration_at_residence: float = 0.5
    """A car bought away from home is registered where its owner lives (assumption)."""
    employment_mix: tuple[tuple[str, float], ...] = (
        ("salaried", 0.55), ("self-employed", 0.30), ("gig", 0.15))
    """Assumption; gig = ride-hailing and delivery drivers, many of them NEV buyers."""
    gps_share_new: float = 0.60
    gps_share_used: float = 0.90
    """Many lenders fit GPS trackers (china-auto-finance.md); shares are assumptions."""
    depreciation_fuel: float = 0.15
    depreciation_nev: float = 0.22
    """Declining-balance value loss per year. Residual-value (保值率) rankings published by the
    China Automobile Dealers Association put three-year retention around 60 % for fuel cars
    and around 45–50 % for NEVs in 2023; 0.85³ ≈ 0.61 and 0.78³ ≈ 0.47 (rounded)."""
    used_age_years: tuple[int, int] = (1, 6)
    """Age of a used car at purchase, in years (assumption)."""
    savings_months_median: float = 3.0
    savings_sigma: float = 1.0
    """Liquid savings in months of income, log-normal (assumption)."""
    origination_share: float = 0.5
    """Loans are disbursed uniformly over this share of the simulated months, so that short
    balloons fall due within the run (assumption)."""
    loans_per_dealer: int = 50
    dealers_min: int = 20
    """Dealers: one per this many loans (at least `dealers_min`), placed in proportion to
    provincial GDP (assumption)."""


@dataclass(frozen=True)
class Behaviour:
    """How borrowers act. Probabilities are per instalment (monthly) unless stated."""

    miss_base: float = 0.006
    """A current, average-risk borrower misses an instalment (assumption, calibrated so the
    baseline 30+ DPD ratio falls in the documented 0.5–8 % range)."""
    dti_odds: float = 1.5
    """Odds multiplier per 0.1 of instalment-to-income above 0.3 (assumption)."""
    ltv_odds: float = 1.3
    """Odds multiplier per 0.1 of LTV above 0.6 (assumption)."""
    cross_region_odds: float = 1.5
    """Cross-region (异地) borrowers: assumption, motivated by the reference's remark on the lack
    of back-up servicing across provinces and the seed case (a lender entering western China)."""
    used_odds: float = 1.3
    self_employed_odds: float = 1.3
    gig_odds: float = 1.6
    young_odds: float = 1.4
    """Under 25 at application (assumption)."""
    province_income_elasticity: float = 0.5
    """Miss odds scale with (national income / province income) to this power (assumption)."""
    regional_shock_onset: float = 0.02
    regional_shock_months: int = 6
    regional_shock_odds: float = 2.0
    """A province has a downturn starting in a given month with this chance (assumption)."""
    income_shock_onset: float = 0.004
    income_shock_months: tuple[int, int] = (3, 9)
    income_shock_odds: float = 5.0
    """Job loss or income drop: about 5 % of borrowers a year (assumption; urban surveyed
    unemployment was 5.2 % in 2023, NBS, a stock rather than a flow)."""
    self_cure: float = 0.60
    """A first miss paid before the next due date (assumption: most M1 cure)."""
    self_cure_days: tuple[int, int] = (2, 25)
    cure: tuple[float, ...] = (0.40, 0.22, 0.10, 0.05)
    """Pay all arrears at a due date, by months behind 1, 2, 3, 4+ (assumption)."""
    partial: tuple[float, ...] = (0.30, 0.25, 0.15, 0.10)
    """Pay one instalment only (stay in bucket), by months behind (assumption)."""
    stop_on_miss: float = 0.04
    """A miss becomes a stop (the borrower will not pay again), scaled by risk (assumption)."""
    prepay: float = 0.006
    """Voluntary payoff per month of a current loan, about 7 % a year (assumption)."""
    bounce: float = 0.015
    """An auto-debit bounces (reversed two days later) (assumption)."""
    bounce_repay: float = 0.8
    """A bounced borrower pays within a week (assumption)."""
    repossession_dpd: int = 60
    """Repossession starts around 60+ DPD (china-auto-finance.md, captive lenders' practice)."""
    repossession_success_gps: float = 0.70
    repossession_success_no_gps: float = 0.35
    left_province_factor: float = 0.5
    """A car taken to another province is harder to find and reclaim (Civil Code Arts. 403–404;
    assumption for the size)."""
    auction_discount: float = 0.20
    """Sale value below market value at auction (assumption)."""
    repossession_cost: float = 0.15
    """Repossession fees near 15 % of remaining principal (china-auto-finance.md)."""
    write_off_dpd: int = 180
    """Assumption: written off (maker-checker) at 180 DPD."""
    balloon_settle: float = 1.5
    balloon_refinance: float = 0.3
    balloon_extend: float = -0.5
    balloon_trade_in: float = 0.0
    balloon_return: float = 0.5
    balloon_default: float = -3.0
    """Logit utilities at the balloon; liquidity and equity terms below (assumption)."""
    balloon_liquidity_weight: float = 2.5
    """Added to settling when savings cover the balloon, to refinancing/extending otherwise."""
    balloon_equity_weight: float = 3.0
    """Times equity/balloon: for trade-in; against it for return and default."""
    balloon_delinquent_default: float = 2.5
    """Added to default when the borrower is already past due at the balloon."""
    signal_gps_offline: float = 0.60
    signal_left_province: float = 0.30
    signal_tampering: float = 0.15
    """Before a stop, a GPS-equipped car shows each signal with this chance (assumption)."""
    signal_false_positive: float = 0.003
    """Monthly chance of a signal on a loan that goes on paying (assumption)."""
    call_connect: float = 0.5
    """A collector's call to a delinquent borrower connects (right-party contact) with this
    chance; the rest ring out (assumption: collection right-party-contact rates are commonly
    quoted between a third and two thirds)."""


REMINDER_EFFECT = 0.08
INCENTIVE_EFFECT = 0.08
BALLOON_OFFER_EFFECT = 0.24
COLLECTIONS_EFFECT = 0.10
STRATEGIES = ("plain", "default")
"""Collection strategies a configuration may run: `plain` (a reminder at 1 and calls from 5
days past due, for everyone: `simulation.treatments.PLAIN_STRATEGY`) or `default` (the
platform's built-in strategy, `recovery.strategy.DEFAULT_STRATEGY`)."""


@dataclass(frozen=True)
class Treatments:
    """What the lender does, and how much it moves a borrower it actually reaches.

    The first four fields are effect sizes; the rest say which of the platform's treatments
    run (through its own services, `simulation.treatments`). An effect applies to a loan only
    when the platform did the treatment to that loan: a reminder effect only for a due date
    whose reminder was delivered, a collections effect only after a collection contact the
    contact policy allowed and the collector made. All off in the baseline."""

    reminder: float = 0.0
    """Pre-due SMS: a would-be miss pays instead with this chance. Cadena & Schoar 2011:
    +7 to 9 pp paying on time; Barboni et al. 2022: zero on on-time borrowers (so only
    would-be misses are affected, by construction)."""
    incentive: float = 0.0
    """Cash back for paying on time: about equal to the SMS (Cadena & Schoar 2011)."""
    balloon_offer: float = 0.0
    """A refinancing offer before the balloon: a would-be defaulter refinances instead with this
    chance. Karlan, Morten & Zinman 2016: +24 % paid in full at maturity, loan-officer-signed
    messages only."""
    collections: float = 0.0
    """Calls and letters to delinquent borrowers: relative increase of the cure chance.
    Vendor case studies (not randomised): +10 % net recoveries."""
    reminders: bool = False
    """Run the platform's reminders: `notifications.queue_due_reminders` after each end of
    day (due dates, balloon milestones, overdue notices) and `deliver_due` through sandbox
    channels under the contact policy."""
    strategy: str | None = None
    """Run collections with this strategy (`plain` or `default`): `recovery_eod` after each
    end of day, and the simulator as collector performing the assigned calls, letters, visits
    and overdue messages through `recovery_cases.contact` / `notifications`."""
    offers: bool = False
    """Send balloon offers through the platform's offers service (when it exists)."""
    incentives: bool = False
    """Enrol borrowers in the platform's incentive programmes (when the service exists)."""
    from_month: int = 0
    """Months of warm-up before the lender switches the treatments on: the simulated book
    starts new, so a comparison of treatments over a later window runs the same world
    untreated until then (champion and challenger identical up to that month)."""


PRESETS: dict[str, Treatments] = {
    "baseline": Treatments(),
    "reminders": Treatments(reminder=REMINDER_EFFECT, reminders=True),
    "incentives": Treatments(incentive=INCENTIVE_EFFECT, incentives=True),
    "balloon-offer": Treatments(balloon_offer=BALLOON_OFFER_EFFECT, offers=True),
    "collections": Treatments(collections=COLLECTIONS_EFFECT, strategy="default"),
    "plain": Treatments(collections=COLLECTIONS_EFFECT, strategy="plain"),
    "tailguard": Treatments(reminder=REMINDER_EFFECT, incentive=INCENTIVE_EFFECT,
                            balloon_offer=BALLOON_OFFER_EFFECT, collections=COLLECTIONS_EFFECT,
                            reminders=True, strategy="default", offers=True, incentives=True),
}
PRESETS["all"] = PRESETS["tailguard"]
"""Every preset's effects apply only where the platform acted (see `Treatments`)."""


@dataclass(frozen=True)
class SimulationConfig:
    loans: int
    months: int
    seed: int
    world: WorldSpec = field(default_factory=WorldSpec)
    behaviour: Behaviour = field(default_factory=Behaviour)
    treatments: Treatments = field(default_factory=Treatments)
    name: str = "baseline"

    def __post_init__(self) -> None:
        if self.loans < 1:
            raise ValueError("at least one loan")
        if self.months < 1:
            raise ValueError("at least one month")
        strategy = self.treatments.strategy
        if strategy is not None and strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
        if not 0 <= self.treatments.from_month < self.months:
            raise ValueError("treatments start within the simulated months")

    def challenger(self, name: str) -> SimulationConfig:
        """The same world and behaviour with the preset treatments `name` (switched on from
        the same month as this configuration's)."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}: one of {', '.join(PRESETS)}")
        treatments = replace(PRESETS[name], from_month=self.treatments.from_month)
        return replace(self, treatments=treatments, name=name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
