"""After an incident: a postmortem draft read from the store, never written to it.

``record`` gathers what happened (alerts, timeline, actions and votes, validated summaries,
the incident's facts); ``times`` derives the response times; ``narrative`` asks the LLM for
the one part it may write, checked by the validators like any summary; ``render`` turns it
all into Markdown.
"""

from bot.postmortem.draft import Draft, Drafter

__all__ = ["Draft", "Drafter"]
