#!/usr/bin/env python3
"""Drive a tasklane server through the client generated from its OpenAPI document.

Run by scripts/client_smoke.sh, which generates and installs the `tasklane_client`
package first. Every call goes through the generated functions and models (no raw
HTTP): register, log in, get a stream ticket, create, list, replace (PUT), change
(PATCH), get, delete a task; then a shared project between three users (create, list,
rename with If-Match, invite by username and by email, withdraw, decline, accept,
members, re-role, a task with project, assignee and due_at, filters, move out, transfer,
leave, delete); then refresh and revoke the tokens. Exits 1 with a message at the first
surprise.

    python scripts/client_smoke.py http://127.0.0.1:8000
"""

from __future__ import annotations

import datetime
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
    from tasklane_client.api.projects import (
        accept_invitation,
        create_project,
        create_project_invitation,
        decline_invitation,
        delete_project,
        get_project,
        list_my_invitations,
        list_project_invitations,
        list_project_members,
        list_projects,
        remove_project_member,
        rename_project,
        transfer_project,
        update_project_member,
        withdraw_project_invitation,
    )
    from tasklane_client.api.stream import create_stream_ticket
    from tasklane_client.api.users import users_me
    from tasklane_client.models import (
        ErrorDetail,
        Invitation,
        InvitationInput,
        Project,
        ProjectInput,
        ProjectMember,
        ProjectRole,
        RefreshedPair,
        RefreshRequest,
        RegisterRequest,
        RoleInput,
        StreamTicket,
        Task,
        TaskInput,
        TaskOrdering,
        TaskPatch,
        TokenPair,
        TokenRequest,
        TransferInput,
        User,
        UserRef,
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

    projects(base_url, anon, api, user, hooks)

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


def someone(base_url: str, anon: Client, name: str, hooks: dict[str, Any]) -> tuple[User, AuthenticatedClient]:
    """Registers and logs in another user: them, and a client acting as them."""
    password = f"Smoke-Passw0rd-{secrets.token_hex(6)}"
    them = expect(
        register.sync_detailed(
            client=anon,
            body=RegisterRequest(username=name, email=f"{name}@example.com", password=password),
        ),
        201,
        User,
        f"register {name}",
    )
    pair = expect(
        obtain_token.sync_detailed(client=anon, body=TokenRequest(username=name, password=password)),
        200,
        TokenPair,
        f"obtain_token {name}",
    )
    client = AuthenticatedClient(
        base_url=base_url, token=pair.access, raise_on_unexpected_status=True, httpx_args=hooks
    )
    return them, client


def projects(
    base_url: str, anon: Client, alice_api: AuthenticatedClient, alice: User, hooks: dict[str, Any]
) -> None:
    """A shared project between alice (the smoke user), bob and carol, through every
    project, member and invitation route, and a task's project, assignee and due_at."""
    bob, bob_api = someone(base_url, anon, f"{alice.username}_bob", hooks)
    carol, carol_api = someone(base_url, anon, f"{alice.username}_carol", hooks)

    project = expect(
        create_project.sync_detailed(client=alice_api, body=ProjectInput(name="  Smoke project  ")),
        201,
        Project,
        "create_project",
    )
    check(
        (project.name, project.role, project.member_count, project.owner.username, project.version)
        == ("Smoke project", ProjectRole.OWNER, 1, alice.username, 1),
        f"create_project: {project!r}",
    )
    mine = expect(list_projects.sync_detailed(client=alice_api), 200, list, "list_projects")
    check([p.id for p in mine] == [project.id], f"list_projects: {mine!r}")

    renamed = expect(
        rename_project.sync_detailed(
            project.id, client=alice_api, body=ProjectInput(name="Smoke team"), if_match='"v1"'
        ),
        200,
        Project,
        "rename_project",
    )
    check((renamed.name, renamed.version) == ("Smoke team", 2), f"rename_project: {renamed!r}")
    expect(
        rename_project.sync_detailed(
            project.id, client=alice_api, body=ProjectInput(name="Stale"), if_match='"v1"'
        ),
        412,
        ErrorDetail,
        "rename_project with a stale If-Match",
    )

    # Invitations: by username (accepted), by email (withdrawn, then declined).
    to_bob = expect(
        create_project_invitation.sync_detailed(
            project.id,
            client=alice_api,
            body=InvitationInput(role=ProjectRole.VIEWER, username=bob.username),
        ),
        201,
        Invitation,
        "create_project_invitation by username",
    )
    check(
        (to_bob.invitee.username, to_bob.inviter.username, to_bob.project.id, to_bob.role)
        == (bob.username, alice.username, project.id, ProjectRole.VIEWER),
        f"create_project_invitation: {to_bob!r}",
    )
    to_carol = expect(
        create_project_invitation.sync_detailed(
            project.id,
            client=alice_api,
            body=InvitationInput(role=ProjectRole.EDITOR, email=f"{carol.username}@example.com"),
        ),
        201,
        Invitation,
        "create_project_invitation by email",
    )
    check(to_carol.invitee.id == carol.id, f"invitation by email: {to_carol!r}")
    pending = expect(
        list_project_invitations.sync_detailed(project.id, client=alice_api),
        200,
        list,
        "list_project_invitations",
    )
    check(
        sorted(i.id for i in pending) == sorted([to_bob.id, to_carol.id]),
        f"list_project_invitations: {pending!r}",
    )
    expect(
        withdraw_project_invitation.sync_detailed(project.id, to_carol.id, client=alice_api),
        204,
        None,
        "withdraw_project_invitation",
    )
    check(
        expect(list_my_invitations.sync_detailed(client=carol_api), 200, list, "list_my_invitations")
        == [],
        "a withdrawn invitation is still listed",
    )
    again = expect(
        create_project_invitation.sync_detailed(
            project.id,
            client=alice_api,
            body=InvitationInput(role=ProjectRole.VIEWER, username=carol.username),
        ),
        201,
        Invitation,
        "create_project_invitation again",
    )
    expect(decline_invitation.sync_detailed(again.id, client=carol_api), 204, None, "decline_invitation")
    expect(
        get_project.sync_detailed(project.id, client=carol_api),
        404,
        ErrorDetail,
        "get_project by someone who declined",
    )

    bobs = expect(list_my_invitations.sync_detailed(client=bob_api), 200, list, "list_my_invitations")
    check([i.id for i in bobs] == [to_bob.id], f"list_my_invitations: {bobs!r}")
    check(all(isinstance(i, Invitation) for i in bobs), "list_my_invitations: not Invitation")
    joined = expect(
        accept_invitation.sync_detailed(to_bob.id, client=bob_api), 200, Project, "accept_invitation"
    )
    check(
        (joined.id, joined.role, joined.member_count) == (project.id, ProjectRole.VIEWER, 2),
        f"accept_invitation: {joined!r}",
    )
    members = expect(
        list_project_members.sync_detailed(project.id, client=bob_api),
        200,
        list,
        "list_project_members",
    )
    check(
        sorted((m.username, m.role) for m in members)
        == sorted([(alice.username, ProjectRole.OWNER), (bob.username, ProjectRole.VIEWER)]),
        f"list_project_members: {members!r}",
    )
    check(
        all(isinstance(m, ProjectMember) and "email" not in m.to_dict() for m in members),
        f"list_project_members shows an email: {[m.to_dict() for m in members]}",
    )
    # A viewer may not create in the project (403 naming the role); an editor may.
    refused = create_task.sync_detailed(
        client=bob_api, body=TaskInput(title="Not yet allowed", project=project.id)
    )
    expect(refused, 403, ErrorDetail, "create_task in a project as a viewer")
    check(
        refused.parsed.detail == "This needs the editor role or higher.",
        f"a viewer's create: {refused.parsed!r}",
    )
    promoted = expect(
        update_project_member.sync_detailed(
            project.id, bob.id, client=alice_api, body=RoleInput(role=ProjectRole.EDITOR)
        ),
        200,
        ProjectMember,
        "update_project_member",
    )
    check(promoted.role == ProjectRole.EDITOR, f"update_project_member: {promoted!r}")

    # A task in the project, assigned to bob, due at a time.
    due = datetime.datetime(2030, 5, 1, 9, 30, tzinfo=datetime.timezone.utc)
    shared = expect(
        create_task.sync_detailed(
            client=alice_api,
            body=TaskInput(title="Book the venue", project=project.id, assignee=bob.id, due_at=due),
        ),
        201,
        Task,
        "create_task in a project",
    )
    check(shared.project == project.id, f"create_task: project {shared.project!r}")
    check(
        isinstance(shared.assignee, UserRef)
        and (shared.assignee.id, shared.assignee.username) == (bob.id, bob.username),
        f"create_task: assignee {shared.assignee!r}",
    )
    check(shared.due_at == due, f"create_task: due_at {shared.due_at!r}")
    bobs_task = expect(
        create_task.sync_detailed(
            client=bob_api, body=TaskInput(title="Print the badges", project=project.id)
        ),
        201,
        Task,
        "create_task in a project as an editor",
    )
    check(
        unset_or_none(bobs_task.assignee) and unset_or_none(bobs_task.due_at),
        f"create_task: {bobs_task!r}",
    )
    filtered = expect(
        list_tasks.sync_detailed(
            client=alice_api,
            project=str(project.id),
            assignee=str(bob.id),
            due_before=datetime.datetime(2030, 6, 1, tzinfo=datetime.timezone.utc),
            due_after=datetime.datetime(2030, 4, 1, tzinfo=datetime.timezone.utc),
            ordering=TaskOrdering("due_at"),
        ),
        200,
        list,
        "list_tasks by project, assignee and due date",
    )
    check([t.id for t in filtered] == [shared.id], f"list_tasks filtered: {filtered!r}")
    personal = expect(
        list_tasks.sync_detailed(client=alice_api, project="none"), 200, list, "list_tasks project=none"
    )
    check(shared.id not in [t.id for t in personal], f"list_tasks project=none: {personal!r}")
    cleared = expect(
        partial_update_task.sync_detailed(
            shared.id, client=alice_api, body=TaskPatch(assignee=None, due_at=None)
        ),
        200,
        Task,
        "partial_update_task clearing assignee and due_at",
    )
    check(
        unset_or_none(cleared.assignee) and unset_or_none(cleared.due_at),
        f"cleared: {cleared!r}",
    )
    moved = expect(
        partial_update_task.sync_detailed(shared.id, client=alice_api, body=TaskPatch(project=None)),
        200,
        Task,
        "partial_update_task moving out of the project",
    )
    check(unset_or_none(moved.project), f"moved out: project {moved.project!r}")

    # Ownership changes hands, alice leaves, bob deletes the project.
    expect(
        update_project_member.sync_detailed(
            project.id, bob.id, client=alice_api, body=RoleInput(role=ProjectRole.ADMIN)
        ),
        200,
        ProjectMember,
        "update_project_member to admin",
    )
    handed = expect(
        transfer_project.sync_detailed(
            project.id, client=alice_api, body=TransferInput(user_id=bob.id)
        ),
        200,
        Project,
        "transfer_project",
    )
    check(
        (handed.owner.id, handed.role) == (bob.id, ProjectRole.ADMIN),
        f"transfer_project: {handed!r}",
    )
    expect(
        remove_project_member.sync_detailed(project.id, alice.id, client=alice_api),
        204,
        None,
        "remove_project_member (leave)",
    )
    expect(
        get_project.sync_detailed(project.id, client=alice_api),
        404,
        ErrorDetail,
        "get_project after leaving",
    )
    expect(delete_project.sync_detailed(project.id, client=bob_api), 204, None, "delete_project")
    check(
        expect(list_projects.sync_detailed(client=bob_api), 200, list, "list_projects after delete")
        == [],
        "list_projects after delete: not empty",
    )


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
