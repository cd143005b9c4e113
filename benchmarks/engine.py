"""Throughput of our rule engine against zen-engine, JsonLogic and hand-written Python.

Workload
--------
100 campaigns, one rule each::

    (Session.Total > X and Profile.Attributes.Country = COUNTRY)
    or (exists Item in Session.CartItems with Item.Category = CATEGORY and Item.Quantity >= 2)

with ``X = 50 + 10 i`` for campaign ``i``, and ``COUNTRY`` and ``CATEGORY`` drawn per campaign
from short lists with a fixed seed, so that some campaigns fire and the others don't. A campaign
that fires gives 10 % off the session total (``["setDiscount", name, ["*", Total, 0.1]]``).
The cart has 10 items (SKU, Name, Category, Quantity, Price), also drawn with a fixed seed; the
profile's country is ``CA``. One *evaluation* is all 100 campaigns against that cart: which
campaigns fire, and the discount of each.

Engines
-------
- ``ours``: the 100 campaigns' rulesets compiled as one unit against the attribute catalogue
  (``compile_rulesets``), as the service keeps an application's running campaigns, then
  ``evaluate(binding)``. The binding holds numbers as ``Decimal``, as the engine requires.
  Computations that several campaigns repeat (reading ``Session.Total``, testing the cart for
  two pairs of shoes, ``Total * 0.1``) run once per evaluation.
- ``ours (no shared computations)``: the same unit compiled with ``memoize=False``: what the
  sharing is worth on this workload, where campaigns draw from 4 countries and 5 categories.
- ``ours (each campaign on its own)``: for reference, 100 separately compiled rulesets evaluated
  one after the other: what a per-campaign call costs.
- ``hand-written Python``: one function doing the same checks over the 100 campaigns' parameters,
  on the same ``Decimal`` binding: the ceiling for anything written in Python.
- ``zen-engine``: GoRules' Rust engine (PyPI ``zen-engine``), each way compiled once. One JDM
  decision whose expression node computes all 100 campaigns, evaluated by
  ``ZenEngine.evaluate(key, context)`` (the engine loads it from a static loader and keeps it
  compiled) and by ``ZenDecision.evaluate(context)`` (``create_decision``; about 150 µs more per
  call on our machine, whatever the decision); 100 decisions, one per campaign, through
  ``ZenEngine.evaluate``; 100 compiled expressions (``zen.compile_expression``). The fastest of
  these is the one the targets compare with. A zen expression per campaign reads
  ``(cond) ? Session.Total * 0.1 : null``.
- ``JsonLogic``: ``panzi-json-logic``'s ``jsonLogic(rule, data)``, one rule per campaign.

zen-engine and JsonLogic take JSON data, so they get the same binding with numbers as ``float``,
converted once before timing (a caller of theirs would hold JSON already).

Method
------
Before anything is timed, every engine's answer is checked against the hand-written function:
the same campaigns fire, with the same discount to the cent; a mismatch stops the run. Each
engine is then warmed up and calibrated so that one repeat lasts about ``--seconds``. Then come
``--repeats`` rounds; each round times every engine once, in an order that rotates from round to
round, because the machine's speed drifts: compare the ratios within one run, not the absolute
figures across runs. The garbage collector is off inside a timed loop (as ``timeit`` does). The
figure kept is each engine's best repeat (the median is shown too), timed with
``time.perf_counter``.

Targets (from the issue): ours at least 1.5 x zen-engine's throughput (its fastest way), and
within 2.5 x of the hand-written function. Two more lines compare rows organised the same way:
a ruleset per campaign against a zen decision per campaign, and one unit of 100 rulesets without
shared computations against one zen decision of 100 expressions. ``--json`` prints all of it as
one JSON object.

Run: ``.venv/bin/python -m benchmarks.engine [--seconds 0.5] [--repeats 7] [--json]``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from benchmarks.common import machine

SEED = 20261125
CAMPAIGNS = 100
CART_ITEMS = 10
PROFILE_COUNTRY = "CA"
COUNTRIES = ("CA", "CA", "US", "DE")
CATEGORIES = ("shoes", "shoes", "bags", "hats", "toys")
CART_CATEGORIES = ("shoes", "shirts", "socks", "hats", "bags", "jackets")
MIN_QUANTITY = 2
DISCOUNT_RATE = Decimal("0.1")
CENT = Decimal("0.01")

Outcome = dict[int, Decimal | None]
"""Which campaigns fired, each with its discount (None when rules have no effects)."""


# ---------------------------------------------------------------------------------------------
# The workload


@dataclass(frozen=True, slots=True)
class Campaign:
    index: int
    threshold: Decimal
    country: str
    category: str

    @property
    def name(self) -> str:
        return f"Campaign {self.index}: 10% off"


def make_campaigns(rng: random.Random) -> list[Campaign]:
    return [
        Campaign(i, Decimal(50 + 10 * i), rng.choice(COUNTRIES), rng.choice(CATEGORIES))
        for i in range(CAMPAIGNS)
    ]


def make_binding(rng: random.Random) -> dict[str, Any]:
    """The cart and profile, as our engine takes them (numbers as ``Decimal``)."""
    items = []
    for position in range(CART_ITEMS):
        category = rng.choice(CART_CATEGORIES)
        items.append(
            {
                "SKU": f"SKU-{rng.randrange(10_000, 99_999)}",
                "Name": f"{category.title()} #{position}",
                "Category": category,
                "Quantity": Decimal(rng.randint(1, 3)),
                "Price": Decimal(rng.randrange(500, 9_000)) / 100,
            }
        )
    total = sum((item["Price"] * item["Quantity"] for item in items), Decimal(0))
    return {
        "Session": {"Total": total.quantize(CENT), "CartItems": items},
        "Profile": {"Attributes": {"Country": PROFILE_COUNTRY}},
    }


def to_json_data(value: Any) -> Any:
    """The binding as JSON data: ``Decimal`` becomes ``float``."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: to_json_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_json_data(item) for item in value]
    return value


