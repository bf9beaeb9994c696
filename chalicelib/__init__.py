"""The Smart Region Office event service: everything but the HTTP edge."""
