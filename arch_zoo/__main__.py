"""``python -m arch_zoo [--write]``: check (or regenerate) the committed evaluation-split hashes."""

from .splits import main

main()
