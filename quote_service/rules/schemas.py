"""Pricing-rule payloads, and the per-type validation of `configuration`.

`configuration` arrives as a JSON object and is converted into the tagged union of
`quote_service.pricing.rules` (tag = the rule's `type`). When that fails, every field is
examined on its own so that the 422 lists each bad value, not only the first.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.catalog.schemas import ExternalId
from quote_service.errors import FieldError
from quote_service.pricing import money, rules
from quote_service.pricing.local_time import zone_problem
from quote_service.pricing.rules import RuleConfig, RuleType
from quote_service.structs import Frozen, Strict
from quote_service.validation import DECIMAL_RULE, Instant, loose_decimals

RuleName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Region = Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="City or ISO country code.")]
Priority = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]
Configuration = Annotated[
    dict[str, Any],
    msgspec.Meta(description="Fields of the rule's `type` (docs/pricing.md); unknown keys are refused."),
]


class _RuleFields(Strict):
    type: RuleType
    configuration: Configuration
    effective_from: Instant
    effective_to: Instant | None = None
    region: Region | None = None
    product_id: UUID | None = None
    category_id: ExternalId | None = None
    priority: Priority = 0
    exclusive: bool = False
    is_active: bool = True


class PricingRuleCreate(_RuleFields):
    """POST: version 1 of a new rule name."""

    name: RuleName


class PricingRuleUpdate(_RuleFields):
    """PUT: the whole definition of the next version; the name stays the rule's own."""

    name: RuleName | None = None
    """Optional; when given it must be the rule's name (a new name is a new rule: POST)."""
    expected_version: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """When given, the latest version must still be this one (else 409 VERSION_CONFLICT)."""


class PricingRulePatch(Strict):
    """PATCH: the next version is the latest one with the fields sent changed (each replaces the
    whole value: send the whole `configuration`), checked whole like a PUT."""

    type: RuleType | UnsetType = UNSET
    configuration: Configuration | UnsetType = UNSET
    effective_from: Instant | UnsetType = UNSET
    effective_to: Instant | UnsetType | None = UNSET
    region: Region | UnsetType | None = UNSET
    product_id: UUID | UnsetType | None = UNSET
    category_id: ExternalId | UnsetType | None = UNSET
    priority: Priority | UnsetType = UNSET
    exclusive: bool | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    name: RuleName | UnsetType = UNSET
    """When sent, it must be the rule's name."""
    expected_version: Annotated[int, msgspec.Meta(ge=1)] | UnsetType = UNSET
    """When sent, the latest version must still be this one (else 409 VERSION_CONFLICT)."""


class PricingRuleVersion(Frozen):
    """One immutable version of a rule, as the API shows it."""

    id: UUID
    name: str
    version: int
    type: RuleType
    configuration: dict[str, Any]
    region: str | None
    product_id: UUID | None
    category_id: str | None
    priority: int
    exclusive: bool
    effective_from: datetime
    effective_to: datetime | None
    is_active: bool
    created_by: str
    created_at: datetime | None
    retired_at: datetime | None


def _plain(value: Any, *, text: bool) -> Any:
    if isinstance(value, Decimal):
        plain = format(value, "f")  # "1000", never "1E+3"
        return plain if text else Decimal(plain)
    if isinstance(value, dict):
        return {key: _plain(item, text=text) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, text=text) for item in value]
    return value


def configuration_json(config: RuleConfig, *, text: bool = True) -> dict[str, Any]:
    """A configuration as JSON values, without the `type` tag: amounts as plain decimal strings
    (as stored), or as Decimals without an exponent (`text=False`: as the API shows them, so an
    X-Money-Format: number answer writes them as numbers)."""
    data: dict[str, Any] = _plain(msgspec.to_builtins(config, builtin_types=(Decimal,)), text=text)
    data.pop("type", None)
    return data


def version_of(rule: rules.PricingRule) -> PricingRuleVersion:
    return PricingRuleVersion(
        id=rule.id,
        name=rule.name,
        version=rule.version,
        type=rule.type,
        configuration=configuration_json(rule.configuration, text=False),
        region=rule.region,
        product_id=rule.product_id,
        category_id=rule.category_id,
        priority=rule.priority,
        exclusive=rule.exclusive,
        effective_from=rule.effective_from,
        effective_to=rule.effective_to,
        is_active=rule.is_active,
        created_by=rule.created_by,
        created_at=rule.created_at,
        retired_at=rule.retired_at,
    )


