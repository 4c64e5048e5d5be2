//! Which route a request is: the method and path segments of each endpoint
//! the fake serves (see the table in the module above).

use hyper::Method;

use super::model::Route;

pub(crate) fn route_of(method: &Method, segs: &[&str]) -> Route {
    match (method, segs) {
        (&Method::POST, ["oauth", "token"]) => Route::Token,
        (&Method::GET, ["api", "v2", "conversations", "messages", _]) => Route::Conversation,
        (
            &Method::POST,
            [
                "api",
                "v2",
                "conversations",
                "messages",
                _,
                "messages",
                "bulk",
            ],
        ) => Route::Bulk,
        (&Method::GET, ["api", "v2", "conversations", "messages", _, "messages", _]) => {
            Route::Message
        }
        (&Method::GET, ["api", "v2", "conversations", _, "recordings"]) => Route::Recordings,
        (&Method::GET, ["api", "v2", "downloads", _]) => Route::DownloadUrl,
        (&Method::GET, ["signed", _]) => Route::Signed,
        (&Method::GET, ["cdn", _]) => Route::Cdn,
        (
            &Method::POST,
            [
                "api",
                "v2",
                "analytics",
                "conversations",
                "details",
                "query",
            ],
        ) => Route::AnalyticsQuery,
        (&Method::POST, ["api", "v2", "analytics", "conversations", "details", "jobs"]) => {
            Route::AnalyticsJobCreate
        }
        // Before the job-status arm: `availability` is not a job id.
        (
            &Method::GET,
            [
                "api",
                "v2",
                "analytics",
                "conversations",
                "details",
                "jobs",
                "availability",
            ],
        ) => Route::AnalyticsAvailability,
        (
            &Method::GET,
            [
                "api",
                "v2",
                "analytics",
                "conversations",
                "details",
                "jobs",
                _,
            ],
        ) => Route::AnalyticsJobStatus,
        (
            &Method::GET,
            [
                "api",
                "v2",
                "analytics",
                "conversations",
                "details",
                "jobs",
                _,
                "results",
            ],
        ) => Route::AnalyticsJobResults,
        _ => Route::Unknown,
    }
}
