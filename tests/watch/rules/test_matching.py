"""What compiled detections match: each construct with events that must and must not match."""

from __future__ import annotations

import pytest

from tests.watch.rules import T0, compile_yaml, event
from turbosec.core.event import SecurityEvent
from turbosec.watch.rules import matcher
from turbosec.watch.rules.sigma import CompileError

JOE_FAIL = event("authn_login_fail:joe", user="joe", source_ip="203.0.113.9", status=401)


def _check(detection: str, matching: list[SecurityEvent], other: list[SecurityEvent]) -> None:
    compiled = compile_yaml(detection)
    for item in matching:
        assert compiled.match(item), f"should match: {item}"
    for item in other:
        assert not compiled.match(item), f"should not match: {item}"
    # a second pass answers from the memo: the same results
    assert [compiled.match(e) for e in matching + other] == [True] * len(matching) + [False] * len(
        other
    )


def test_plain_value_is_case_insensitive_whole_value() -> None:
    _check(
        "{sel: {user: Joe}, condition: sel}",
        [event(user="joe"), event(user="JOE"), event(user="jOe")],
        [event(user="joey"), event(user="xjoe"), event(user=None), event(user="")],
    )


def test_list_is_or_map_is_and() -> None:
    _check(
        "{sel: {user: [alice, bob], source_ip: 10.0.0.1}, condition: sel}",
        [event(user="alice", source_ip="10.0.0.1"), event(user="BOB", source_ip="10.0.0.1")],
        [event(user="carol", source_ip="10.0.0.1"), event(user="alice", source_ip="10.0.0.2")],
    )


def test_many_plain_values_use_one_lookup_and_still_match_each() -> None:
    users = [f"user{i}" for i in range(50)]
    compiled = compile_yaml("{sel: {user: [" + ", ".join(users) + "]}, condition: sel}")
    assert all(compiled.match(event(user=u.upper())) for u in users)
    assert not compiled.match(event(user="user50"))


def test_list_of_maps_is_or_of_ands() -> None:
    _check(
        "{sel: [{user: a, status: 401}, {user: b}], condition: sel}",
        [event(user="a", status=401), event(user="b"), event(user="b", status=200)],
        [event(user="a", status=200), event(user="c", status=401)],
    )


@pytest.mark.parametrize(
    ("value", "yes", "no"),
    [
        ("'adm*'", ["admin", "ADM", "adm"], ["xadmin", "ad"]),
        ("'*min'", ["admin", "MIN"], ["admins"]),
        ("'*dmi*'", ["admin", "dmi"], ["dm", "amid"]),
        ("'a?min'", ["admin", "aXmin"], ["amin", "adddmin"]),
        ("'a*m?n'", ["admin", "am1n", "a-very-long-mon"], ["amn", "admins"]),
        ("'*'", ["", "anything"], []),
        ("'ad\\*min'", ["ad*min", "AD*MIN"], ["admin", "adxmin"]),
        ("'what\\?'", ["what?", "WHAT?"], ["whatx"]),
        ("'line*end'", ["line\nend"], ["line\n"]),
    ],
)
def test_wildcards(value: str, yes: list[str], no: list[str]) -> None:
    _check(
        f"{{sel: {{user: {value}}}, condition: sel}}",
        [event(user=u) for u in yes],
        [event(user=u) for u in [*no, None]],
    )


def test_null_means_absent_and_empty_string_is_a_value() -> None:
    _check("{sel: {user: null}, condition: sel}", [event(user=None)], [event(user="")])
    _check("{sel: {user: ''}, condition: sel}", [event(user="")], [event(user=None)])


def test_contains_startswith_endswith() -> None:
    _check(
        "{sel: {useragent|contains: sqlmap}, condition: sel}",
        [event(useragent="sqlmap/1.8"), event(useragent="Mozilla SQLMap x")],
        [event(useragent="curl/8"), event()],
    )
    _check(
        "{sel: {request_uri|startswith: /admin}, condition: sel}",
        [event(request_uri="/admin/users"), event(request_uri="/ADMIN")],
        [event(request_uri="/api/admin"), event()],
    )
    _check(
        "{sel: {request_uri|endswith: .php}, condition: sel}",
        [event(request_uri="/x/index.PHP")],
        [event(request_uri="/x.php/y"), event()],
    )


def test_contains_all() -> None:
    _check(
        "{sel: {description|contains|all: [password, reset]}, condition: sel}",
        [event(description="Password reset requested")],
        [event(description="password changed"), event(description="reset done")],
    )


def test_contains_with_a_literal_wildcard_character() -> None:
    _check(
        "{sel: {request_uri|contains: 'a\\*b'}, condition: sel}",
        [event(request_uri="/x?q=a*b")],
        [event(request_uri="/x?q=aXb")],
    )


def test_cased() -> None:
    _check(
        "{sel: {user|cased: Joe}, condition: sel}",
        [event(user="Joe")],
        [event(user="joe"), event(user="JOE")],
    )
    _check(
        "{sel: {user|contains|cased: Admin}, condition: sel}",
        [event(user="SuperAdmin1")],
        [event(user="superadmin1")],
    )


