// What a TypeScript client of tasklane writes (its tasks, and shared projects: members,
// invitations, and a task's project, assignee and due date), checked by `tsc --strict` against the
// types openapi-typescript generates from openapi/openapi.json (scripts/ts_client.sh).
// Nothing here runs: a wrong field name, type, enum value or header name in the document
// is a compile error here.
import type { components, paths } from "./schema";

type Schemas = components["schemas"];
type Json = "application/json; charset=utf-8";

/** The JSON body an operation takes. */
type Body<Op> = Op extends { requestBody: { content: { "application/json": infer B } } }
  ? B
  : never;
/** The JSON an operation answers with status `S`. */
type Answer<Op, S extends number> = Op extends {
  responses: { [K in S]: { content: { [M in Json]: infer R } } };
}
  ? R
  : never;
/** The headers an operation answers with status `S`. */
type AnswerHeaders<Op, S extends number> = Op extends {
  responses: { [K in S]: { headers: infer H } };
}
  ? H
  : never;
/** The names of `T`'s properties, without its index signature. */
type Named<T> = keyof { [K in keyof T as string extends K ? never : K]: T[K] };
/** An operation's query parameters. */
type QueryOf<Op> = Op extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

type Login = paths["/api/token"]["post"];
type CreateTask = paths["/api/tasks"]["post"];
type ListTasks = paths["/api/tasks"]["get"];
type Events = paths["/api/events"]["get"];
type CreateStreamTicket = paths["/api/stream-tickets"]["post"];
type PatchTask = paths["/api/tasks/{id}"]["patch"];
type ListProjects = paths["/api/projects"]["get"];
type CreateProject = paths["/api/projects"]["post"];
type RenameProject = paths["/api/projects/{id}"]["patch"];
type ListMembers = paths["/api/projects/{id}/members"]["get"];
type UpdateMember = paths["/api/projects/{id}/members/{user_id}"]["patch"];
type Transfer = paths["/api/projects/{id}/transfer"]["post"];
type Invite = paths["/api/projects/{id}/invitations"]["post"];
type ProjectInvitations = paths["/api/projects/{id}/invitations"]["get"];
type MyInvitations = paths["/api/invitations"]["get"];
type Accept = paths["/api/invitations/{id}/accept"]["post"];
/** An operation's path parameters. */
type PathOf<Op> = Op extends { parameters: { path: infer P } } ? P : never;

/** Any `fetch`: passed in, so this file never touches the network. */
type Fetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; headers: { get(name: string): string | null }; json(): Promise<unknown> }>;

type Invalid = Answer<Login, 400>;

/** Thrown with the body of a 400: messages per field. */
class ValidationFailed extends Error {
  constructor(readonly fields: Invalid) {
    super("invalid input");
  }
}

async function send(fetch: Fetch, url: string, method: string, token: string | null, body?: unknown, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = { accept: "application/json", ...extra };
  if (token !== null) headers["authorization"] = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const init = body === undefined ? { method, headers } : { method, headers, body: JSON.stringify(body) };
  const response = await fetch(url, init);
  if (response.status === 400) throw new ValidationFailed((await response.json()) as Invalid);
  return response;
}

export async function login(fetch: Fetch, base: string, credentials: Body<Login>): Promise<Answer<Login, 200>> {
  const response = await send(fetch, `${base}/api/token/`, "POST", null, credentials);
  return (await response.json()) as Answer<Login, 200>;
}

export async function createTask(
  fetch: Fetch,
  base: string,
  access: string,
  task: Body<CreateTask>,
  idempotencyKey: string,
): Promise<{ task: Answer<CreateTask, 201>; etag: AnswerHeaders<CreateTask, 201>["ETag"] }> {
  const response = await send(fetch, `${base}/api/tasks/`, "POST", access, task, { "Idempotency-Key": idempotencyKey });
  const created = (await response.json()) as Answer<CreateTask, 201>;
  return { task: created, etag: response.headers.get("ETag") ?? `"v${created.version}"` };
}

export async function listTasks(
  fetch: Fetch,
  base: string,
  access: string,
  query: QueryOf<ListTasks>,
): Promise<{ tasks: Answer<ListTasks, 200>; total: AnswerHeaders<ListTasks, 200>["X-Total-Count"]; next: string | null }> {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const response = await send(fetch, `${base}/api/tasks/?${params}`, "GET", access);
  return {
    tasks: (await response.json()) as Answer<ListTasks, 200>,
    total: Number(response.headers.get("X-Total-Count")),
    next: response.headers.get("Link"),
  };
}

/** A single-use ticket for a stream's URL (no credential ever goes in one). */
export async function streamTicket(fetch: Fetch, base: string, access: string): Promise<Answer<CreateStreamTicket, 201>> {
  const response = await send(fetch, `${base}/api/stream-tickets/`, "POST", access);
  return (await response.json()) as Answer<CreateStreamTicket, 201>;
}

