"""Coming from another memory library: its configuration and its exports, read as memlayer's own.

- :mod:`.mem0`: a mem0 ``Memory.from_config`` mapping as a memlayer config (``load_config`` calls it);
- :mod:`.mem0_export`: a mem0 ``get_all`` export as memlayer import records (``memlayer import --from mem0``).
"""
