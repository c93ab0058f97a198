"""The operations of memlayer, each a function of an ``Engine``: add, bulk_add, search, update/delete,
forget. The ``AsyncMemory`` facade validates arguments and calls them."""
