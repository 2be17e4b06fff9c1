//! Everything HTTP around the OpenAPI operations: the route table, the docs pages, the
//! health check, and the middleware that gives every response the same shape and headers.

use std::sync::Arc;

use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route, RouteMethod, get, handler,
    http::{HeaderValue, Method, StatusCode, Uri, header},
    middleware::{CatchPanic, Cors},
    web::{Data, Html, Query, Redirect},
};
use serde::Deserialize;
use tracing::Instrument;

use crate::AppState;
use crate::api;
use crate::hub::Fanout;

mod allow;
mod cache;
pub mod deadline;
mod real_data;
use crate::error::ApiError;

/// A page outside the OpenAPI document: it answers GET (and HEAD).
struct Page {
    path: &'static str,
    route: fn() -> RouteMethod,
    /// `/metrics`: mounted on the main address only with `--metrics` (and alone on the
    /// `--metrics-bind` address), though its `Allow` is known either way.
    metrics: bool,
}

impl Page {
    const fn new(path: &'static str, route: fn() -> RouteMethod) -> Page {
        Page {
            path,
            route,
            metrics: false,
        }
    }
}

/// Every page outside the OpenAPI document, each path written only here: the route table
/// and the `Allow` table are both built from this list.
const PAGES: &[Page] = &[
    Page::new("/", || get(index)),
    Page::new("/openapi.json", || get(openapi_json)),
    Page::new("/swagger", || get(swagger)),
    Page::new("/redoc", || get(redoc)),
    Page::new("/healthz", || get(healthz)),
    Page::new("/real_data", || get(real_data::page)),
    Page::new("/real_data/app.js", || get(real_data::script)),
    Page::new("/real_data/app.css", || get(real_data::style)),
    Page {
        path: "/metrics",
        route: || get(metrics_endpoint),
        metrics: true,
    },
];

/// Adds the pages `wanted` picks to `route`.
fn mount_pages(mut route: Route, wanted: impl Fn(&Page) -> bool) -> Route {
    for page in PAGES.iter().filter(|page| wanted(page)) {
        route = route.at(page.path, (page.route)());
    }
    route
}

/// The route table: the OpenAPI operations and `PAGES`. Paths are matched after
/// `without_trailing_slash`, so each is written once, without its slash.
pub fn routes(state: AppState) -> impl Endpoint {
    let service = api::service();
    // The pages embed the document as poem-openapi writes it; serve the fixed one.
    let (raw, spec) = (service.spec(), api::spec());
    let docs = Arc::new(Docs {
        swagger: swagger_page(&service.swagger_ui_html().replacen(&raw, &spec, 1)),
        // The page is served offline; drop the web-font link.
        redoc: service
            .redoc_html()
            .replacen(&raw, &spec, 1)
            .replace(
                r#"<link href="https://fonts.googleapis.com/css?family=Montserrat:300,400,700|Roboto:300,400,700" rel="stylesheet">"#,
                "",
            ),
        spec,
    });
    let cors = (!state.limits.cors_origins.is_empty()).then(|| cors(&state.limits.cors_origins));
    let limits = state.limits.clone();
    let allow = Arc::new(allow::AllowTable::from_spec(
        &docs.spec,
        PAGES.iter().map(|page| page.path),
    ));
    let metrics = state.metrics.clone();
    let routes_for_log = allow.clone();
    let metrics_on_main = state.limits.metrics_on_main;
    mount_pages(Route::new().nest("/", service), |page| {
        !page.metrics || metrics_on_main
    })
    .data(docs)
    .data(state.authenticator())
    .data(state)
    .with(CatchPanic::new().with_handler(panic_response))
    .with_if(cors.is_some(), cors.unwrap_or_default())
    .around(move |ep, mut req| {
        own_origin_is_not_cross_origin(&mut req, &limits);
        async move { ep.call(req).await }
    })
    .around(move |ep, req| {
        let allow = allow.clone();
        async move { Ok(drf_errors(ep.as_ref(), req, &allow).await) }
    })
    .around(move |ep, req| {
        let (routes, metrics) = (routes_for_log.clone(), metrics.clone());
        async move { access_log(ep, req, &routes, &metrics).await }
    })
    .around(|ep, mut req| async move {
        without_trailing_slash(&mut req);
        ep.call(req).await
    })
}

