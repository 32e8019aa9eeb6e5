"""The meters app's models, one module per subject; Django finds them all through this package."""

from meters.models.reads import (
    IntervalDay,
    IntervalDayVersion,
    ReadFile,
    ReadFileBatch,
    ReadRejection,
    RegisterRead,
)
from meters.models.registry import (
    AmiHeadend,
    BillingAgent,
    BillingCycle,
    CommodityRateClass,
    EffectiveDated,
    Meter,
    MeterInstallation,
    RateClass,
    SdpBillingAgent,
    SdpHeadend,
    SdpTerms,
    ServiceDeliveryPoint,
    new_public_id,
)
from meters.models.seals import SamplingLot, SamplingPlanRow, SealPeriod
from meters.models.vee import VeeException, VeeFailure, VeeSettings

__all__ = [
    "SamplingLot",
    "SamplingPlanRow",
    "SealPeriod",
    "AmiHeadend",
    "BillingAgent",
    "BillingCycle",
    "CommodityRateClass",
    "EffectiveDated",
    "IntervalDay",
    "IntervalDayVersion",
    "Meter",
    "MeterInstallation",
    "RateClass",
    "ReadFile",
    "ReadFileBatch",
    "ReadRejection",
    "RegisterRead",
    "SdpBillingAgent",
    "SdpHeadend",
    "SdpTerms",
    "ServiceDeliveryPoint",
    "VeeException",
    "VeeFailure",
    "VeeSettings",
    "new_public_id",
]
