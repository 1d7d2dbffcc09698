"""Stored quotes, compressed with a zstd dictionary trained on this deployment's own quotes.

A quote's JSON is ~4-6 KB for a 3-line basket, and Redis keeps it for its whole validity. Most
of it repeats from quote to quote: field names, and this deployment's rule ids and names, rate
ids, categories, sellers, step descriptions. A dictionary shipped with the code knows only the
field names (a 3-line demo quote still took ~890 B); one trained on the deployment's own recent
quotes knows the rest too (~470 B), and training one on 64 quotes takes ~13 ms of CPU.
Compressing a quote's JSON with it costs ~6-9 µs in a hot loop, up to ~25 µs in place (the
compressor's tables leave the CPU's caches between quotes); the JSON itself is encoded anyway for the
response (docs/hot-path.md#stored-quotes-and-their-bytes).

A stored value is either
- JSON (`{...}`): what a process without a dictionary yet, or an older release, wrote; or
- FORMAT (one byte), the dictionary's 8-byte id, then a zstd frame of the quote's JSON.

Each process trains its own dictionary from the last quotes it answered, once it has
MIN_SAMPLES of them and again every RETRAIN_SECONDS, and publishes it in Redis
(`qs:quote-dict:{id}`, the id a hash of its bytes) before it compresses a quote with it. A
process that meets an id it lacks reads that key once and keeps the dictionary. A dictionary's
key expires DICTIONARY_MARGIN_SECONDS after the latest `valid_until` packed while it was in use
(renewed by `DictionaryKeeper` every KEEP_SECONDS), so it outlives its quotes; the group commit
also asks whether it is still there and publishes it again before answering when Redis lost it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Callable
from typing import cast

import structlog
import zstandard

from quote_service.background import BackgroundLoop
from quote_service.cache.redis import RedisClient

log = structlog.get_logger("quote_service.quotes.compact")

FORMAT = 1
"""The first byte of a compressed quote (JSON starts with `{`, 123)."""
_ID_BYTES = 8
_HEADER = 1 + _ID_BYTES
MIN_SAMPLES = 64
"""Quotes a process answers before it trains its first dictionary, and how many recent ones each
dictionary is trained on: 16 were already enough for a 3-line demo basket (fewer than ~10 give a
dictionary that barely helps), and 256 compressed no better."""
DICTIONARY_BYTES = 16_384
_SEGMENT, _DMER = 1024, 8
"""zstd's COVER parameters (k, d), given rather than searched for: the search took ~35 ms of CPU
on 64 quotes and ~66 ms on 256, holding up the event loop; these take ~13 ms for the same bytes."""
_TABLE_LOG = 12
"""zstd's level 3 (its default: the double-fast strategy), but with smaller match tables: log2 of
the entries in each of the compressor's two match tables. Level 3 sizes them for the
input and the dictionary together (2^14-2^15 entries); at 2^12 (16 KB each) a quote compresses to
the same size (~518 B for a 3-line basket, 200 quotes) and costs less in place, where the tables
have left the CPU's caches since the last batch: ~10 against ~13-16 µs (hot: ~7 both;
docs/hot-path.md#stored-quotes-and-their-bytes). The window still follows the level and the size."""
_PARAMETERS = zstandard.ZstdCompressionParameters(
    strategy=zstandard.STRATEGY_DFAST,
    hash_log=_TABLE_LOG,
    chain_log=_TABLE_LOG,
    search_log=1,
    min_match=5,
    write_checksum=0,
    write_dict_id=0,
)


def compressor(dictionary: bytes) -> zstandard.ZstdCompressor:
    """The compressor quotes are packed with, for a dictionary's bytes."""
    return zstandard.ZstdCompressor(compression_params=_PARAMETERS, dict_data=zstandard.ZstdCompressionDict(dictionary))


