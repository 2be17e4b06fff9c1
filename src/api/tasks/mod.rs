//! Tasks: the caller's own, and nobody else's (another user's task is a 404, never a 403).
//!
//! The handlers only translate HTTP: the scope a credential needs, the path id, the
//! body's fields and the `If-Match`/`Idempotency-Key`/`If-None-Match` headers in; the
//! operation itself (its rules, the write, the event) is `domain::tasks`'s; its answer
//! out with its `ETag`, `Link` and other headers.

use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Header, Path, Query},
};
use serde_json::{Map, Value};

use super::body::DrfBody;
use super::fields::{boolean, datetime_text, field, nullable_field, pk, text};
use super::json::{PrebuiltJson, SerdeJson};
use super::{
    ApiTags, ChangeTaskErrors, CreateTaskErrors, DeleteTaskErrors, OneErrors, PathId, QueryErrors,
};
use crate::AppState;
use crate::auth::Caller;
use crate::auth::Scope;
use crate::domain::FieldErrors;
use crate::domain::tasks::{self, Created, IdempotencyKey, TaskContext, TaskDraft};
use crate::error::{ApiError, task_error};
use crate::model::{Ordering, Timestamp};
use crate::store::tasks::TaskQuery;

mod filters;
pub(super) mod preconditions;
mod schema;

use filters::{Filters, read_filters};
use preconditions::{etag, next_link, none_match_hits, parse_if_match, request_hash, tags_match};
pub use schema::*;

#[derive(Default)]
pub struct TasksApi;

#[OpenApi(tag = "ApiTags::Tasks")]
impl TasksApi {
    /// List your tasks
    ///
    /// A plain JSON array, as the original returned, capped at the page size (100 by
    /// default). `X-Total-Count` tells how many match; when more follow, `Link` has the
    /// next page's URL (a keyset `cursor`, so every page costs the same): absolute on
    /// `--public-url` when the server has one, else relative.
    #[oai(path = "/api/tasks", method = "get", operation_id = "list_tasks")]
    #[allow(clippy::too_many_arguments)]
    async fn list_tasks(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// Only done (`true`) or open (`false`) tasks.
        completed: Query<Option<bool>>,
        /// Only tasks whose title or description contains this text (case-insensitive).
        #[oai(validator(max_length = 255))]
        search: Query<Option<String>>,
        /// Only tasks assigned to this user id, to you (`me`), or to nobody (`none`).
        assignee: Query<Option<String>>,
        /// Only the tasks of this project id, or personal tasks (`none`).
        project: Query<Option<String>>,
        /// Only tasks due at or before this date-time (tasks without one are left out).
        due_before: Query<Option<Timestamp>>,
        /// Only tasks due at or after this date-time (tasks without one are left out).
        due_after: Query<Option<Timestamp>>,
        /// Sort order; default `id`. By `due_at` (either way), tasks without a due date
        /// come last; ties are broken by id.
        ordering: Query<Option<Ordering>>,
        /// Page size, 1 to 1000.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
        /// How many matching tasks to skip. This walks every skipped task (its cost grows
        /// with the offset): follow the `Link` (a `cursor`) to page through a long list.
        #[oai(validator(maximum(value = "1000000000")))]
        offset: Query<Option<u64>>,
        /// Where the page starts: the opaque value a list's `Link` carries (for the same
        /// `ordering`). Each page costs the same however deep.
        #[oai(validator(max_length = 2048))]
        cursor: Query<Option<String>>,
        /// Count the matches of a `search`, `assignee`, `due_before` or `due_after` list
        /// for `X-Total-Count`, up to 10000. Counting costs what the matches cost, not
        /// the page, so without it such a list gives its total only when this page holds
        /// every match. Other lists always give theirs (kept as counters).
        count: Query<Option<bool>>,
        /// The `ETag` of a page you hold: a 304 without a body while it is still the page.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<ListTasksResponse, QueryErrors> {
        caller.require(Scope::TasksRead)?;
        let mut query = TaskQuery {
            completed: completed.0,
            search: search.0.filter(|s| !s.is_empty()),
            ordering: ordering.0.unwrap_or_default(),
            limit: limit.0.unwrap_or(state.limits.page_size),
            offset: offset.0.unwrap_or(0),
            count: count.0.unwrap_or(false),
            ..TaskQuery::default()
        };
        let filters = Filters {
            cursor: cursor.0,
            assignee: assignee.0,
            project: project.0,
            due_before: due_before.0.map(|t| t.0),
            due_after: due_after.0.map(|t| t.0),
        };
        read_filters(&mut query, filters, caller.user.id).map_err(ApiError::from)?;
        let page = tasks::list(&context(&state), caller.user, query.clone()).await?;
        if let Some(tags) = &if_none_match.0
            && tags_match(tags, &page.etag)
        {
            return Ok(ListTasksResponse::NotModified(
                page.etag.clone(),
                page.last_event_id,
            ));
        }
        let link = page.next.as_ref().map(|next| {
            let base = state.limits.public_url.as_ref().map(|u| u.origin());
            next_link(base, &query, ordering.0, next)
        });
        Ok(ListTasksResponse::Ok(
            PrebuiltJson::new(page.json.clone()),
            page.total,
            page.total_capped.then_some(true),
            link,
            page.last_event_id,
            page.etag.clone(),
        ))
    }

