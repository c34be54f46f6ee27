"""``python -m asg_benchmark``: the ``asg-benchmark`` command."""

from asg_benchmark.cli import main

raise SystemExit(main())
