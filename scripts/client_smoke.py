#!/usr/bin/env python3
"""Drive a tasklane server through the client generated from its OpenAPI document.

Run by scripts/client_smoke.sh, which generates and installs the `tasklane_client`
package first. Every call goes through the generated functions and models (no raw
HTTP): register, log in, get a stream ticket, create, list, replace (PUT), change
(PATCH), get, delete a task, then refresh and revoke the tokens. Exits 1 with a message
at the first surprise.

    python scripts/client_smoke.py http://127.0.0.1:8000
"""

from __future__ import annotations

import secrets
import sys
from typing import Any

try:
    from tasklane_client import AuthenticatedClient, Client
    from tasklane_client.api.auth import obtain_token, refresh_token, register, revoke_token
    from tasklane_client.api.tasks import (
        create_task,
        delete_task,
        get_task,
        list_tasks,
        partial_update_task,
        update_task,
    )
    from tasklane_client.api.stream import create_stream_ticket
    from tasklane_client.api.users import users_me
    from tasklane_client.models import (
        ErrorDetail,
        RefreshedPair,
        RefreshRequest,
        RegisterRequest,
        StreamTicket,
        Task,
        TaskInput,
        TaskOrdering,
        TaskPatch,
        TokenPair,
        TokenRequest,
        User,
    )
    from tasklane_client.types import Response, Unset
except ImportError as e:  # pragma: no cover - depends on the generated package
    sys.exit(f"client_smoke: the generated client is missing something: {e}")


