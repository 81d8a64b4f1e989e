"""What a video costs: a model family's price (config/model-profiles.toml) applied to what is sent.

A price is per second of video and/or per video, in one currency, with overrides by size. An estimate
needs every number its price uses: a per-second price with no length known is no estimate, and a model
with no price has none: "price unknown", never zero."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Price:
    currency: str
    per_second: float | None = None
    per_video: float | None = None
    by_size: dict = field(default_factory=dict, hash=False)  # "WxH" -> (per_second, per_video), over the above

    def for_size(self, size: str | None) -> tuple[float | None, float | None]:
        if size and size in self.by_size:
            per_second, per_video = self.by_size[size]
            return (
                per_second if per_second is not None else self.per_second,
                per_video if per_video is not None else self.per_video,
            )
        return self.per_second, self.per_video

    def as_json(self) -> dict:
        return {
            "currency": self.currency,
            "per_second": self.per_second,
            "per_video": self.per_video,
            "by_size": {size: list(pair) for size, pair in self.by_size.items()},
        }


@dataclass(frozen=True)
class Estimate:
    amount: float
    currency: str
    seconds: float | None
    size: str | None
    videos: int

    def as_dict(self) -> dict:
        return {
            "amount": self.amount,
            "currency": self.currency,
            "seconds": self.seconds,
            "size": self.size,
            "videos": self.videos,
        }


def estimate(price: Price | None, seconds: float | None, size: str | None, videos: int | None) -> Estimate | None:
    """What sending this would cost at this price, or None when it cannot be told."""
    if price is None:
        return None
    per_second, per_video = price.for_size(size)
    if per_second is None and per_video is None:
        return None
    if per_second is not None and not seconds:
        return None  # priced by the second, and the length is the API's default: unknown
    count = max(1, int(videos or 1))
    amount = ((per_video or 0.0) + (per_second or 0.0) * float(seconds or 0)) * count
    return Estimate(round(amount, 4), price.currency, float(seconds) if seconds else None, size, count)
