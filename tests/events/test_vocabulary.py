from __future__ import annotations

import pytest

from turbosec.core.event import Level
from turbosec.events.vocabulary import (
    ALIASES,
    CATEGORIES,
    VOCABULARY,
    canonical_name,
    format_event,
    looks_like_ip,
    lookup,
    split_args,
    split_event,
)


def test_every_category_of_the_cheat_sheet_is_there() -> None:
    standard = {spec.category for spec in VOCABULARY.values() if spec.standard}
    assert standard == {
        "authn",
        "authz",
        "crypt",
        "excess",
        "upload",
        "input",
        "malicious",
        "mcp",
        "privilege",
        "data",
        "sequence",
        "session",
        "sys",
        "user",
    }
    assert "turbosec" in CATEGORIES


@pytest.mark.parametrize(
    ("name", "args", "level"),
    [
        ("authn_login_success", ("userid",), Level.INFO),
        ("authn_login_successafterfail", ("userid", "retries"), Level.INFO),
        ("authn_login_fail", ("userid",), Level.WARN),
        ("authn_login_fail_max", ("userid", "maxlimit"), Level.WARN),
        ("authn_login_lock", ("userid", "reason"), Level.WARN),
        ("authn_password_change_fail", ("userid",), Level.CRITICAL),
        ("authn_token_reuse", ("userid", "tokenid"), Level.CRITICAL),
        ("authz_fail", ("userid", "resource"), Level.CRITICAL),
        ("excess_rate_limit_exceeded", ("userid", "max"), Level.WARN),
        ("input_validation_fail", ("fields", "userid"), Level.WARN),
        ("malicious_excess_404", ("userid|ip", "useragent"), Level.WARN),
        ("malicious_attack_tool", ("userid|ip", "toolname", "useragent"), Level.CRITICAL),
        ("privilege_permissions_changed", ("userid", "object", "fromlevel", "tolevel"), Level.WARN),
        ("sensitive_read", ("userid", "object"), Level.WARN),
        ("sequence_fail", ("userid",), Level.CRITICAL),
        ("session_use_after_expire", ("userid",), Level.CRITICAL),
        ("sys_crash", ("reason",), Level.WARN),
        ("upload_validation", ("filename", "check"), Level.INFO),
        ("user_created", ("userid", "newuserid", "attributes"), Level.WARN),
    ],
)
def test_event_specs(name: str, args: tuple[str, ...], level: Level) -> None:
    spec = VOCABULARY[name]
    assert spec.args == args
    assert spec.level is level
    assert spec.standard


def test_user_argument() -> None:
    assert VOCABULARY["authz_fail"].user_arg == 0
    assert not VOCABULARY["authz_fail"].user_or_ip
    assert VOCABULARY["input_validation_fail"].user_arg == 1
    assert VOCABULARY["malicious_cors"].user_or_ip
    assert VOCABULARY["sys_crash"].user_arg == -1
    assert VOCABULARY["upload_stored"].user_arg == -1


def test_signature() -> None:
    assert VOCABULARY["authz_fail"].signature == "authz_fail[:userid,resource]"
    assert VOCABULARY["user_created"].signature == "user_created[:userid,newuserid,attributes...]"
    assert VOCABULARY["http_request"].signature == "http_request"


def test_lookup_is_case_insensitive_and_knows_the_cheat_sheet_spellings() -> None:
    assert lookup("AUTHN_login_success") is VOCABULARY["authn_login_success"]
    assert lookup("malicious_excess404") is VOCABULARY["malicious_excess_404"]
    assert lookup("permissions_changed") is VOCABULARY["privilege_permissions_changed"]
    assert lookup("file_uploaded") is None
    assert canonical_name(" Authz_Fail ") == "authz_fail"
    assert set(ALIASES.values()) <= set(VOCABULARY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("authn_login_fail:joe", ("authn_login_fail", ("joe",))),
        ("authn_login_fail", ("authn_login_fail", ())),
        ("authz_fail:joe, /admin", ("authz_fail", ("joe", "/admin"))),
        (
            "input_validation_fail:(zip,date_of_birth),joebob1",
            ("input_validation_fail", ("(zip,date_of_birth)", "joebob1")),
        ),
        (
            "user_created:joebob1,user1,admin:create,update,delete",
            ("user_created", ("joebob1", "user1", "admin:create,update,delete")),
        ),
        (
            "malicious_excess_404:203.0.113.9,Mozilla/5.0 (X11, Linux), extra, parts",
            ("malicious_excess_404", ("203.0.113.9", "Mozilla/5.0 (X11, Linux), extra, parts")),
        ),
        ("AUTHN_login_success:joebob1", ("authn_login_success", ("joebob1",))),
        ("custom_thing:a,b,c", ("custom_thing", ("a", "b", "c"))),
    ],
)
def test_split_event(text: str, expected: tuple[str, tuple[str, ...]]) -> None:
    assert split_event(text) == expected


def test_format_event_round_trips_arguments_with_commas() -> None:
    text = format_event("authz_fail", ["doe, john", "/a"])
    assert text == "authz_fail:(doe, john),/a"
    assert split_event(text) == ("authz_fail", ("(doe, john)", "/a"))
    agent = "Mozilla/5.0 (KHTML, like Gecko)"
    assert format_event("malicious_excess_404", ["1.2.3.4", agent]).endswith(agent)
    assert format_event("sys_startup") == "sys_startup"
    assert split_args("") == ()


def test_looks_like_ip() -> None:
    assert looks_like_ip("203.0.113.9")
    assert looks_like_ip("2001:db8::1")
    assert looks_like_ip("fe80::1%eth0")
    assert not looks_like_ip("joebob1")
    assert not looks_like_ip("")