def test_regular_expressions_search_case_sensitive_unless_i() -> None:
    _check(
        "{sel: {request_uri|re: 'union\\s+select'}, condition: sel}",
        [event(request_uri="/p?id=1 union  select 1"), event(request_uri="union select")],
        [event(request_uri="/p?id=1 UNION SELECT 1"), event(request_uri="/p?id=1"), event()],
    )
    _check(
        "{sel: {request_uri|re|i: '^/wp-(admin|login)'}, condition: sel}",
        [event(request_uri="/WP-Login.php"), event(request_uri="/wp-admin/")],
        [event(request_uri="/blog/wp-admin")],
    )
    _check(
        "{sel: {description|re|s: 'a.b'}, condition: sel}",
        [event(description="a\nb")],
        [event(description="ab")],
    )
    _check(
        "{sel: {description|re|m: '^b$'}, condition: sel}",
        [event(description="a\nb\nc")],
        [event(description="abc")],
    )


@pytest.mark.parametrize(
    ("network", "inside", "outside"),
    [
        ("10.0.0.0/8", ["10.1.2.3", "10.255.255.255", "::ffff:10.0.0.1"], ["11.0.0.1", "fe80::1"]),
        ("192.0.2.7/32", ["192.0.2.7"], ["192.0.2.8"]),
        ("2001:db8::/32", ["2001:db8::9", "2001:DB8:1::1", "[2001:db8::1]"], ["2001:db9::1"]),
    ],
)
def test_cidr(network: str, inside: list[str], outside: list[str]) -> None:
    _check(
        f"{{sel: {{source_ip|cidr: '{network}'}}, condition: sel}}",
        [event(source_ip=ip) for ip in inside],
        [event(source_ip=ip) for ip in [*outside, "not-an-ip", "", None]],
    )


def test_cidr_list_is_or() -> None:
    _check(
        "{sel: {source_ip|cidr: [10.0.0.0/8, 2001:db8::/32]}, condition: sel}",
        [event(source_ip="10.9.9.9"), event(source_ip="2001:db8::1")],
        [event(source_ip="192.168.1.1")],
    )


@pytest.mark.parametrize(
    ("modifier", "yes", "no"),
    [
        ("gt", [501, 599], [500, 200]),
        ("gte", [500, 503], [499]),
        ("lt", [499, 200], [500, 503]),
        ("lte", [500, 200], [501]),
    ],
)
def test_numeric_comparisons(modifier: str, yes: list[int], no: list[int]) -> None:
    _check(
        f"{{sel: {{status|{modifier}: 500}}, condition: sel}}",
        [event(status=s) for s in yes],
        [event(status=s) for s in no] + [event(status=None)],
    )


def test_numeric_comparison_on_text_values() -> None:
    _check(
        "{sel: {extra.bytes|gte: 1.5}, condition: sel}",
        [
            event(extra={"bytes": "2"}),
            event(extra={"bytes": 1.5}),
            event(extra={"bytes": " 7 "}),
            event(extra={"bytes": "1e3"}),
        ],
        [
            event(extra={"bytes": "1"}),
            event(extra={"bytes": "lots"}),
            event(extra={"bytes": "1_000"}),
            event(extra={"bytes": "nan"}),
            event(extra={}),
        ],
    )


def test_exists() -> None:
    _check(
        "{sel: {useragent|exists: true}, condition: sel}",
        [event(useragent="x"), event(useragent="")],
        [event()],
    )
    _check(
        "{sel: {useragent|exists: false}, condition: sel}",
        [event()],
        [event(useragent="x")],
    )


def test_numbers_compare_as_decimal_text() -> None:
    _check(
        "{sel: {status: 401}, condition: sel}",
        [event(status=401)],
        [event(status=4010), event(status=40), event(status=None)],
    )
    _check(
        "{sel: {status: [401, 403]}, condition: sel}",
        [event(status=403)],
        [event(status=404)],
    )
    _check("{sel: {status: 1200}, condition: sel}", [event(status=1200)], [event(status=120)])
    _check(
        "{sel: {extra.ratio: 1.5}, condition: sel}",
        [event(extra={"ratio": 1.5}), event(extra={"ratio": "1.5"})],
        [event(extra={"ratio": "1.50"})],
    )


def test_booleans_compare_as_words() -> None:
    _check(
        "{sel: {extra.mfa: true}, condition: sel}",
        [event(extra={"mfa": True}), event(extra={"mfa": "TRUE"})],
        [event(extra={"mfa": False}), event(extra={})],
    )


def test_event_and_event_type_fields() -> None:
    _check(
        "{sel: {event: 'authn_login_fail:joe'}, condition: sel}",
        [JOE_FAIL, event("AUTHN_LOGIN_FAIL", "Joe")],
        [event("authn_login_fail", "joe", "x"), event("authn_login_fail")],
    )
    _check(
        "{sel: {event_type: authn_login_fail}, condition: sel}",
        [JOE_FAIL, event("authn_login_fail"), event("Authn_Login_Fail", "x")],
        [event("authn_login_fail_max", "joe"), event("authz_fail", "joe")],
    )