    /// Create a task
    ///
    /// With an `Idempotency-Key`, a retry of the same request (same key, same body)
    /// within 24 hours returns the first response and creates nothing; the same key with
    /// a different body is a 422.
    #[oai(path = "/api/tasks", method = "post", operation_id = "create_task")]
    async fn create_task(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// A unique string per intended task (a UUID, say), so retries are safe.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        idempotency_key: Header<Option<String>>,
        body: DrfBody<TaskInput>,
    ) -> Result<CreateTaskResponse, CreateTaskErrors> {
        caller.require(Scope::TasksWrite)?;
        let (draft, errors) = task_draft(&body.data, false);
        let ctx = context(&state);
        let created = match idempotency_key.0 {
            None => tasks::create(&ctx, caller.user, draft, errors).await?,
            Some(key) => {
                let key = IdempotencyKey {
                    key,
                    request_hash: request_hash(&body.data),
                };
                tasks::create_once(&ctx, caller.user, draft, errors, key).await?
            }
        };
        Ok(created_response(created))
    }

    /// Get one of your tasks
    ///
    /// Answers 304 when `If-None-Match` names the current version (`ETag`).
    #[oai(path = "/api/tasks/:id", method = "get", operation_id = "get_task")]
    async fn get_task(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The task's id.
        id: Path<PathId>,
        /// An `ETag` you hold: 304 if the task is still at that version.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<GetTaskResponse, OneErrors> {
        caller.require(Scope::TasksRead)?;
        let id = task_id(id)?;
        let task = tasks::get(&context(&state), caller.user, id)
            .await
            .map_err(task_error)?;
        let tag = etag(task.version);
        if if_none_match
            .0
            .as_deref()
            .is_some_and(|h| none_match_hits(h, task.version))
        {
            return Ok(GetTaskResponse::NotModified(tag));
        }
        Ok(GetTaskResponse::Ok(SerdeJson(task), tag))
    }

    /// Replace a task
    ///
    /// `title` is required; an omitted `description` or `completed` keeps its value.
    /// With `If-Match`, only if the task is still at that version (else 412).
    #[oai(path = "/api/tasks/:id", method = "put", operation_id = "update_task")]
    async fn update_task(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The task's id.
        id: Path<PathId>,
        /// The `ETag` you last saw (`"v3"`), or `*`.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: DrfBody<TaskInput>,
    ) -> Result<UpdateTaskResponse, ChangeTaskErrors> {
        Ok(change(&state, caller, id, if_match.0, &body.data, false).await?)
    }

    /// Change some fields of a task
    ///
    /// With `If-Match`, only if the task is still at that version (else 412).
    #[oai(
        path = "/api/tasks/:id",
        method = "patch",
        operation_id = "partial_update_task"
    )]
    async fn partial_update_task(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The task's id.
        id: Path<PathId>,
        /// The `ETag` you last saw (`"v3"`), or `*`.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: DrfBody<TaskPatch>,
    ) -> Result<UpdateTaskResponse, ChangeTaskErrors> {
        Ok(change(&state, caller, id, if_match.0, &body.data, true).await?)
    }

    /// Delete a task
    ///
    /// With `If-Match`, only if the task is still at that version (else 412).
    #[oai(
        path = "/api/tasks/:id",
        method = "delete",
        operation_id = "delete_task"
    )]
    async fn delete_task(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The task's id.
        id: Path<PathId>,
        /// The `ETag` you last saw (`"v3"`), or `*`.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> Result<DeleteTaskResponse, DeleteTaskErrors> {
        caller.require(Scope::TasksWrite)?;
        let id = task_id(id)?;
        let if_match = if_match.0.as_deref().map(parse_if_match);
        tasks::delete(&context(&state), caller.user, id, if_match)
            .await
            .map_err(task_error)?;
        Ok(DeleteTaskResponse::Deleted)
    }
}

/// What the task operations reach, from the state.
fn context(state: &AppState) -> TaskContext<'_> {
    TaskContext {
        store: &state.store,
        hub: &state.hub,
        listing: &state.listing,
        idempotency_retention: state.limits.idempotency_retention,
    }
}

fn created_response(created: Created) -> CreateTaskResponse {
    let tag = etag(created.task.version);
    let replayed = created.replayed.then_some(true);
    CreateTaskResponse::Created(SerdeJson(created.task), tag, replayed)
}

