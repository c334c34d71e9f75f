"""The HTTP server: one FastAPI app for webhooks, events, health, metrics and Slack."""
