"""Deterministic synthetic data for a consumer shopping + content app: persons, sessions, events, ad spend.

The simulation is vectorised with numpy in four stages: persons (where they come from, what they use,
how engaged they are), a person x day activity matrix (decay, churn, spontaneous and campaign-driven
comebacks), sessions on active days, and events inside sessions. Event JSON is assembled per batch by
concatenating precomputed JSON fragments with pyarrow, so no Python code runs per event. Everything
draws from `numpy.random.default_rng(spec.seed)` in a fixed order: the same spec gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from opsloop.demo import catalog as cat

EVENT_BATCH_SCHEMA = pa.schema(
    [
        ("uuid", pa.string()),
        ("event", pa.string()),
        ("distinct_id", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("properties", pa.string()),
        ("$set", pa.string()),
        ("$set_once", pa.string()),
    ]
)

BATCH_ROWS = 150_000
_DAY_US = 86_400_000_000
_HOUR_MS = 3_600_000
_MAX_SESSION_S = 3_000.0  # sessions fit inside one UTC hour slot, so sessions of a person never overlap
_MIN_GAP_S = 0.3  # keeps events of a session strictly ordered in time, even after rounding to ms


@dataclass(frozen=True)
class DemoSpec:
    """What to generate: how many persons over how many days ending on `end_date` (UTC), from which seed."""

    persons: int = 20_000
    days: int = 120
    seed: int = 42
    end_date: dt.date = field(kw_only=True)

    def __post_init__(self) -> None:
        if self.persons < 1 or self.days < 1:
            raise ValueError("DemoSpec needs persons >= 1 and days >= 1")
        if self.seed < 0:
            raise ValueError("DemoSpec.seed must be >= 0")
        if isinstance(self.end_date, dt.datetime) or not isinstance(self.end_date, dt.date):
            raise TypeError("DemoSpec.end_date must be a datetime.date")

    @property
    def start_date(self) -> dt.date:
        """First day of data (UTC)."""
        return self.end_date - dt.timedelta(days=self.days - 1)


@dataclass(frozen=True)
class ChannelCost:
    """Advertising spend of one paid channel on one day."""

    date: dt.date
    channel: str
    spend: float
    currency: str = "USD"


class _K(IntEnum):
    """Internal event kinds; several share an event name but carry different properties."""

    LANDING = 0
    PAGE = 1
    SCREEN = 2
    PRODUCT_PAGE = 3
    PRODUCT_SCREEN = 4
    PUSH_OPENED = 5
    EMAIL_OPENED = 6
    SIGN_UP_STARTED = 7
    IDENTIFY = 8
    SIGNED_UP = 9
    ONBOARDING_COMPLETED = 10
    UPGRADED_PLAN = 11
    CONTENT_VIEWED = 12
    CONTENT_LIKED = 13
    CONTENT_SHARED = 14
    COMMENT_POSTED = 15
    VIEW_ITEM = 16
    ADD_TO_CART = 17
    CHECKOUT_STARTED = 18
    PURCHASE = 19


# kind -> (event name, mean seconds since the previous event of the session)
_KIND_INFO: dict[_K, tuple[str, float]] = {
    _K.LANDING: ("$pageview", 0.0),
    _K.PAGE: ("$pageview", 20.0),
    _K.SCREEN: ("$screen", 15.0),
    _K.PRODUCT_PAGE: ("$pageview", 15.0),
    _K.PRODUCT_SCREEN: ("$screen", 12.0),
    _K.PUSH_OPENED: ("push_opened", 0.0),
    _K.EMAIL_OPENED: ("email_opened", 0.0),
    _K.SIGN_UP_STARTED: ("sign_up_started", 15.0),
    _K.IDENTIFY: ("$identify", 45.0),
    _K.SIGNED_UP: ("signed_up", 0.2),
    _K.ONBOARDING_COMPLETED: ("onboarding_completed", 90.0),
    _K.UPGRADED_PLAN: ("upgraded_plan", 40.0),
    _K.CONTENT_VIEWED: ("content_viewed", 35.0),
    _K.CONTENT_LIKED: ("content_liked", 5.0),
    _K.CONTENT_SHARED: ("content_shared", 8.0),
    _K.COMMENT_POSTED: ("comment_posted", 30.0),
    _K.VIEW_ITEM: ("view_item", 1.0),
    _K.ADD_TO_CART: ("add_to_cart", 20.0),
    _K.CHECKOUT_STARTED: ("checkout_started", 10.0),
    _K.PURCHASE: ("purchase", 60.0),
}
_EVENT_NAMES = pa.array([_KIND_INFO[k][0] for k in _K], pa.string())
_GAP_MEAN = np.array([_KIND_INFO[k][1] for k in _K])


@dataclass(frozen=True, eq=False)
class _Events:
    """Columnar events sorted by time, plus the per-person / per-entity JSON fragments they refer to."""

    ts: np.ndarray  # int64 microseconds since the epoch
    kind: np.ndarray  # int8 _K
    person: np.ndarray  # int32
    session: np.ndarray  # int32
    a: np.ndarray  # int32 payload: content / product / page / campaign index, onboarding seconds
    b: np.ndarray  # int32 payload: quantity, item count, share channel, comment length, billing
    c: np.ndarray  # int8 payload: payment method
    x: np.ndarray  # float64 payload: money
    identify_ts: np.ndarray  # per person: identify time (int64 max: never); later events use the user id
    frags: dict[str, pa.Array]


@dataclass(frozen=True, eq=False)
class DemoData:
    """A generated demo: summary numbers, daily ad spend and a replayable stream of event batches."""

    spec: DemoSpec
    channel_costs: list[ChannelCost]
    n_persons: int
    n_signed_up: int
    n_events: int
    start_date: dt.date
    end_date: dt.date
    campaign_dates: dict[str, dt.date]
    _events: _Events = field(repr=False)

    def event_counts(self) -> dict[str, int]:
        """Number of events per event name."""
        counts: dict[str, int] = {}
        for kind, n in enumerate(np.bincount(self._events.kind, minlength=len(_K)).tolist()):
            name = _KIND_INFO[_K(kind)][0]
            counts[name] = counts.get(name, 0) + n
        return counts

    def event_batches(self) -> Iterator[pa.RecordBatch]:
        """Events as EVENT_BATCH_SCHEMA batches of <= BATCH_ROWS rows in time order; same bytes every call."""
        total = self.n_events
        n_batches = max(1, -(-total // BATCH_ROWS))
        size = -(-total // n_batches)  # even sizes rather than a tiny last batch
        for number, lo in enumerate(range(0, total, size)):
            yield _batch(self._events, lo, min(lo + size, total), number, self.spec.seed)


def generate_demo(spec: DemoSpec) -> DemoData:
    """Simulate the demo product described by `spec`."""
    rng = np.random.default_rng(spec.seed)
    people = _people(rng, spec)
    campaign_days = [round(frac * (spec.days - 1)) for _, frac in cat.CAMPAIGNS]
    active, opened = _activity(rng, spec, people, campaign_days)
    sessions = _sessions(rng, people, active)
    events, entity_frags = _events(rng, spec, people, sessions, campaign_days, opened)
    frags, identify_ts = _person_frags(rng, spec, people, sessions, events)
    ev = _Events(
        events["ts"],
        events["kind"],
        events["person"],
        events["session"],
        events["a"],
        events["b"],
        events["c"],
        events["x"],
        identify_ts,
        frags | entity_frags,
    )
    return DemoData(
        spec=spec,
        channel_costs=_channel_costs(rng, spec, people),
        n_persons=spec.persons,
        n_signed_up=int(people["signs_up"].sum()),
        n_events=len(ev.ts),
        start_date=spec.start_date,
        end_date=spec.end_date,
        campaign_dates={
            name: spec.start_date + dt.timedelta(days=d)
            for (name, _), d in zip(cat.CAMPAIGNS, campaign_days, strict=True)
        },
        _events=ev,
    )


# ------------------------------------------------------------------------------------------ persons

_COUNTRY_CODES = [code for code, _, _ in cat.COUNTRIES]
_CITY_LIST = [(code, name, tz) for code in _COUNTRY_CODES for name, tz, _ in cat.CITIES[code]]
_CITY_TZ = np.array([tz for _, _, tz in _CITY_LIST])
_CHANNEL_NAMES = [ch.name for ch in cat.CHANNELS]
_REFERRAL = _CHANNEL_NAMES.index("referral")
_APP_STORE = _CHANNEL_NAMES.index("app_store")


def _norm(weights: Any) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def _pick(weights: list[float], draws: np.ndarray) -> np.ndarray:
    """Categorical indexes for uniform `draws` in [0, 1)."""
    return np.minimum(np.searchsorted(np.cumsum(_norm(weights)), draws, side="right"), len(weights) - 1)


def _row_choice(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)


def _weekdays(spec: DemoSpec) -> np.ndarray:
    return (spec.start_date.weekday() + np.arange(spec.days)) % 7


def _arrival_weights(spec: DemoSpec, channel: cat.Channel) -> np.ndarray:
    """First-visit weight per day: growth ramp, weekly seasonality, channel-specific spikes."""
    days = np.arange(spec.days)
    w = 1.0 + 2.0 * (days / max(spec.days - 1, 1)) ** 1.3  # the product grows ~3x over the period
    wd = _weekdays(spec)
    w = w * np.where(wd >= 5, channel.weekend, 1.0)
    if channel.name == "influencer":  # each sponsored post brings a burst that fades over a few days
        since_post = days % cat.INFLUENCER_POST_EVERY
        w = w * (0.4 + 3.0 * np.exp(-since_post / 2.5))
    if channel.name == "email":
        w = w * np.where(wd == cat.NEWSLETTER_WEEKDAY, 2.5, 1.0)
    return _norm(w)


def _people(rng: np.random.Generator, spec: DemoSpec) -> dict[str, np.ndarray]:
    """Per-person attributes: geography, platform, channel, first visit day, sign-up, engagement."""
    n = spec.persons
    country = rng.choice(len(cat.COUNTRIES), n, p=_norm([s for _, s, _ in cat.COUNTRIES]))
    city = np.empty(n, np.int32)
    for ci, code in enumerate(_COUNTRY_CODES):
        idx = np.flatnonzero(country == ci)
        choices = [i for i, (cc, _, _) in enumerate(_CITY_LIST) if cc == code]
        city[idx] = rng.choice(choices, len(idx), p=_norm([w for _, _, w in cat.CITIES[code]]))
    channel = rng.choice(len(cat.CHANNELS), n, p=_norm([ch.share for ch in cat.CHANNELS]))
    mix = np.array([m for _, _, m in cat.COUNTRIES])[country]
    mix[channel == _APP_STORE, 2:] = 0.0  # app-store installs are native apps
    platform = _row_choice(rng, mix)
    arrival = np.empty(n, np.int32)
    for k, ch in enumerate(cat.CHANNELS):
        idx = np.flatnonzero(channel == k)
        arrival[idx] = rng.choice(spec.days, len(idx), p=_arrival_weights(spec, ch))
    ch_signup = np.array([ch.signup for ch in cat.CHANNELS])[channel]
    signs_up = rng.random(n) < ch_signup * np.array(cat.PLATFORM_SIGNUP)[platform]
    engagement = rng.beta(2.0, 2.4, n) * np.array([ch.engagement for ch in cat.CHANNELS])[channel]
    engagement = np.clip(np.where(signs_up, engagement, engagement * 0.35), 0.02, 0.97)
    return {
        "country": country,
        "city": city,
        "channel": channel,
        "platform": platform,
        "arrival": arrival,
        "signs_up": signs_up,
        "engagement": engagement,
        "shop": rng.beta(2.0, 2.0, n),  # shopping vs content affinity
        "pro": signs_up & (rng.random(n) < cat.PRO_AT_SIGNUP),
    }


# ------------------------------------------------------------------------------------------ activity


def _activity(
    rng: np.random.Generator, spec: DemoSpec, people: dict[str, np.ndarray], campaign_days: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Person x day activity: decaying engagement until churn, then spontaneous or campaign comebacks."""
    n, n_days = spec.persons, spec.days
    days = np.arange(n_days)
    arrival, e = people["arrival"], people["engagement"]
    t = days[None, :] - arrival[:, None]
    # Many visitors never return; the rest churn after an engagement-dependent lifetime.
    one_and_done = rng.random(n) < 0.45 * (1.0 - e)
    life = np.where(one_and_done, 1.0, 1.0 + rng.exponential(3.0 + 70.0 * e**1.5))
    decay = 0.45 + 0.55 * np.exp(-np.maximum(t, 0) / 10.0)  # activity fades over the first weeks
    p = (e[:, None] * decay * np.array(cat.WEEKDAY_ACTIVITY)[_weekdays(spec)][None, :]).astype(np.float32)
    u = rng.random((n, n_days), dtype=np.float32)
    active = ((t >= 0) & (t < life[:, None]) & (u < p)) | (t == 0)
    # Some churned persons come back on their own weeks later, for a short while.
    back = rng.random(n) < 0.05 + 0.15 * e
    start2 = arrival + np.ceil(life).astype(np.int64) + cat.DORMANT_DAYS + rng.exponential(15.0, n).astype(np.int64)
    end2 = start2 + 1 + rng.exponential(6.0, n).astype(np.int64)
    window = back[:, None] & (days[None, :] >= start2[:, None]) & (days[None, :] < end2[:, None])
    active |= window & (u < 0.8 * p)
    active |= back[:, None] & (days[None, :] == start2[:, None])
    # Re-engagement campaigns: signed-up persons dormant for DORMANT_DAYS get a push (apps) or an email
    # (web); some open it and come back for a while. Active persons open some too.
    opened = np.zeros((n, len(campaign_days)), dtype=bool)
    is_app = np.isin(people["platform"], cat.APP_PLATFORMS)
    for j, c in enumerate(campaign_days):
        if c < cat.DORMANT_DAYS:
            continue
        reachable = people["signs_up"] & (arrival <= c - cat.DORMANT_DAYS)
        dormant = reachable & ~active[:, c - cat.DORMANT_DAYS : c].any(axis=1)
        draw = rng.random(n)
        won_back = dormant & (draw < np.where(is_app, 0.22, 0.15))
        opened[:, j] = won_back | (reachable & ~dormant & active[:, c] & (draw < 0.25))
        end3 = c + 1 + rng.exponential(8.0 + 25.0 * e).astype(np.int64)
        window = won_back[:, None] & (days[None, :] >= c) & (days[None, :] < end3[:, None])
        active |= window & (rng.random((n, n_days), dtype=np.float32) < 0.7 * p)
        active[won_back, c] = True
    return active, opened


