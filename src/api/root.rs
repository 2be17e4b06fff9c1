//! `GET /api/`: the API root, links to the collections as DRF's browsable API had them.

use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json, types::Example};

use super::origin::external_origin;
use super::{ApiTags, ReadErrors};
use crate::AppState;
use crate::auth::{Caller, Scope};

#[derive(Default)]
pub struct RootApi;

/// Links to the collections, as DRF's browsable API root had them: absolute URLs, on
/// `--public-url` when it is set, else as the client reached the server (behind a proxy,
/// see `--trust-x-forwarded-for`).
#[derive(Object)]
#[oai(example)]
pub struct ApiRoot {
    pub tasks: String,
    pub users: String,
}

impl Example for ApiRoot {
    fn example() -> Self {
        ApiRoot {
            tasks: "https://tasks.example.com/api/tasks/".into(),
            users: "https://tasks.example.com/api/users/".into(),
        }
    }
}

#[derive(ApiResponse)]
pub enum ApiRootResponse {
    /// The collections' URLs.
    #[oai(status = 200)]
    Ok(Json<ApiRoot>),
}

#[OpenApi(tag = "ApiTags::Users")]
impl RootApi {
    /// API root: links to the collections
    ///
    /// Absolute URLs of the task and user collections, as the client reached the server
    /// (behind a reverse proxy, see `--trust-x-forwarded-for`).
    #[oai(path = "/api", method = "get", operation_id = "api_root")]
    async fn api_root(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        req: &Request,
    ) -> Result<ApiRootResponse, ReadErrors> {
        caller.require(Scope::AccountRead)?;
        let origin = external_origin(req, &state.limits);
        Ok(ApiRootResponse::Ok(Json(ApiRoot {
            tasks: format!("{origin}/api/tasks/"),
            users: format!("{origin}/api/users/"),
        })))
    }
}
