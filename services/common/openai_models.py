"""GET /v1/models and /v1/models/{id} in OpenAI's shape, for a service that lists the models it serves."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from services.common.auth import IdentityDep
from services.common.errors import NotFound


class Model(BaseModel):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = "voicefleet"


class ModelList(BaseModel):
    object: str = "list"
    data: list[Model]


def add_model_routes(router: APIRouter, listing: Callable[..., list[str]], what: str) -> None:
    """`listing`: a dependency that returns the model names the service answers to."""
    Names = Annotated[list[str], Depends(listing)]

    @router.get("/models", summary=f"The {what} models (OpenAI-compatible)", response_model=ModelList)
    async def models(names: Names, _: IdentityDep) -> ModelList:
        return ModelList(data=[Model(id=name) for name in names])

    @router.get("/models/{model_id:path}", summary=f"One {what} model (OpenAI-compatible)", response_model=Model)
    async def model(names: Names, _: IdentityDep, model_id: str) -> Model:
        if model_id not in names:
            raise NotFound(f"no model {model_id!r} here (GET /v1/models lists them)")
        return Model(id=model_id)
