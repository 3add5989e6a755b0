"""Cross-region (异地) signals for one loan, from four places:

- household registration (户籍地): the first six digits of the borrower's resident ID;
- residence (常住地): where the borrower says they live;
- dealer (经销商所在地): where the car was sold and the application taken;
- vehicle registration (车辆登记地): the vehicle office (车管所) holding the mortgage.

Why these matter: a borrower far from the dealer is harder to verify and to visit, a dealer far
from its borrowers is a pattern of packaged applications (包装贷), and a car registered in
another city than the borrower lives in is where recoveries go wrong: a mortgage only binds
buyers in the registration office's books, so a car sold or pledged elsewhere is the main
cross-region loss (Civil Code Arts. 403, 404), and enforcement is filed where the vehicle is or
where the security was registered.

Pure: it takes the division list and the codes, and returns frozen values. Codes not in the list
(abolished counties in older ID numbers) are still compared by code pattern; their distance uses
the nearest listed city or province point.
"""

from __future__ import annotations

from dataclasses import dataclass

from tailguard.regions.divisions import Divisions, city_code_of, province_code_of


@dataclass(frozen=True)
class RegionComparison:
    """Two places compared.

    `same_city` is None when either side is known only to province level (e.g. a province
    code), where "same city" cannot be decided. `distance_km` is None when either place has no
    point even after falling back to its city and province.
    """

    left: str
    right: str
    same_province: bool
    same_city: bool | None
    distance_km: float | None


def compare(divisions: Divisions, left: str, right: str) -> RegionComparison:
    city_left = city_code_of(left)
    city_right = city_code_of(right)
    same_city = None if city_left is None or city_right is None else city_left == city_right
    return RegionComparison(
        left=left,
        right=right,
        same_province=province_code_of(left) == province_code_of(right),
        same_city=same_city,
        distance_km=divisions.distance_km(left, right),
    )


@dataclass(frozen=True)
class LoanPlaces:
    """The four region codes of a loan; any may be unknown at a given stage."""

    household_region: str | None = None
    residence_region: str | None = None
    dealer_region: str | None = None
    vehicle_region: str | None = None

    @classmethod
    def from_id_number(
        cls,
        id_number: str,
        residence_region: str | None = None,
        dealer_region: str | None = None,
        vehicle_region: str | None = None,
    ) -> LoanPlaces:
        """Household region from the first six digits of a (checked) ID number."""
        return cls(id_number[:6], residence_region, dealer_region, vehicle_region)


@dataclass(frozen=True)
class CrossRegionSignals:
    """The signals, each None when one of its two places is unknown.

    household_vs_residence: the borrower lives away from the household registration (a migrant
        borrower): family contacts and the registered address are far from where they live.
    residence_vs_dealer: bought the car away from home, the core 异地 case: the dealer cannot
        easily check the residence, and visits cost travel.
    household_vs_dealer: registered in another place than the dealer; with residence_vs_dealer
        it separates borrowers who moved to the dealer's city from those who travelled to buy.
    vehicle_vs_residence: the car is registered away from where it is kept; recovery and the
        mortgage release happen at an office far from the car.
    vehicle_vs_dealer: registered away from where it was sold (plates from another city, often
        to avoid a licence-plate lottery), a known channel for onward sale of financed cars.
    cross_city: residence or household registration in another city than the dealer — the
        glossary's definition of a cross-region loan.
    cross_province: the same, across provinces; regional policies usually key on this.
    max_distance_km: the widest distance among the known pairs, the geographic spread of the
        case (how far a field visit or a repossession may have to travel).
    """

    household_vs_residence: RegionComparison | None
    residence_vs_dealer: RegionComparison | None
    household_vs_dealer: RegionComparison | None
    vehicle_vs_residence: RegionComparison | None
    vehicle_vs_dealer: RegionComparison | None
    cross_city: bool | None
    cross_province: bool | None
    max_distance_km: float | None


def _pair(divisions: Divisions, left: str | None, right: str | None) -> RegionComparison | None:
    if left is None or right is None:
        return None
    return compare(divisions, left, right)


def _any_different(values: list[bool | None]) -> bool | None:
    """True if any known comparison differs, False if all known ones agree, None if none known."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    return not all(known)


def cross_region_signals(divisions: Divisions, places: LoanPlaces) -> CrossRegionSignals:
    household_residence = _pair(divisions, places.household_region, places.residence_region)
    residence_dealer = _pair(divisions, places.residence_region, places.dealer_region)
    household_dealer = _pair(divisions, places.household_region, places.dealer_region)
    vehicle_residence = _pair(divisions, places.vehicle_region, places.residence_region)
    vehicle_dealer = _pair(divisions, places.vehicle_region, places.dealer_region)
    against_dealer = [c for c in (residence_dealer, household_dealer) if c is not None]
    pairs = [
        c
        for c in (
            household_residence,
            residence_dealer,
            household_dealer,
            vehicle_residence,
            vehicle_dealer,
        )
        if c is not None
    ]
    distances = [c.distance_km for c in pairs if c.distance_km is not None]
    return CrossRegionSignals(
        household_vs_residence=household_residence,
        residence_vs_dealer=residence_dealer,
        household_vs_dealer=household_dealer,
        vehicle_vs_residence=vehicle_residence,
        vehicle_vs_dealer=vehicle_dealer,
        cross_city=_any_different([c.same_city for c in against_dealer]),
        cross_province=_any_different([c.same_province for c in against_dealer]),
        max_distance_km=max(distances) if distances else None,
    )
