//! Guest SDK for writing Emma brand skills as WebAssembly components.
//!
//! A skill is a `cdylib` crate built for `wasm32-unknown-unknown` that
//! implements [`Skill`] and calls [`export_skill!`]. `emma skill build` turns
//! it into a component and bundles it with `skill.toml` and intent templates.
//! Capabilities (devices, store, profile, notify, orders, handoff, clock, log)
//! are plain functions in the modules re-exported here; each returns
//! [`CapError::Denied`] unless the manifest declares the permission and the
//! customer granted it, and `?` turns that into a [`SkillError`].
//!
//! ```no_run
//! use emma_skill::{Reply, Request, Skill, SkillError, export_skill};
//!
//! struct Hello;
//!
//! impl Skill for Hello {
//!     fn handle_intent(req: Request) -> Result<Reply, SkillError> {
//!         match req.intent.as_str() {
//!             "Hello" => {
//!                 let name = req.slot("name").unwrap_or("there");
//!                 Ok(Reply::say(format!("Hello, {name}!")))
//!             }
//!             other => Err(SkillError::UnsupportedIntent(other.into())),
//!         }
//!     }
//! }
//!
//! export_skill!(Hello);
//! ```
#![warn(missing_docs)]

// Lets the generated bindings name this crate by the path guests use.
extern crate self as emma_skill;

/// Raw bindings generated from `skills/wit/since_v0.1.0` (use the re-exports instead).
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/since_v0.1.0",
        world: "skill",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "emma_skill::bindings",
        runtime_path: "emma_skill::__wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

pub use bindings::emma::skill::types::{
    Action, CapError, Card, DeviceEvent, Handoff, OrderLine, Pair, Reply, Request, SkillError,
};
pub use bindings::emma::skill::{clock, devices, handoff, log, notify, orders, profile, store};

/// The API version this SDK builds against.
pub const API_VERSION: &str = "0.1.0";

/// A brand skill. Only [`Skill::handle_intent`] is required.
pub trait Skill {
    /// Answers an intent the manifest lists.
    fn handle_intent(req: Request) -> Result<Reply, SkillError>;

    /// Reacts to a subscribed device event; `Ok(None)` says nothing.
    fn handle_event(event: DeviceEvent) -> Result<Option<Reply>, SkillError> {
        let _ = event;
        Ok(None)
    }

    /// Runs once after install.
    fn install() -> Result<(), SkillError> {
        Ok(())
    }

    /// Applies the customer's settings.
    fn configure(settings: Vec<Pair>) -> Result<(), SkillError> {
        let _ = settings;
        Ok(())
    }
}

/// Exports a type implementing [`Skill`] as the component's `emma:skill/handler`.
#[macro_export]
macro_rules! export_skill {
    ($ty:ty) => {
        const _: () = {
            struct __EmmaSkillExport;
            impl $crate::bindings::exports::emma::skill::handler::Guest for __EmmaSkillExport {
                fn handle_intent(req: $crate::Request) -> ::core::result::Result<$crate::Reply, $crate::SkillError> {
                    <$ty as $crate::Skill>::handle_intent(req)
                }
                fn handle_event(
                    event: $crate::DeviceEvent,
                ) -> ::core::result::Result<::core::option::Option<$crate::Reply>, $crate::SkillError> {
                    <$ty as $crate::Skill>::handle_event(event)
                }
                fn install() -> ::core::result::Result<(), $crate::SkillError> {
                    <$ty as $crate::Skill>::install()
                }
                fn configure(settings: ::std::vec::Vec<$crate::Pair>) -> ::core::result::Result<(), $crate::SkillError> {
                    <$ty as $crate::Skill>::configure(settings)
                }
            }
            $crate::bindings::export!(__EmmaSkillExport with_types_in $crate::bindings);
        };
    };
}

impl Request {
    /// The value of slot `name`, if the intent engine filled it.
    pub fn slot(&self, name: &str) -> Option<&str> {
        self.slots
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }

    /// The value of slot `name`, or [`SkillError::MissingSlot`].
    pub fn require(&self, name: &str) -> Result<&str, SkillError> {
        self.slot(name)
            .ok_or_else(|| SkillError::MissingSlot(name.to_string()))
    }

    /// A context value.
    pub fn context(&self, name: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }
}

impl Reply {
    /// A reply that just speaks `speech`.
    pub fn say(speech: impl Into<String>) -> Reply {
        Reply {
            speech: speech.into(),
            card: None,
            data: None,
            follow_up: None,
            actions: Vec::new(),
            handoff: None,
        }
    }

    /// Adds a device action.
    pub fn action(mut self, device: &str, command: &str, value: Option<&str>) -> Reply {
        self.actions.push(Action {
            device: device.into(),
            command: command.into(),
            value: value.map(Into::into),
        });
        self
    }

    /// Adds a card.
    pub fn card(mut self, title: &str, body: &str) -> Reply {
        self.card = Some(Card {
            title: title.into(),
            body: body.into(),
        });
        self
    }

    /// Attaches JSON data.
    pub fn data(mut self, json: impl Into<String>) -> Reply {
        self.data = Some(json.into());
        self
    }

    /// Marks that the skill expects an answer about `topic`.
    pub fn ask(mut self, topic: &str) -> Reply {
        self.follow_up = Some(topic.into());
        self
    }

    /// Hands the conversation to a human.
    pub fn handoff(mut self, reason: &str, summary: &str) -> Reply {
        self.handoff = Some(Handoff {
            reason: reason.into(),
            summary: summary.into(),
        });
        self
    }
}

impl From<CapError> for SkillError {
    fn from(e: CapError) -> SkillError {
        match e {
            CapError::Denied(p) => SkillError::Denied(p),
            CapError::QuotaExceeded(m) => SkillError::Failed(format!("store quota exceeded: {m}")),
            CapError::Invalid(m) => SkillError::Failed(format!("invalid capability call: {m}")),
            CapError::Unavailable(m) => SkillError::Failed(format!("capability unavailable: {m}")),
        }
    }
}

/// Writes an info line to the host log (needs the `log` permission; ignored when denied).
pub fn info(message: &str) {
    let _ = log::write(log::Level::Info, message);
}