def has_set_discount() -> bool:
    import rules.library  # noqa: F401 - registers the function library
    from rules.functions.registry import REGISTRY

    return REGISTRY.lookup("setDiscount") is not None


# ---------------------------------------------------------------------------------------------
# Engines


@dataclass
class Engine:
    name: str
    run: Callable[[Any], Any]
    """One evaluation: all campaigns against ``data``."""
    data: Any
    outcome: Callable[[Any], Outcome]
    """What ``run`` returned, as fired campaigns and their discounts (not timed)."""


def talang_rule(campaign: Campaign, with_effect: bool) -> dict[str, Any]:
    condition = [
        "or",
        [
            "and",
            [">", [".", "Session", "Total"], campaign.threshold],
            ["=", [".", "Profile", "Attributes", "Country"], campaign.country],
        ],
        [
            "exists",
            [".", "Session", "CartItems"],
            [
                ["Item"],
                [
                    "and",
                    ["=", [".", "Item", "Category"], campaign.category],
                    [">=", [".", "Item", "Quantity"], MIN_QUANTITY],
                ],
            ],
        ],
    ]
    effect = ["setDiscount", campaign.name, ["*", [".", "Session", "Total"], DISCOUNT_RATE]]
    return {
        "title": campaign.name,
        "condition": condition,
        "effects": [effect] if with_effect else [],
    }


def catalogue() -> Any:
    """The application's catalogue, with ``Country`` as a custom profile attribute."""
    from rules.types import DECIMAL, STRING, list_of, map_of

    try:
        from rules.catalogue import build_catalogue
    except ImportError:
        item = map_of(
            {
                "SKU": STRING,
                "Name": STRING,
                "Category": STRING,
                "Quantity": DECIMAL,
                "Price": DECIMAL,
            }
        )
        return map_of(
            {
                "Session": map_of({"Total": DECIMAL, "CartItems": list_of(item)}),
                "Profile": map_of({"Attributes": map_of({"Country": STRING})}),
            }
        )
    return build_catalogue({"Profile": {"Country": STRING}})


def ours_engines(
    campaigns: list[Campaign], binding: dict[str, Any], with_effect: bool
) -> list[Engine]:
    from rules.engine import compile_ruleset, compile_rulesets

    cat = catalogue()

    def outcome(result: Any) -> Outcome:
        found: Outcome = {rule.ruleset: None for rule in result.fired}
        for fired in result.effects:
            found[fired.rule.ruleset] = _discount([fired.effect])
        return found

    # As the service runs them: every running campaign's ruleset, compiled as one unit.
    together = compile_rulesets(
        [(c.index, [talang_rule(c, with_effect)]) for c in campaigns], catalogue=cat
    )
    engines = [Engine("ours", together.evaluate, binding, outcome)]

    # For comparison: without sharing the computations that campaigns have in common.
    unshared = compile_rulesets(
        [(c.index, [talang_rule(c, with_effect)]) for c in campaigns],
        catalogue=cat,
        memoize=False,
    )
    engines.append(Engine("ours (no shared computations)", unshared.evaluate, binding, outcome))

    # For comparison: each campaign compiled and evaluated on its own.
    separate = [
        compile_ruleset([talang_rule(c, with_effect)], key=c.index, catalogue=cat)
        for c in campaigns
    ]

    def run_separately(data: dict[str, Any]) -> list[Any]:
        return [ruleset.evaluate(data) for ruleset in separate]

    def outcome_separately(results: list[Any]) -> Outcome:
        found: Outcome = {}
        for result in results:
            found.update(outcome(result))
        return found

    engines.append(
        Engine("ours (each campaign on its own)", run_separately, binding, outcome_separately)
    )
    return engines