TRAIN_ON_LOOP_BYTES = 1 << 20
"""Samples up to this many bytes in all are trained on the event loop (~5 ms at most); more go to a
worker thread. zstd releases the GIL while it trains and its time follows the samples' bytes: 64
whole 200-line marketplace quotes (~9 MB) took ~40 ms, 1,000-line ones ~310 ms, a stall every
quote waiting on the loop felt. The thread leaves the loop only the samples' copy into one buffer
(~8 ms for ~45 MB). Smaller samples stay on the loop: in a thread, 3-line baskets' ~13 ms training
held the loop up longer on a busy machine (the thread waits for a core while holding the GIL)."""

RETRAIN_SECONDS = 3600.0
"""A dictionary's age before the next is trained from newer quotes (configuration moves on)."""
KEEP_SECONDS = 60.0
DICTIONARY_MARGIN_SECONDS = 3600.0
"""How long a dictionary's key outlives the last `valid_until` it was used for, as last
reported: far more than KEEP_SECONDS, so a quote compressed between two reports is covered."""
_KNOWN_LIMIT = 256


def dictionary_key(dictionary_id: bytes) -> str:
    return f"qs:quote-dict:{dictionary_id.hex()}"


class _Dictionary:
    """One trained dictionary: its id, its bytes and a compressor."""

    def __init__(self, data: bytes) -> None:
        self.id = hashlib.blake2b(data, digest_size=_ID_BYTES).digest()
        self.data = data
        self.compressor = compressor(data)
        self.prefix = bytes([FORMAT]) + self.id