def _sessions(rng: np.random.Generator, people: dict[str, np.ndarray], active: np.ndarray) -> dict[str, Any]:
    """Sessions on active days, each in its own UTC hour slot picked by the person's local diurnal rhythm."""
    pd_person, pd_day = np.nonzero(active)  # row-major: sorted by person, then day
    e = people["engagement"][pd_person]
    k = np.minimum(1 + rng.poisson(0.1 + 0.9 * e), 6)
    tz = _CITY_TZ[people["city"]]
    hour_w = np.array(cat.DIURNAL)[(np.arange(24)[None, :] + tz[:, None]) % 24]  # per person, by UTC hour
    # Weighted sampling of k distinct hours per person-day (Gumbel top-k), then time-ordered.
    keys = np.log(hour_w[pd_person]) + rng.gumbel(size=(len(pd_person), 24))
    ranked = np.argsort(-keys, axis=1)
    chosen = np.arange(24)[None, :] < k[:, None]
    row = np.repeat(np.arange(len(pd_person)), k)
    hour = ranked[chosen]
    order = np.lexsort((hour, row))
    row, hour = row[order], hour[order]
    s_person = pd_person[row].astype(np.int32)
    n_sessions = len(s_person)
    first = np.searchsorted(s_person, np.arange(len(people["arrival"])))
    count = np.diff(np.append(first, n_sessions))
    rank = np.arange(n_sessions) - first[s_person]
    # Most sign up in their first session; some come back once more before deciding.
    late = people["signs_up"] & (count >= 2) & (rng.random(len(count)) < 0.2)
    signup_rank = np.where(people["signs_up"], late.astype(np.int64), np.iinfo(np.int64).max)
    return {
        "person": s_person,
        "day": pd_day[row].astype(np.int32),
        "hour": hour.astype(np.int32),
        "rank": rank,
        "first": first,
        "count": count,
        "signup_rank": signup_rank,
    }