async fn change(
    state: &AppState,
    caller: Caller,
    id: Path<PathId>,
    if_match: Option<String>,
    data: &Map<String, Value>,
    partial: bool,
) -> Result<UpdateTaskResponse, ApiError> {
    caller.require(Scope::TasksWrite)?;
    let id = task_id(id)?;
    let (draft, errors) = task_draft(data, partial);
    let if_match = if_match.as_deref().map(parse_if_match);
    let task = tasks::update(&context(state), caller.user, id, draft, errors, if_match)
        .await
        .map_err(task_error)?;
    let tag = etag(task.version);
    Ok(UpdateTaskResponse::Ok(SerdeJson(task), tag))
}

fn task_id(id: Path<PathId>) -> Result<i64, ApiError> {
    id.0.0.ok_or_else(|| ApiError::not_found("Not found."))
}

/// The task fields of a request body as DRF reads them (text, booleans), with the
/// messages of those it could not read. `partial` (PATCH) makes `title` optional.
fn task_draft(data: &Map<String, Value>, partial: bool) -> (TaskDraft, FieldErrors) {
    let mut errors = FieldErrors::default();
    let draft = TaskDraft {
        title: field(data, "title", !partial, &mut errors, text),
        description: field(data, "description", false, &mut errors, text),
        completed: field(data, "completed", false, &mut errors, boolean),
        due_at: nullable_field(data, "due_at", &mut errors, datetime_text),
        assignee: nullable_field(data, "assignee", &mut errors, pk),
        project: nullable_field(data, "project", &mut errors, pk),
    };
    (draft, errors)
}

/// A request body's task fields read, then checked by the domain's rules.
#[cfg(test)]
pub(crate) fn parse_task(
    data: &Map<String, Value>,
    partial: bool,
) -> Result<crate::store::tasks::TaskChanges, ApiError> {
    let (draft, errors) = task_draft(data, partial);
    let owner = crate::model::User {
        id: 1,
        username: "alice".into(),
        email: "alice@example.com".into(),
    };
    Ok(tasks::validate(&owner, draft, errors)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::payload::Json;
    use serde_json::json;

    fn errors_of(body: Value, partial: bool) -> String {
        let Value::Object(map) = body else { panic!() };
        match parse_task(&map, partial) {
            Err(ApiError::BadRequest(Json(v))) => Value::Object(v.0).to_string(),
            _ => "ok".into(),
        }
    }

    #[test]
    fn a_title_of_four_characters_is_rejected() {
        assert_eq!(
            errors_of(json!({"title": "abcd"}), false),
            r#"{"title":["Title must be at least 5 characters long."]}"#
        );
    }

    #[test]
    fn a_short_title_and_description_report_both_in_field_order() {
        assert_eq!(
            errors_of(json!({"title": "abc", "description": "x"}), false),
            r#"{"title":["Title must be at least 5 characters long."],"description":["Description must be at least 10 characters long if provided."]}"#
        );
    }

    #[test]
    fn a_padded_title_is_trimmed_then_measured() {
        assert_eq!(errors_of(json!({"title": "  abcde  "}), false), "ok");
        assert_eq!(errors_of(json!({"title": "   short    x"}), false), "ok");
    }

    #[test]
    fn null_description_and_completed_are_refused() {
        assert_eq!(
            errors_of(
                json!({"title": "Valid title", "description": null, "completed": null}),
                false
            ),
            r#"{"description":["This field may not be null."],"completed":["This field may not be null."]}"#
        );
    }

    #[test]
    fn patch_needs_no_title() {
        assert_eq!(errors_of(json!({}), true), "ok");
        assert_eq!(
            errors_of(json!({}), false),
            r#"{"title":["This field is required."]}"#
        );
    }
}

/// Property tests: task bodies of any shape are parsed without panicking, and what is
/// accepted follows the rules.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,300}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::hash_map(".{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn task_body() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::vec(
            (
                prop_oneof![
                    Just("title".to_owned()),
                    Just("description".to_owned()),
                    Just("completed".to_owned()),
                    Just("due_at".to_owned()),
                    Just("assignee".to_owned()),
                    ".{0,8}"
                ],
                json_value(),
            ),
            0..5,
        )
        .prop_map(|kv| kv.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn task_validation_never_panics_and_accepted_titles_follow_the_rules(
            body in task_body(),
            partial in any::<bool>(),
        ) {
            if let Ok(changes) = super::parse_task(&body, partial) {
                if let Some(title) = changes.title {
                    let n = title.chars().count();
                    prop_assert!((5..=255).contains(&n));
                    prop_assert_eq!(title.trim(), title.as_str());
                    prop_assert!(!title.contains('\0'));
                }
                if let Some(Some(d)) = changes.description {
                    prop_assert!(d.is_empty() || d.chars().count() >= 10);
                }
                if let Some(Some(due)) = changes.due_at {
                    prop_assert_eq!(due.len(), "2026-11-25T11:42:56.437485Z".len());
                }
                if let Some(Some(a)) = changes.assignee {
                    prop_assert_eq!(a.id, 1);
                }
            }
        }
    }
}
