"""README's "Memory browser" section: its commands exist, its screenshot is in the repository, its URL is
where the server puts the pages."""

from __future__ import annotations

import re
import shlex

from memlayer.cli import build_parser
from memlayer.server.pages import MOUNT, STATIC
from memlayer.server.settings import ServerSettings
from tests import readme
from tests.server.harness import ROOT

SECTION = readme.section("## Memory browser")


def test_the_commands_exist_and_the_url_is_right() -> None:
    (code,) = readme.code("## Memory browser", "bash")
    parser = build_parser()
    for line in code.splitlines():
        argv = shlex.split(line.split("#", 1)[0])
        assert argv[0] == "memlayer"
        parser.parse_args(argv[1:])
    settings = ServerSettings()
    assert f"http://{settings.host}:{settings.port}{MOUNT}/" in SECTION
    assert (STATIC / "index.html").is_file()


def test_the_screenshot_is_committed() -> None:
    (image,) = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", SECTION)
    path = ROOT / image
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
