"""Who a catalog request acts for, and which speakers and collections it may see and change.

With keys on, the user comes from the key (`Identity`), and a `user_id` parameter may only name the key's own
user (or, for reading, `default`: the shared items); an admin key may name anyone. Rows of another user are
not found (404), so ids cannot be probed; shared rows are read-only but to admin keys. With keys off, the
`user_id` parameter is trusted as before; without one, a row is looked up by its id alone (the API
reference's `PUT`/`DELETE /api/collections/{id}` snippets send none) and listings show the shared items."""

from dataclasses import dataclass

from services.catalog.builtin import SHARED_USER
from services.common.auth import Identity
from services.common.errors import InvalidInput


@dataclass(frozen=True)
class Caller:
    user_id: str  # whose rows a listing shows (with the shared ones); the owner of what is created
    everyone: bool  # every row is visible and changeable by id (keys off without user_id; admin keys)

    def sees(self, owner: str) -> bool:
        return self.everyone or owner in (SHARED_USER, self.user_id)

    def may_change(self, owner: str) -> bool:
        return self.everyone or owner == self.user_id


def reader(identity: Identity, requested: str | None) -> Caller:
    """For listings and lookups: `requested` is the `user_id` parameter, if any."""
    if not identity.authenticated:
        return Caller(requested or SHARED_USER, everyone=requested is None)
    if requested in (None, SHARED_USER, identity.user_id):
        return Caller(identity.user_id, everyone=identity.is_admin)
    return Caller(identity.owner(requested), everyone=True)  # Forbidden but for admin keys


def writer(identity: Identity, requested: str | None) -> Caller:
    """For changes: `requested` (the `user_id` parameter) must be the key's user unless the key is admin's."""
    if not identity.authenticated:
        return Caller(requested or SHARED_USER, everyone=requested is None)
    return Caller(identity.owner(requested), everyone=identity.is_admin)


def creator(identity: Identity, requested: str | None) -> str:
    """The owner of a new speaker or collection: the key's user (or whom an admin key names); with keys off
    the request must name it."""
    if not identity.authenticated and requested is None:
        raise InvalidInput("user_id is required (the owner; `default` for shared)")
    return identity.owner(requested)
