from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from turbosec.core.event import Level
from turbosec.events import (
    VOCABULARY,
    EventSpec,
    OwaspJsonFormatter,
    OwaspProcessor,
    SecretFieldError,
    SecurityLogger,
    owasp_processor,
    request_fields,
    security_handler,
    structlog_processors,
)
from turbosec.events.logger import CORE_FIELDS, check_fields
from turbosec.events.parsers import OwaspJsonParser, ParseStats, parse_lines

# Fake credentials, assembled so that no scanner mistakes this file for a leak.
JWT = "eyJhbGciOiJIUzI1NiJ9" + "." + "eyJzdWIiOiJqb2UifQ" + "." + "c2lnbmF0dXJlLXZhbHVl"
GITHUB_TOKEN = "gh" + "p_" + "0123456789abcdefghijABCDEFGHIJ0123"
ISO_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


@pytest.fixture
def captured() -> Iterator[tuple[SecurityLogger, io.StringIO]]:
    stream = io.StringIO()
    logger = logging.getLogger(f"test.security.{id(stream)}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = security_handler(stream, appid="shop.auth", hostname="web-1")
    logger.addHandler(handler)
    try:
        yield SecurityLogger(logger), stream
    finally:
        logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_login_fail_writes_one_owasp_json_line(
    captured: tuple[SecurityLogger, io.StringIO],
) -> None:
    security, stream = captured
    security.login_fail("joe", source_ip="203.0.113.9", request_uri="/login")
    text = stream.getvalue()
    assert text.count("\n") == 1
    (record,) = _lines(stream)
    assert list(record)[: len(CORE_FIELDS)] == list(CORE_FIELDS)
    assert ISO_MS_UTC.match(str(record["datetime"]))
    assert record["appid"] == "shop.auth"
    assert record["event"] == "authn_login_fail:joe"
    assert record["level"] == "WARN"
    assert record["description"] == "a login attempt failed (userid=joe)"
    assert record["source_ip"] == "203.0.113.9"
    assert record["request_uri"] == "/login"
    assert record["useragent"] is None
    assert record["hostname"] == "web-1"


def test_helpers_use_the_vocabulary_names_and_levels(
    captured: tuple[SecurityLogger, io.StringIO],
) -> None:
    security, stream = captured
    security.login_success("joe")
    security.login_success_after_fail("joe", 3)
    security.login_fail_max("joe", 5)
    security.login_lock("joe")
    security.authz_fail("joe", "/admin/users")
    security.input_validation_fail(["zip", "date_of_birth"], "joe")
    security.input_validation_fail("email", "joe")
    security.malicious_excess_404("203.0.113.9", "Mozilla/5.0 (KHTML, like Gecko)")
    security.session_created("joe")
    security.session_expired("joe", "logout")
    security.user_created("admin", "kim", "role:editor", "team:blue")
    security.sys_crash("outofmemory")
    events = [(r["event"], r["level"]) for r in _lines(stream)]
    assert events == [
        ("authn_login_success:joe", "INFO"),
        ("authn_login_successafterfail:joe,3", "INFO"),
        ("authn_login_fail_max:joe,5", "WARN"),
        ("authn_login_lock:joe,maxretries", "WARN"),
        ("authz_fail:joe,/admin/users", "CRITICAL"),
        ("input_validation_fail:(zip,date_of_birth),joe", "WARN"),
        ("input_validation_fail:email,joe", "WARN"),
        ("malicious_excess_404:203.0.113.9,Mozilla/5.0 (KHTML, like Gecko)", "WARN"),
        ("session_created:joe", "INFO"),
        ("session_expired:joe,logout", "INFO"),
        ("user_created:admin,kim,role:editor,team:blue", "WARN"),
        ("sys_crash:outofmemory", "WARN"),
    ]


def test_emit_validates_the_event_name_and_arguments(
    captured: tuple[SecurityLogger, io.StringIO],
) -> None:
    security, stream = captured
    with pytest.raises(ValueError, match="not an OWASP Logging Vocabulary event name"):
        security.emit("login_failed", "joe")
    with pytest.raises(
        ValueError, match=r"at most 1 argument\(s\) \(authn_login_fail\[:userid\]\)"
    ):
        security.emit("authn_login_fail", "joe", "extra")
    security.emit("AUTHN_login_fail:joe", level="critical", description="custom text", port=22)
    security.emit("authz_fail", "joe", "/x", level=logging.ERROR)
    assert stream.getvalue().count("\n") == 2
    first, second = _lines(stream)
    assert first["event"] == "authn_login_fail:joe"
    assert first["level"] == "CRITICAL"
    assert first["description"] == "custom text"
    assert first["port"] == 22
    assert second["level"] == "ERROR"


def test_custom_events_must_be_declared(captured: tuple[SecurityLogger, io.StringIO]) -> None:
    _, stream = captured
    spec = EventSpec("payment_refused", "app", ("userid", "reason"), Level.WARN, "a refusal")
    security = SecurityLogger(
        logging.getLogger(f"test.security.{id(stream)}"), custom_events=[spec]
    )
    security.emit("payment_refused", "joe", "limit")
    (record,) = _lines(stream)
    assert record["event"] == "payment_refused:joe,limit"
    assert record["level"] == "WARN"


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "passwd",
        "new_password",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refreshToken",
        "api_key",
        "apiKey",
        "authorization",
        "cookie",
        "set-cookie",
        "session_id",
        "sessionid",
        "pwd",
        "private_key",
    ],
)
def test_secret_field_names_are_refused(
    captured: tuple[SecurityLogger, io.StringIO], name: str
) -> None:
    security, stream = captured
    with pytest.raises(SecretFieldError) as caught:
        security.login_fail("joe", **{name: "x"})
    assert caught.value.field == name
    assert isinstance(caught.value, ValueError)
    assert repr(name) in str(caught.value)
    assert "allow_fields" in str(caught.value)
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Bearer abcdefghijklmnop", "Authorization header"),
        ("basic dXNlcjpwYXNzd29yZA==", "Authorization header"),
        (JWT, "JSON Web Token"),
        (f"prefix {GITHUB_TOKEN}", "API key"),
        ("/reset?email=a%40b.c&token=0123456789", "secret query or form parameter"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn", "private key"),
        (["fine", {"nested": JWT}], "JSON Web Token"),
    ],
)
def test_secret_looking_values_are_refused(
    captured: tuple[SecurityLogger, io.StringIO], value: object, reason: str
) -> None:
    security, stream = captured
    with pytest.raises(SecretFieldError, match=reason) as caught:
        security.login_fail("joe", note=value)
    assert caught.value.field == "note"
    assert stream.getvalue() == ""


