//! In a real headless Chromium (chromedriver over WebDriver): an agent signs in, sees a handoff that a home
//! published to a real mosquitto, opens it, sends a suggestion with one click, and the home receives the
//! agent's reply.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use emma_desk::{Desk, DeskConfig, NewAgent};
use emma_handoff::{AgentReply, Limits, topic};
use fantoccini::Locator;
use support::fixtures::handoff;
use support::{ChromeDriver, Home, Mosquitto, free_port};

/// The element, once the page that has it is loaded (a click that submits a form returns before the
/// next page is there).
async fn wait_for(browser: &fantoccini::Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} within 10 s: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_answers_a_home_in_the_browser() {
    support::logs();
    let broker = Mosquitto::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("desk.db").display().to_string();
    let (desk, _tasks) = Desk::start(DeskConfig::new(broker.url(), db, "desk-browser"))
        .await
        .unwrap();
    desk.add_agent(NewAgent {
        id: "ann".into(),
        brand: "acme".into(),
        name: "Ann".into(),
        languages: vec!["en".into()],
        skills: vec!["*".into()],
        capacity: 3,
        password: "correct horse battery".into(),
    })
    .await
    .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    tokio::spawn(emma_desk::web::serve(desk.clone(), addr, false));
    let base = format!("http://{addr}");

    let mut home = Home::connect(broker.port(), "home-7", &[topic::reply("home-7")])
        .await
        .unwrap();

    let driver = ChromeDriver::start().unwrap();
    let browser = driver.browser().await.unwrap();

    // Sign in.
    browser.goto(&format!("{base}/")).await.unwrap();
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/login")
    );
    browser
        .find(Locator::Css("#agent"))
        .await
        .unwrap()
        .send_keys("ann")
        .await
        .unwrap();
    browser
        .find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys("correct horse battery")
        .await
        .unwrap();
    browser
        .find(Locator::Css("#sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let who = wait_for(&browser, "#who").await.text().await.unwrap();
    assert_eq!(who, "Ann · acme");

    // A home asks for a person, the way the Assistant publishes it (QoS 1 on emma/desk/acme/handoff).
    let mut request = handoff("h-web", "home-7", "en", None);
    request.transcript[0].text = "I want to talk to a person <b>now</b>".into();
    let published = Instant::now();
    home.publish(
        &topic::handoff("acme"),
        emma_handoff::encode(&request, &Limits::default()).unwrap(),
    )
    .await
    .unwrap();

    // It shows up among the agent's handoffs (the page refreshes itself; the test reloads sooner).
    let link = loop {
        browser.goto(&format!("{base}/")).await.unwrap();
        if let Ok(link) = browser
            .find(Locator::Css("#mine a.handoff-link[data-id='h-web']"))
            .await
        {
            break link;
        }
        assert!(
            published.elapsed() < Duration::from_secs(20),
            "handoff not shown within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "handoff visible on the agent's page {:?} after the home published it",
        published.elapsed()
    );
    link.click().await.unwrap();

    // The conversation is shown as text (the markup the customer said is not interpreted).
    let transcript = wait_for(&browser, "#transcript")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        transcript.contains("I want to talk to a person <b>now</b>"),
        "{transcript}"
    );
    assert!(
        browser.find(Locator::Css("#transcript b")).await.is_err(),
        "markup from the home was rendered"
    );
    let context = browser
        .find(Locator::Css("#context"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(context.contains("Ada"), "{context}");

    // One click on the first suggestion.
    let first = browser
        .find(Locator::Css("#suggestions li"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    browser
        .find(Locator::Css("button.suggestion"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let sent = wait_for(&browser, "#sent").await.text().await.unwrap();
    assert!(sent.contains("h-web"), "{sent}");

    // The home receives the agent's reply.
    let (t, payload) = home.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(t, topic::reply("home-7"));
    let reply: AgentReply = emma_handoff::decode(&payload, &Limits::default()).unwrap();
    assert_eq!(
        (reply.handoff.as_str(), reply.agent.as_str()),
        ("h-web", "Ann")
    );
    assert_eq!(reply.text, "Hello, how can I help?");
    assert!(first.ends_with("Hello, how can I help?"), "{first}");

    browser.close().await.unwrap();
}
