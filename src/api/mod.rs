//! The management API (PRODUCT §8): `cairn serve --listen ADDR:PORT` serves JSON under
//! `/api/v1` and Prometheus text at `/metrics`, beside the scheduler, from one process.
//!
//! Every route calls the same [`crate::ops`] functions as the CLI; a job runs on a blocking
//! thread (`spawn_blocking`) with an [`ApiSink`](state::ApiSink) that records its phases, so
//! `GET /api/v1/jobs/{id}` shows its live progress, and the request that started it answers 202
//! as soon as the job is recorded (or 409 naming the job that holds the repository).
//!
//! The web console ([`console`]: `/`, `/console.css`, `/console.js`) is served without a token;
//! every other request needs `Authorization: Bearer TOKEN` ([`tokens`]); reader tokens may only
//! read. Errors are `{"error", "remedy"}` ([`error`]). Bodies are
//! limited to 1 MiB (413). Without TLS the server binds only to loopback addresses.

pub mod auth;
mod backups;
mod coalesce;
mod console;
pub mod error;
mod jobs;
mod location;
mod manifests;
mod metrics;
mod pages;
mod stamp;
pub mod state;
mod status;
pub mod tokens;

use crate::jobs::JobRecord;
use crate::ops::{Cancel, Context};
use crate::{Error, Result};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use error::ApiError;
use serde::de::DeserializeOwned;
use state::{ApiSink, AppState};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The OpenAPI 3 description of every route.
pub const OPENAPI: &str = include_str!("openapi.json");

/// How `cairn serve --listen` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The repository directory.
    pub repo: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// TLS certificate chain and private key (PEM files); without them, loopback only.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Refuse a non-loopback address without TLS (exit 2, with the remedy).
pub fn check_listen(listen: &SocketAddr, tls: bool) -> Result<()> {
    if tls || listen.ip().is_loopback() {
        return Ok(());
    }
    Err(Error::usage(
        format!(
            "refusing to serve the API on {listen} without TLS: tokens and identities would cross the network in clear text"
        ),
        format!(
            "listen on a loopback address (--listen 127.0.0.1:{0} or --listen [::1]:{0}) and reach it through a TLS proxy, or give --tls-cert FILE --tls-key FILE",
            listen.port()
        ),
    ))
}

/// The router of the API over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/api/v1/status", get(status::status))
        .route(
            "/api/v1/location",
            get(location::get_location).put(location::put_location),
        )
        .route(
            "/api/v1/backups",
            get(backups::list).post(backups::start_backup),
        )
        .route("/api/v1/backups/{id}", get(backups::show))
        .route("/api/v1/backups/{id}/restore", post(backups::restore))
        .route("/api/v1/jobs", get(jobs::list))
        .route("/api/v1/jobs/{id}", get(jobs::show))
        .route("/api/v1/alerts", get(jobs::alerts))
        .route("/api/v1/keys/rotate", post(backups::rotate_keys))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics::metrics))
        .fallback(not_found)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/", get(console::index))
        .route("/console.css", get(console::css))
        .route("/console.js", get(console::js))
        .merge(api)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
        // outside the limit, whose 413 is plain text, and the router, whose 405 is empty
        .layer(middleware::map_response(json_errors))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Threads for the requests' reads and the jobs.
const BLOCKING_THREADS: usize = 16;

