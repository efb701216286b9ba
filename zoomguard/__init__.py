"""zoomguard: keeps an organisation's Zoom account inside its privacy rules."""

__version__ = "0.1.0"
