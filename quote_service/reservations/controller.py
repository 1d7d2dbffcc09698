"""HTTP: GET and DELETE /api/v1/quotes/{quote_id}/reservation."""

from __future__ import annotations

from uuid import UUID

from litestar import delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from quote_service.auth.guards import any_caller
from quote_service.reservations.schemas import Reservation
from quote_service.reservations.service import Reservations
from quote_service.web.deps import AuthedRequest
from quote_service.web.envelope import Envelope, ok


@get(
    "/api/v1/quotes/{quote_id:uuid}/reservation",
    guards=[any_caller],
    tags=["quotes"],
    summary="The stock a quote holds (reserve_stock) and its status: held, consumed, released, expired or replaced",
)
async def get_reservation(
    quote_id: FromPath[UUID], request: AuthedRequest, reservations: NamedDependency[Reservations]
) -> Envelope[Reservation]:
    return ok(await reservations.get(quote_id, request.user))


@delete(
    "/api/v1/quotes/{quote_id:uuid}/reservation",
    status_code=200,
    guards=[any_caller],
    tags=["quotes"],
    summary="Release the stock a quote holds (the caller that made the quote, or an admin)",
)
async def release_reservation(
    quote_id: FromPath[UUID], request: AuthedRequest, reservations: NamedDependency[Reservations]
) -> Envelope[Reservation]:
    reservation = await reservations.release(quote_id, request.user)
    return ok(reservation, "Reservation released" if reservation.status == "released" else "Reservation not held")