/// Serve the API on `opts.listen` and run the scheduler beside it until SIGTERM or SIGINT.
pub fn serve(opts: &ServeOptions) -> Result<()> {
    check_listen(&opts.listen, opts.tls.is_some())?;
    crate::controller::Controller::open(&opts.repo)?; // no repository: no server
    let stop = Cancel::new();
    stop.on_signals(&crate::ops::SHUTDOWN_SIGNALS)?;
    let listener = std::net::TcpListener::bind(opts.listen).map_err(|e| {
        Error::failed(
            format!("cannot listen on {}: {e}", opts.listen),
            "choose a free port (another process listens there) or an address of this host",
        )
    })?;
    let state = Arc::new(AppState::new(&opts.repo, stop.clone()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // requests read the repository on blocking threads, and concurrent reads of one document
        // wait for a shared one (api::coalesce): a few threads serve hundreds of clients, and
        // each thread more costs memory that stays after a burst (its stack, a malloc arena)
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the server's runtime", e))?;
    // the TLS certificate and key are read before anything starts: a bad one is bad input
    let tls = match &opts.tls {
        None => None,
        Some((cert, key)) => Some(load_tls(&rt, cert, key)?),
    };
    let scheduler = {
        let state = state.clone();
        std::thread::Builder::new()
            .name("scheduler".into())
            .spawn(move || scheduler::run(state))
            .map_err(|e| Error::io("starting the scheduler thread", e))?
    };
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    eprintln!(
        "cairn serve: API on {scheme}://{}/api/v1 (OpenAPI at /api/v1/openapi.json); stop with SIGTERM",
        opts.listen
    );
    let served = rt.block_on(run_server(
        listener,
        tls,
        router(state.clone()),
        stop.clone(),
    ));
    stop.cancel(); // the server ended (signal, or failure): stop the scheduler too
    let _ = scheduler.join();
    served.map_err(|e| {
        Error::failed(
            format!("the API server failed: {e}"),
            "check the TLS certificate and key (PEM files) and the address, then start `cairn serve` again",
        )
    })?;
    eprintln!("cairn serve: stopped");
    Ok(())
}

/// The TLS certificate chain and private key (PEM files) for the server.
fn load_tls(
    rt: &tokio::runtime::Runtime,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<axum_server::tls_rustls::RustlsConfig> {
    rt.block_on(axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key))
        .map_err(|e| {
            Error::usage(
                format!(
                    "cannot use the TLS certificate {} and key {}: {e}",
                    cert.display(),
                    key.display()
                ),
                "give --tls-cert a PEM certificate chain and --tls-key its PEM private key (PKCS#8, PKCS#1 or SEC1), both readable by cairn",
            )
        })
}

/// Serve `app` on `listener` (over TLS when `tls` is given) until `stop` is set, then let the
/// open requests finish for up to 5 s.
async fn run_server(
    listener: std::net::TcpListener,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    app: Router,
    stop: Cancel,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let watcher = {
        let handle = handle.clone();
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            handle.graceful_shutdown(Some(Duration::from_secs(5)));
        })
    };
    let app = app.into_make_service();
    let out = match tls {
        None => {
            axum_server::from_tcp(listener)?
                .handle(handle)
                .serve(app)
                .await
        }
        Some(cfg) => {
            axum_server::tls_rustls::from_tcp_rustls(listener, cfg)?
                .handle(handle)
                .serve(app)
                .await
        }
    };
    watcher.abort();
    out
}

mod scheduler {
    //! The scheduler beside the server: [`crate::ops::serve`] as `cairn serve` runs it, restarted
    //! with the new schedule when the API changes it (between jobs), paused while disabled.

    use super::state::{ApiSink, AppState, Settings};
    use crate::jobs::Trigger;
    use crate::ops::{Cancel, Context};
    use crate::schedule::ScheduleConfig;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    const POLL: Duration = Duration::from_millis(200);

    pub(super) fn run(state: Arc<AppState>) {
        let local = state.local();
        while !state.stop.is_cancelled() {
            let generation = state.schedule_generation.load(Ordering::SeqCst);
            let changed = || state.schedule_generation.load(Ordering::SeqCst) != generation;
            if !Settings::load(&local).scheduler_enabled {
                eprintln!("cairn serve: the scheduler is disabled (PUT /api/v1/location with scheduler_enabled: true enables it)");
                while !state.stop.is_cancelled() && !changed() {
                    std::thread::sleep(POLL);
                }
                continue;
            }
            let cfg = match ScheduleConfig::load(&local) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!(
                        "cairn serve: the schedule is unreadable: {e}; what to do: {}",
                        e.remedy()
                    );
                    wait(&state, 30);
                    continue;
                }
            };
            eprintln!(
                "cairn serve: backup every {}, verify every {}, keep within {}",
                crate::retention::format_duration(cfg.backup_every),
                crate::retention::format_duration(cfg.verify_every),
                crate::retention::format_duration(cfg.keep_within)
            );
            let cancel = Cancel::new();
            let sink = ApiSink::new(state.clone(), None);
            let done = AtomicBool::new(false);
            std::thread::scope(|s| {
                s.spawn(|| {
                    let cx = Context::new(&state.repo)
                        .with_sink(&sink)
                        .with_trigger(Trigger::Schedule)
                        .with_cancel(cancel.clone());
                    if let Err(e) = crate::ops::serve(&cx, &cfg) {
                        eprintln!(
                            "cairn serve: the scheduler stopped: {e}; what to do: {}",
                            e.remedy()
                        );
                    }
                    done.store(true, Ordering::SeqCst);
                });
                loop {
                    std::thread::sleep(POLL);
                    if done.load(Ordering::SeqCst) {
                        break;
                    }
                    if state.stop.is_cancelled() || (changed() && sink.running().is_none()) {
                        cancel.cancel();
                        break;
                    }
                }
            });
            if !state.stop.is_cancelled() && !changed() {
                wait(&state, 30); // it stopped by itself (an error): try again later
            }
        }
    }

    fn wait(state: &AppState, secs: u64) {
        for _ in 0..secs * 5 {
            if state.stop.is_cancelled() {
                return;
            }
            std::thread::sleep(POLL);
        }
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found(
        "no such API route",
        "see /api/v1/openapi.json for the routes",
    )
}