/// CORS for the configured origins only. Tokens travel in `Authorization`, not cookies,
/// so credentials are never allowed.
fn cors(origins: &[String]) -> Cors {
    Cors::new()
        .allow_origins(origins.iter().map(String::as_str))
        .allow_credentials(false)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            "authorization",
            "content-type",
            "idempotency-key",
            "if-match",
            "if-none-match",
            "last-event-id",
            "x-request-id",
        ])
        .expose_headers([
            "etag",
            "link",
            "retry-after",
            "x-last-event-id",
            "x-request-id",
            "x-total-count",
            "idempotent-replayed",
        ])
        .max_age(3600)
}

/// A request from the server's own origin is not a cross-origin request: its `Origin`
/// goes before the CORS layer sees it, so `--cors-origin` (which refuses every origin it
/// does not name) never refuses the server's own pages, their writes and WebSockets
/// included. What "own" means is [`api::origin::is_own_origin`]'s.
fn own_origin_is_not_cross_origin(req: &mut Request, limits: &crate::Limits) {
    let own = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| api::origin::is_own_origin(req.headers(), limits, origin));
    if own {
        req.headers_mut().remove(header::ORIGIN);
    }
}

/// One log line per request (method, path without the query — it may hold a token —,
/// status, latency, request id), and the request id on the response. An incoming
/// `X-Request-Id` of sane shape is kept, so ids can follow a request through a proxy.
async fn access_log<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    routes: &allow::AllowTable,
    metrics: &crate::metrics::Metrics,
) -> poem::Result<Response> {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(crate::clock::new_id, str::to_owned);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = %id);
    let started = std::time::Instant::now();
    let mut resp = ep.call(req).instrument(span.clone()).await?.into_response();
    let status = resp.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    let ms = elapsed * 1000.0;
    // Labels from the route template and a fixed set of methods, never the raw path or
    // method: a client must not be able to add label values (bounded cardinality).
    let route = routes.route(&path).unwrap_or("other");
    let method_label = crate::metrics::method_label(&method);
    let status_label = status.to_string();
    metrics
        .requests
        .with_label_values(&[route, method_label, &status_label])
        .inc();
    metrics
        .latency
        .with_label_values(&[route, method_label])
        .observe(elapsed);
    span.in_scope(|| {
        tracing::info!(target: "tasklane::http", %method, %path, status, ms = format!("{ms:.2}"), "request");
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    Ok(resp)
}

/// `/metrics` in Prometheus' text format.
#[handler]
fn metrics_endpoint(state: Data<&AppState>) -> Response {
    let redis = match state.hub.fanout() {
        Fanout::Local => None,
        Fanout::Redis { connected } => Some(connected),
    };
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(
            redis,
            state.store.pool_state(),
            state.store.write_stats(),
            state.store.stall_stats(),
        ))
}

/// Only `/metrics`, for `--metrics-bind`.
pub fn metrics_only(state: AppState) -> impl Endpoint {
    mount_pages(Route::new(), |page| page.metrics).data(state)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a handler panicked").into_response()
}

/// Swagger UI, set up for the `oauth2` scheme's password flow: its Authorize dialog asks
/// for a username and password and posts them to `/api/oauth/token/`. The token endpoint
/// takes no client credentials, so the dialog's client id, secret and "client credentials
/// location" rows are hidden (what they send, an empty HTTP Basic pair, is ignored).
fn swagger_page(html: &str) -> String {
    const STYLE: &str = "<style>\
        .auth-container .wrapper:has(> label[for=password_type]),\
        .auth-container .wrapper:has(> label[for=client_id_password]),\
        .auth-container .wrapper:has(> label[for=client_secret_password]) { display: none; }\
        </style>";
    // The page's own `</head>` (the inline bundle before it has that text in strings).
    html.replacen("</head>\n<body>", &format!("{STYLE}</head>\n<body>"), 1)
}

/// The generated documents, built once.
struct Docs {
    spec: String,
    swagger: String,
    redoc: String,
}

#[derive(Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

