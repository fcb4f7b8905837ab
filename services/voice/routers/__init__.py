"""HTTP routes of the voice service."""