/// The errors that axum and tower-http answer themselves in plain text (413 over the body limit,
/// 405 for a method a route does not take, 400 for a query string that does not parse) become
/// `{"error", "remedy"}` like every other error; the 405 keeps its `Allow` header.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let allow = resp.headers().get(header::ALLOW).cloned();
    let err = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(BODY_LIMIT),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            format!(
                "this route does not take that method{}",
                allow
                    .as_ref()
                    .and_then(|a| a.to_str().ok())
                    .map(|a| format!(" (it takes {a})"))
                    .unwrap_or_default()
            ),
            "use a method the route takes: see /api/v1/openapi.json",
        ),
        _ => {
            let text = axum::body::to_bytes(resp.into_body(), 4096)
                .await
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_default();
            let text = if text.is_empty() {
                format!("the request was refused ({status})")
            } else {
                text
            };
            ApiError::new(
                status,
                text,
                "check the request's path, query and body against /api/v1/openapi.json",
            )
        }
    };
    let mut out = err.into_response();
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    out
}

/// A JSON request body, refused as `{"error", "remedy"}`: 413 over the limit, 400 when it is
/// not the document expected.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> std::result::Result<Self, ApiError> {
        let bytes =
            axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|e: BytesRejection| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::too_large(BODY_LIMIT)
                    } else {
                        ApiError::bad_request(
                            format!("the request body could not be read: {e}"),
                            "send the body again",
                        )
                    }
                })?;
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(body).map(JsonBody).map_err(|e| {
            ApiError::bad_request(
                format!("the request body is not the JSON document expected: {e}"),
                "see /api/v1/openapi.json for the fields of this request",
            )
        })
    }
}

/// Run `f` on a blocking thread (the library's calls block).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::result::Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError::from(Error::failed(
            format!("the request's work stopped: {e}"),
            "retry; if it persists, see the server's log",
        ))),
    }
}

/// Start `work` as a job on a blocking thread with a context on the repository; answer 202 with
/// the job (id, kind, URL) once it is recorded, or the error that stopped it before (409 busy,
/// 400 bad input, ...). The job goes on after the answer.
pub(crate) async fn start_job(
    state: &Arc<AppState>,
    work: impl FnOnce(&Context) -> Result<()> + Send + 'static,
) -> std::result::Result<Response, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel::<JobRecord>();
    let st = state.clone();
    let handle = tokio::task::spawn_blocking(move || {
        let sink = ApiSink::new(st.clone(), Some(tx));
        let cx = Context::new(&st.repo)
            .with_sink(&sink)
            .with_cancel(st.stop.clone());
        work(&cx)
    });
    match rx.await {
        Ok(rec) => Ok(accepted(&rec)),
        Err(_) => match handle.await {
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(())) => Err(ApiError::from(Error::failed(
                "the operation ended without starting a job",
                "retry; if it persists, see the server's log",
            ))),
            Err(e) => Err(ApiError::from(Error::failed(
                format!("the job's thread stopped: {e}"),
                "see the server's log",
            ))),
        },
    }
}

/// 202 with a job's id, kind and URL (also in `Location`).
fn accepted(rec: &JobRecord) -> Response {
    let url = format!("/api/v1/jobs/{}", rec.id);
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, url.clone())],
        Json(serde_json::json!({
            "job_id": rec.id,
            "kind": rec.kind,
            "state": rec.state,
            "url": url,
        })),
    )
        .into_response()
}
