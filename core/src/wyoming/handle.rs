//! Handling for Wyoming: a `transcript` (or an `intent` Emma recognised)
//! becomes device commands and a reply.
//!
//! [`HandleText`] is what the session calls; [`HomeHandler`] implements it
//! with Emma's built-in home control: the sentence is matched against the
//! home-control intents with the registry's device, area and floor names,
//! and the commands go out through the [`Home`]'s MQTT outbox.

use std::future::Future;
use std::pin::Pin;

use emma_devices::Home;
use emma_devices::control::HomeControl;
use tokio::sync::Mutex;

/// What handling a sentence came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handling {
    /// Whether it was carried out (`handled`) or not (`not-handled`).
    pub handled: bool,
    /// What to say to the user.
    pub reply: String,
}

/// Carries out what a sentence asks for.
pub trait HandleText: Send + Sync + 'static {
    /// The handling model's name in `info`.
    fn name(&self) -> String;
    /// A description for `info`.
    fn description(&self) -> String;
    /// Handles `text`; an `Err` is a failure of the machinery (e.g. the
    /// broker), not a sentence Emma could not act on (that is `handled: false`).
    fn handle_text<'a>(
        &'a self,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Handling, String>> + Send + 'a>>;
}

/// Emma's home control over a [`Home`] (registry + MQTT bus).
pub struct HomeHandler {
    control: Mutex<HomeControl>,
    home: Home,
    name: String,
}

impl std::fmt::Debug for HomeHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HomeHandler")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl HomeHandler {
    /// Handles sentences with `control`'s intents against `home`'s devices.
    pub fn new(control: HomeControl, home: Home, name: impl Into<String>) -> Self {
        HomeHandler {
            control: Mutex::new(control),
            home,
            name: name.into(),
        }
    }
}

impl HandleText for HomeHandler {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn description(&self) -> String {
        "Emma home control: devices over MQTT".into()
    }

    fn handle_text<'a>(
        &'a self,
        text: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Handling, String>> + Send + 'a>> {
        Box::pin(async move {
            let mut control = self.control.lock().await;
            let plan = {
                let registry = self.home.registry();
                control.plan(&registry, text)
            };
            let plan = match plan {
                Ok(p) => p,
                Err(outcome) => {
                    return Ok(Handling {
                        handled: false,
                        reply: outcome.reply,
                    });
                }
            };
            for (device, action) in &plan.actions {
                self.home
                    .command(device, action)
                    .await
                    .map_err(|e| format!("cannot command {device}: {e}"))?;
            }
            let _ = self.home.set_last_intent(&plan.intent).await;
            Ok(Handling {
                handled: true,
                reply: plan.reply,
            })
        })
    }
}
