//! The agents' web page: sign-in, the queue, one handoff with its ranked suggestions, insights and the
//! audit log. Server-rendered HTML (maud escapes everything interpolated), no JavaScript: the queue page
//! refreshes itself every few seconds.
//!
//! Security: argon2id password hashes; a random session token in an `HttpOnly; SameSite=Strict` cookie;
//! a per-session CSRF token in every form, checked on every POST (the sign-in form has its own token in a
//! cookie); an agent sees and answers only their brand's handoffs; a strict Content-Security-Policy (no
//! scripts at all). Everything from homes is escaped and stripped of control and bidi characters.

mod auth;
mod pages;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

pub use auth::{LOGIN_COOKIE, SESSION_COOKIE, hash_password, verify_password};

use crate::desk::{Desk, now_ms};
use crate::error::{DeskError, Result};
use crate::store::Session;

/// Most queued handoffs listed on the queue page (the count shows them all).
const WAITING_SHOWN: u32 = 200;

/// Refused sign-ins of one agent id within [`FAILURE_WINDOW_MS`] before it is locked for the window.
const MAX_FAILURES: u64 = 5;
/// The window for [`MAX_FAILURES`].
const FAILURE_WINDOW_MS: u64 = 15 * 60 * 1000;

/// How long a session lasts.
const SESSION_MS: u64 = 12 * 3_600 * 1_000;

#[derive(Clone)]
struct WebState {
    desk: Arc<Desk>,
    secure_cookies: bool,
}

/// The web application. `secure_cookies` adds `Secure` to cookies (set it when served over HTTPS, e.g.
/// behind a TLS proxy).
pub fn router(desk: Arc<Desk>, secure_cookies: bool) -> Router {
    Router::new()
        .route("/", get(queue))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/availability", post(availability))
        .route("/handoff/:id", get(handoff))
        .route("/handoff/:id/reply", post(reply))
        .route("/insights", get(insights))
        .route("/log", get(log))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(WebState {
            desk,
            secure_cookies,
        })
}

/// Serves the page on `addr` until the task is dropped.
pub async fn serve(desk: Arc<Desk>, addr: SocketAddr, secure_cookies: bool) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| DeskError::Web {
            addr: addr.to_string(),
            message: e.to_string(),
        })?;
    let local = listener.local_addr().map_err(|e| DeskError::Web {
        addr: addr.to_string(),
        message: e.to_string(),
    })?;
    tracing::info!(addr = %local, "agent page listening");
    axum::serve(listener, router(desk, secure_cookies))
        .await
        .map_err(|e| DeskError::Web {
            addr: local.to_string(),
            message: e.to_string(),
        })
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn html(status: StatusCode, markup: maud::Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

fn failure(e: &DeskError) -> Response {
    tracing::error!(error = %e, "agent page failed");
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::message(
            "Something went wrong",
            "The desk could not do this; see its log.",
        ),
    )
}

/// The signed-in agent's session, or a redirect to the sign-in page.
async fn signed_in(s: &WebState, headers: &HeaderMap) -> Result<(Session, String), Response> {
    let Some(token) = auth::cookie(headers, SESSION_COOKIE) else {
        return Err(Redirect::to("/login").into_response());
    };
    match s.desk.store().session(token, now_ms()).await {
        Ok(Some(session)) => Ok((session, token.to_owned())),
        Ok(None) => Err(Redirect::to("/login").into_response()),
        Err(e) => Err(failure(&e)),
    }
}

/// Checks a form's CSRF token against the session's; a mismatch is logged and refused.
async fn check_csrf(
    s: &WebState,
    session: &Session,
    given: &str,
    what: &str,
) -> Result<(), Response> {
    if auth::same_token(&session.csrf, given) {
        return Ok(());
    }
    let _ = s
        .desk
        .store()
        .log(now_ms(), &session.agent.id, "csrf-refused", "", what)
        .await;
    Err(html(
        StatusCode::FORBIDDEN,
        pages::message(
            "Refused",
            "The form was not sent from this desk's page (CSRF check failed). Reload the page and try again.",
        ),
    ))
}

async fn login_form(State(s): State<WebState>) -> Response {
    login_page(&s, None, StatusCode::OK)
}

