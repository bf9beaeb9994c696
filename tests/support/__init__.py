"""What tests share: helpers and fixtures, in one package.

A test module imports from here (and from ``tests.conftest`` and
``tests.fakes``), never from another test module.

- ``pages``: driving the site through Chalice's test client (forms, links in
  mails, headings).
- ``sending``: subscribing and confirming through the services, running a
  tick on a fake monotonic clock, the kinds of mail sent.
- ``mails``: a tick, an event, a send and a person to render one mail with.
- ``records``: model records (event, person, registration) with defaults.
- ``fixtures``: pytest fixtures (``published``, ``subscribe_and_confirm``,
  ``atomic_requests``), loaded for every test by ``tests/conftest.py``.
"""
