"""The `safework` console command: `safework seed --demo`, `safework audit verify`, …

It is manage.py under a friendlier name, so every management command is a `safework` subcommand.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safework.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["safework", *sys.argv[1:]])
