"""Funnel SQL, step by step: the window layers giving each event's attempt per step (see `funnel_sql`).

- ordered (`ordered_steps`): `l{k}` of an event is the key of step 1 of the attempt it completes step k for:
  the running `max` of `l{k-1}` over the earlier events (the latest-starting attempt, the best one for the
  window), when the event is at most `window` after it; exclusions cut that running maximum into segments;
- strict (`_ordered`): the same with `l{k-1}` of the event just before;
- unordered (`_unordered`): each event matching a step, inside the range, anchors an attempt; step k is the
  earliest event matching it from the anchor's instant on, when inside the window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp

from opsloop.analytics.builder import PERSON, QueryBuilder, col, num

if TYPE_CHECKING:
    from opsloop.analytics.funnel_sql import FunnelDefinition

#: Events are keyed `time * 128 + breakdown index` (the index is at most 101), so one BIGINT orders them by
#: time, then value, and the latest-starting attempt is a plain `max`.
KEY_SCALE = 128


def _bits(names: list[str]) -> exp.Expr:
    """`sum(name_i * 2^(i-1))`: the set of steps (or exclusions) an event matches, as a number."""
    total: exp.Expr = num(0)
    for i, name in enumerate(names):
        total = exp.Add(this=total, expression=exp.Mul(this=exp.column(name), expression=num(2**i)))
    return exp.paren(total)


def _sequence() -> exp.Order:
    return exp.Order(expressions=[exp.Ordered(this=exp.column(c)) for c in ("t", "m", "xm", "v")])


def _over(
    func: exp.Expr, partition: list[str], order: exp.Order | None, spec: exp.WindowSpec | None = None
) -> exp.Window:
    return exp.Window(this=func, partition_by=[exp.column(p) for p in partition], order=order, spec=spec)


def _layer(source: exp.Select, *columns: exp.Expr) -> exp.Select:
    """`SELECT *, columns FROM (source)`."""
    return exp.select(exp.Star(), *columns).from_(source.subquery())


def _is(name: str) -> exp.Expr:
    return exp.EQ(this=exp.column(name), expression=num(1))


def _set(name: str) -> exp.Expr:
    return exp.Not(this=exp.Is(this=exp.column(name), expression=exp.Null()))


def _when(condition: exp.Expr, value: exp.Expr) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=condition, true=value)])


def _has(k: int, bits: str = "m") -> exp.Expr:
    """The event matches step k: bit k-1 of `m` (`m mod 2^k >= 2^(k-1)`, plain arithmetic on every engine)."""
    return exp.GTE(this=exp.Mod(this=exp.column(bits), expression=num(2**k)), expression=num(2 ** (k - 1)))


def ordered_steps(
    query: FunnelDefinition, builder: QueryBuilder, source: str, value: exp.Expr, kills: dict[int, list[int]]
) -> exp.Select:
    """Ordered funnels: per event `l{k}` and `y{k}` as `_ordered` gives them, reading far fewer rows.

    Rows carry only what the windows sort (person, `t`, `m`, and `xm` / `v` when they vary). After each
    step's window the rows that can no longer change anything are dropped: the window for step k reads
    only `l{k-1}`, so it needs the rows where that is set and those matching step k or a later one; the
    result needs the rows where some `l{j}` (j >= 2) is set and the latest step-1 row of each person (and
    exclusion segment: `p1`). After step 2 that is usually a small part of the events. Step 2 takes the
    latest step-1 key (`last_non_null`, cheaper than a running `max`) where keys never decrease along the
    sequence, that is without a breakdown index."""
    n = len(query.steps)
    d = builder.dialect
    monotone = isinstance(value, exp.Literal)
    order_by = ["t", "m"] + (["xm"] if query.exclusions else []) + ([] if monotone else ["v"])
    sequence = exp.Order(expressions=[exp.Ordered(this=exp.column(c)) for c in order_by])
    columns: list[exp.Expr] = [col(PERSON), exp.column("t"), exp.alias_(_bits([f"s{k}" for k in range(1, n + 1)]), "m")]
    if query.exclusions:
        columns.append(exp.alias_(_bits([f"x{i}" for i in range(1, len(query.exclusions) + 1)]), "xm"))
    if not monotone:
        columns.append(exp.alias_(value, "v"))
    carried = [exp.column(c.alias_or_name) for c in columns]
    for level, rules in kills.items():
        flags = [exp.column(f"x{i}") for i in rules]
        columns.append(exp.alias_(exp.Greatest(this=num(0), expressions=flags), f"k{level}"))
    layer = exp.select(*columns).from_(source)
    if kills:
        upto = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
        segments = [
            exp.alias_(
                _over(exp.Sum(this=exp.column(f"k{level}")), [PERSON], sequence.copy(), upto.copy()), f"g{level}"
            )
            for level in kills
        ]
        layer = exp.select(*[c.copy() for c in carried], *segments).from_(layer.subquery())
        carried += [exp.column(f"g{level}") for level in kills]
    # Exclusion events matching no step have done their part (the segments `g`).
    layer = _keep(layer, exp.GT(this=exp.column("m"), expression=num(0)))
    key = exp.Add(
        this=exp.Mul(this=exp.column("t"), expression=num(KEY_SCALE)),
        expression=value.copy() if monotone else exp.column("v"),
    )
    first = _when(_has(1), key.copy())
    before = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end=num(1), end_side="PRECEDING")
    whole = exp.WindowSpec(
        kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="UNBOUNDED", end_side="FOLLOWING"
    )
    for k in range(2, n + 1):
        previous = exp.column(f"l{k - 1}")
        partition = [PERSON] + ([f"g{k - 1}"] if k - 1 in kills else [])
        if k == 2:
            # `Any`: sqlglot builds `Expr`s; the dialect takes `Expression`s.
            step_one: Any = first.copy()
            prior = d.last_non_null(step_one) if monotone else exp.Max(this=step_one)
            latest = _over(exp.Max(this=first.copy()), partition, sequence.copy(), whole.copy())
            layer = exp.select(
                *[c.copy() for c in carried],
                exp.alias_(_over(prior, partition, sequence.copy(), before.copy()), "q2"),
                exp.alias_(latest, "p1"),
            ).from_(layer.subquery())
            layer = _layer(layer, exp.alias_(first.copy(), "l1"))
        else:
            # Rows equal in sequence order are taken in the order of `l{k-1}` (which grows along the
            # sequence), so that every window reads the events in one and the same order.
            tie = exp.Ordered(this=previous.copy(), nulls_first=True)
            order = exp.Order(expressions=[*sequence.copy().expressions, tie])
            layer = _layer(layer, exp.alias_(_over(exp.Max(this=previous), partition, order, before.copy()), f"q{k}"))
        q = exp.column(f"q{k}")
        # t <= start + window, with start = q // 128: the same as (t - window) * 128 <= q.
        earliest = exp.Mul(
            this=exp.paren(exp.Sub(this=exp.column("t"), expression=num(query.window_micros))),
            expression=num(KEY_SCALE),
        )
        ok = exp.and_(_has(k), _set(f"q{k}"), exp.LTE(this=earliest, expression=q.copy()))
        layer = _layer(layer, exp.alias_(_when(ok, q.copy()), f"l{k}"))
        needed = [_set(f"l{j}") for j in range(2, k + 1)]
        needed.append(exp.EQ(this=exp.column("l1"), expression=exp.column("p1")))
        if k < n:
            needed.append(exp.GTE(this=exp.column("m"), expression=num(2**k)))
        layer = _keep(layer, exp.or_(*needed))
    return _layer(layer, *[exp.alias_(_when(_set(f"l{k}"), key.copy()), f"y{k}") for k in range(1, n + 1)])


def _keep(source: exp.Select, condition: exp.Expr) -> exp.Select:
    """`SELECT * FROM (source) WHERE condition`."""
    return exp.select(exp.Star()).from_(source.subquery()).where(condition)


def strict_steps(
    query: FunnelDefinition, builder: QueryBuilder, layer: exp.Select, kills: dict[int, list[int]]
) -> exp.Select:
    """Strict funnels: adds `l{k}` and `y{k}` as for ordered ones, where step k continues only the attempt
    of the event just before. Unrolled, `l{k}` of an event is the key of the event k-1 places before it when
    the k events in between match steps 1..k in turn (none of them, past step 1, an exclusion of the level it
    leaves) and the event is inside that one's window: one window over the events gives it (`lag` by 1 to
    n-1), where a layer per step would sort them n-1 times. Rows that no step and no result can use are
    dropped before the result (as in `ordered_steps`)."""
    n = len(query.steps)
    d = builder.dialect
    tk = exp.column("tk")
    columns: list[exp.Expr] = []
    for j in range(1, n):
        columns.append(exp.alias_(_over(d.previous_row(exp.column("m"), j), [PERSON], _sequence()), f"pm{j}"))
        columns.append(exp.alias_(_over(d.previous_row(tk.copy(), j), [PERSON], _sequence()), f"pk{j}"))
        for level in kills:
            flag = d.previous_row(exp.column(f"k{level}"), j)
            columns.append(exp.alias_(_over(flag, [PERSON], _sequence()), f"pk{level}_{j}"))
    whole = exp.WindowSpec(
        kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="UNBOUNDED", end_side="FOLLOWING"
    )
    first = _when(_is("s1"), tk.copy())
    columns.append(exp.alias_(_over(exp.Max(this=first.copy()), [PERSON], _sequence(), whole), "p1"))
    layer = _layer(layer, *columns)
    starts: list[exp.Expr] = [exp.alias_(first.copy(), "l1")]
    for k in range(2, n + 1):
        start = exp.column(f"pk{k - 1}")
        # t <= start + window, with start = key // 128: the same as (t - window) * 128 <= key.
        earliest = exp.Mul(
            this=exp.paren(exp.Sub(this=exp.column("t"), expression=num(query.window_micros))),
            expression=num(KEY_SCALE),
        )
        ok: list[exp.Expr] = [_is(f"s{k}"), _has(1, f"pm{k - 1}"), exp.LTE(this=earliest, expression=start.copy())]
        for i in range(k - 1):  # the event i places back completes step k - i
            if i > 0:
                ok.append(_has(k - i, f"pm{i}"))
            if k - i - 1 in kills:
                flag = exp.column(f"k{k - i - 1}" if i == 0 else f"pk{k - i - 1}_{i}")
                ok.append(exp.EQ(this=flag, expression=num(0)))
        starts.append(exp.alias_(_when(exp.and_(*ok), start.copy()), f"l{k}"))
    layer = _layer(layer, *starts)
    needed = [_set(f"l{k}") for k in range(2, n + 1)]
    layer = _keep(layer, exp.or_(*needed, exp.EQ(this=exp.column("l1"), expression=exp.column("p1"))))
    return _layer(layer, *[exp.alias_(_when(_set(f"l{k}"), tk.copy()), f"y{k}") for k in range(1, n + 1)])


def unordered_steps(query: FunnelDefinition, layer: exp.Select) -> exp.Select:
    """Adds, for each anchor (an event matching a step, inside the range), `y{k}`: the key of the earliest
    event matching step k from the anchor's instant on, and `l{k}`: the anchor's key while steps 1..k are all
    inside the window."""
    n = len(query.steps)
    # From this instant on (ClickHouse takes no RANGE offset past 32 bits, so the window is checked after).
    ahead = exp.WindowSpec(kind="RANGE", start="CURRENT ROW", end="UNBOUNDED", end_side="FOLLOWING")
    order = exp.Order(expressions=[exp.Ordered(this=exp.column("t"))])
    firsts = [
        exp.alias_(_over(exp.Min(this=_when(_is(f"s{k}"), exp.column("tk"))), [PERSON], order, ahead), f"f{k}")
        for k in range(1, n + 1)
    ]
    layer = _layer(layer, *firsts)
    anchor = exp.and_(_is("a"), exp.GT(this=exp.column("m"), expression=num(0)))
    limit = exp.Mul(
        this=exp.paren(exp.Add(this=exp.column("t"), expression=num(query.window_micros + 1))),
        expression=num(KEY_SCALE),
    )
    columns = []
    reached: exp.Expr = anchor
    for k in range(1, n + 1):
        f = exp.column(f"f{k}")
        # f // 128 <= t + window, i.e. f < (t + window + 1) * 128.
        reached = exp.and_(reached.copy(), _set(f"f{k}"), exp.LT(this=f.copy(), expression=limit.copy()))
        columns.append(exp.alias_(_when(reached.copy(), exp.column("tk")), f"l{k}"))
        columns.append(exp.alias_(_when(reached.copy(), f.copy()), f"y{k}"))
    return _layer(layer, *columns)
