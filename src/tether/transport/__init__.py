"""Wire transports shared by adapters. Each one knows its terminators and deadlines,
and translates socket/library failures into :mod:`tether.errors` types.

- :mod:`.tcp`: deadlines, connecting, reading with a deadline
- :mod:`.line`: newline-terminated text protocol (IGV's batch port)
- :mod:`.framed`: ``<len>:<json>`` frames (Firefox Marionette)
- :mod:`.http`: requests-based JSON over HTTP (imported lazily)
- :mod:`.ws`: websocket-client streams (imported lazily)
"""
