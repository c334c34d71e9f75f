"""Event sources that feed settlement events into the store."""