/** An `EventSource` URL: a fresh ticket rides in `?ticket=` (never a token). */
export async function eventsUrl(fetch: Fetch, base: string, access: string, since?: QueryOf<Events>["since"]): Promise<string> {
  const { ticket, expires_in } = await streamTicket(fetch, base, access);
  const seconds: number = expires_in;
  const query: QueryOf<Events> = since === undefined ? { ticket } : { ticket, since };
  const params = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  return seconds > 0 ? `${base}/api/events/?${params}` : "";
}

export async function firstHour(fetch: Fetch, base: string): Promise<string> {
  const pair = await login(fetch, base, { username: "alice", password: "correct-horse-battery" });
  const { task, etag } = await createTask(fetch, base, pair.access, { title: "Write report", completed: false }, "3f1c9a");
  const page = await listTasks(fetch, base, pair.access, { ordering: "-created_at", completed: false, limit: 50 });
  const newest: Schemas["Task"] | undefined = page.tasks[0];
  const when: string = task.created_at;
  const owner: string = task.user.username;
  return `${etag} ${page.total} ${newest?.title ?? ""} ${when} ${owner} ${page.next ?? ""}`;
}

/** Create a project: you are its owner. */
export async function createProject(fetch: Fetch, base: string, access: string, project: Body<CreateProject>): Promise<Answer<CreateProject, 201>> {
  const response = await send(fetch, `${base}/api/projects/`, "POST", access, project);
  return (await response.json()) as Answer<CreateProject, 201>;
}

export async function listProjects(fetch: Fetch, base: string, access: string): Promise<Answer<ListProjects, 200>> {
  const response = await send(fetch, `${base}/api/projects/`, "GET", access);
  return (await response.json()) as Answer<ListProjects, 200>;
}

/** Rename a project, only if nobody changed it since `version` (else 412). */
export async function renameProject(
  fetch: Fetch,
  base: string,
  access: string,
  id: PathOf<RenameProject>["id"],
  name: Body<RenameProject>["name"],
  version: Answer<RenameProject, 200>["version"],
): Promise<Answer<RenameProject, 200> | Answer<RenameProject, 412>> {
  const response = await send(fetch, `${base}/api/projects/${id}/`, "PATCH", access, { name }, { "If-Match": `"v${version}"` });
  return (await response.json()) as Answer<RenameProject, 200> | Answer<RenameProject, 412>;
}

export async function invite(
  fetch: Fetch,
  base: string,
  access: string,
  project: PathOf<Invite>["id"],
  whom: Body<Invite>,
): Promise<Answer<Invite, 201>> {
  const response = await send(fetch, `${base}/api/projects/${project}/invitations/`, "POST", access, whom);
  return (await response.json()) as Answer<Invite, 201>;
}

export async function pendingInvitations(fetch: Fetch, base: string, access: string, project: PathOf<ProjectInvitations>["id"]): Promise<Answer<ProjectInvitations, 200>> {
  const response = await send(fetch, `${base}/api/projects/${project}/invitations/`, "GET", access);
  return (await response.json()) as Answer<ProjectInvitations, 200>;
}

/** Accept the first invitation addressed to you: the project you joined. */
export async function acceptFirst(fetch: Fetch, base: string, access: string): Promise<Answer<Accept, 200> | null> {
  const mine = (await (await send(fetch, `${base}/api/invitations/`, "GET", access)).json()) as Answer<MyInvitations, 200>;
  const first = mine[0];
  if (first === undefined) return null;
  const from: string = `${first.inviter.username} invites you to ${first.project.name} as ${first.role}`;
  const id: PathOf<Accept>["id"] = first.id;
  const response = await send(fetch, `${base}/api/invitations/${id}/accept/`, "POST", access);
  const joined = (await response.json()) as Answer<Accept, 200>;
  return from.length > 0 ? joined : null;
}

/** Make every viewer of a project an editor. */
export async function promoteViewers(fetch: Fetch, base: string, access: string, project: PathOf<ListMembers>["id"]): Promise<Answer<UpdateMember, 200>[]> {
  const members = (await (await send(fetch, `${base}/api/projects/${project}/members/`, "GET", access)).json()) as Answer<ListMembers, 200>;
  const promoted: Answer<UpdateMember, 200>[] = [];
  for (const member of members) {
    if (member.role !== "viewer") continue;
    const body: Body<UpdateMember> = { role: "editor" };
    const response = await send(fetch, `${base}/api/projects/${project}/members/${member.id}/`, "PATCH", access, body);
    promoted.push((await response.json()) as Answer<UpdateMember, 200>);
  }
  return promoted;
}