#[handler]
fn index() -> Redirect {
    Redirect::see_other("/swagger/")
}

#[handler]
fn openapi_json(docs: Data<&Arc<Docs>>) -> Response {
    spec_response(&docs)
}

/// Swagger UI; `?format=openapi` returns the document, where the original served it.
#[handler]
fn swagger(docs: Data<&Arc<Docs>>, q: Query<FormatQuery>) -> Response {
    if q.format.as_deref() == Some("openapi") {
        return spec_response(&docs);
    }
    html_page(Html(docs.swagger.clone()).into_response())
}

#[handler]
fn redoc(docs: Data<&Arc<Docs>>, q: Query<FormatQuery>) -> Response {
    if q.format.as_deref() == Some("openapi") {
        return spec_response(&docs);
    }
    html_page(Html(docs.redoc.clone()).into_response())
}

fn spec_response(docs: &Docs) -> Response {
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(docs.spec.clone())
}

/// 200 when the database answers (Redis being away only degrades streams across
/// processes, so it shows in the body, not the status); 503 when the database does not.
/// The body also names the backend (`sqlite` or `postgres`) and its pool's connections.
#[handler]
async fn healthz(state: Data<&AppState>) -> Response {
    let redis = match state.hub.fanout() {
        Fanout::Local => "disabled",
        Fanout::Redis { connected: true } => "ok",
        Fanout::Redis { connected: false } => "degraded",
    };
    let database = state.store.ping().await;
    let status = match (&database, redis) {
        (Err(_), _) => "unavailable",
        (Ok(()), "degraded") => "degraded",
        (Ok(()), _) => "ok",
    };
    let (connections, idle) = state.store.pool_state();
    // `database` stays "ok"/"unavailable" for existing monitors; which database it is
    // and its pool come in fields of their own.
    let body = serde_json::json!({
        "status": status,
        "database": if database.is_ok() { "ok" } else { "unavailable" },
        "redis": redis,
        "streams": state.hub.followers(),
        "backend": state.store.backend_name(),
        "pool": {"connections": connections, "idle": idle},
    });
    let mut resp = poem::web::Json(body).into_response();
    if let Err(e) = database {
        tracing::error!(error = %e, "health check: database unavailable");
        resp.set_status(StatusCode::SERVICE_UNAVAILABLE);
    }
    resp
}

/// The docs pages run Swagger UI's and ReDoc's inline scripts: allow exactly that, and
/// nothing from elsewhere.
fn html_page(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; \
             base-uri 'none'; form-action 'self'",
        ),
    );
    resp
}

/// `/api/tasks/` → `/api/tasks`: every route is registered once, without its slash (as
/// poem-openapi writes paths), and works with it, as the original's did.
fn without_trailing_slash(req: &mut Request) {
    let uri = req.uri();
    let path = uri.path();
    if path.len() <= 1 || !path.ends_with('/') {
        return;
    }
    let trimmed = path.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let new = match uri.query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_owned(),
    };
    if let Ok(new) = new.parse::<Uri>() {
        *req.uri_mut() = new;
    }
}

/// Runs the request and turns any error into a DRF-shaped JSON response; adds the headers
/// every response carries, and its `Cache-Control` ([`cache::policy`]).
async fn drf_errors<E: Endpoint>(ep: &E, req: Request, allow: &allow::AllowTable) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let allowed = allow.for_path(&path).map(str::to_owned);
    // OPTIONS answers with the methods (CORS preflights go on to the CORS layer).
    let preflight = req
        .headers()
        .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if method == Method::OPTIONS && !preflight && allowed.is_some() {
        Response::builder().status(StatusCode::NO_CONTENT).finish()
    } else {
        match ep.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => crate::error::from_poem(e, &method),
        }
    };
    if let Some(methods) = allowed
        && (resp.status() == StatusCode::METHOD_NOT_ALLOWED || method == Method::OPTIONS)
        && let Ok(v) = HeaderValue::from_str(&methods)
    {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    if let Some(policy) = cache::policy(&method, &path, allow.route(&path), resp.status()) {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "Cross-Origin-Opener-Policy",
        HeaderValue::from_static("same-origin"),
    );
    resp
}
