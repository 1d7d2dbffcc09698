"""Settings.from_env: parsing, defaults, and refusing unsafe or malformed configuration."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from quote_service.config import DEV_SECRET_KEY, ConfigError, Settings, require_secret_key_to_serve

STRONG_KEY = "a-production-secret-that-is-long-enough-0123456789"
PRODUCTION_STORES = {"DATABASE_URL": "postgresql://db/quotes", "REDIS_URL": "redis://cache/0"}


def test_empty_environment_gives_development_defaults() -> None:
    settings = Settings.from_env({})

    assert settings == Settings()
    assert settings.secret_key == DEV_SECRET_KEY
    assert settings.algorithm == "HS256"
    assert settings.access_token_expire_minutes == 60
    assert settings.default_tax_rate == Decimal("18")
    assert settings.database_url is None
    assert settings.redis_url is None
    assert not settings.is_production


def test_values_are_parsed_to_their_types() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://db/quotes",
            "REDIS_URL": "redis://cache/2",
            "QUOTE_SERVICE_HOME": "/srv/quote-service",
            "ALGORITHM": "HS512",
            "ACCESS_TOKEN_EXPIRE_MINUTES": "15",
            "QUOTE_TIMEOUT": "0.75",
            "MAX_CONCURRENT_QUOTES": "32",
            "DEFAULT_TAX_RATE": "8.25",
            "DEFAULT_DELIVERY_FEE": "4.99",
            "METRICS_PUBLIC": "true",
            "LOG_FORMAT": "console",
            "ENVIRONMENT": "production",
            "SECRET_KEY": STRONG_KEY,
        }
    )

    assert settings.database_url == "postgresql://db/quotes"
    assert settings.redis_url == "redis://cache/2"
    assert settings.home == Path("/srv/quote-service")
    assert settings.algorithm == "HS512"
    assert settings.access_token_expire_minutes == 15
    assert settings.quote_timeout == 0.75
    assert settings.max_concurrent_quotes == 32
    assert settings.default_tax_rate == Decimal("8.25")
    assert settings.default_delivery_fee == Decimal("4.99")
    assert settings.metrics_public is True
    assert settings.log_format == "console"
    assert settings.is_production
    assert settings.secret_key == STRONG_KEY


def test_empty_variables_mean_the_default() -> None:
    settings = Settings.from_env({"SECRET_KEY": "", "ACCESS_TOKEN_EXPIRE_MINUTES": "", "DATABASE_URL": ""})

    assert settings.secret_key == DEV_SECRET_KEY
    assert settings.access_token_expire_minutes == 60
    assert settings.database_url is None


def test_unrelated_variables_are_ignored() -> None:
    assert Settings.from_env({"PATH": "/usr/bin", "HOME": "/root"}) == Settings()


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_TOKEN_EXPIRE_MINUTES", "7")

    assert Settings.from_env().access_token_expire_minutes == 7


def test_production_refuses_the_default_secret_key() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({"ENVIRONMENT": "production"})
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({"ENVIRONMENT": "production", "SECRET_KEY": DEV_SECRET_KEY})


def test_production_refuses_a_short_secret_key() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env({"ENVIRONMENT": "production", "SECRET_KEY": "x" * 31})

    assert Settings.from_env({**PRODUCTION_STORES, "ENVIRONMENT": "production", "SECRET_KEY": "x" * 32}).is_production


@pytest.mark.parametrize("environ", [{}, {"SECRET_KEY": ""}, {"ENVIRONMENT": ""}, {"ENVIRONMENT": "production"}])
def test_serve_without_a_secret_key_is_refused_naming_it(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as refused:
        require_secret_key_to_serve(environ, demo=False)
    assert str(refused.value).startswith("SECRET_KEY is not set: ")


@pytest.mark.parametrize(
    ("environ", "demo"),
    [
        ({"SECRET_KEY": STRONG_KEY}, False),
        ({"ENVIRONMENT": "development"}, False),
        ({}, True),  # serve --demo, what `make run` does
    ],
)
def test_serve_starts_with_a_secret_key_or_when_development_is_asked_for(environ: dict[str, str], demo: bool) -> None:
    require_secret_key_to_serve(environ, demo=demo)


@pytest.mark.parametrize("missing", [["DATABASE_URL"], ["REDIS_URL"], ["DATABASE_URL", "REDIS_URL"]])
def test_production_refuses_to_run_on_embedded_stores(missing: list[str]) -> None:
    env = {**PRODUCTION_STORES, "ENVIRONMENT": "production", "SECRET_KEY": STRONG_KEY}
    for name in missing:
        env[name] = ""
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert str(refused.value).startswith(f"ENVIRONMENT=production needs {' and '.join(missing)}: ")


def test_development_runs_on_embedded_stores() -> None:
    settings = Settings.from_env({"SECRET_KEY": STRONG_KEY})
    assert (settings.database_url, settings.redis_url) == (None, None)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "soon"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "1.5"),
        ("MAX_CONCURRENT_QUOTES", "many"),
        ("RATE_LIMIT_PER_MINUTE", "1e3x"),
        ("QUOTE_TIMEOUT", "fast"),
        ("DEFAULT_TAX_RATE", "eighteen"),
        ("DEFAULT_DELIVERY_FEE", "10,00"),
        ("DB_POOL_MAX_SIZE", "ten"),
        ("METRICS_PUBLIC", "perhaps"),
        ("ENVIRONMENT", "staging"),
        ("LOG_FORMAT", "xml"),
    ],
)
def test_malformed_values_are_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: value})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "-5"),
        ("QUOTE_TIMEOUT", "0"),
        ("MAX_CONCURRENT_QUOTES", "0"),
        ("RATE_LIMIT_PER_MINUTE", "-1"),
        ("DB_POOL_MAX_SIZE", "0"),
        ("DB_ACQUIRE_TIMEOUT", "0"),
        ("DB_STATEMENT_TIMEOUT", "-1"),
        ("DB_LOCK_TIMEOUT", "0"),
        ("DEFAULT_TAX_RATE", "100.01"),
        ("DEFAULT_TAX_RATE", "-1"),
        ("DEFAULT_TAX_RATE", "NaN"),
        ("DEFAULT_COMMISSION_RATE", "101"),
        ("MAX_DISCOUNT_PERCENTAGE", "Infinity"),
        ("DEFAULT_DELIVERY_FEE", "-0.01"),
        ("ALGORITHM", "RS256"),
        ("ALGORITHM", "none"),
        ("LOG_LEVEL", "VERBOSE"),
        ("DB_POOL_MIN_SIZE", "-1"),
        ("DB_POOL_MIN_SIZE", "11"),  # more than the default DB_POOL_MAX_SIZE of 10
    ],
)
def test_out_of_range_values_are_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: value})


def test_pool_sizes_may_be_equal_or_zero_minimum() -> None:
    assert Settings.from_env({"DB_POOL_MIN_SIZE": "4", "DB_POOL_MAX_SIZE": "4"}).db_pool_min_size == 4
    assert Settings.from_env({"DB_POOL_MIN_SIZE": "0"}).db_pool_min_size == 0


def test_boundary_percentages_are_accepted() -> None:
    settings = Settings.from_env({"DEFAULT_TAX_RATE": "0", "MAX_DISCOUNT_PERCENTAGE": "100"})

    assert settings.default_tax_rate == Decimal(0)
    assert settings.max_discount_percentage == Decimal(100)


def test_log_level_is_case_insensitive() -> None:
    assert Settings.from_env({"LOG_LEVEL": "debug"}).log_level == "debug"


_PRODUCTION = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": "p" * 40,
    "DATABASE_URL": "postgresql://db/quote",
    "REDIS_URL": "redis://cache:6379/0",
}


@pytest.mark.parametrize(
    ("environment", "docs_enabled", "served"),
    [
        ({}, None, True),
        (_PRODUCTION, None, False),
        (_PRODUCTION, "true", True),
        ({}, "false", False),
    ],
)
def test_docs_are_served_in_development_and_off_in_production_unless_told(
    environment: dict[str, str], docs_enabled: str | None, served: bool
) -> None:
    env = {**environment, **({"DOCS_ENABLED": docs_enabled} if docs_enabled else {})}

    assert Settings.from_env(env).serves_docs is served


def test_the_body_read_timeout_is_read_and_must_be_positive() -> None:
    assert Settings.from_env({"BODY_READ_TIMEOUT": "2.5"}).body_read_timeout == 2.5
    with pytest.raises(ConfigError, match="BODY_READ_TIMEOUT"):
        Settings.from_env({"BODY_READ_TIMEOUT": "0"})


def test_max_markup_percent_is_read_bounded_and_handed_to_the_database() -> None:
    settings = Settings.from_env({"MAX_MARKUP_PERCENT": "35.5"})
    assert settings.max_markup_percent == Decimal("35.5")
    assert settings.database_session()["quote_service.max_markup_percent"] == "35.5"
    assert Settings.from_env({}).max_markup_percent == Decimal(50)
    for bad in ("-1", "1001", "NaN"):
        with pytest.raises(ConfigError, match="MAX_MARKUP_PERCENT"):
            Settings.from_env({"MAX_MARKUP_PERCENT": bad})


def test_stale_flag_days_is_handed_to_the_database_and_bounded() -> None:
    assert Settings.from_env({"STALE_FLAG_DAYS": "7"}).database_session()["quote_service.stale_flag_days"] == "7.0"
    assert Settings.from_env({"STALE_FLAG_DAYS": "0"}).stale_flag_days == 0
    for bad in ("-1", "nan"):
        with pytest.raises(ConfigError, match="STALE_FLAG_DAYS"):
            Settings.from_env({"STALE_FLAG_DAYS": bad})
    with pytest.raises(ConfigError, match="STALE_FLAG_INTERVAL"):
        Settings.from_env({"STALE_FLAG_INTERVAL": "-1"})


def test_a_read_replica_needs_the_primary_and_a_positive_lag_bound() -> None:
    replica = {"DATABASE_REPLICA_URL": "postgresql://replica/quote"}
    with pytest.raises(ConfigError, match="DATABASE_REPLICA_URL needs DATABASE_URL"):
        Settings.from_env(replica)
    with pytest.raises(ConfigError, match="REPLICA_MAX_LAG_SECONDS must be positive"):
        Settings.from_env({**replica, "DATABASE_URL": "postgresql://db/quote", "REPLICA_MAX_LAG_SECONDS": "0"})
    settings = Settings.from_env({**replica, "DATABASE_URL": "postgresql://db/quote", "REPLICA_MAX_LAG_SECONDS": "2.5"})
    assert (settings.database_replica_url, settings.replica_max_lag_seconds) == ("postgresql://replica/quote", 2.5)
    assert Settings.from_env({}).database_replica_url is None


@pytest.mark.parametrize(
    ("environ", "cluster"),
    [
        ({"REDIS_URL": "redis://cache:6379"}, False),
        ({"REDIS_URL": "redis://cache:6379", "REDIS_CLUSTER": "true"}, True),
        ({"REDIS_URL": "redis+cluster://cache:6379"}, True),
        ({"REDIS_URL": "rediss+cluster://user:secret@cache:6380/0"}, True),
    ],
)
def test_redis_cluster_mode_from_the_flag_or_the_url_scheme(environ: dict[str, str], cluster: bool) -> None:
    from redis.asyncio.cluster import RedisCluster

    from quote_service.cache.redis import create_redis, is_cluster

    settings = Settings.from_env(environ)

    assert settings.redis_cluster_mode is cluster
    client = create_redis(settings.redis_url or "", cluster=settings.redis_cluster)
    assert is_cluster(client) is cluster
    assert isinstance(client, RedisCluster) is cluster


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"REDIS_CLUSTER": "true"}, "REDIS_URL"),
        ({"REDIS_CLUSTER": "true", "REDIS_URL": "unix:///run/redis.sock"}, "unix"),
        ({"REDIS_CLUSTER": "true", "REDIS_URL": "redis://cache:6379/3"}, "database 3"),
        ({"REDIS_URL": "redis+cluster://cache:6379/2"}, "database 2"),
    ],
)
def test_redis_cluster_mode_refuses_what_a_cluster_cannot_be(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(environ)


def test_every_setting_is_documented_in_the_configuration_page() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    for field in msgspec.structs.fields(Settings):
        variable = "QUOTE_SERVICE_HOME" if field.name == "home" else field.name.upper()
        assert f"`{variable}`" in page, f"{variable} is not in docs/configuration.md"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"WEBHOOK_TIMEOUT": "10", "WEBHOOK_LEASE_SECONDS": "10"}, "WEBHOOK_LEASE_SECONDS"),
        ({"WEBHOOK_RETRY_SCHEDULE": "5,-10"}, "WEBHOOK_RETRY_SCHEDULE"),
        ({"WEBHOOK_DISABLE_AFTER_HOURS": "-1"}, "WEBHOOK_DISABLE_AFTER_HOURS"),
        ({"WEBHOOK_POLL_INTERVAL": "-1"}, "WEBHOOK_POLL_INTERVAL"),
        ({"WEBHOOK_SECRET_OVERLAP": "-1"}, "WEBHOOK_SECRET_OVERLAP"),
        ({"WEBHOOK_ENDPOINT_CONCURRENCY": "0"}, "WEBHOOK_ENDPOINT_CONCURRENCY"),
    ],
)
def test_webhook_settings_that_cannot_work_are_refused_naming_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(environ)


def test_the_business_time_zone_is_an_iana_name_checked_at_start() -> None:
    assert Settings.from_env({}).business_timezone == "UTC"
    assert Settings.from_env({"BUSINESS_TIMEZONE": "Europe/Istanbul"}).business_timezone == "Europe/Istanbul"
    assert Settings.from_env({"BUSINESS_TIMEZONE": "Etc/UTC"}).business_timezone == "Etc/UTC"
    # docs/http.md: `localtime` (whatever the host is set to), `Factory` and `posixrules` name no region
    for wrong in ("Europe/Istambul", "europe/istanbul", "+03:00", "x" * 65, "localtime", "Factory", "posixrules"):
        with pytest.raises(ConfigError, match=r"BUSINESS_TIMEZONE: .*IANA") as refused:
            Settings.from_env({"BUSINESS_TIMEZONE": wrong})
        assert wrong in str(refused.value) or "64 characters" in str(refused.value)


@pytest.mark.parametrize(
    "name",
    [
        "QUOTE_LOG_RETENTION_DAYS",
        "COMPETITOR_PRICE_RETENTION_DAYS",
        "IDEMPOTENCY_RETENTION_DAYS",
        "STOCK_MOVEMENT_RETENTION_DAYS",
        "AUDIT_LOG_RETENTION_DAYS",
        "RETENTION_INTERVAL",
    ],
)
def test_a_negative_or_wordy_retention_is_refused_naming_it(name: str) -> None:
    for value in ("-1", "ninety"):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: value})


def test_partitions_are_made_at_least_a_day_ahead() -> None:
    with pytest.raises(ConfigError, match="PARTITION_DAYS_AHEAD"):
        Settings.from_env({"PARTITION_DAYS_AHEAD": "0"})


def test_a_lifecycle_pass_waits_briefly_for_a_tables_lock() -> None:
    assert Settings.from_env({}).retention_lock_timeout == 0.2
    assert Settings.from_env({"RETENTION_LOCK_TIMEOUT": "0.15"}).retention_lock_timeout == 0.15
    for value in ("0", "-1", "soon"):
        with pytest.raises(ConfigError, match="RETENTION_LOCK_TIMEOUT"):
            Settings.from_env({"RETENTION_LOCK_TIMEOUT": value})


def test_competitor_prices_are_kept_at_least_as_long_as_the_market_window() -> None:
    with pytest.raises(ConfigError, match="COMPETITOR_PRICE_RETENTION_DAYS"):
        Settings.from_env({"COMPETITOR_PRICE_RETENTION_DAYS": "1", "MARKET_WINDOW_HOURS": "48"})
    assert Settings.from_env({"COMPETITOR_PRICE_RETENTION_DAYS": "2", "MARKET_WINDOW_HOURS": "48"})


def test_the_seller_guardrails_are_percentages() -> None:
    settings = Settings.from_env({"MIN_SELLER_MARGIN_PERCENT": "12.5", "SELLER_PRICE_CHANGE_APPROVAL_PERCENT": "20"})
    assert (settings.min_seller_margin_percent, settings.seller_price_change_approval_percent) == (
        Decimal("12.5"),
        Decimal(20),
    )
    assert Settings().seller_price_change_approval_percent == Decimal(30)
    for name in ("MIN_SELLER_MARGIN_PERCENT", "SELLER_PRICE_CHANGE_APPROVAL_PERCENT"):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: "-1"})


def test_the_seller_price_window_is_hours_the_audit_log_still_holds() -> None:
    assert Settings().seller_price_change_window_hours == 24
    assert Settings.from_env({"SELLER_PRICE_CHANGE_WINDOW_HOURS": "0"}).seller_price_change_window_hours == 0
    for value in ("-1", "8785"):
        with pytest.raises(ConfigError, match="SELLER_PRICE_CHANGE_WINDOW_HOURS"):
            Settings.from_env({"SELLER_PRICE_CHANGE_WINDOW_HOURS": value})
    with pytest.raises(ConfigError, match="AUDIT_LOG_RETENTION_DAYS"):
        Settings.from_env({"AUDIT_LOG_RETENTION_DAYS": "1", "SELLER_PRICE_CHANGE_WINDOW_HOURS": "48"})
    assert Settings.from_env({"AUDIT_LOG_RETENTION_DAYS": "2", "SELLER_PRICE_CHANGE_WINDOW_HOURS": "48"})


def test_payout_max_ahead_seconds_defaults_to_five_minutes_and_refuses_what_is_out_of_range() -> None:
    assert Settings.from_env({}).payout_max_ahead_seconds == 300
    assert Settings.from_env({"PAYOUT_MAX_AHEAD_SECONDS": "0"}).payout_max_ahead_seconds == 0
    assert Settings.from_env({"PAYOUT_MAX_AHEAD_SECONDS": "2592000"}).payout_max_ahead_seconds == 30 * 86_400
    for bad in ("-1", "3162240001", "soon"):
        with pytest.raises(ConfigError, match="PAYOUT_MAX_AHEAD_SECONDS"):
            Settings.from_env({"PAYOUT_MAX_AHEAD_SECONDS": bad})


@pytest.mark.parametrize(
    ("endings", "named"),
    [
        ("not json", "FX_PRICE_ENDINGS must be a JSON object"),
        ('{"XYZ": "whole"}', "'XYZ' is not an ISO 4217"),
        ('{"EUR": "0.999"}', r"FX_PRICE_ENDINGS\[EUR\]"),
        ('{"EUR": 5}', "FX_PRICE_ENDINGS must be a JSON object"),
    ],
)
def test_a_bad_fx_price_ending_refuses_to_start_naming_it(endings: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env({"FX_PRICE_ENDINGS": endings})


def test_fx_conversion_and_its_endings_are_read() -> None:
    settings = Settings.from_env({"FX_CONVERSION": "true", "FX_PRICE_ENDINGS": '{"JPY": "whole", "EUR": "0.99"}'})
    assert settings.fx_conversion is True
    assert settings.price_endings() == {"JPY": "whole", "EUR": "0.99"}
    assert Settings.from_env({}).price_endings() == {}


def test_tax_calculation_may_round_once_per_invoice() -> None:
    assert Settings.from_env({"TAX_CALCULATION": "INVOICE"}).tax_calculation == "INVOICE"
    with pytest.raises(ConfigError, match="TAX_CALCULATION"):
        Settings.from_env({"TAX_CALCULATION": "BASKET"})
