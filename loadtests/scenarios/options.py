"""The load test's own options: locust command-line arguments, each also read from a LOCUST_* variable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEMO_ADMIN = ("demo-admin", "quote-service-admin")  # quote_service/cli/demo.py
DEMO_SHOPPER = ("demo-shopper", "quote-service-shopper")

# (flag, env variable, type, default, help); the attribute is the flag without dashes.
_ARGUMENTS: tuple[tuple[str, str, type, Any, str], ...] = (
    ("--admin-username", "LOCUST_ADMIN_USERNAME", str, DEMO_ADMIN[0],
     "Admin login: creates API keys and a flash sale when needed, and drives the admin user. Empty: no admin."),
    ("--admin-password", "LOCUST_ADMIN_PASSWORD", str, DEMO_ADMIN[1], "Password of --admin-username."),
    ("--shopper-username", "LOCUST_SHOPPER_USERNAME", str, DEMO_SHOPPER[0],
     "A `user` account: --token-ratio of checkout users quote and order as it. Empty: API keys only."),
    ("--shopper-password", "LOCUST_SHOPPER_PASSWORD", str, DEMO_SHOPPER[1], "Password of --shopper-username."),
    ("--api-key", "LOCUST_API_KEY", str, "",
     "A service API key for checkout and flash traffic. Empty: create --api-keys keys with the admin login."),
    ("--api-keys", "LOCUST_API_KEYS", int, 4,
     "How many service keys to create (and revoke at the end) when --api-key is empty; the rate limit is per key."),
    ("--checkout-weight", "LOCUST_CHECKOUT_WEIGHT", int, 10, "Weight of CheckoutUser (quotes, orders). 0: none."),
    ("--flash-weight", "LOCUST_FLASH_WEIGHT", int, 3, "Weight of FlashSaleBuyer (purchase bursts). 0: none."),
    ("--admin-users", "LOCUST_ADMIN_USERS", int, 1, "Number of AdminUser (a fixed count, not a weight). 0: none."),
    ("--catalog-size", "LOCUST_CATALOG_SIZE", int, 100, "How many catalog products baskets draw from."),
    ("--order-ratio", "LOCUST_ORDER_RATIO", float, 0.15, "Share of quotes that become an order."),
    ("--fetch-quote-ratio", "LOCUST_FETCH_QUOTE_RATIO", float, 0.1, "Share of quotes read back with GET."),
    ("--token-ratio", "LOCUST_TOKEN_RATIO", float, 0.2, "Share of checkout users that use the shopper's token."),
    ("--think-min", "LOCUST_THINK_MIN", float, 0.5, "Checkout think time between baskets, minimum seconds."),
    ("--think-max", "LOCUST_THINK_MAX", float, 2.0, "Checkout think time between baskets, maximum seconds."),
    ("--coupons", "LOCUST_COUPONS", str, "WELCOME10,FREESHIP", "Coupon codes some baskets carry (comma-separated)."),
    ("--sale-id", "LOCUST_SALE_ID", str, "",
     "Flash sale to buy from. Empty: an active sale with stock left, else one created with the admin login."),
    ("--flash-burst", "LOCUST_FLASH_BURST", int, 5, "Purchases each buyer fires back to back in a burst."),
    ("--flash-interval", "LOCUST_FLASH_INTERVAL", float, 10.0,
     "Seconds between bursts; every buyer fires at the same wall-clock instants, so bursts coincide."),
    ("--flash-customers", "LOCUST_FLASH_CUSTOMERS", int, 300,
     "Distinct flash customers (fewer make PURCHASE_LIMIT_EXCEEDED more frequent)."),
    ("--flash-stock", "LOCUST_FLASH_STOCK", int, 40, "Units per product of a sale this test creates."),
    ("--admin-interval", "LOCUST_ADMIN_INTERVAL", float, 5.0,
     "Seconds between admin actions (cycle: new pricing-rule version, feature-flag flip, restock)."),
    ("--admin-flags", "LOCUST_ADMIN_FLAGS", str, "dynamic_pricing,checkout_banner",
     "Feature-flag keys the admin flips (BOOLEAN: value; other types: is_enabled)."),
    ("--restock-below", "LOCUST_RESTOCK_BELOW", int, 25, "The admin restocks products with less stock than this."),
)  # fmt: skip


def add_arguments(parser: Any) -> None:
    """Register the options with locust's parser (configargparse: `env_var` is honoured; they show in the web UI)."""
    for flag, env_var, kind, default, text in _ARGUMENTS:
        secret = flag.endswith(("-password", "-key"))
        parser.add_argument(flag, type=kind, env_var=env_var, default=default, help=text, is_secret=secret)
    parser.add_argument(
        "--no-cleanup",
        action="store_true",
        env_var="LOCUST_NO_CLEANUP",
        default=False,
        help="Keep what the test changed (rule versions, flag values, created sale and keys) when it stops.",
    )


@dataclass(frozen=True, kw_only=True)
class Settings:
    admin_username: str
    admin_password: str
    shopper_username: str
    shopper_password: str
    api_key: str
    api_keys: int
    checkout_weight: int
    flash_weight: int
    admin_users: int
    catalog_size: int
    order_ratio: float
    fetch_quote_ratio: float
    token_ratio: float
    think_min: float
    think_max: float
    coupons: tuple[str, ...]
    sale_id: str
    flash_burst: int
    flash_interval: float
    flash_customers: int
    flash_stock: int
    admin_interval: float
    admin_flags: tuple[str, ...]
    restock_below: int
    no_cleanup: bool

    @classmethod
    def from_options(cls, options: Any) -> Settings:
        """From locust's parsed options (defaults for anything missing, e.g. when run as a library)."""
        values: dict[str, Any] = {}
        for flag, _env, kind, default, _text in _ARGUMENTS:
            name = flag[2:].replace("-", "_")
            raw = getattr(options, name, default)
            values[name] = kind(raw if raw is not None else default)
        values["coupons"] = _names(values["coupons"], upper=True)
        values["admin_flags"] = _names(values["admin_flags"], upper=False)
        values["no_cleanup"] = bool(getattr(options, "no_cleanup", False))
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        def flag(name: str) -> str:
            return "--" + name.replace("_", "-")

        problems = [
            f"{flag(name)} must be in [0, 1]"
            for name in ("order_ratio", "fetch_quote_ratio", "token_ratio")
            if not 0 <= getattr(self, name) <= 1
        ]
        problems += [
            f"{flag(name)} must be >= 0"
            for name in ("checkout_weight", "flash_weight", "admin_users")
            if getattr(self, name) < 0
        ]
        problems += [
            f"{flag(name)} must be >= 1"
            for name in ("api_keys", "catalog_size", "flash_burst", "flash_customers", "flash_stock")
            if getattr(self, name) < 1
        ]
        if not 0 <= self.think_min <= self.think_max:
            problems.append("--think-min must be >= 0 and <= --think-max")
        if self.flash_interval <= 0 or self.admin_interval <= 0:
            problems.append("--flash-interval and --admin-interval must be > 0")
        if problems:
            raise ValueError("invalid load-test options: " + "; ".join(problems))


def _names(text: str, *, upper: bool) -> tuple[str, ...]:
    parts = (part.strip() for part in text.split(","))
    return tuple(part.upper() if upper else part for part in parts if part)