def test_secrets_in_arguments_description_and_uri_are_refused(
    captured: tuple[SecurityLogger, io.StringIO],
) -> None:
    security, stream = captured
    with pytest.raises(SecretFieldError, match=r"argument 1 \(userid\)"):
        security.login_fail(JWT)
    with pytest.raises(SecretFieldError, match="'description'"):
        security.login_fail("joe", description=f"used {GITHUB_TOKEN}")
    with pytest.raises(SecretFieldError, match="'request_uri'"):
        security.login_fail("joe", request_uri="/login?password=hunter2")
    with pytest.raises(SecretFieldError, match="holds a member 'Cookie'"):
        security.login_fail("joe", headers={"Cookie": "a=b"})
    assert stream.getvalue() == ""


def test_allow_fields_lifts_the_name_rule(captured: tuple[SecurityLogger, io.StringIO]) -> None:
    _, stream = captured
    security = SecurityLogger(
        logging.getLogger(f"test.security.{id(stream)}"), allow_fields=["token_count", "Auth"]
    )
    security.login_fail("joe", token_count=3, auth="password")
    (record,) = _lines(stream)
    assert record["token_count"] == 3
    assert record["auth"] == "password"
    # token_id does not end in "token": it is an identifier and allowed by default
    check_fields({"token_id": "tk-42", "session_age": 30, "user": "joe"})


def test_request_fields_from_a_werkzeug_request() -> None:
    # Flask's request class; werkzeug comes with the dev dependencies (schemathesis)
    EnvironBuilder = pytest.importorskip("werkzeug.test").EnvironBuilder
    Request = pytest.importorskip("werkzeug.wrappers").Request

    builder = EnvironBuilder(
        path="/login",
        query_string="next=/home&token=abc",
        method="post",
        headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    fields = request_fields(Request(builder.get_environ()))
    assert fields == {
        "source_ip": "203.0.113.9",
        "useragent": "Mozilla/5.0 (X11; Linux x86_64)",
        "request_uri": "/login",
        "request_method": "POST",
    }


def test_request_fields_from_a_starlette_request() -> None:
    # FastAPI's request class; starlette comes with the hub extra
    Request = pytest.importorskip("starlette.requests").Request

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/admin/users",
        "raw_path": b"/admin/users",
        "query_string": b"session_id=abc",
        "headers": [(b"user-agent", b"curl/8.5.0")],
        "client": ("2001:db8::9", 51000),
        "server": ("testserver", 80),
        "scheme": "http",
        "root_path": "",
    }
    expected = {
        "source_ip": "2001:db8::9",
        "useragent": "curl/8.5.0",
        "request_uri": "/admin/users",
        "request_method": "GET",
    }
    assert request_fields(Request(scope)) == expected
    assert request_fields(scope) == expected  # the bare ASGI scope