def _discount(effects: list[Any]) -> Decimal | None:
    for effect in effects:
        value = getattr(effect, "value", None)
        if isinstance(value, Decimal):
            return value
    return None


def handwritten_engine(
    campaigns: list[Campaign], binding: dict[str, Any], with_effect: bool
) -> Engine:
    parameters = [(c.threshold, c.country, c.category) for c in campaigns]
    rate = DISCOUNT_RATE if with_effect else None

    def run(data: dict[str, Any]) -> Outcome:
        session = data["Session"]
        total = session["Total"]
        items = session["CartItems"]
        country = data["Profile"]["Attributes"]["Country"]
        fired: Outcome = {}
        for index, (threshold, wanted_country, category) in enumerate(parameters):
            if (total > threshold and country == wanted_country) or any(
                item["Category"] == category and item["Quantity"] >= MIN_QUANTITY for item in items
            ):
                fired[index] = total * rate if rate is not None else None
        return fired

    return Engine("hand-written Python", run, binding, lambda result: result)


def zen_expression(campaign: Campaign, with_effect: bool) -> str:
    condition = (
        f"(Session.Total > {campaign.threshold}"
        f" and Profile.Attributes.Country == {json.dumps(campaign.country)})"
        f" or some(Session.CartItems, #.Category == {json.dumps(campaign.category)}"
        f" and #.Quantity >= {MIN_QUANTITY})"
    )
    if not with_effect:
        return f"({condition}) ? true : null"
    return f"({condition}) ? Session.Total * {DISCOUNT_RATE} : null"


def zen_decision(expressions: list[tuple[str, str]]) -> str:
    """A JDM graph: input → one expression node computing ``key`` for each pair → output."""

    def node(id_: str, type_: str, x: int, **extra: Any) -> dict[str, Any]:
        return {"id": id_, "type": type_, "name": id_, "position": {"x": x, "y": 0}, **extra}

    content = {
        "nodes": [
            node("request", "inputNode", 0),
            node(
                "campaigns",
                "expressionNode",
                300,
                content={
                    "expressions": [
                        {"id": f"e{key}", "key": key, "value": value} for key, value in expressions
                    ]
                },
            ),
            node("response", "outputNode", 600),
        ],
        "edges": [
            {"id": "in", "sourceId": "request", "targetId": "campaigns", "type": "edge"},
            {"id": "out", "sourceId": "campaigns", "targetId": "response", "type": "edge"},
        ],
    }
    return json.dumps(content)


def _json_outcome(values: list[Any]) -> Outcome:
    """Fired campaigns from per-campaign values: null when not fired, else the discount."""
    found: Outcome = {}
    for index, value in enumerate(values):
        if value is None:
            continue
        found[index] = None if isinstance(value, bool) else Decimal(repr(value))
    return found


def zen_engines(campaigns: list[Campaign], data: dict[str, Any], with_effect: bool) -> list[Engine]:
    import zen

    texts = [zen_expression(c, with_effect) for c in campaigns]
    keys = [f"c{c.index}" for c in campaigns]
    whole = zen_decision(list(zip(keys, texts, strict=True)))
    content = {"campaigns": json.loads(whole)}
    content.update(
        {
            key: json.loads(zen_decision([("discount", text)]))
            for key, text in zip(keys, texts, strict=True)
        }
    )
    # ZenEngine.evaluate(key) keeps each loaded decision compiled; it is the fastest way we found
    # (ZenDecision.evaluate pays about 150 µs more per call, whatever the decision).
    engine = zen.ZenEngine({"loader": {"type": "static", "content": content}})
    decision = zen.ZenEngine().create_decision(whole)
    compiled = [zen.compile_expression(text) for text in texts]

    def run_engine(context: dict[str, Any]) -> dict[str, Any]:
        return engine.evaluate("campaigns", context)

    def outcome_one(response: dict[str, Any]) -> Outcome:
        result = response["result"]
        return _json_outcome([result.get(key) for key in keys])

    def run_decisions(context: dict[str, Any]) -> list[Any]:
        return [engine.evaluate(key, context) for key in keys]

    def outcome_decisions(responses: list[dict[str, Any]]) -> Outcome:
        return _json_outcome([response["result"].get("discount") for response in responses])

    def run_expressions(context: dict[str, Any]) -> list[Any]:
        return [expression.evaluate(context) for expression in compiled]

    return [
        Engine("zen-engine: 1 decision, ZenEngine.evaluate", run_engine, data, outcome_one),
        Engine(
            "zen-engine: 1 decision, ZenDecision.evaluate", decision.evaluate, data, outcome_one
        ),
        Engine(
            "zen-engine: 100 decisions, ZenEngine.evaluate", run_decisions, data, outcome_decisions
        ),
        Engine("zen-engine: 100 compiled expressions", run_expressions, data, _json_outcome),
    ]