fn login_page(s: &WebState, error: Option<&str>, status: StatusCode) -> Response {
    let token = match auth::token() {
        Ok(t) => t,
        Err(e) => return failure(&e),
    };
    let mut r = html(status, pages::login(&token, error));
    if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(
        LOGIN_COOKIE,
        &token,
        3_600,
        s.secure_cookies,
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
struct LoginForm {
    agent: String,
    password: String,
    csrf: String,
}

async fn login(
    State(s): State<WebState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let now = now_ms();
    let store = s.desk.store();
    let agent_id = emma_untrusted::line(&f.agent, 64);
    if !auth::cookie(&headers, LOGIN_COOKIE).is_some_and(|c| auth::same_token(c, &f.csrf)) {
        let _ = store
            .log(now, &agent_id, "sign-in-refused", "", "CSRF check failed")
            .await;
        return login_page(
            &s,
            Some("The sign-in form expired. Please try again."),
            StatusCode::FORBIDDEN,
        );
    }
    // Guessing is slowed down: after MAX_FAILURES refused sign-ins in a window, the agent id is locked
    // for the rest of the window (counted in the shared audit log, so across all workers).
    match store
        .recent(
            &agent_id,
            "sign-in-refused",
            now.saturating_sub(FAILURE_WINDOW_MS),
        )
        .await
    {
        Ok(n) if n >= MAX_FAILURES => {
            let _ = store
                .log(
                    now,
                    &agent_id,
                    "sign-in-locked",
                    "",
                    "too many refused sign-ins",
                )
                .await;
            return login_page(
                &s,
                Some("Too many failed sign-ins. Try again in 15 minutes."),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
        Ok(_) => {}
        Err(e) => return failure(&e),
    }
    let hash = match store.password_hash(&agent_id).await {
        Ok(h) => h,
        Err(e) => return failure(&e),
    };
    let password = f.password;
    // Verify even for an unknown agent, so timing does not tell which agents exist.
    let ok = tokio::task::spawn_blocking(move || match hash {
        Some(h) => verify_password(&password, &h),
        None => {
            let _ = verify_password(
                &password,
                "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
            );
            false
        }
    })
    .await
    .unwrap_or(false);
    if !ok {
        let _ = store
            .log(
                now,
                &agent_id,
                "sign-in-refused",
                "",
                "wrong agent or password",
            )
            .await;
        return login_page(
            &s,
            Some("Wrong agent or password."),
            StatusCode::UNAUTHORIZED,
        );
    }
    let (token, csrf) = match (auth::token(), auth::token()) {
        (Ok(t), Ok(c)) => (t, c),
        (Err(e), _) | (_, Err(e)) => return failure(&e),
    };
    if let Err(e) = store
        .create_session(&token, &agent_id, &csrf, now + SESSION_MS)
        .await
    {
        return failure(&e);
    }
    if let Err(e) = store.set_available(&agent_id, true, now, "signed in").await {
        return failure(&e);
    }
    let _ = store.log(now, &agent_id, "sign-in", "", "").await;
    let mut r = Redirect::to("/").into_response();
    for c in [
        auth::set_cookie(SESSION_COOKIE, &token, SESSION_MS / 1000, s.secure_cookies),
        auth::set_cookie(LOGIN_COOKIE, "", 0, s.secure_cookies),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(s): State<WebState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let (session, token) = match signed_in(&s, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = check_csrf(&s, &session, &f.csrf, "sign out").await {
        return r;
    }
    let store = s.desk.store();
    let now = now_ms();
    if let Err(e) = store
        .set_available(&session.agent.id, false, now, "signed out")
        .await
    {
        return failure(&e);
    }
    if let Err(e) = store.delete_session(&token).await {
        return failure(&e);
    }
    let _ = store.log(now, &session.agent.id, "sign-out", "", "").await;
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(SESSION_COOKIE, "", 0, s.secure_cookies))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
struct AvailabilityForm {
    csrf: String,
    available: String,
}

async fn availability(
    State(s): State<WebState>,
    headers: HeaderMap,
    Form(f): Form<AvailabilityForm>,
) -> Response {
    let (session, _) = match signed_in(&s, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = check_csrf(&s, &session, &f.csrf, "availability").await {
        return r;
    }
    let available = f.available == "on";
    let why = if available { "back" } else { "stepped away" };
    match s
        .desk
        .store()
        .set_available(&session.agent.id, available, now_ms(), why)
        .await
    {
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => failure(&e),
    }
}

#[derive(Deserialize)]
struct QueueQuery {
    sent: Option<String>,
}

async fn queue(
    State(s): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<QueueQuery>,
) -> Response {
    let (session, _) = match signed_in(&s, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let store = s.desk.store();
    let now = now_ms();
    if let Err(e) = store.seen(&session.agent.id, now).await {
        return failure(&e);
    }
    let queue = match store.queue(&session.agent.brand, WAITING_SHOWN).await {
        Ok(i) => i,
        Err(e) => return failure(&e),
    };
    // The session row is read before `seen`; re-read the agent for the current load and availability.
    let agent = match store.agent(&session.agent.id).await {
        Ok(Some(a)) => a,
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(e) => return failure(&e),
    };
    html(
        StatusCode::OK,
        pages::queue(&agent, &session.csrf, &queue, now, q.sent.as_deref()),
    )
}

async fn handoff(
    State(s): State<WebState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (session, _) = match signed_in(&s, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let store = s.desk.store();
    let h = match store.handoff(&session.agent.brand, &id).await {
        Ok(Some(h)) => h,
        Ok(None) => {
            return html(
                StatusCode::NOT_FOUND,
                pages::message("Not found", "No such handoff for your brand."),
            );
        }
        Err(e) => return failure(&e),
    };
    let counts = match store
        .suggestion_counts(&session.agent.brand, h.intent())
        .await
    {
        Ok(c) => c,
        Err(e) => return failure(&e),
    };
    let ranked = crate::suggest::rank(&h.request.suggestions, &counts);
    html(
        StatusCode::OK,
        pages::handoff(&session.agent, &session.csrf, &h, &ranked, now_ms()),
    )
}

#[derive(Deserialize)]
struct ReplyForm {
    csrf: String,
    text: String,
}

async fn reply(
    State(s): State<WebState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Response {
    let (session, _) = match signed_in(&s, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = check_csrf(
        &s,
        &session,
        &f.csrf,
        &format!("reply to {}", emma_untrusted::line(&id, 64)),
    )
    .await
    {
        return r;
    }
    match s.desk.reply(&session.agent, &id, &f.text).await {
        Ok(_) => Redirect::to(&format!("/?sent={}", pages::url_part(&id))).into_response(),
        Err(e @ (DeskError::NotYours { .. } | DeskError::AlreadyAnswered(_))) => html(
            StatusCode::CONFLICT,
            pages::message("Reply refused", &e.to_string()),
        ),
        Err(e @ DeskError::UnknownHandoff(_)) => html(
            StatusCode::NOT_FOUND,
            pages::message("Reply refused", &e.to_string()),
        ),
        Err(e @ DeskError::Invalid { .. }) => html(
            StatusCode::BAD_REQUEST,
            pages::message("Reply refused", &e.to_string()),
        ),
        Err(e) => failure(&e),
    }
}

async fn insights(State(s): State<WebState>, headers: HeaderMap) -> Response {
    let (session, _) = match signed_in(&s, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let store = s.desk.store();
    let brand = &session.agent.brand;
    let (rows, reports) = match (
        store.touch_rows(brand).await,
        store.report_count(brand).await,
    ) {
        (Ok(r), Ok(n)) => (r, n),
        (Err(e), _) | (_, Err(e)) => return failure(&e),
    };
    let insights = crate::insights::aggregate(&rows, reports);
    html(
        StatusCode::OK,
        pages::insights(&session.agent, &session.csrf, &insights),
    )
}

async fn log(State(s): State<WebState>, headers: HeaderMap) -> Response {
    let (session, _) = match signed_in(&s, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match s
        .desk
        .store()
        .audit_log(Some(&session.agent.brand), 200)
        .await
    {
        Ok(entries) => html(
            StatusCode::OK,
            pages::audit(&session.agent, &session.csrf, &entries),
        ),
        Err(e) => failure(&e),
    }
}

/// The address the page listens on by default: loopback only.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8640);