class SmokeFailure(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SmokeFailure(what)


def expect(resp: Response[Any], status: int, model: type | None, what: str) -> Any:
    """The parsed body of `resp`, which must have `status` and parse as `model`."""
    body = resp.content.decode("utf-8", "replace")
    check(
        resp.status_code == status,
        f"{what}: expected HTTP {status}, got {int(resp.status_code)}: {body}",
    )
    if model is not None:
        check(
            isinstance(resp.parsed, model),
            f"{what}: the client parsed {type(resp.parsed).__name__}, not {model.__name__}: {body}",
        )
    return resp.parsed


def unset_or_none(v: Any) -> bool:
    return v is None or isinstance(v, Unset)


def main(base_url: str) -> None:
    # Which content type each request went out with: the server takes JSON and forms,
    # but a generated client should send what the document lists first (JSON).
    sent: list[tuple[str, str, str]] = []

    def record(request: Any) -> None:
        sent.append(
            (request.method, request.url.path, request.headers.get("content-type", ""))
        )

    hooks = {"event_hooks": {"request": [record]}}
    anon = Client(base_url=base_url, raise_on_unexpected_status=True, httpx_args=hooks)

    suffix = secrets.token_hex(4)
    username = f"smoke_{suffix}"
    password = f"Smoke-Passw0rd-{secrets.token_hex(6)}"

    user = expect(
        register.sync_detailed(
            client=anon,
            body=RegisterRequest(
                username=username, email=f"{username}@example.com", password=password
            ),
        ),
        201,
        User,
        "register",
    )
    check(user.username == username, f"register: username {user.username!r}")

    pair = expect(
        obtain_token.sync_detailed(
            client=anon, body=TokenRequest(username=username, password=password)
        ),
        200,
        TokenPair,
        "obtain_token",
    )
    check(bool(pair.access) and bool(pair.refresh), "obtain_token: empty tokens")
    bad = obtain_token.sync_detailed(
        client=anon, body=TokenRequest(username=username, password=password + "x")
    )
    expect(bad, 401, ErrorDetail, "obtain_token with a wrong password")

    api = AuthenticatedClient(
        base_url=base_url, token=pair.access, raise_on_unexpected_status=True, httpx_args=hooks
    )
    me = expect(users_me.sync_detailed(client=api), 200, User, "users_me")
    check(me.id == user.id, f"users_me: id {me.id}, registered {user.id}")
    ticket = expect(
        create_stream_ticket.sync_detailed(client=api), 201, StreamTicket, "create_stream_ticket"
    )
    check(
        ticket.ticket.startswith("tlt_") and ticket.expires_in == 30,
        f"create_stream_ticket: {ticket!r}",
    )

    created = expect(
        create_task.sync_detailed(client=api, body=TaskInput(title="Smoke test task")),
        201,
        Task,
        "create_task",
    )
    check(created.title == "Smoke test task", f"create_task: title {created.title!r}")
    check(created.completed is False, f"create_task: completed {created.completed!r}")
    check(
        unset_or_none(created.description),
        f"create_task: description {created.description!r}, expected null",
    )
    check(created.user.username == username, f"create_task: owner {created.user!r}")

    listed = list_tasks.sync_detailed(
        client=api, completed=False, ordering=TaskOrdering("-created_at"), limit=10
    )
    tasks = expect(listed, 200, list, "list_tasks")
    check(
        [t.id for t in tasks] == [created.id],
        f"list_tasks: ids {[t.id for t in tasks]}, expected [{created.id}]",
    )
    check(all(isinstance(t, Task) for t in tasks), "list_tasks: items are not Task")
    total = listed.headers.get("x-total-count")
    check(total == "1", f"list_tasks: X-Total-Count {total!r}")

    replaced = expect(
        update_task.sync_detailed(
            created.id,
            client=api,
            body=TaskInput(
                title="Smoke test task, replaced",
                description="Replaced with PUT by the generated client",
                completed=True,
            ),
        ),
        200,
        Task,
        "update_task (PUT)",
    )
    check(
        (replaced.title, replaced.description, replaced.completed)
        == ("Smoke test task, replaced", "Replaced with PUT by the generated client", True),
        f"update_task: got {replaced!r}",
    )

    patched = expect(
        partial_update_task.sync_detailed(
            created.id, client=api, body=TaskPatch(completed=False)
        ),
        200,
        Task,
        "partial_update_task (PATCH)",
    )
    check(patched.completed is False, f"PATCH: completed {patched.completed!r}")
    check(
        patched.title == replaced.title and patched.description == replaced.description,
        f"PATCH changed more than `completed`: {patched!r}",
    )

    fetched = expect(get_task.sync_detailed(created.id, client=api), 200, Task, "get_task")
    check(fetched.to_dict() == patched.to_dict(), f"get_task: {fetched!r} != {patched!r}")

    expect(delete_task.sync_detailed(created.id, client=api), 204, None, "delete_task")
    gone = get_task.sync_detailed(created.id, client=api)
    expect(gone, 404, ErrorDetail, "get_task after delete")
    check(
        expect(list_tasks.sync_detailed(client=api), 200, list, "list_tasks after delete") == [],
        "list_tasks after delete: not empty",
    )

    fresh = expect(
        refresh_token.sync_detailed(client=anon, body=RefreshRequest(refresh=pair.refresh)),
        200,
        RefreshedPair,
        "refresh_token",
    )
    expect(
        revoke_token.sync_detailed(client=anon, body=RefreshRequest(refresh=fresh.refresh)),
        204,
        None,
        "revoke_token",
    )
    expect(
        refresh_token.sync_detailed(client=anon, body=RefreshRequest(refresh=fresh.refresh)),
        401,
        ErrorDetail,
        "refresh_token after revoke",
    )

    # (A POST without a body, such as create_stream_ticket's, has no content type.)
    with_body = [(m, p, ct) for m, p, ct in sent if m in ("POST", "PUT", "PATCH") and ct]
    not_json = sorted({f"{m} {p}: {ct}" for m, p, ct in with_body if "json" not in ct})
    if not_json:
        print(
            "client_smoke: WARNING: the generated client sent these bodies as forms, not JSON "
            "(the document lists both media types with one schema):\n  "
            + "\n  ".join(not_json),
            file=sys.stderr,
        )
    print(f"client_smoke: OK ({len(sent)} requests as {username})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} BASE_URL")
    try:
        main(sys.argv[1].rstrip("/"))
    except SmokeFailure as e:
        sys.exit(f"client_smoke: FAILED: {e}")
    except Exception as e:  # an exception inside the generated client is a failure too
        import traceback

        traceback.print_exc()
        sys.exit(f"client_smoke: FAILED with {type(e).__name__}: {e}")