# ------------------------------------------------------------------------------------------ events


def _popularity(n: int) -> np.ndarray:
    return _norm(1.0 / (np.arange(n) + 10.0) ** 0.9)


class _Builder:
    """Collects events as column chunks: session, kind, ordering key within the session, payloads."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(
        self,
        sess: np.ndarray,
        kind: np.ndarray | int,
        key: np.ndarray | float,
        a: Any = 0,
        b: Any = 0,
        c: Any = 0,
        x: Any = 0.0,
    ) -> None:
        m = len(sess)
        cols = [
            (sess, np.int32),
            (kind, np.int8),
            (key, np.float64),
            (a, np.int32),
            (b, np.int32),
            (c, np.int8),
            (x, np.float64),
        ]
        self.parts.append(tuple(np.broadcast_to(np.asarray(v, dt_), (m,)) for v, dt_ in cols))

    def columns(self) -> dict[str, np.ndarray]:
        """The collected columns, sorted by session then key; the chunks are released."""
        names = ("session", "kind", "key", "a", "b", "c", "x")
        cols = {name: np.concatenate([p[i] for p in self.parts]) for i, name in enumerate(names)}
        self.parts = []
        order = np.lexsort((cols.pop("key"), cols["session"]))
        for name in cols:  # one column at a time keeps only one extra copy alive
            cols[name] = cols[name][order]
        return cols


def _events(
    rng: np.random.Generator,
    spec: DemoSpec,
    people: dict[str, np.ndarray],
    s: dict[str, Any],
    campaign_days: list[int],
    opened: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, pa.Array]]:
    """Events inside sessions, timed, then sorted by timestamp."""
    n_sess = len(s["person"])
    sp = s["person"]
    e, shop, platform = people["engagement"][sp], people["shop"][sp], people["platform"][sp]
    web = platform >= 2
    identified = s["rank"] >= s["signup_rank"][sp]
    bld = _Builder()
    sess_ids = np.arange(n_sess)
    nav_kind = np.where(web, _K.PAGE, _K.SCREEN)
    prod_kind = np.where(web, _K.PRODUCT_PAGE, _K.PRODUCT_SCREEN)

    first_session = s["rank"] == 0
    bld.add(sess_ids[first_session], _K.LANDING, -1.0)
    bld.add(sess_ids[~first_session], nav_kind[~first_session], 0.0, a=0)  # home
    page_w = _norm([w for _, _, w in cat.PAGES])
    extra = np.repeat(sess_ids, rng.poisson(0.9, n_sess))
    bld.add(
        extra,
        nav_kind[extra],
        rng.uniform(0.01, 1.9, len(extra)),
        a=rng.choice(len(cat.PAGES), len(extra), p=page_w),
    )

    # Content feed: views, and likes / shares / comments right after the view they react to.
    content_cat = rng.integers(0, len(cat.CONTENT_CATEGORIES), cat.N_CONTENT)
    content_author = rng.integers(0, cat.N_AUTHORS, cat.N_CONTENT)
    cv = np.repeat(sess_ids, rng.poisson((0.5 + 5.0 * e) * (1.3 - shop)))
    cv_key = rng.uniform(0.01, 1.9, len(cv))
    cv_content = rng.choice(cat.N_CONTENT, len(cv), p=_popularity(cat.N_CONTENT))
    bld.add(cv, _K.CONTENT_VIEWED, cv_key, a=cv_content)
    for kind, rate, step in (
        (_K.CONTENT_LIKED, 0.08 + 0.25 * e[cv], 1e-5),
        (_K.CONTENT_SHARED, 0.01 + 0.04 * e[cv], 2e-5),
        (_K.COMMENT_POSTED, 0.015 + 0.05 * e[cv], 3e-5),
    ):
        hit = rng.random(len(cv)) < rate
        m = int(hit.sum())
        b = (
            rng.integers(0, len(cat.SHARE_CHANNELS), m)
            if kind == _K.CONTENT_SHARED
            else np.minimum(5 + rng.lognormal(4.0, 0.8, m), 2000).astype(np.int32)
        )
        bld.add(cv[hit], kind, cv_key[hit] + step, a=cv_content[hit], b=b)

    # Shopping: product page + view_item, add_to_cart; checkout and purchase for identified persons.
    prod_cat = rng.integers(0, len(cat.PRODUCT_CATEGORIES), cat.N_PRODUCTS)
    med, sig = (np.array([pc_[i] for pc_ in cat.PRODUCT_CATEGORIES]) for i in (1, 2))
    price = np.round(med[prod_cat] * rng.lognormal(0.0, sig[prod_cat]), 0) - 0.01
    price = np.maximum(price, 0.99).round(2)  # the method: numpy's stubs type np.round of this as float16
    conv = (
        np.array([ch.purchase for ch in cat.CHANNELS])[people["channel"][sp]]
        * np.array(cat.PLATFORM_PURCHASE)[platform]
    )
    vi = np.repeat(sess_ids, rng.poisson((0.3 + 2.8 * e) * (shop + 0.25)))
    vi_key = rng.uniform(0.01, 1.9, len(vi))
    vi_prod = rng.choice(cat.N_PRODUCTS, len(vi), p=_popularity(cat.N_PRODUCTS))
    bld.add(vi, prod_kind[vi], vi_key, a=vi_prod)
    bld.add(vi, _K.VIEW_ITEM, vi_key + 1e-5, a=vi_prod)
    atc = rng.random(len(vi)) < np.minimum(0.22 * conv[vi], 0.9)
    qty = 1 + (rng.random(int(atc.sum())) < 0.15)
    atc_sess, atc_prod = vi[atc], vi_prod[atc]
    bld.add(atc_sess, _K.ADD_TO_CART, vi_key[atc] + 2e-5, a=atc_prod, b=qty)
    items = np.bincount(atc_sess, weights=qty, minlength=n_sess).astype(np.int32)
    value = np.round(np.bincount(atc_sess, weights=qty * price[atc_prod], minlength=n_sess), 2)
    top = np.zeros(n_sess, np.int32)  # the priciest product in the cart names the purchase category
    by_price = np.lexsort((-price[atc_prod], atc_sess))
    uniq, at = np.unique(atc_sess[by_price], return_index=True)
    top[uniq] = atc_prod[by_price][at]
    co = (items > 0) & identified & (rng.random(n_sess) < np.minimum(0.5 * conv, 0.95))
    co_sess = sess_ids[co]
    bld.add(co_sess, nav_kind[co_sess], 1.93, a=cat.PAGE_CART)
    bld.add(co_sess, nav_kind[co_sess], 1.94, a=cat.PAGE_CHECKOUT)
    bld.add(co_sess, _K.CHECKOUT_STARTED, 1.95, b=items[co_sess], x=value[co_sess])
    pu_sess = co_sess[rng.random(len(co_sess)) < np.minimum(0.62 * conv[co_sess], 0.97)]
    discount = np.where(rng.random(len(pu_sess)) < 0.2, 0.9, 1.0)  # some use a 10% coupon
    pay = np.where(platform[pu_sess] == 0, 2, rng.integers(0, len(cat.PAYMENT_METHODS), len(pu_sess)))
    bld.add(
        pu_sess,
        _K.PURCHASE,
        1.97,
        a=top[pu_sess],
        b=items[pu_sess],
        c=pay,
        x=np.round(value[pu_sess] * discount, 2),
    )

    # Sign-up chain in the sign-up session; half of the never-signers start and abandon it.
    signup_sess = sess_ids[s["rank"] == s["signup_rank"][sp]]
    m = len(signup_sess)
    ks = rng.uniform(0.02, 0.6, m)
    source = np.where(s["rank"][signup_sess] == 0, 0, rng.integers(1, len(cat.SIGNUP_SOURCES), m))
    bld.add(signup_sess, _K.SIGN_UP_STARTED, ks, a=source)
    bld.add(signup_sess, _K.IDENTIFY, ks + 1e-4)
    bld.add(signup_sess, _K.SIGNED_UP, ks + 2e-4)
    onb = rng.random(m) < np.array(cat.PLATFORM_ONBOARDING)[platform[signup_sess]]
    bld.add(
        signup_sess[onb],
        _K.ONBOARDING_COMPLETED,
        ks[onb] + 3e-4,
        a=(20 + rng.lognormal(4.0, 0.6, int(onb.sum()))).astype(np.int32),
        b=rng.integers(3, 6, int(onb.sum())),
    )
    quitters = sess_ids[first_session & ~people["signs_up"][sp]]
    quitters = quitters[rng.random(len(quitters)) < 0.5]
    bld.add(quitters, _K.SIGN_UP_STARTED, rng.uniform(0.02, 0.6, len(quitters)), a=0)

    # Upgrades to pro, more likely for engaged persons, in a session after signing up.
    pe = people["engagement"]
    upgrade = rng.random(len(pe)) < 0.02 + 0.3 * pe**2
    upgraders = np.flatnonzero(people["signs_up"] & ~people["pro"] & upgrade)
    sr = s["signup_rank"][upgraders]
    offset = (rng.random(len(upgraders)) * (s["count"][upgraders] - sr)).astype(np.int64)
    billing = (rng.random(len(upgraders)) < 0.3).astype(np.int32)
    bld.add(
        s["first"][upgraders] + sr + offset,
        _K.UPGRADED_PLAN,
        rng.uniform(0.62, 0.94, len(upgraders)),
        b=billing,
    )

    # Campaign opens start the first session of the campaign day.
    day_key = s["person"].astype(np.int64) * spec.days + s["day"]
    for j, c in enumerate(campaign_days):
        who = np.flatnonzero(opened[:, j])
        sess = np.searchsorted(day_key, who.astype(np.int64) * spec.days + c)
        app = np.isin(people["platform"][who], cat.APP_PLATFORMS)
        bld.add(sess, np.where(app, _K.PUSH_OPENED, _K.EMAIL_OPENED), -2.0, a=j)

    events = bld.columns()
    events["ts"] = _timestamps(rng, spec, s, events["session"], events["kind"])
    order = np.argsort(events["ts"], kind="stable")
    for name in events:
        events[name] = events[name][order]
    events["person"] = sp[events["session"]]
    return events, _entity_frags(spec, content_cat, content_author, prod_cat, price, campaign_days)


def _timestamps(
    rng: np.random.Generator, spec: DemoSpec, s: dict[str, Any], ev_sess: np.ndarray, kind: np.ndarray
) -> np.ndarray:
    """Event times: gaps by kind inside the session; the session placed at random inside its hour slot."""
    m, n_sess = len(ev_sess), len(s["person"])
    off = rng.exponential(1.0, m)
    off *= _GAP_MEAN[kind]
    off += _MIN_GAP_S
    first_ev = np.searchsorted(ev_sess, np.arange(n_sess))
    off[first_ev] = 0.0
    np.cumsum(off, out=off)
    off -= off[first_ev][ev_sess]  # seconds since the session's first event
    last_ev = np.append(first_ev[1:], m) - 1
    off *= np.minimum(1000.0, 1000.0 * _MAX_SESSION_S / np.maximum(off[last_ev], 1e-9))[ev_sess]
    off_ms = off.astype(np.int64)
    del off
    room = _HOUR_MS - off_ms[last_ev] - 1000
    start_ms = s["hour"].astype(np.int64) * _HOUR_MS + (rng.random(n_sess) * room).astype(np.int64)
    day0_us = (spec.start_date - dt.date(1970, 1, 1)).days * _DAY_US
    session_us = day0_us + s["day"].astype(np.int64) * _DAY_US + start_ms * 1000
    off_ms *= 1000
    off_ms += session_us[ev_sess]
    return off_ms


# ------------------------------------------------------------------------------------------ JSON fragments


def _frag(d: dict[str, Any]) -> str:
    """JSON object members without the braces, ready to be concatenated into a larger object."""
    return orjson.dumps(d).decode()[1:-1]


def _strings(values: list[str]) -> pa.Array:
    return pa.array(values, pa.string())


def _entity_frags(
    spec: DemoSpec,
    content_cat: np.ndarray,
    content_author: np.ndarray,
    prod_cat: np.ndarray,
    price: np.ndarray,
    campaign_days: list[int],
) -> dict[str, pa.Array]:
    """JSON fragments of pages, content, products and campaigns, indexed by the event payloads."""
    products = [
        (f"p-{i}", cat.PRODUCT_CATEGORIES[pc_][0], float(pr))
        for i, (pc_, pr) in enumerate(zip(prod_cat.tolist(), price.tolist(), strict=True))
    ]
    return {
        "page": _strings(
            [_frag({"$current_url": cat.URL + path, "$pathname": path, "$host": cat.HOST}) for path, _, _ in cat.PAGES]
        ),
        "screen": _strings([_frag({"$screen_name": name}) for _, name, _ in cat.PAGES]),
        "product_page": _strings(
            [
                _frag(
                    {
                        "$current_url": f"{cat.URL}/p/{pid}",
                        "$pathname": f"/p/{pid}",
                        "$host": cat.HOST,
                        "product_id": pid,
                    }
                )
                for pid, _, _ in products
            ]
        ),
        "product_screen": _strings([_frag({"$screen_name": "Product", "product_id": pid}) for pid, _, _ in products]),
        "product": _strings([_frag({"product_id": pid, "category": pcat, "price": pr}) for pid, pcat, pr in products]),
        "product_category": _strings([_frag({"category": pcat}) for _, pcat, _ in products]),
        "content": _strings(
            [
                _frag(
                    {
                        "content_id": f"c-{i}",
                        "category": cat.CONTENT_CATEGORIES[cc],
                        "author_id": f"author-{au}",
                    }
                )
                for i, (cc, au) in enumerate(zip(content_cat.tolist(), content_author.tolist(), strict=True))
            ]
        ),
        "share_channel": _strings([_frag({"share_channel": sc}) for sc in cat.SHARE_CHANNELS]),
        "payment": _strings([_frag({"payment_method": pm}) for pm in cat.PAYMENT_METHODS]),
        "source": _strings([_frag({"signup_source": src}) for src in cat.SIGNUP_SOURCES]),
        "campaign": _strings(
            [
                _frag({"campaign": name, "campaign_date": (spec.start_date + dt.timedelta(days=d)).isoformat()})
                for (name, _), d in zip(cat.CAMPAIGNS, campaign_days, strict=True)
            ]
        ),
        "upgrade": _strings(
            [
                _frag(
                    {
                        "from_plan": "free",
                        "to_plan": "pro",
                        "billing": bill,
                        "price": amount,
                        "currency": "USD",
                    }
                )
                for bill, amount in cat.BILLING
            ]
        ),
    }


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", ".")


def _person_frags(
    rng: np.random.Generator,
    spec: DemoSpec,
    people: dict[str, np.ndarray],
    s: dict[str, Any],
    ev: dict[str, np.ndarray],
) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Per-person JSON: device and geo properties, landing page, `$set` / `$set_once` payloads."""
    n = spec.persons
    kind, person, ts = ev["kind"], ev["person"], ev["ts"]
    hexed = rng.bytes(10 * n).hex()
    anon = [f"anon-{hexed[20 * i : 20 * i + 20]}" for i in range(n)]
    users = [f"user-{i + 1}" for i in range(n)]
    first_ts = np.full(n, np.iinfo(np.int64).max)
    identify_ts = first_ts.copy()
    ident = kind == _K.IDENTIFY
    identify_ts[person[ident]] = ts[ident]
    upgrade_ts = first_ts.copy()
    up = kind == _K.UPGRADED_PLAN
    upgrade_ts[person[up]] = ts[up]
    billing = np.zeros(n, np.int64)
    billing[person[up]] = ev["b"][up]

    # Referral visitors arrive through a content share made earlier by someone else.
    shares = np.flatnonzero(kind == _K.CONTENT_SHARED)  # already in time order
    landing = np.flatnonzero(kind == _K.LANDING)
    landing_ts = first_ts.copy()
    landing_ts[person[landing]] = ts[landing]
    referrer: dict[int, tuple[str, int]] = {}
    ref_people = np.flatnonzero(people["channel"] == _REFERRAL)
    earlier = np.searchsorted(ts[shares], landing_ts[ref_people])
    back = rng.exponential(30.0, len(ref_people)).astype(np.int64)  # mostly recent shares
    for p, k, step in zip(ref_people.tolist(), earlier.tolist(), back.tolist(), strict=True):
        if k:
            share = shares[max(k - 1 - step, 0)]
            sharer = int(person[share])
            sharer_id = users[sharer] if ts[share] >= identify_ts[sharer] else anon[sharer]
            referrer[p] = (sharer_id, int(ev["a"][share]))

    # Device details and names, drawn for everyone so that the draws do not depend on outcomes.
    os_draw, ver_draw, browser_draw, name_draw = (rng.random(n) for _ in range(4))
    desktop_os = _pick([w for _, w in cat.DESKTOP_OS], os_draw)
    desktop_browser = _pick([w for _, w in cat.DESKTOP_BROWSERS], browser_draw)
    gender = rng.choice(len(cat.GENDERS), n, p=_norm([w for _, w in cat.GENDERS]))
    age = np.clip(np.round(rng.normal(31.0, 9.0, n)), 18, 72).astype(int)
    method = rng.choice(len(cat.SIGNUP_METHODS), n, p=_norm([w for _, w in cat.SIGNUP_METHODS]))
    campaign_draw, referrer_draw, app_lag = rng.random(n), rng.random(n), rng.integers(0, 3, n)
    out: dict[str, list[str | None]] = {
        k: []
        for k in (
            "device",
            "landing",
            "landing_once",
            "signed_up",
            "identify_set",
            "identify_once",
            "upgrade_set",
        )
    }
    for i in range(n):
        code, city, _ = _CITY_LIST[people["city"][i]]
        plat = cat.PLATFORMS[people["platform"][i]]
        ch = cat.CHANNELS[people["channel"][i]]
        if plat in ("ios", "android"):
            os_name, browser = ("iOS" if plat == "ios" else "Android"), None
        elif plat == "web_mobile":
            os_name = "iOS" if os_draw[i] < 0.45 else "Android"
            browser = "Mobile Safari" if os_name == "iOS" else "Chrome"
        else:
            os_name = cat.DESKTOP_OS[desktop_os[i]][0]
            browser = cat.DESKTOP_BROWSERS[desktop_browser[i]][0]
            if browser == "Safari" and os_name != "Mac OS X":
                browser = "Chrome"
        versions = cat.OS_VERSIONS[os_name]
        device: dict[str, Any] = {"$lib": cat.PLATFORM_LIB[people["platform"][i]], "$os": os_name}
        if versions[0]:
            device["$os_version"] = versions[int(ver_draw[i] * len(versions))]
        device["$device_type"] = "Desktop" if plat == "web_desktop" else "Mobile"
        if browser:
            device["$browser"] = browser
        device |= {"$geoip_country_code": code, "$geoip_city_name": city}
        out["device"].append(_frag(device))

        campaign = ch.campaigns[int(campaign_draw[i] * len(ch.campaigns))]
        ref_url = ch.referrers[int(referrer_draw[i] * len(ch.referrers))]
        if ch.name == "app_store":
            ref_url = ch.referrers[0 if plat == "ios" else 1]
        utm = f"utm_source={ch.name}&utm_medium={ch.medium}&utm_campaign={campaign}"
        path, extra = "/", {}
        if i in referrer:
            sharer_id, content = referrer[i]
            path, extra = f"/c/c-{content}", {"ref": sharer_id, "shared_content_id": f"c-{content}"}
            utm += f"&ref={sharer_id}"
        url = f"{cat.URL}{path}?{utm}"
        domain = "$direct" if ref_url == "$direct" else ref_url.split("/")[2]
        out["landing"].append(
            _frag(
                {
                    "$current_url": url,
                    "$pathname": path,
                    "$host": cat.HOST,
                    "$referrer": ref_url,
                    "$referring_domain": domain,
                    "utm_source": ch.name,
                    "utm_medium": ch.medium,
                    "utm_campaign": campaign,
                }
                | extra
            )
        )
        out["landing_once"].append(
            orjson.dumps(
                {
                    "$initial_utm_source": ch.name,
                    "$initial_utm_medium": ch.medium,
                    "$initial_utm_campaign": campaign,
                    "$initial_referrer": ref_url,
                    "$initial_referring_domain": domain,
                    "$initial_current_url": url,
                    "$initial_pathname": path,
                    "$initial_geoip_country_code": code,
                    "$initial_os": os_name,
                }
            ).decode()
        )

        if not people["signs_up"][i]:
            for k in ("signed_up", "identify_set", "identify_once", "upgrade_set"):
                out[k].append(None)
            continue
        signup_day = _date_of(int(identify_ts[i]))
        plan = "pro" if people["pro"][i] else "free"
        g = int(gender[i])
        female, male = cat.FIRST_NAMES[code]
        pool = female if g == 0 or (g == 2 and name_draw[i] < 0.5) else male
        first = pool[int(name_draw[i] * 1_000_003) % len(pool)]
        last = cat.LAST_NAMES[code][int(name_draw[i] * 7_919) % len(cat.LAST_NAMES[code])]
        name = f"{first} {last}".strip()
        email = f"{_ascii(name)}{i + 1}@{cat.EMAIL_DOMAINS[i % len(cat.EMAIL_DOMAINS)]}"
        out["signed_up"].append(_frag({"method": cat.SIGNUP_METHODS[method[i]][0], "plan": plan, "channel": ch.name}))
        out["identify_set"].append(
            orjson.dumps(
                {
                    "email": email,
                    "name": name,
                    "gender": cat.GENDERS[g][0],
                    "birth_year": signup_day.year - int(age[i]),
                    "age": int(age[i]),
                    "country": code,
                    "city": city,
                    "device_type": "Desktop" if plat == "web_desktop" else "Mobile",
                    "platform": plat,
                    "plan": plan,
                }
            ).decode()
        )
        once = {
            "signup_date": signup_day.isoformat(),
            "initial_channel": ch.name,
            "$initial_utm_source": ch.name,
        }
        if i in referrer:
            once["referred_by"] = referrer[i][0]
        out["identify_once"].append(orjson.dumps(once).decode())
        out["upgrade_set"].append(
            None
            if upgrade_ts[i] == first_ts[i]
            else orjson.dumps(
                {
                    "plan": "pro",
                    "billing": cat.BILLING[int(billing[i])][0],
                    "upgraded_at": _date_of(int(upgrade_ts[i])).isoformat(),
                }
            ).decode()
        )

    # Per session: the id, and the app version the person ran that day (apps release every two weeks).
    s_person = s["person"]
    session_ids = _uuid4_strings(rng, len(s_person))
    release = (s["day"] + spec.start_date.toordinal()) // cat.APP_RELEASE_EVERY - app_lag[s_person]
    versions = release - release.min()
    version_names = _strings([f',"$app_version":"3.{20 + v}.{v % 3}"' for v in range(int(versions.max()) + 1)])
    is_app = pa.array(np.isin(people["platform"][s_person], cat.APP_PLATFORMS))
    app_part = pc.if_else(is_app, version_names.take(pa.array(versions)), "")
    session = pc.binary_join_element_wise('"$session_id":"', session_ids, '"', app_part, "")
    frags = {"anon": _strings(anon), "user": _strings(users), "session": session}
    return frags | {k: pa.array(v, pa.string()) for k, v in out.items()}, identify_ts


