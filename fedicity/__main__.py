"""Allow `python -m fedicity`."""

from fedicity.cli import main

raise SystemExit(main())
