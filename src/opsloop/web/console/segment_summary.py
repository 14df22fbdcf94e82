"""A segment definition in words, for the segment page: one line per condition, groups nested."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from opsloop.analytics.common import PropertyFilter
from opsloop.users.definitions import (
    AgeCondition,
    Condition,
    EventCondition,
    Group,
    LifecycleCondition,
    PersonCondition,
    RfmSegmentCondition,
    SeenCondition,
    SegmentCondition,
    TagCondition,
    Window,
)
from opsloop.web.console.rendering import N_
from opsloop.web.console.rfm_pages import RFM_LABELS

OPS = {
    "eq": N_("equals"),
    "neq": N_("does not equal"),
    "in": N_("is one of"),
    "contains": N_("contains"),
    "gt": N_("greater than"),
    "gte": N_("at least"),
    "lt": N_("less than"),
    "lte": N_("at most"),
    "between": N_("between"),
    "is_set": N_("is set"),
    "is_not_set": N_("is not set"),
}
STAGE_LABELS = {
    "new": N_("new"),
    "active": N_("active"),
    "resurrected": N_("resurrected"),
    "dormant": N_("dormant"),
    "churned": N_("churned"),
}
COUNT_OPS = {"gte": N_("at least"), "lte": N_("at most"), "eq": N_("exactly")}


@dataclass
class SummaryNode:
    """A line of the summary (`parts`: words and `code` names), or a group with its children."""

    parts: list[tuple[str, bool]] = field(default_factory=list)
    children: list[SummaryNode] = field(default_factory=list)
    group: bool = False


def _value(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


class Summary:
    """Builds the words of a definition in the page's language (`gettext`)."""

    def __init__(self, gettext: Callable[[str], str], segment_names: dict[int, str]) -> None:
        self._ = gettext
        self.names = segment_names

    def word(self, text: str) -> tuple[str, bool]:
        """A translated word."""
        return self._(text), False

    def group(self, group: Group) -> SummaryNode:
        """A group: its heading (all / any, negated) and its conditions."""
        head = N_("All of these") if group.operator == "and" else N_("Any of these")
        parts = [self.word(N_("None of these") if group.negate and group.operator == "or" else head)]
        if group.negate and group.operator == "and":
            parts = [self.word(N_("Not all of these"))]
        node = SummaryNode(parts=parts, group=True)
        node.children = [self.condition(c) for c in group.conditions]
        return node

    def window(self, window: Window) -> list[tuple[str, bool]]:
        """When: the last N days, between dates, or all time."""
        if window.within_days is not None:
            return [(self._("in the last %(days)s days") % {"days": window.within_days}, False)]
        if window.date_from or window.date_to:
            start = window.date_from.isoformat() if window.date_from else "…"
            end = window.date_to.isoformat() if window.date_to else "…"
            return [(self._("between %(start)s and %(end)s") % {"start": start, "end": end}, False)]
        return [self.word(N_("at any time"))]

    def rule(self, rule: PropertyFilter) -> list[tuple[str, bool]]:
        """An event-property filter."""
        parts = [self.word(N_("where")), (rule.property, True), self.word(OPS.get(rule.op, rule.op))]
        return parts + ([(_value(rule.value), True)] if rule.value is not None else [])

    def condition(self, c: Condition) -> SummaryNode:
        """One condition as a line (or a nested group)."""
        if isinstance(c, Group):
            return self.group(c)
        w = self.word
        parts: list[tuple[str, bool]]
        if isinstance(c, EventCondition):
            parts = [w(N_("Did")) if c.did else w(N_("Did not do")), (c.event, True)]
            if c.did:
                parts += [w(COUNT_OPS[c.count_op]), (str(c.count), False), w(N_("times"))]
            parts += self.window(c)
            for rule in c.filters:
                parts += self.rule(rule)
        elif isinstance(c, PersonCondition):
            parts = [w(N_("Person property")), (c.property, True), w(OPS.get(c.op, c.op))]
            parts += [(_value(c.value), True)] if c.value is not None else []
        elif isinstance(c, AgeCondition):
            band = f"{c.min if c.min is not None else '…'}–{c.max if c.max is not None else '…'}"
            parts = [w(N_("Age")), (band, False), w(N_("from the property")), (c.property, True)]
        elif isinstance(c, SeenCondition):
            parts = [w(N_("First seen") if c.type == "first_seen" else N_("Last seen")), *self.window(c)]
        elif isinstance(c, SegmentCondition):
            name = self.names.get(c.segment_id, f"#{c.segment_id}")
            parts = [w(N_("Member of segment") if c.member else N_("Not a member of segment")), (name, True)]
        elif isinstance(c, TagCondition):
            parts = [w(N_("Tag")), (c.tag, True), w(OPS.get(c.op, c.op))]
            parts += [(_value(c.value), True)] if c.value is not None else []
        elif isinstance(c, LifecycleCondition):
            stages = ", ".join(self._(STAGE_LABELS[s]) for s in c.stages)
            parts = [w(N_("Lifecycle stage is one of")), (stages, False)]
        elif isinstance(c, RfmSegmentCondition):
            names = [self._(RFM_LABELS[s]) if s in RFM_LABELS else s for s in c.segments]
            cells = [f"R{r}F{f}" for r, f in c.cells]
            parts = [w(N_("RFM segment is one of")), (", ".join([*names, *cells]), True)]
            parts += [w(N_("by")), (f"{c.rfm.value_event} / {c.rfm.amount_property}", True)]
        else:  # pragma: no cover - every condition type is handled above
            parts = [(type(c).__name__, False)]
        return SummaryNode(parts=parts)
