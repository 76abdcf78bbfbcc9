"""Time-zone choices for users and contacts."""

import zoneinfo
from functools import cache


@cache
def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})
    return [(name, name.replace("_", " ")) for name in names]
