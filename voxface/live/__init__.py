"""Real time: the live WebSocket server (`animate serve`), its protocol, the reference client
(`animate listen`) and Live Link Face over UDP. See docs/live.md.

The top layer, beside the CLI: it uses the engine, rigs and exporters; the pipeline never
imports it. `websockets` (the 'live' extra) and torch are imported only when a server or
client runs.
"""
