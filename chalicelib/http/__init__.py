"""The HTTP edge: Chalice Blueprints by audience, the one error table, request and response helpers.

The only package that imports chalice. ``app.py`` registers every blueprint here.
"""