def test_request_fields_from_a_wsgi_environ_and_explicit_fields_win(
    captured: tuple[SecurityLogger, io.StringIO],
) -> None:
    security, stream = captured
    environ = {
        "REMOTE_ADDR": "10.0.0.2",
        "HTTP_USER_AGENT": "UA",
        "PATH_INFO": "/login",
        "REQUEST_METHOD": "POST",
    }
    security.login_fail("joe", request=environ, source_ip="203.0.113.9")
    (record,) = _lines(stream)
    assert record["source_ip"] == "203.0.113.9"
    assert record["useragent"] == "UA"
    assert record["request_method"] == "POST"


def test_formatter_time_zone_and_plain_records() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("test.security.plain")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        OwaspJsonFormatter(appid="app", hostname="h", tz=timezone(timedelta(hours=-7)))
    )
    logger.addHandler(handler)
    try:
        logger.warning("disk %s", "full")
        logger.warning("login", extra={"event": "authn_login_fail:joe", "source_ip": "1.2.3.4"})
        logger.warning("oops", extra={"event": "authn_login_fail:joe", "useragent": JWT})
    finally:
        logger.removeHandler(handler)
    plain, tagged, refused = _lines(stream)
    assert str(plain["datetime"]).endswith("-07:00")
    assert plain["event"] is None
    assert plain["description"] == "disk full"
    assert plain["logger"] == "test.security.plain"
    assert tagged["event"] == "authn_login_fail:joe"
    assert tagged["source_ip"] == "1.2.3.4"
    assert refused["useragent"] is None
    assert refused["refused_fields"] == ["useragent"]
    assert JWT not in stream.getvalue()


def test_logger_output_reads_back_through_the_parser(
    captured: tuple[SecurityLogger, io.StringIO],
) -> None:
    security, stream = captured
    security.authz_fail("joe", "/admin", source_ip="203.0.113.9", request_method="GET", port=443)
    security.malicious_attack_tool("198.51.100.7", "sqlmap", "sqlmap/1.8")
    stats = ParseStats()
    before = datetime.now(UTC)
    events = parse_lines(OwaspJsonParser(), stream.getvalue().splitlines(), "app.log", stats)
    assert stats.to_dict()["events"] == 2
    authz, tool = events
    assert authz.event == "authz_fail"
    assert authz.args == ("joe", "/admin")
    assert authz.user == "joe"
    assert authz.level is Level.CRITICAL
    assert authz.source_ip == "203.0.113.9"
    assert authz.request_method == "GET"
    assert authz.appid == "shop.auth"
    assert authz.hostname == "web-1"
    assert authz.extra == {"port": 443}
    assert authz.source == "app.log:1"
    assert abs(authz.time - before) < timedelta(seconds=5)
    assert tool.user is None
    assert tool.source_ip == "198.51.100.7"


def test_structlog_processor_renders_the_same_shape() -> None:
    structlog = pytest.importorskip("structlog")
    out = io.StringIO()
    structlog.configure(
        processors=structlog_processors(appid="shop.auth", hostname="web-1"),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    try:
        log = structlog.get_logger()
        log.warning("authn_login_fail", user="joe", source_ip="203.0.113.9")
        log.info("authz_fail:joe,/admin")
        log.info("request finished", path="/healthz")
        with pytest.raises(SecretFieldError, match="'password'"):
            log.warning("authn_login_fail", user="joe", password="hunter2")
    finally:
        structlog.reset_defaults()
    first, second, plain = (orjson.loads(line) for line in out.getvalue().splitlines())
    assert list(first)[: len(CORE_FIELDS)] == list(CORE_FIELDS)
    assert first["event"] == "authn_login_fail:joe"
    assert first["level"] == "WARN"
    assert first["source_ip"] == "203.0.113.9"
    assert first["hostname"] == "web-1"
    assert ISO_MS_UTC.match(first["datetime"])
    assert second["event"] == "authz_fail:joe,/admin"
    assert second["level"] == "INFO"
    assert plain == {"event": "request finished", "path": "/healthz", "level": "info"}


def test_owasp_processor_works_on_plain_dicts_without_structlog(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "structlog", None)
    with pytest.raises(ImportError, match="SecurityLogger and OwaspJsonFormatter work"):
        structlog_processors()
    entry = {"event": "authn_login_success", "userid": "joe", "timestamp": 1795773601.5}
    data = owasp_processor(None, "info", entry)
    assert data["event"] == "authn_login_success:joe"
    assert data["datetime"] == "2026-11-27T10:00:01.500+00:00"
    assert data["level"] == "INFO"
    spec = VOCABULARY["malicious_csrf"]
    assert spec.user_or_ip
    csrf = OwaspProcessor(appid="x")(
        None, "warning", {"event": "malicious_csrf", "source_ip": "192.0.2.1"}
    )
    assert csrf["event"] == "malicious_csrf:192.0.2.1"
    untouched = {"event": 42}
    assert owasp_processor(None, "info", untouched) is untouched
