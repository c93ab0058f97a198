"""``python -m memlayer.cli``: the ``memlayer`` command where its script is not on PATH."""

from . import main

raise SystemExit(main())
