"""Monthly S3 cost estimate: pure arithmetic on what the registry knows.

The stats page shows, per company, storage (bytes of the objects in S3), PUT
requests (files uploaded in the last 30 days), LIST requests (the pipeline's own
listings) and GET/HEAD requests (keys found already taken), priced with the seed
guide's us-east-1 list prices unless Variable ``ov_s3_prices`` overrides them,
next to the guide's own estimate for 1,000 PQRs a day.

One correction to the guide: it lists PUT/COPY/POST at "$0.0005 por 1,000
requests"; AWS's us-east-1 price for S3 Standard PUT, COPY, POST and LIST is
$0.005 per 1,000 (ten times more). The default here is $0.005;
``{"put_per_1000": 0.0005}`` in ``ov_s3_prices`` reproduces the guide.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

GB = 1024**3
"""AWS bills storage in GB-months of 2^30 bytes."""
DAYS = 30
RECONCILE_RUNS_PER_DAY = 19
"""``ov_s3_reconcile`` runs hourly 04:00–22:00 (``0 4-22 * * *``): one listing per run."""
DAILY_PREFLIGHTS = 1
"""``upload_s3`` lists one key (``MaxKeys=1``) before uploading: one LIST a day."""
LIST_PAGE = 1000
"""ListObjectsV2 returns at most 1,000 keys per request."""


@dataclass(frozen=True)
class Prices:
    """USD, us-east-1, S3 Standard (the seed guide's "Costos Estimados", PUT corrected)."""

    storage_gb_month: float = 0.023
    """Standard, per GB-month (guide: "$0.023 por GB/mes")."""
    storage_ia_gb_month: float = 0.0125
    """Standard-IA (guide: "$0.0125 por GB/mes"); shown for reference."""
    storage_glacier_gb_month: float = 0.004
    """Glacier (guide: "$0.004 por GB/mes"); shown for reference."""
    put_per_1000: float = 0.005
    """PUT, COPY, POST and LIST (guide: "$0.0005 por 1,000", a tenth of AWS's price)."""
    get_per_1000: float = 0.0004
    """GET, HEAD, SELECT (guide: "$0.0004 por 1,000")."""

    @classmethod
    def from_json(cls, text: str | None) -> Prices:
        """Defaults overridden by the keys of a JSON object (Variable ``ov_s3_prices``)."""
        if text is None or not text.strip():
            return cls()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"Variable ov_s3_prices is not JSON ({exc.msg})") from None
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict):
            raise ValueError("Variable ov_s3_prices must be a JSON object, e.g. "
                             '{"put_per_1000": 0.005}')
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Variable ov_s3_prices has unknown key(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"Variable ov_s3_prices: {key} must be a number >= 0")
        return cls(**{k: float(v) for k, v in data.items()})

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Usage:
    """What one company uses in a month."""

    stored_bytes: int
    stored_objects: int
    puts: int
    lists: int
    gets: int


@dataclass(frozen=True)
class Estimate:
    usage: Usage
    storage_usd: float
    put_usd: float
    list_usd: float
    get_usd: float

    @property
    def requests_usd(self) -> float:
        return self.put_usd + self.list_usd + self.get_usd

    @property
    def total_usd(self) -> float:
        return self.storage_usd + self.requests_usd

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self.usage), "storage_usd": self.storage_usd, "put_usd": self.put_usd,
                "list_usd": self.list_usd, "get_usd": self.get_usd,
                "requests_usd": self.requests_usd, "total_usd": self.total_usd}


def lists_per_month(objects: int, *, days: int = DAYS) -> int:
    """The pipeline's LIST requests for one company: each reconcile run lists the
    company's prefix (one request per 1,000 keys), the daily upload lists one key."""
    pages = max(1, math.ceil(objects / LIST_PAGE))
    return days * (RECONCILE_RUNS_PER_DAY * pages + DAILY_PREFLIGHTS)


def usage(*, stored_bytes: int, stored_objects: int, uploaded_last_30_days: int,
          found_taken_last_30_days: int) -> Usage:
    """A company's monthly usage from the registry: PUTs are the files uploaded in the last
    30 days; GET/HEAD are the keys found already taken (each cost a HEAD)."""
    return Usage(stored_bytes=stored_bytes, stored_objects=stored_objects,
                 puts=uploaded_last_30_days, lists=lists_per_month(stored_objects),
                 gets=found_taken_last_30_days)


def estimate(used: Usage, prices: Prices) -> Estimate:
    """Storage as if every byte were in S3 Standard (an upper bound: the lifecycle rule
    moves objects over 128 KiB to cheaper classes after 30 days)."""
    return Estimate(
        usage=used,
        storage_usd=used.stored_bytes / GB * prices.storage_gb_month,
        put_usd=used.puts / 1000 * prices.put_per_1000,
        list_usd=used.lists / 1000 * prices.put_per_1000,
        get_usd=used.gets / 1000 * prices.get_per_1000,
    )


def total(estimates: list[Estimate]) -> Estimate:
    """All companies together."""
    used = Usage(*(sum(getattr(e.usage, f.name) for e in estimates) for f in fields(Usage)))
    return Estimate(used, sum(e.storage_usd for e in estimates),
                    sum(e.put_usd for e in estimates), sum(e.list_usd for e in estimates),
                    sum(e.get_usd for e in estimates))


GUIDE_SOURCE = "aws-s3-produccion.md, «Estimación Mensual (1000 PQRs/día)»"
GUIDE_QUOTE = ("Archivos: ~30,000 archivos/mes · Tamaño: ~3 GB/mes (100 KB promedio por "
               "archivo) · Costo Storage Standard: ~$0.07/mes · Costo Requests: ~$0.02/mes · "
               "Total estimado: ~$0.10/mes")
GUIDE_TOTAL_USD = 0.10


def guide_scenario(prices: Prices) -> Estimate:
    """The guide's month (30,000 files, 3 GB, as it counts: storage of one month's files
    and their PUTs) at ``prices``: $0.22 at AWS's prices, $0.08 at the guide's own."""
    return estimate(Usage(stored_bytes=3 * GB, stored_objects=30_000, puts=30_000, lists=0,
                          gets=0), prices)
