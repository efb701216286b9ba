"""The Flask app that receives Zoom webhooks: verify, persist to the inbox, answer."""

from zoomguard.webhooks.app import create_app

__all__ = ["create_app"]
