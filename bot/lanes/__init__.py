"""Live lane status: per-lane facts over a sliding window, current as events arrive."""