def test_level_status_and_other_fields() -> None:
    _check(
        "{sel: {level: warn, status: 401, request_method: post, hostname: web-1, appid: shop},"
        " condition: sel}",
        [event(status=401, request_method="POST", hostname="web-1", appid="shop", level="WARN")],
        [event(status=401, request_method="GET", hostname="web-1", appid="shop", level="WARN")],
    )


def test_extra_fields() -> None:
    _check(
        "{sel: {extra.region: eu-west, extra.tags|contains: '\"b\"'}, condition: sel}",
        [event(extra={"region": "EU-WEST", "tags": ["a", "b"]})],
        [event(extra={"region": "eu-west", "tags": ["a"]}), event(extra={"tags": ["b"]})],
    )


@pytest.mark.parametrize(
    ("condition", "truth"),
    [
        # truth table over (a, b, c) = (user is a, status is 401, method is POST)
        ("a and b", lambda a, b, c: a and b),
        ("a or b", lambda a, b, c: a or b),
        ("not a", lambda a, b, c: not a),
        ("a and not b", lambda a, b, c: a and not b),
        ("a or b and c", lambda a, b, c: a or (b and c)),
        ("(a or b) and c", lambda a, b, c: (a or b) and c),
        ("not (a or b) or c", lambda a, b, c: not (a or b) or c),
        ("not not a", lambda a, b, c: a),
        ("1 of them", lambda a, b, c: a or b or c),
        ("all of them", lambda a, b, c: a and b and c),
        ("any of them", lambda a, b, c: a or b or c),
    ],
)
def test_condition_expressions(condition: str, truth: object) -> None:
    compiled = compile_yaml(
        "{a: {user: a}, b: {status: 401}, c: {request_method: POST}, "
        f"condition: '{condition}'}}"
    )
    assert callable(truth)
    for a in (False, True):
        for b in (False, True):
            for c in (False, True):
                item = event(
                    user="a" if a else "z",
                    status=401 if b else 200,
                    request_method="POST" if c else "GET",
                )
                assert compiled.match(item) is bool(truth(a, b, c)), (condition, a, b, c)


def test_selectors_with_patterns() -> None:
    text = (
        "{sel_user: {user: a}, sel_ip: {source_ip: 10.0.0.1}, selection: {status: 401}, "
        "_helper: {user: z}, condition: '{}'}"
    )
    one = compile_yaml(text.replace("{}", "1 of sel_*"))
    assert one.match(event(user="a")) and one.match(event(source_ip="10.0.0.1"))
    assert not one.match(event(status=401))  # `selection` does not match `sel_*`
    every = compile_yaml(text.replace("{}", "all of sel_*"))
    assert every.match(event(user="a", source_ip="10.0.0.1"))
    assert not every.match(event(user="a"))
    them = compile_yaml(text.replace("{}", "1 of them"))
    assert not them.match(event(user="z"))  # underscore selections are not in `them`
    private = compile_yaml(text.replace("{}", "1 of _help*"))
    assert private.match(event(user="z"))
    # a pattern matches whole names only: `sel` names no selection here
    with pytest.raises(CompileError, match="`1 of sel` matches no selection"):
        compile_yaml(text.replace("{}", "1 of sel"))


def test_several_conditions_are_or() -> None:
    _check(
        "{a: {user: a}, b: {user: b}, condition: [a, b]}",
        [event(user="a"), event(user="b")],
        [event(user="c")],
    )


def test_same_field_pieces_merge_correctly() -> None:
    # several pieces on one field become a single test: the logic must survive the merge
    _check(
        "{a: {user|startswith: ad}, b: {user|endswith: min}, c: {user: root},"
        " condition: '(a and b) or c and not a'}",
        [event(user="admin"), event(user="ROOT")],
        [event(user="adx"), event(user="xmin"), event(user=None)],
    )


def test_results_stay_right_when_the_memo_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher, "MEMO_LIMIT", 3)
    compiled = compile_yaml("{sel: {user|endswith: '7'}, condition: sel}")
    users = [f"u{i}" for i in range(40)] + ["x" * 5000 + "7", "x" * 5000]
    for _ in range(2):
        assert [compiled.match(event(user=u)) for u in users] == [u.endswith("7") for u in users]


def test_status_and_event_type_memos_key_on_the_raw_attributes() -> None:
    compiled = compile_yaml("{sel: {event_type: a, status|gte: 500}, condition: sel}")
    cases = [("a", 500, True), ("a:x", 503, True), ("A", 200, False), ("b", 500, False)]
    for _ in range(2):
        for name, status, expected in cases:
            item = SecurityEvent(time=T0, event=name, status=status)
            assert compiled.match(item) is expected, (name, status)


def test_selections_the_condition_does_not_use_are_still_checked() -> None:
    with pytest.raises(CompileError, match="unknown field 'usr'"):
        compile_yaml("{sel: {user: a}, unused: {usr: b}, condition: sel}")
    compiled = compile_yaml("{sel: {user: a}, unused: {user: b}, condition: sel}")
    assert compiled.match(event(user="a")) and not compiled.match(event(user="b"))
