"""Allow `python -m fedicity`."""

from fedicity.cli.main import main

raise SystemExit(main())
