"""``alphastream demo``: the whole pipeline end to end on an embedded broker and ClickHouse."""

from streams.demo.config import DemoOptions, DemoSummary, MarketPlan, SliceQuality
from streams.demo.procs import PhaseFailed
from streams.demo.run import run_demo

__all__ = ["DemoOptions", "DemoSummary", "MarketPlan", "PhaseFailed", "SliceQuality", "run_demo"]
