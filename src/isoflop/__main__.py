"""``python -m isoflop …``: the same as the ``isoflop`` console script."""

from .cli import main

if __name__ == "__main__":  # spawned worker processes import this module as __mp_main__: do nothing then
    main()
