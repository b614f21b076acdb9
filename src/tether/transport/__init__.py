"""Wire transports shared by adapters. Each one knows its terminators and deadlines,
and translates socket/library failures into :mod:`tether.errors` types.

- :mod:`.tcp`: deadlines, connecting, reading with a deadline
- :mod:`.line`: newline-terminated text protocol (IGV's batch port)
- :mod:`.framed`: ``<len>:<json>`` frames (Firefox Marionette)
- :mod:`.http`: requests-based JSON over HTTP (imported lazily)
- :mod:`.ws`: websocket-client streams (imported lazily)

One time type: a connection is opened with a :class:`~tether.deadline.Deadline` the caller
started *before* connecting, and the same object bounds every later read and write, so a slow
connect leaves the reads only what is left (never a fresh timeout). No transport takes seconds
where it takes a deadline; a whole call (``HttpSession.call``) takes seconds and turns them into
one deadline at its top.
"""