def jsonlogic_rule(campaign: Campaign, with_effect: bool) -> dict[str, Any]:
    condition = {
        "or": [
            {
                "and": [
                    {">": [{"var": "Session.Total"}, float(campaign.threshold)]},
                    {"==": [{"var": "Profile.Attributes.Country"}, campaign.country]},
                ]
            },
            {
                "some": [
                    {"var": "Session.CartItems"},
                    {
                        "and": [
                            {"==": [{"var": "Category"}, campaign.category]},
                            {">=": [{"var": "Quantity"}, MIN_QUANTITY]},
                        ]
                    },
                ]
            },
        ]
    }
    value: Any = {"*": [{"var": "Session.Total"}, float(DISCOUNT_RATE)]} if with_effect else True
    return {"if": [condition, value, None]}


def jsonlogic_engine(campaigns: list[Campaign], data: dict[str, Any], with_effect: bool) -> Engine:
    from json_logic import jsonLogic

    rules = [jsonlogic_rule(c, with_effect) for c in campaigns]

    def run(context: dict[str, Any]) -> list[Any]:
        return [jsonLogic(rule, context) for rule in rules]

    return Engine("JsonLogic (panzi-json-logic)", run, data, _json_outcome)


# ---------------------------------------------------------------------------------------------
# Checking and timing


def check(engines: list[Engine], expected: Outcome) -> list[str]:
    """Every engine's disagreement with the hand-written function, one line each."""
    problems = []
    for engine in engines:
        got = engine.outcome(engine.run(engine.data))
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        if missing or extra:
            problems.append(
                f"{engine.name}: fires {sorted(got)}; expected {sorted(expected)}"
                f" (missing {missing}, extra {extra})"
            )
            continue
        for index, want in expected.items():
            have = got[index]
            if (want is None) != (have is None) or (
                want is not None and have is not None and abs(want - have) >= CENT / 2
            ):
                problems.append(f"{engine.name}: campaign {index} discount {have}, expected {want}")
    return problems