class QuoteCodec:
    """Packs a quote's JSON for Redis and unpacks it again; one per process (the store's)."""

    def __init__(self, redis: RedisClient, *, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._clock = clock
        self._samples: deque[bytes] = deque(maxlen=MIN_SAMPLES)
        self._current: _Dictionary | None = None
        self._trained_at = float("-inf")
        self._known: dict[bytes, zstandard.ZstdDecompressor] = {}
        self._horizon = 0.0
        """The latest `valid_until` (UNIX time) packed so far: every dictionary used until now
        must outlive it."""
        self.on_enough_samples: Callable[[], None] | None = None
        """Called once, when the first dictionary can be trained (the keeper's `wake`)."""

    @property
    def dictionary_id(self) -> bytes | None:
        """The id of the dictionary new quotes are compressed with (None: stored as JSON)."""
        return self._current.id if self._current else None

    @property
    def dictionary_key(self) -> str | None:
        """The Redis key of the dictionary new quotes are compressed with (None: stored as JSON)."""
        return dictionary_key(self._current.id) if self._current else None

    async def publish_again(self) -> None:
        """Put the current dictionary back (Redis restarted empty, or evicted it)."""
        if self._current is not None:
            log.warning("quote_dictionary_published_again", dictionary=self._current.id.hex())
            await self._publish(self._current, self._expiry())

    def reset(self) -> None:
        """Forget the samples and dictionaries, as a codec that has just started (a started app
        the tests reuse, after they emptied Redis)."""
        self._samples.clear()
        self._current = None
        self._trained_at = float("-inf")
        self._known.clear()
        self._horizon = 0.0

    def pack(self, quote_json: bytes, valid_until: float) -> bytes:
        """The value to store for a quote whose JSON is `quote_json` (kept as a training sample)."""
        self._samples.append(quote_json)
        if valid_until > self._horizon:
            self._horizon = valid_until
        current = self._current
        if current is None:
            if len(self._samples) == MIN_SAMPLES and self.on_enough_samples is not None:
                self.on_enough_samples()
            return quote_json
        return current.prefix + current.compressor.compress(quote_json)

    async def unpack(self, stored: bytes) -> bytes | None:
        """The quote's JSON from a stored value; None when its dictionary is gone (never while the
        quote is valid, unless Redis lost keys)."""
        if stored[:1] != b"\x01":
            return stored  # JSON
        dictionary_id = stored[1:_HEADER]
        decompressor = self._known.get(dictionary_id) or await self._fetch(dictionary_id)
        if decompressor is None:
            log.error("quote_dictionary_missing", dictionary=dictionary_id.hex())
            return None
        return decompressor.decompress(stored[_HEADER:])

    async def _fetch(self, dictionary_id: bytes) -> zstandard.ZstdDecompressor | None:
        data = cast(bytes | None, await self._redis.get(dictionary_key(dictionary_id)))
        if data is None:
            return None
        return self._learn(dictionary_id, data)

    def _learn(self, dictionary_id: bytes, data: bytes) -> zstandard.ZstdDecompressor:
        if len(self._known) >= _KNOWN_LIMIT:  # ids of processes long gone: start over
            self._known.clear()
        decompressor = zstandard.ZstdDecompressor(dict_data=zstandard.ZstdCompressionDict(data))
        self._known[dictionary_id] = decompressor
        return decompressor

    def due(self) -> bool:
        """Whether a (new) dictionary should be trained now."""
        if len(self._samples) < MIN_SAMPLES:
            return False
        return self._current is None or self._clock() - self._trained_at >= RETRAIN_SECONDS

    async def train(self) -> bool:
        """Train a dictionary on the latest quotes, publish it, then use it; False when zstd could not
        train one (too alike samples): quotes go on as they were."""
        samples: list[bytes | bytearray | memoryview] = list(self._samples)
        try:
            if sum(len(sample) for sample in samples) <= TRAIN_ON_LOOP_BYTES:
                trained = zstandard.train_dictionary(DICTIONARY_BYTES, samples, k=_SEGMENT, d=_DMER)
            else:  # big baskets: off the loop (TRAIN_ON_LOOP_BYTES)
                trained = await asyncio.to_thread(
                    zstandard.train_dictionary, DICTIONARY_BYTES, samples, k=_SEGMENT, d=_DMER
                )
        except zstandard.ZstdError as exc:
            log.info("quote_dictionary_not_trained", samples=len(samples), error=str(exc))
            return False
        fresh = _Dictionary(trained.as_bytes())
        # Published (and acknowledged) before the first quote is compressed with it.
        await self._publish(fresh, self._expiry())
        self._learn(fresh.id, fresh.data)
        previous, self._current, self._trained_at = self._current, fresh, self._clock()
        if previous is not None:  # its last quotes were packed just now
            await self._keep(previous)
        log.info("quote_dictionary_trained", dictionary=fresh.id.hex(), samples=len(samples))
        return True

    async def keep(self) -> None:
        """Make the current dictionary's key outlive every quote compressed with it so far."""
        if self._current is not None:
            await self._keep(self._current)

    def _expiry(self) -> float:
        """When a dictionary in use now may expire: well after the latest `valid_until` packed
        (new quotes' `valid_until` move on with the clock; the keeper reports every KEEP_SECONDS)."""
        return max(self._horizon, self._clock()) + DICTIONARY_MARGIN_SECONDS

    async def _keep(self, dictionary: _Dictionary) -> None:
        until = self._expiry()
        if not await self._redis.pexpireat(dictionary_key(dictionary.id), int(until * 1000)):
            await self._publish(dictionary, until)  # lost (Redis restarted empty): put it back

    async def _publish(self, dictionary: _Dictionary, until: float) -> None:
        await self._redis.set(dictionary_key(dictionary.id), dictionary.data, pxat=int(until * 1000))


class DictionaryKeeper(BackgroundLoop):
    """Trains the codec's dictionary when due and keeps its key alive (every KEEP_SECONDS; at once
    when the first dictionary can be trained)."""

    task_name = "quote-dictionary"
    failure_event = "quote_dictionary_failed"
    interval = KEEP_SECONDS
    max_backoff = 600.0

    def __init__(self, codec: QuoteCodec) -> None:
        self._codec = codec
        codec.on_enough_samples = self.wake

    async def run_pass(self) -> None:
        if self._codec.due():
            await self._codec.train()
        await self._codec.keep()
