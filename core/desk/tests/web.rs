//! The agents' page over HTTP (in process): sign-in with CSRF and argon2, cookies, brand isolation,
//! escaping of everything from homes, refused replies, suggestion ranking after choices, insights that
//! match the touchpoint reports.

mod support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use emma_desk::{Desk, DeskConfig, NewAgent};
use support::fixtures::{handoff, report};
use tower::ServiceExt;

struct Page {
    status: StatusCode,
    cookies: Vec<String>,
    location: Option<String>,
    csp: Option<String>,
    body: String,
}

async fn send(app: &Router, req: Request<Body>) -> Page {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let cookies = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let location = r
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let csp = r
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    Page {
        status,
        cookies,
        location,
        csp,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, cookie: &str, form: &[(&str, &str)]) -> Request<Body> {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn csrf_of(body: &str) -> String {
    let at =
        body.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
    body[at..at + 64].to_owned()
}

fn cookie_value(cookies: &[String], name: &str) -> String {
    let c = cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"));
    c.split(';').next().unwrap().to_owned()
}

/// Signs in; returns the session cookie (`emma_desk=…`) and the session's CSRF token.
async fn sign_in(app: &Router, agent: &str, password: &str) -> (String, String) {
    let form = send(app, get("/login", "")).await;
    let login_cookie = cookie_value(&form.cookies, "emma_desk_login");
    let csrf = csrf_of(&form.body);
    let r = send(
        app,
        post(
            "/login",
            &login_cookie,
            &[("agent", agent), ("password", password), ("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let session = r
        .cookies
        .iter()
        .find(|c| c.starts_with("emma_desk="))
        .unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    let cookie = cookie_value(&r.cookies, "emma_desk");
    let queue = send(app, get("/", &cookie)).await;
    assert_eq!(queue.status, StatusCode::OK);
    (cookie.clone(), csrf_of(&queue.body))
}

fn agent(id: &str, brand: &str) -> NewAgent {
    NewAgent {
        id: id.into(),
        brand: brand.into(),
        name: format!("Agent {id}"),
        languages: vec!["en".into()],
        skills: vec!["*".into()],
        capacity: 1,
        password: format!("{id}-password"),
    }
}

async fn desk() -> (Arc<Desk>, Router, support::Mosquitto, tempfile::TempDir) {
    support::logs();
    let broker = support::Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("desk.db").display().to_string();
    let (desk, _tasks) = Desk::start(DeskConfig::new(broker.url(), db, "desk-web"))
        .await
        .unwrap();
    for a in [
        agent("ann", "acme"),
        agent("bob", "acme"),
        agent("eve", "acme"),
        agent("gil", "globex"),
    ] {
        desk.add_agent(a).await.unwrap();
    }
    let app = emma_desk::web::router(desk.clone(), false);
    (desk, app, broker, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_csrf_isolation_escaping_and_replies() {
    let (desk, app, _broker, dir) = desk().await;
    let now = emma_desk::desk::now_ms();

    // Not signed in: sent to the sign-in page.
    let r = send(&app, get("/", "")).await;
    assert_eq!(
        (r.status, r.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/login"))
    );
    let r = send(&app, get("/", "emma_desk=forged")).await;
    assert_eq!(r.location.as_deref(), Some("/login"));

    // Sign-in refused: wrong CSRF token, wrong password, unknown agent.
    let form = send(&app, get("/login", "")).await;
    assert!(form.csp.unwrap().contains("default-src 'none'"));
    let login_cookie = cookie_value(&form.cookies, "emma_desk_login");
    let csrf = csrf_of(&form.body);
    let r = send(
        &app,
        post(
            "/login",
            &login_cookie,
            &[
                ("agent", "ann"),
                ("password", "ann-password"),
                ("csrf", &"0".repeat(64)),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for (who, pw) in [("ann", "wrong-password"), ("nobody", "whatever1")] {
        let r = send(
            &app,
            post(
                "/login",
                &login_cookie,
                &[("agent", who), ("password", pw), ("csrf", &csrf)],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{who}");
        assert!(r.body.contains("Wrong agent or password"));
    }

    // Guessing: after 5 refused sign-ins the id is locked, even with the right password.
    for _ in 0..4 {
        let r = send(
            &app,
            post(
                "/login",
                &login_cookie,
                &[
                    ("agent", "eve"),
                    ("password", "guess-guess"),
                    ("csrf", &csrf),
                ],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = send(
        &app,
        post(
            "/login",
            &login_cookie,
            &[
                ("agent", "eve"),
                ("password", "guess-guess"),
                ("csrf", &csrf),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(
        &app,
        post(
            "/login",
            &login_cookie,
            &[
                ("agent", "eve"),
                ("password", "eve-password"),
                ("csrf", &csrf),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("Too many failed sign-ins"));

    let (ann, ann_csrf) = sign_in(&app, "ann", "ann-password").await;
    let (gil, _) = sign_in(&app, "gil", "gil-password").await;
    // The database keeps only hashes of session tokens.
    let db = rusqlite::Connection::open(dir.path().join("desk.db")).unwrap();
    let raw = ann.trim_start_matches("emma_desk=");
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    let leaked: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM sessions WHERE token = ?1",
            [raw],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!((stored, leaked), (2, 0));

    // A hostile handoff: markup in every text field.
    let mut h = handoff("h1", "home-1", "en", None);
    h.summary = "<script>alert('summary')</script>".into();
    h.transcript[0].text = "<img src=x onerror=alert(1)>\u{202e}evil".into();
    h.context.insert("note".into(), "</td><b>bold</b>".into());
    h.suggestions
        .insert(0, "\"><script>alert('suggestion')</script>".into());
    let got = desk.store().receive_handoff(&h, now).await.unwrap();
    assert_eq!(got, emma_desk::store::Received::New(Some("ann".into())));

    let page = send(&app, get("/", &ann)).await;
    assert!(page.body.contains(r#"data-id="h1""#), "{}", page.body);
    assert!(page.body.contains("<meta http-equiv=\"refresh\""));
    let page = send(&app, get("/handoff/h1", &ann)).await;
    assert_eq!(page.status, StatusCode::OK);
    for raw in ["<script>", "<img", "<b>bold", "\u{202e}"] {
        assert!(!page.body.contains(raw), "unescaped {raw:?} on the page");
    }
    assert!(
        page.body.contains("&lt;script&gt;alert('summary')"),
        "{}",
        page.body
    );
    assert!(page.body.contains("&lt;img src=x onerror=alert(1)&gt;"));

    // Another brand's agent sees nothing of it.
    let r = send(&app, get("/handoff/h1", &gil)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!send(&app, get("/", &gil)).await.body.contains("h1"));
    let r = send(
        &app,
        post(
            "/handoff/h1/reply",
            &gil,
            &[("csrf", &ann_csrf), ("text", "hi")],
        ),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "another session's CSRF token"
    );

    // Replies: bad CSRF refused and logged; then sent; then refused as already answered.
    let r = send(
        &app,
        post("/handoff/h1/reply", &ann, &[("csrf", "x"), ("text", "hi")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        desk.store()
            .handoff("acme", "h1")
            .await
            .unwrap()
            .unwrap()
            .reply
            .is_none()
    );
    let chosen = "I'll send a technician.";
    let r = send(
        &app,
        post(
            "/handoff/h1/reply",
            &ann,
            &[("csrf", &ann_csrf), ("text", chosen)],
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/?sent=h1"))
    );
    let r = send(
        &app,
        post(
            "/handoff/h1/reply",
            &ann,
            &[("csrf", &ann_csrf), ("text", chosen)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("already answered"));

    // Not yours: h2 goes to bob (ann is at capacity 1? no: answered, so ann has room; sign bob in first
    // and make ann step away).
    let (bob, bob_csrf) = sign_in(&app, "bob", "bob-password").await;
    let r = send(
        &app,
        post(
            "/availability",
            &ann,
            &[("csrf", &ann_csrf), ("available", "off")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    desk.store()
        .receive_handoff(&handoff("h2", "home-2", "en", None), now)
        .await
        .unwrap();
    let r = send(
        &app,
        post(
            "/handoff/h2/reply",
            &ann,
            &[("csrf", &ann_csrf), ("text", "mine?")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("not assigned to agent"));

    // Ranking changed after ann's choice: the technician suggestion is first on h2 now.
    let page = send(&app, get("/handoff/h2", &bob)).await;
    let first = page
        .body
        .find("I&#39;ll send a technician.")
        .or_else(|| page.body.find("I'll send a technician."));
    let hello = page.body.find("Hello, how can I help?");
    assert!(
        first.unwrap() < hello.unwrap(),
        "chosen suggestion not first:\n{}",
        page.body
    );
    assert!(page.body.contains("(chosen 1×)"));
    // bob edits and sends in his own words.
    let r = send(
        &app,
        post(
            "/handoff/h2/reply",
            &bob,
            &[
                ("csrf", &bob_csrf),
                ("text", "A technician comes on Monday."),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // Every action is logged.
    let log = send(&app, get("/log", &ann)).await.body;
    for action in [
        "sign-in",
        "csrf-refused",
        "reply-refused",
        "reply",
        "away",
        "assigned",
    ] {
        assert!(
            log.contains(&format!("<td>{action}</td>")),
            "no {action} in the log page"
        );
    }
    let all = desk.store().audit_log(None, 500).await.unwrap();
    assert!(
        all.iter()
            .any(|e| e.action == "sign-in-refused" && e.actor == "nobody")
    );

    // Sign out: the session is gone.
    let r = send(&app, post("/logout", &bob, &[("csrf", &bob_csrf)])).await;
    assert_eq!(r.location.as_deref(), Some("/login"));
    assert_eq!(
        send(&app, get("/", &bob)).await.location.as_deref(),
        Some("/login")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insights_match_the_reports() {
    let (desk, app, _broker, _dir) = desk().await;
    let now = emma_desk::desk::now_ms();
    let reports = [
        report(
            "r1",
            "home-1",
            0,
            &[
                ("CoffeeDescale", 10, 1, 2, 100, 300, 500),
                ("CoffeeBrew", 50, 0, 0, 80, 120, 200),
            ],
        ),
        report(
            "r2",
            "home-2",
            0,
            &[("CoffeeDescale", 30, 3, 4, 200, 400, 900)],
        ),
        report("r3", "home-1", 1, &[("CoffeeBrew", 20, 2, 2, 90, 100, 110)]),
    ];
    for r in &reports {
        desk.store().receive_touchpoints(r, now).await.unwrap();
    }
    // A re-delivered report is counted once.
    desk.store()
        .receive_touchpoints(&reports[0], now)
        .await
        .unwrap();
    let (ann, _) = sign_in(&app, "ann", "ann-password").await;
    let page = send(&app, get("/insights", &ann)).await;
    assert_eq!(page.status, StatusCode::OK);
    let b = &page.body;
    // 110 interactions, 6 failures (5.5 %), 8 handoffs (7.3 %).
    assert!(b.contains("3 reports"), "{b}");
    assert!(b.contains(r#"<span id="total">110</span>"#), "{b}");
    assert!(b.contains(r#"<span id="failure-rate">5.5 %</span>"#), "{b}");
    assert!(b.contains(r#"<span id="handoff-rate">7.3 %</span>"#), "{b}");
    // Top intent first: CoffeeBrew (70) before CoffeeDescale (40).
    assert!(b.find("<td>CoffeeBrew</td>").unwrap() < b.find("<td>CoffeeDescale</td>").unwrap());
    // CoffeeDescale: 30 of 40 interactions at p50 200 → 200; p99 900.
    assert!(b.contains("<td>CoffeeDescale</td><td>com.acme.coffee</td><td>40</td><td>10.0 %</td><td>15.0 %</td><td>200</td><td>400</td><td>900</td>"), "{b}");
    // Two days in the chart.
    assert_eq!(b.matches("interactions, ").count(), 2, "{b}");
    assert!(b.contains("2025-12-02") && b.contains("2025-12-03"));
    // Another brand sees none of it.
    let (gil, _) = sign_in(&app, "gil", "gil-password").await;
    assert!(
        send(&app, get("/insights", &gil))
            .await
            .body
            .contains("0 reports")
    );
}
