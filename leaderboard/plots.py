"""Per-layer score profiles (`audioprobe-leaderboard --plots`): one PNG per (stimulus set, task).

Kept for its import path; the figures live in `audioprobe.leaderboard.figures`, so the leaderboard's
profiles and the report's figures share one style.
"""

from __future__ import annotations

from audioprobe.leaderboard.figures import plot_profiles

__all__ = ["plot_profiles"]
