"""Scrubbing: host paths, environment secrets and URL passwords never reach a stored error text."""

from __future__ import annotations

import os
import sys

from nngpt_core.sandbox.scrub import Scrubber, environment_secrets


def test_secrets_from_the_environment_are_masked():
    environ = {
        "NNGPT_DATABASE_URL": "postgresql://nngpt:hunter2@db.internal:5432/nngpt",
        "HF_TOKEN": "hf_abcdefghijklmnop",
        "API_KEY": "s3cr",
        "SHORT": "1",
        "LANG": "C.UTF-8",
    }
    scrub = Scrubber({}, environment_secrets(environ))
    text = scrub("connect postgresql://nngpt:hunter2@db.internal:5432/nngpt failed; token hf_abcdefghijklmnop; key s3cr; pw hunter2")
    for secret in ("hunter2", "hf_abcdefghijklmnop", "s3cr"):
        assert secret not in text
    assert "C.UTF-8" not in environment_secrets(environ) and "1" not in environment_secrets(environ)


def test_urls_lose_their_passwords_even_when_unknown():
    assert Scrubber({}, [])("redis://user:pa55word@cache:6379/0 down") == "redis://user:***@cache:6379/0 down"


def test_host_paths_become_placeholders_only_as_whole_paths():
    scrub = Scrubber({"/tmp": "<tmp>", "/work/proj": "<project>"}, [])
    assert scrub("open /tmp/x, /var/tmp/y, /tmpfile and /work/proj/a.py") == "open <tmp>/x, /var/tmp/y, /tmpfile and <project>/a.py"


def test_for_host_covers_the_interpreter_home_and_environment():
    os.environ["NNGPT_SCRUB_TEST_SECRET"] = "do-not-leak-this-value"
    try:
        scrub = Scrubber.for_host(extra_paths={"/srv/sandbox-x": "<sandbox>"})
        text = scrub(f"{sys.prefix}/lib/x.py {os.path.expanduser('~')}/.pgpass /srv/sandbox-x/1 do-not-leak-this-value")
    finally:
        del os.environ["NNGPT_SCRUB_TEST_SECRET"]
    assert sys.prefix not in text and "<python>/lib/x.py" in text
    assert "<sandbox>/1" in text and "do-not-leak-this-value" not in text


def test_output_is_one_bounded_line_without_control_characters():
    scrub = Scrubber({}, [], max_chars=40)
    text = scrub("line one\nline\ttwo \x1b[31mred\x07 " + "x" * 100)
    assert "\n" not in text and "\x1b" not in text and "\x07" not in text
    assert len(text) == 40 and text.endswith("...")
    assert scrub(None) is None