def _date_of(ts_us: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=ts_us // _DAY_US)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _uuid4_strings(rng: np.random.Generator, m: int) -> pa.Array:
    """`m` random version-4 UUID strings, formatted with numpy (no per-row Python)."""
    raw = np.frombuffer(rng.bytes(16 * m), dtype=np.uint8).reshape(m, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.empty((m, 32), np.uint8)
    hexed[:, 0::2], hexed[:, 1::2] = _HEX[raw >> 4], _HEX[raw & 0x0F]
    text = np.full((m, 36), ord("-"), np.uint8)
    for dst, src in ((0, 0), (9, 8), (14, 12), (19, 16), (24, 20)):
        width = {0: 8, 20: 12}.get(src, 4)
        text[:, dst : dst + width] = hexed[:, src : src + width]
    offsets = np.arange(0, 36 * (m + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(m, pa.py_buffer(offsets), pa.py_buffer(text.tobytes()))


# ------------------------------------------------------------------------------------------ batches


def _num(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _join(*parts: Any) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _specific(ev: _Events, kind: _K, rows: np.ndarray) -> pa.Array:
    """Event-specific JSON members (with a leading comma) for `rows` (stream positions) of one kind."""
    f = ev.frags
    person, a, b = pa.array(ev.person[rows]), pa.array(ev.a[rows]), ev.b[rows]
    match kind:
        case _K.LANDING:
            return _join(",", f["landing"].take(person))
        case _K.PAGE | _K.SCREEN | _K.PRODUCT_PAGE | _K.PRODUCT_SCREEN:
            table = {
                _K.PAGE: "page",
                _K.SCREEN: "screen",
                _K.PRODUCT_PAGE: "product_page",
                _K.PRODUCT_SCREEN: "product_screen",
            }[kind]
            return _join(",", f[table].take(a))
        case _K.PUSH_OPENED | _K.EMAIL_OPENED:
            return _join(",", f["campaign"].take(a))
        case _K.SIGN_UP_STARTED:
            return _join(",", f["source"].take(a))
        case _K.IDENTIFY:
            return _join(',"$anon_distinct_id":"', f["anon"].take(person), '"')
        case _K.SIGNED_UP:
            return _join(",", f["signed_up"].take(person))
        case _K.ONBOARDING_COMPLETED:
            return _join(',"steps_completed":', _num(b), ',"duration_s":', _num(ev.a[rows]))
        case _K.UPGRADED_PLAN:
            return _join(",", f["upgrade"].take(pa.array(b)))
        case _K.CONTENT_VIEWED | _K.CONTENT_LIKED:
            return _join(",", f["content"].take(a))
        case _K.CONTENT_SHARED:
            return _join(",", f["content"].take(a), ",", f["share_channel"].take(pa.array(b)))
        case _K.COMMENT_POSTED:
            return _join(",", f["content"].take(a), ',"comment_length":', _num(b))
        case _K.VIEW_ITEM:
            return _join(",", f["product"].take(a))
        case _K.ADD_TO_CART:
            return _join(",", f["product"].take(a), ',"quantity":', _num(b))
        case _K.CHECKOUT_STARTED:
            return _join(',"cart_value":', _num(ev.x[rows]), ',"items":', _num(b), ',"currency":"USD"')
        case _K.PURCHASE:
            # Order ids: an odd-multiplier permutation of the event position, unique and random-looking.
            order_no = (rows.astype(np.uint64) * np.uint64(2_654_435_761)) % np.uint64(2**32)
            return _join(
                ',"order_id":"ord-',
                _num(order_no),
                '","revenue":',
                _num(ev.x[rows]),
                ',"currency":"USD",',
                f["product_category"].take(a),
                ',"items":',
                _num(b),
                ",",
                f["payment"].take(pa.array(ev.c[rows])),
            )
    raise AssertionError(kind)


def _batch(ev: _Events, lo: int, hi: int, number: int, seed: int) -> pa.RecordBatch:
    """Rows lo..hi of the event stream as one record batch."""
    m = hi - lo
    kind, person, ts = ev.kind[lo:hi], ev.person[lo:hi], ev.ts[lo:hi]
    f = ev.frags
    person_arr = pa.array(person)
    by_kind = np.argsort(kind, kind="stable")
    bounds = np.searchsorted(kind[by_kind], np.arange(len(_K) + 1))
    pieces = [
        _specific(ev, _K(k), lo + by_kind[bounds[k] : bounds[k + 1]])
        for k in range(len(_K))
        if bounds[k] < bounds[k + 1]
    ]
    inverse = np.empty(m, np.int64)
    inverse[by_kind] = np.arange(m)
    specific = pa.concat_arrays(pieces).take(pa.array(inverse))
    del pieces
    properties = _join(
        "{", f["session"].take(pa.array(ev.session[lo:hi])), ",", f["device"].take(person_arr), specific, "}"
    )
    distinct = pc.if_else(
        pa.array(ts >= ev.identify_ts[person]), f["user"].take(person_arr), f["anon"].take(person_arr)
    )
    rng = np.random.default_rng([seed, 0x0E7E, number])
    return pa.RecordBatch.from_arrays(
        [
            _uuid4_strings(rng, m),
            _EVENT_NAMES.take(pa.array(kind)),
            distinct,
            pa.array(ts, pa.timestamp("us", tz="UTC")),
            properties,
            _person_column(f, kind, person, {_K.IDENTIFY: "identify_set", _K.UPGRADED_PLAN: "upgrade_set"}),
            _person_column(f, kind, person, {_K.LANDING: "landing_once", _K.IDENTIFY: "identify_once"}),
        ],
        schema=EVENT_BATCH_SCHEMA,
    )


def _person_column(f: dict[str, pa.Array], kind: np.ndarray, person: np.ndarray, sources: dict[_K, str]) -> pa.Array:
    """Per-person JSON for events of the given kinds, null elsewhere."""
    tables = list(sources.values())
    combined = pa.concat_arrays([f[t] for t in tables])
    n = len(f[tables[0]])
    index = np.zeros(len(kind), np.int64)
    mask = np.ones(len(kind), bool)
    for j, k in enumerate(sources):
        hit = kind == k
        index[hit] = person[hit] + j * n
        mask[hit] = False
    return combined.take(pa.array(index, mask=mask))


def _channel_costs(rng: np.random.Generator, spec: DemoSpec, people: dict[str, np.ndarray]) -> list[ChannelCost]:
    """Daily spend per paid channel: that channel's CAC times the sign-ups it brought that day, with noise."""
    costs = []
    for k, ch in enumerate(cat.CHANNELS):
        if ch.cac is None:
            continue
        brought = np.bincount(people["arrival"][people["signs_up"] & (people["channel"] == k)], minlength=spec.days)
        # Bids keep running on days that happen to convert nobody, hence the +0.3 floor.
        spend = ch.cac * (brought + 0.3) * rng.lognormal(0.0, 0.15, spec.days)
        costs += [
            ChannelCost(spec.start_date + dt.timedelta(days=d), ch.name, round(float(v), 2))
            for d, v in enumerate(spend)
        ]
    costs.sort(key=lambda cc: (cc.date, cc.channel))
    return costs
