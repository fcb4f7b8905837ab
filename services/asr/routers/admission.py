"""Admission of file requests: a route refuses with 503 + Retry-After before the body is read when
the model's queue is full, and a request takes its place once its body is in, before anything of it
is decoded (a slow upload holds no place)."""

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from services.asr.dependencies import AsrDep, get_asr
from services.common.workers import Place


class AdmittedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()  # reads the body, then calls the endpoint

        async def refuse_early_then_handle(request: Request) -> Response:
            getter = request.app.dependency_overrides.get(get_asr, get_asr)  # a test's swap counts here too
            getter(request).requests.check()  # ServiceBusy: 503 by the error handlers
            return await handle(request)

        return refuse_early_then_handle


async def take_place(asr: AsrDep) -> AsyncIterator[Place]:
    """The request's place until it is answered; its jobs run in the place's order."""
    with asr.requests.acquire() as place:
        yield place


PlaceDep = Annotated[Place, Depends(take_place, scope="function")]
