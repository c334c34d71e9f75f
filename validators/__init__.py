"""The pure core of Lanekeeper: events in, facts and validation reports out.

No I/O, no Slack, no network, no database: callers hand in bytes, texts and documents.
"""

from validators.check import Checker, check_proposal
from validators.evidence import AlertRef, EventRef, Evidence, event_refs
from validators.facts import FACT_NAMES, FactsBuilder, LaneFacts, Window, WindowFacts, compute_facts
from validators.findings import Code, Report, Violation
from validators.ndjson import EventStream, ParseStats, parse_events
from validators.policy import Policy, PolicyError, parse_policy
from validators.proposal import Proposal, view_of, window_of

__all__ = [
    "FACT_NAMES",
    "AlertRef",
    "Checker",
    "Code",
    "EventRef",
    "EventStream",
    "Evidence",
    "FactsBuilder",
    "LaneFacts",
    "ParseStats",
    "Policy",
    "PolicyError",
    "Proposal",
    "Report",
    "Violation",
    "Window",
    "WindowFacts",
    "check_proposal",
    "compute_facts",
    "event_refs",
    "parse_events",
    "parse_policy",
    "view_of",
    "window_of",
]
