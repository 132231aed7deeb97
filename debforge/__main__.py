"""`python -m debforge`."""

from __future__ import annotations

from debforge.cli import main

main()
