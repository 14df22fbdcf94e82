"""RICE prioritisation: reach x impact x confidence / effort (pure maths)."""

from __future__ import annotations

from dataclasses import dataclass

#: The impact scale (Intercom's): massive 3, high 2, medium 1, low 0.5, minimal 0.25.
IMPACTS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 3.0)


@dataclass(frozen=True)
class Rice:
    """The four RICE inputs: reach (persons), impact (0.25-3), confidence (percent), effort (person-months)."""

    reach: int
    impact: float
    confidence: float
    effort: float

    @property
    def score(self) -> float:
        """reach * impact * (confidence / 100) / effort."""
        return self.reach * self.impact * (self.confidence / 100.0) / self.effort