# --- configuration ------------------------------------------------------------------------------

_AT = re.compile(r"^(?P<message>.*?)(?: - at `(?:(?P<key>key) in )?(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED = re.compile(r"^Object (?:contains unknown|missing required) field `([^`]+)`$")


class _Found(msgspec.Struct):
    """Problems of one value: wrong shapes (the type) and values out of range (DecimalRange)."""

    shape: list[FieldError] = msgspec.field(default_factory=list)
    values: list[FieldError] = msgspec.field(default_factory=list)

    def add(self, other: _Found) -> None:
        self.shape.extend(other.shape)
        self.values.extend(other.values)


def _mapped(exc: msgspec.ValidationError, path: str) -> FieldError:
    """A msgspec error at `$...` as a FieldError under `path` (`$.base_fee` -> `<path>.base_fee`)."""
    found = _AT.match(str(exc))
    assert found is not None  # the pattern matches every string
    message, where = found["message"], (found["path"] or "$")
    field = path + where[1:].replace("[...]", "")
    named = _NAMED.match(message)
    if named:
        field = f"{field}.{named.group(1)}"
        message = "unknown field" if "unknown" in message else "required field missing"
    elif found["key"]:
        message = f"key: {message}"
    elif message.startswith("Expected `str` matching regex") and field.endswith(".code"):  # a tax component's
        message = "must be 1 to 16 of A-Z, 0-9 and _, starting with a letter (e.g. KDV)"
    elif message.startswith("Expected `str` matching regex"):  # ClockTime's pattern, or a fee's currency
        is_currency = field.endswith(".currency")
        message = "must be an ISO 4217 currency code" if is_currency else "must be a UTC time HH:MM (00:00 to 23:59)"
    return FieldError(field, message)


def _unwrap(tp: Any, value: Any) -> tuple[Any, list[Any]]:
    """The type a value must have without `Annotated` and (for a non-null value) `| None`, and the metadata."""
    metadata: list[Any] = []
    while True:
        if get_origin(tp) is Annotated:
            metadata.extend(tp.__metadata__)
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, UnionType) and value is not None:
            options = [arg for arg in get_args(tp) if arg is not NoneType]
            if len(options) != 1:
                return tp, metadata
            tp = options[0]
        else:
            return tp, metadata


def _struct_problems(struct: type[msgspec.Struct], value: dict[str, Any], path: str) -> _Found:
    fields = {field.encode_name: field for field in msgspec.structs.fields(struct)}
    tag_field = struct.__struct_config__.tag_field
    found = _Found(shape=[FieldError(f"{path}.{key}", "unknown field") for key in value if key not in fields])
    found.shape = [e for e in found.shape if e.field != f"{path}.{tag_field}"]
    for name, field in fields.items():
        if name in value:
            found.add(_problems(field.type, value[name], f"{path}.{name}"))
        elif field.required:
            found.shape.append(FieldError(f"{path}.{name}", "required field missing"))
    return found


def _problems(tp: Any, value: Any, path: str) -> _Found:
    """Every problem of `value` as a `tp`, each at its own path."""
    inner, metadata = _unwrap(tp, value)
    found = _Found()
    if isinstance(inner, type) and issubclass(inner, msgspec.Struct) and isinstance(value, dict):
        found.add(_struct_problems(inner, value, path))
    elif get_origin(inner) in (tuple, list) and isinstance(value, list):
        item = get_args(inner)[0]
        for i, element in enumerate(value):
            found.add(_problems(item, element, f"{path}[{i}]"))
    elif get_origin(inner) is dict and isinstance(value, dict):
        key_type, value_type = get_args(inner)
        for key, element in value.items():
            found.add(_problems(key_type, key, f"{path}.{key}"))
            found.add(_problems(value_type, element, f"{path}.{key}"))
    try:
        converted = msgspec.convert(value, tp)
    except msgspec.ValidationError as exc:
        if not found.shape:  # the container itself (its length, its kind) or a leaf
            found.shape.append(_mapped(exc, path))
        return found
    for bounds in metadata:
        if isinstance(bounds, rules.DecimalRange) and converted is not None:
            problem = bounds.problem(converted)
            if problem:
                found.values.append(FieldError(path, problem))
    return found


def _relation_problems(config: RuleConfig, path: str) -> list[FieldError]:
    """Orderings between fields, checked once every field is well-formed and in range."""
    errors: list[FieldError] = []
    currency = getattr(config, "currency", None)  # a fee's (docs/markets.md#default-fees-have-a-currency)
    if isinstance(currency, str) and not money.is_currency(currency.upper()):
        errors.append(FieldError(f"{path}.currency", "not an ISO 4217 currency code"))
    fees = config if isinstance(config, rules.DeliveryFeeConfig | rules.ExpressFeeConfig) else None
    if fees and fees.max_fee is not None and fees.base_fee is not None and fees.max_fee < fees.base_fee:
        errors.append(FieldError(f"{path}.max_fee", "must be >= base_fee"))
    if isinstance(config, rules.DeliveryFeeConfig):
        bands = config.distance_bands or ()
        errors += [
            FieldError(f"{path}.distance_bands[{i}].max_km", "bands must ascend by max_km")
            for i in range(1, len(bands))
            if bands[i].max_km <= bands[i - 1].max_km
        ]
    elif isinstance(config, rules.TimeWindowConfig):
        days = config.days_of_week or ()
        if len(set(days)) != len(days):
            errors.append(FieldError(f"{path}.days_of_week", "must not repeat a day"))
        zone_error = None if config.timezone is None else zone_problem(config.timezone)
        if zone_error:
            errors.append(FieldError(f"{path}.timezone", zone_error))
        if config.start_time == config.end_time:  # half-open: [08:00, 08:00) holds no minute
            empty = "an empty window: equal times hold no minute (22:00-02:00 crosses midnight; 00:00-24:00 is all day)"
            errors += [FieldError(f"{path}.start_time", f"equals end_time: {empty}"),
                       FieldError(f"{path}.end_time", f"equals start_time: {empty}")]  # fmt: skip
    elif isinstance(config, rules.QuantityTierConfig):
        tiers = config.tiers
        errors += [
            FieldError(f"{path}.tiers[{i}].min_quantity", "tiers must ascend by min_quantity")
            for i in range(1, len(tiers))
            if tiers[i].min_quantity <= tiers[i - 1].min_quantity
        ]
    elif isinstance(config, rules.UserTierConfig):
        seen: set[str] = set()
        for tier_name in config.tiers:
            folded = tier_name.strip().casefold()
            if not folded or folded in seen:
                errors.append(FieldError(f"{path}.tiers.{tier_name}", "tier names must be non-blank and distinct"))
            seen.add(folded)
    elif isinstance(config, rules.TaxRateConfig):
        errors += _tax_rate_problems(config, path)
    elif isinstance(config, rules.InventoryLevelConfig) and config.low_threshold >= config.high_threshold:
        errors.append(FieldError(f"{path}.low_threshold", "must be less than high_threshold"))
    return errors


def _tax_rate_problems(config: rules.TaxRateConfig, path: str) -> list[FieldError]:
    """Exactly one of `rate` and `components`; component codes distinct (docs/taxes.md#compound-taxes)."""
    if (config.rate is None) == (config.components is None):
        message = "give exactly one of rate and components"
        return [FieldError(f"{path}.rate", message), FieldError(f"{path}.components", message)]
    seen: set[str] = set()
    errors = []
    for at, component in enumerate(config.components or ()):
        if component.code in seen:
            errors.append(FieldError(f"{path}.components[{at}].code", "codes must be distinct within the rule"))
        seen.add(component.code)
    return errors


def parse_configuration(
    rule_type: RuleType, raw: dict[str, Any], path: str = "configuration"
) -> tuple[RuleConfig | None, list[FieldError]]:
    """The typed configuration of a `rule_type` rule, or None and every problem found."""
    errors: list[FieldError] = []
    if "type" in raw:  # it would override the tag: the type is the rule's, given at the top level
        errors.append(FieldError(f"{path}.type", "unknown field"))
        raw = {key: value for key, value in raw.items() if key != "type"}
    found = _struct_problems(rules.CONFIG_TYPES[rule_type], raw, path)
    errors += found.shape + found.values
    errors += [FieldError(at, DECIMAL_RULE) for at in loose_decimals(raw, rules.CONFIG_TYPES[rule_type], path)]
    if errors:
        return None, errors
    config: RuleConfig = msgspec.convert({"type": rule_type, **raw}, RuleConfig)
    errors = _relation_problems(config, path)
    return (None if errors else config), errors