export async function transfer(fetch: Fetch, base: string, access: string, project: PathOf<Transfer>["id"], to: Body<Transfer>["user_id"]): Promise<Answer<Transfer, 200>> {
  const response = await send(fetch, `${base}/api/projects/${project}/transfer/`, "POST", access, { user_id: to });
  return (await response.json()) as Answer<Transfer, 200>;
}

/** A shared task: in a project, assigned to a member, due at a time. */
export async function sharedWork(fetch: Fetch, base: string, access: string): Promise<string> {
  const project = await createProject(fetch, base, access, { name: "Launch" });
  const invitation = await invite(fetch, base, access, project.id, { username: "bob", role: "editor" });
  const byEmail: Body<Invite> = { email: "carol@example.com", role: "viewer" };
  await invite(fetch, base, access, project.id, byEmail);
  const { task } = await createTask(
    fetch,
    base,
    access,
    { title: "Book the venue", project: project.id, assignee: invitation.invitee.id, due_at: "2030-05-01T09:00:00Z" },
    "b71e",
  );
  const inProject: number | null | undefined = task.project;
  const assignee: string | undefined = task.assignee?.username;
  const due: string | null | undefined = task.due_at;
  const page = await listTasks(fetch, base, access, { project: String(project.id), assignee: "me", due_before: "2030-06-01T00:00:00Z", ordering: "due_at" });
  const patch: Body<PatchTask> = { project: null, assignee: null, due_at: null };
  const role: Schemas["ProjectRole"] = project.role;
  return `${inProject ?? ""} ${assignee ?? ""} ${due ?? ""} ${page.total} ${JSON.stringify(patch)} ${role} ${project.owner.username} ${project.member_count}`;
}

// The document's promises, checked by the compiler.
export const checks = {
  // Enums, not open strings.
  ordering: "-updated_at" satisfies NonNullable<QueryOf<ListTasks>["ordering"]>,
  action: "reset" satisfies Schemas["StreamMessage"]["action"],
  scopes: ["tasks:read", "tasks:write", "account:read", "projects:read", "projects:write"] satisfies Schemas["NewTokenRequest"]["scopes"],
  roles: ["owner", "admin", "editor", "viewer"] satisfies Schemas["ProjectRole"][],
  dueOrdering: "-due_at" satisfies NonNullable<QueryOf<ListTasks>["ordering"]>,
  // A 400 is messages per field, or `detail` for a body that could not be read.
  invalid: { title: ["This field is required."], non_field_errors: ["No."] } satisfies Invalid,
  unreadable: { detail: "JSON parse error" } satisfies Invalid,
  // Response headers under their usual names.
  lastEvent: 7 satisfies AnswerHeaders<ListTasks, 200>["X-Last-Event-Id"],
  retryAfter: 10 satisfies AnswerHeaders<Login, 429>["Retry-After"],
  challenge: 'Bearer realm="api"' satisfies AnswerHeaders<Login, 401>["WWW-Authenticate"],
  replayed: true satisfies NonNullable<AnswerHeaders<CreateTask, 201>["Idempotent-Replayed"]>,
  listHeaders: ["X-Total-Count", "Link", "X-Last-Event-Id", "ETag"] satisfies Named<AnswerHeaders<ListTasks, 200>>[],
};

// And what the compiler must refuse.
// @ts-expect-error a login needs a password
export const noPassword: Body<Login> = { username: "alice" };
// @ts-expect-error a task needs a title
export const noTitle: Body<CreateTask> = { completed: true };
// @ts-expect-error not an ordering
export const badOrdering: QueryOf<ListTasks> = { ordering: "priority" };
// @ts-expect-error a ticket is text
export const badTicket: Schemas["StreamTicket"]["ticket"] = 42;
// @ts-expect-error not an action
export const badAction: Schemas["StreamMessage"]["action"] = "created";
// @ts-expect-error not a scope
export const badScope: Schemas["ApiToken"]["scopes"] = ["tasks:admin"];
// @ts-expect-error a field's messages are a list
export const badInvalid: Invalid = { title: "This field is required." };
// @ts-expect-error header names are not upper case
export const upperCase: Named<AnswerHeaders<ListTasks, 200>> = "X-TOTAL-COUNT";
// @ts-expect-error a field's message list is not a detail
export const mixed: Invalid = { detail: ["x"], title: "y" };
// @ts-expect-error not a role
export const badRole: Schemas["ProjectRole"] = "member";
// @ts-expect-error an invitation needs a role
export const noRole: Body<Invite> = { username: "bob" };
// @ts-expect-error a project needs a name
export const noName: Body<CreateProject> = {};
// @ts-expect-error a transfer names a user by id
export const byName: Body<Transfer> = { user_id: "bob" };
// @ts-expect-error an assignee is a user id, not a user
export const assigneeObject: Body<PatchTask> = { assignee: { id: 1, username: "bob" } };
// @ts-expect-error a member shows no email
export const memberEmail: Answer<ListMembers, 200>[number]["email"] = "bob@example.com";