def time_loop(run: Callable[[Any], Any], data: Any, loops: int) -> float:
    """Seconds for ``loops`` evaluations, with the garbage collector off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in itertools.repeat(None, loops):
            run(data)
        return time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()


def calibrate(engine: Engine, seconds: float) -> int:
    """Warm up, then the number of evaluations that takes about ``seconds``."""
    loops = 1
    while True:
        elapsed = time_loop(engine.run, engine.data, loops)
        if elapsed >= 0.05:
            break
        loops *= 2
    return max(1, round(loops * seconds / elapsed))


@dataclass
class Timing:
    engine: Engine
    loops: int
    per_eval: list[float]

    @property
    def best(self) -> float:
        return min(self.per_eval)

    @property
    def median(self) -> float:
        return statistics.median(self.per_eval)


def measure(engines: list[Engine], seconds: float, repeats: int) -> list[Timing]:
    timings = [Timing(engine, calibrate(engine, seconds), []) for engine in engines]
    for round_ in range(repeats):
        shift = round_ % len(timings)
        for timing in timings[shift:] + timings[:shift]:
            elapsed = time_loop(timing.engine.run, timing.engine.data, timing.loops)
            timing.per_eval.append(elapsed / timing.loops)
    return timings


# ---------------------------------------------------------------------------------------------
# Report

LIKE_FOR_LIKE = (
    ("ours (each campaign on its own)", "zen-engine: 100 decisions, ZenEngine.evaluate"),
    ("ours (no shared computations)", "zen-engine: 1 decision, ZenEngine.evaluate"),
)
"""Pairs of rows organised the same way: a ruleset / decision per campaign, or one for all."""


def report(
    timings: list[Timing], fired: int, with_effect: bool, args: argparse.Namespace
) -> dict[str, Any]:
    by_name = {t.engine.name: t for t in timings}
    ours = by_name["ours"].best
    rows = [
        {
            "engine": t.engine.name,
            "evaluations_per_second": 1 / t.best,
            "us_per_evaluation": t.best * 1e6,
            "us_per_evaluation_median": t.median * 1e6,
            "throughput_vs_ours": ours / t.best,
            "loops_per_repeat": t.loops,
        }
        for t in timings
    ]
    zen = min((t for t in timings if t.engine.name.startswith("zen-engine")), key=lambda t: t.best)
    hand = by_name["hand-written Python"].best
    return {
        "benchmark": "benchmarks/engine.py",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine("zen-engine", "panzi-json-logic"),
        "command": " ".join(
            [os.path.basename(sys.executable), "-m", "benchmarks.engine", *sys.argv[1:]]
        ),
        "settings": {"seconds": args.seconds, "repeats": args.repeats, "seed": SEED},
        "workload": {
            "campaigns": CAMPAIGNS,
            "cart_items": CART_ITEMS,
            "campaigns_fired": fired,
            "effects": "setDiscount" if with_effect else "none",
        },
        "results": rows,
        "targets": {
            "zen_reference": zen.engine.name,
            "ours_vs_zen": zen.best / ours,
            "ours_vs_zen_target": 1.5,
            "ours_vs_zen_met": zen.best / ours >= 1.5,
            "handwritten_vs_ours": ours / hand,
            "handwritten_vs_ours_target": 2.5,
            "handwritten_vs_ours_met": ours / hand <= 2.5,
        },
        "like_for_like": [
            {
                "ours": mine,
                "zen": theirs,
                "ours_vs_zen": by_name[theirs].best / by_name[mine].best,
            }
            for mine, theirs in LIKE_FOR_LIKE
            if mine in by_name and theirs in by_name
        ],
    }


def print_table(data: dict[str, Any]) -> None:
    info = data["machine"]
    print(f"date:    {data['date']}")
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['platform']}")
    print(
        f"python:  {info['implementation']} {info['python']}; zen-engine {info['zen-engine']},"
        f" panzi-json-logic {info['panzi-json-logic']}"
    )
    work = data["workload"]
    settings = data["settings"]
    print(
        f"workload: {work['campaigns']} campaigns x {work['cart_items']}-item cart,"
        f" {work['campaigns_fired']} fire; effects: {work['effects']};"
        f" best of {settings['repeats']} x ~{settings['seconds']} s"
    )
    print()
    header = f"{'engine':<46} {'evals/s':>9} {'µs/eval':>9} {'median':>9} {'vs ours':>8}"
    print(header)
    print("-" * len(header))
    for row in data["results"]:
        print(
            f"{row['engine']:<46} {row['evaluations_per_second']:>9,.0f}"
            f" {row['us_per_evaluation']:>9.1f} {row['us_per_evaluation_median']:>9.1f}"
            f" {row['throughput_vs_ours']:>7.2f}x"
        )
    print()
    print("vs ours: the engine's throughput divided by ours (above 1: faster than ours).")
    targets = data["targets"]

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    print(
        f"target: ours >= 1.5 x zen-engine ({targets['zen_reference']}):"
        f" {targets['ours_vs_zen']:.2f} x, {verdict(targets['ours_vs_zen_met'])}"
    )
    print(
        f"target: hand-written within 2.5 x of ours: {targets['handwritten_vs_ours']:.2f} x,"
        f" {verdict(targets['handwritten_vs_ours_met'])}"
    )
    for pair in data["like_for_like"]:
        print(f"same shape: {pair['ours']} vs {pair['zen']}: {pair['ours_vs_zen']:.2f} x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one repeat")
    parser.add_argument("--repeats", type=int, default=7, help="rounds over all engines")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    rng = random.Random(SEED)
    campaigns = make_campaigns(rng)
    binding = make_binding(rng)
    data = to_json_data(binding)
    with_effect = has_set_discount()

    hand = handwritten_engine(campaigns, binding, with_effect)
    engines = [
        *ours_engines(campaigns, binding, with_effect),
        hand,
        *zen_engines(campaigns, data, with_effect),
        jsonlogic_engine(campaigns, data, with_effect),
    ]
    expected = hand.outcome(hand.run(hand.data))
    if not 0 < len(expected) < CAMPAIGNS:
        print(f"the workload is degenerate: {len(expected)} campaigns fire", file=sys.stderr)
        return 2
    problems = check(engines, expected)
    if problems:
        print("ENGINES DISAGREE on which campaigns fire:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        raise AssertionError("engines disagree; see above")

    timings = measure(engines, args.seconds, args.repeats)
    data_out = report(timings, len(expected), with_effect, args)
    if args.json:
        print(json.dumps(data_out, indent=2))
    else:
        print_table(data_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
