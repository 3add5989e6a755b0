"""Field-visit routes: the order in which a team visits the day's cases, by OR-Tools.

Distances are great-circle (haversine) metres between coordinates; the route starts and ends at
the team's base. OR-Tools' routing solver finds the tour (path-cheapest-arc first solution,
then guided local search within a short time limit), which for a day's dozen or two visits is
optimal or close to it. The solver is computation only, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class Stop:
    key: int
    latitude: float
    longitude: float


def haversine_m(a: Stop, b: Stop) -> int:
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(math.sqrt(h)))


@dataclass(frozen=True)
class Route:
    order: tuple[int, ...]
    """Stop keys in visiting order (the base excluded)."""
    distance_m: int


def plan_route(base: Stop, stops: Sequence[Stop], time_limit_s: int = 1) -> Route:
    """The shortest tour from the base through every stop and back."""
    if not stops:
        return Route((), 0)
    nodes = [base, *stops]
    matrix = [[haversine_m(a, b) for b in nodes] for a in nodes]
    manager = pywrapcp.RoutingIndexManager(len(nodes), 1, 0)
    routing = pywrapcp.RoutingModel(manager)

    def distance(i: int, j: int) -> int:
        return int(matrix[manager.IndexToNode(i)][manager.IndexToNode(j)])

    callback = routing.RegisterTransitCallback(distance)
    routing.SetArcCostEvaluatorOfAllVehicles(callback)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    if len(stops) > 3:
        params.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH)
        params.time_limit.seconds = time_limit_s
    solution = routing.SolveWithParameters(params)
    assert solution is not None, "a single-vehicle tour without constraints always exists"
    order: list[int] = []
    index = routing.Start(0)
    total = 0
    while not routing.IsEnd(index):
        following = solution.Value(routing.NextVar(index))
        total += distance(index, following)
        node = manager.IndexToNode(following)
        if node != 0:
            order.append(nodes[node].key)
        index = following
    return Route(tuple(order), total)
