//! The device registry: devices, areas and floors, persisted in SQLite.
//!
//! Every device lives in memory (for lookups on each utterance and each state
//! message) and in one SQLite row (so it survives restarts). State updates are
//! written in batches, one transaction per batch, so the bus can feed thousands
//! of state messages a second into a `synchronous=FULL` database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use tokio::sync::broadcast;

use crate::device::{Area, Device, Domain, Floor};
use crate::error::{DevicesError, Result, db_err};
use crate::events::{DeviceEvent, EventFilter, EventKind, EventStream};

/// How many device events a slow event subscriber may fall behind before it misses some.
const EVENT_BUFFER: usize = 4096;

/// A new state for one device, as read from its state topic.
#[derive(Debug, Clone, PartialEq)]
pub struct StateUpdate {
    /// The device id.
    pub device: String,
    /// The new state, if the message carried one.
    pub state: Option<String>,
    /// Attributes the message carried (merged into the existing ones).
    pub attributes: Map<String, Value>,
}

/// One entry of an intent-engine list (`{name}`, `{area}`, `{floor}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListEntry {
    /// What people say.
    pub text: String,
    /// What the slot's value becomes (a device, area or floor id).
    pub value: String,
    /// Requirements a template may check (`domain` → `light`, `area` → `kitchen`).
    pub context: Vec<(String, String)>,
}

/// The intent engine's lists, built from the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IntentLists {
    /// Device names and aliases → device ids (context: `domain`, `area`).
    pub name: Vec<ListEntry>,
    /// Area names and aliases → area ids (context: `floor`).
    pub area: Vec<ListEntry>,
    /// Floor names and aliases → floor ids.
    pub floor: Vec<ListEntry>,
}

/// Which devices a command is for, as an intent names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// A device id (or name) from the `{name}` slot.
    pub name: Option<String>,
    /// An area id (or name) from the `{area}` slot.
    pub area: Option<String>,
    /// A floor id (or name) from the `{floor}` slot.
    pub floor: Option<String>,
    /// Only devices of these domains (empty: any).
    pub domains: Vec<Domain>,
}

/// Devices, areas and floors of one home, in memory and in SQLite.
pub struct Registry {
    conn: Connection,
    path: PathBuf,
    devices: BTreeMap<String, Device>,
    areas: BTreeMap<String, Area>,
    floors: BTreeMap<String, Floor>,
    generation: u64,
    events: broadcast::Sender<DeviceEvent>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.path)
            .field("devices", &self.devices.len())
            .field("areas", &self.areas.len())
            .field("floors", &self.floors.len())
            .finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS floors (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS areas (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, domain TEXT NOT NULL, body TEXT NOT NULL);
";

/// Opens a SQLite database with Emma's durability settings (WAL, `synchronous=FULL`).
pub(crate) fn open_db(path: &Path) -> Result<Connection> {
    let err = db_err(path);
    let conn = if path == Path::new(":memory:") {
        Connection::open_in_memory().map_err(&err)?
    } else {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| DevicesError::Invalid {
                what: parent.display().to_string(),
                reason: format!("cannot create the database directory: {e}"),
            })?;
        }
        let conn = Connection::open(path).map_err(&err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&err)?;
        conn
    };
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(&err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(&err)?;
    Ok(conn)
}

fn load<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    path: &Path,
    table: &str,
) -> Result<BTreeMap<String, T>> {
    let err = db_err(path);
    let mut stmt = conn
        .prepare(&format!("SELECT id, body FROM {table}"))
        .map_err(&err)?;
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(&err)?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (id, body) = row.map_err(&err)?;
        let value = serde_json::from_str(&body).map_err(|e| DevicesError::CorruptRow {
            path: path.to_path_buf(),
            key: format!("{table}/{id}"),
            reason: e.to_string(),
        })?;
        out.insert(id, value);
    }
    Ok(out)
}

fn validate_id(kind: &str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(DevicesError::Invalid {
            what: format!("{kind} id {id:?}"),
            reason: "ids are 1-255 letters, digits, '_', '-' or '.' (no '/', '+', '#' or spaces)"
                .into(),
        })
    }
}

/// Lower-cases and trims a spoken name for comparisons.
pub fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl Registry {
    /// Opens (creating if needed) the registry database at `path`; `:memory:` keeps it in memory.
    pub fn open(path: impl AsRef<Path>) -> Result<Registry> {
        let path = path.as_ref().to_path_buf();
        let conn = open_db(&path)?;
        conn.execute_batch(SCHEMA).map_err(db_err(&path))?;
        let floors = load(&conn, &path, "floors")?;
        let areas = load(&conn, &path, "areas")?;
        let devices = load(&conn, &path, "devices")?;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Ok(Registry {
            conn,
            path,
            devices,
            areas,
            floors,
            generation: 0,
            events,
        })
    }

    /// An in-memory registry (tests, benchmarks, one-shot CLI runs).
    pub fn in_memory() -> Result<Registry> {
        Registry::open(":memory:")
    }

    /// Bumps whenever devices, areas or floors are added, changed or removed
    /// (not on state updates), so callers know when to rebuild intent lists.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn write(
        &self,
        sql: &str,
        id: &str,
        body: &impl serde::Serialize,
        extra: Option<&str>,
    ) -> Result<()> {
        let body = serde_json::to_string(body).expect("registry types serialize");
        let res = match extra {
            Some(domain) => self.conn.execute(sql, params![id, domain, body]),
            None => self.conn.execute(sql, params![id, body]),
        };
        res.map(|_| ()).map_err(db_err(&self.path))
    }

    /// Adds a floor or replaces the one with the same id.
    pub fn upsert_floor(&mut self, floor: Floor) -> Result<()> {
        validate_id("floor", &floor.id)?;
        self.write(
            "INSERT OR REPLACE INTO floors (id, body) VALUES (?1, ?2)",
            &floor.id,
            &floor,
            None,
        )?;
        self.floors.insert(floor.id.clone(), floor);
        self.generation += 1;
        Ok(())
    }

    /// Adds an area or replaces the one with the same id.
    pub fn upsert_area(&mut self, area: Area) -> Result<()> {
        validate_id("area", &area.id)?;
        if let Some(floor) = &area.floor
            && !self.floors.contains_key(floor)
        {
            return Err(DevicesError::Invalid {
                what: format!("area {:?} field floor", area.id),
                reason: format!("no floor with id {floor:?}; add the floor first"),
            });
        }
        self.write(
            "INSERT OR REPLACE INTO areas (id, body) VALUES (?1, ?2)",
            &area.id,
            &area,
            None,
        )?;
        self.areas.insert(area.id.clone(), area);
        self.generation += 1;
        Ok(())
    }

    /// Adds a device or replaces the one with the same id (keeping its known state
    /// when the new description has none). Unknown areas are created on the fly.
    pub fn upsert_device(&mut self, mut device: Device) -> Result<()> {
        validate_id("device", &device.id)?;
        if device.name.trim().is_empty() {
            return Err(DevicesError::Invalid {
                what: format!("device {:?} field name", device.id),
                reason: "a device needs a name people can say".into(),
            });
        }
        if let Some(area) = device.area.clone()
            && !self.areas.contains_key(&area)
        {
            validate_id("area", &area)?;
            self.upsert_area(Area {
                id: area.clone(),
                name: area.replace('_', " "),
                aliases: Vec::new(),
                floor: None,
            })?;
        }
        let previous = self.devices.get(&device.id);
        if let Some(prev) = previous {
            if device.state.is_none() {
                device.state = prev.state.clone();
            }
            if device.attributes.is_empty() {
                device.attributes = prev.attributes.clone();
            }
        }
        let kind = if previous.is_some() {
            EventKind::Changed
        } else {
            EventKind::Added
        };
        self.write(
            "INSERT OR REPLACE INTO devices (id, domain, body) VALUES (?1, ?2, ?3)",
            &device.id,
            &device,
            Some(device.domain.as_str()),
        )?;
        let event = DeviceEvent::of(&device, kind);
        self.devices.insert(device.id.clone(), device);
        self.generation += 1;
        let _ = self.events.send(event);
        Ok(())
    }

    /// Removes a device; returns it if it existed.
    pub fn remove_device(&mut self, id: &str) -> Result<Option<Device>> {
        self.conn
            .execute("DELETE FROM devices WHERE id = ?1", params![id])
            .map_err(db_err(&self.path))?;
        let removed = self.devices.remove(id);
        if let Some(device) = &removed {
            self.generation += 1;
            let _ = self
                .events
                .send(DeviceEvent::of(device, EventKind::Removed));
        }
        Ok(removed)
    }

    /// Applies a batch of state updates in one transaction and returns the
    /// events for devices whose state or attributes actually changed.
    /// Updates for unknown devices are skipped (and logged).
    pub fn apply_states(&mut self, updates: &[StateUpdate]) -> Result<Vec<DeviceEvent>> {
        let err = db_err(&self.path);
        let mut changed = Vec::new();
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut stmt = tx
                .prepare_cached("UPDATE devices SET body = ?2 WHERE id = ?1")
                .map_err(&err)?;
            for update in updates {
                let Some(device) = self.devices.get_mut(&update.device) else {
                    tracing::debug!(device = %update.device, "state for an unknown device skipped");
                    continue;
                };
                let mut dirty = false;
                if update.state.is_some() && update.state != device.state {
                    device.state = update.state.clone();
                    dirty = true;
                }
                for (k, v) in &update.attributes {
                    if device.attributes.get(k) != Some(v) {
                        device.attributes.insert(k.clone(), v.clone());
                        dirty = true;
                    }
                }
                if dirty {
                    let body = serde_json::to_string(&*device).expect("devices serialize");
                    stmt.execute(params![device.id, body]).map_err(&err)?;
                    changed.push(DeviceEvent::of(device, EventKind::StateChanged));
                }
            }
        }
        tx.commit().map_err(&err)?;
        for event in &changed {
            let _ = self.events.send(event.clone());
        }
        Ok(changed)
    }

    /// One device by id.
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.get(id)
    }

    /// All devices, by id.
    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.devices.values()
    }

    /// All areas, by id.
    pub fn areas(&self) -> impl Iterator<Item = &Area> {
        self.areas.values()
    }

    /// One area by id.
    pub fn area(&self, id: &str) -> Option<&Area> {
        self.areas.get(id)
    }

    /// All floors, by id.
    pub fn floors(&self) -> impl Iterator<Item = &Floor> {
        self.floors.values()
    }

    /// One floor by id.
    pub fn floor(&self, id: &str) -> Option<&Floor> {
        self.floors.get(id)
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether there are no devices.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// A device by id, or by name or alias (case-insensitive); an error naming
    /// the candidates when a name is ambiguous.
    pub fn find(&self, name_or_id: &str) -> Result<&Device> {
        if let Some(d) = self.devices.get(name_or_id) {
            return Ok(d);
        }
        let wanted = normalize(name_or_id);
        let hits: Vec<&Device> = self
            .devices
            .values()
            .filter(|d| {
                normalize(&d.name) == wanted || d.aliases.iter().any(|a| normalize(a) == wanted)
            })
            .collect();
        match hits.as_slice() {
            [one] => Ok(one),
            [] => Err(DevicesError::NoSuchDevice(format!(
                "there is no device named {name_or_id}; `emma devices list` shows the known ones"
            ))),
            many => Err(DevicesError::NoSuchDevice(format!(
                "{} devices are named {name_or_id} ({}); use the id",
                many.len(),
                many.iter()
                    .map(|d| d.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn area_id(&self, area: &str) -> Option<String> {
        if self.areas.contains_key(area) {
            return Some(area.to_string());
        }
        let wanted = normalize(area);
        self.areas
            .values()
            .find(|a| {
                normalize(&a.name) == wanted || a.aliases.iter().any(|x| normalize(x) == wanted)
            })
            .map(|a| a.id.clone())
    }

    fn floor_id(&self, floor: &str) -> Option<String> {
        if self.floors.contains_key(floor) {
            return Some(floor.to_string());
        }
        let wanted = normalize(floor);
        self.floors
            .values()
            .find(|f| {
                normalize(&f.name) == wanted || f.aliases.iter().any(|x| normalize(x) == wanted)
            })
            .map(|f| f.id.clone())
    }

    /// The devices a target names. The error says what was not found, in the
    /// words the person used ("there is no device named oven in the kitchen").
    pub fn resolve(&self, target: &Target) -> Result<Vec<&Device>> {
        let area = match &target.area {
            Some(a) => Some(self.area_id(a).ok_or_else(|| {
                DevicesError::NoSuchDevice(format!("there is no area named {a}"))
            })?),
            None => None,
        };
        let floor = match &target.floor {
            Some(f) => Some(self.floor_id(f).ok_or_else(|| {
                DevicesError::NoSuchDevice(format!("there is no floor named {f}"))
            })?),
            None => None,
        };
        let domain_ok =
            |d: &Device| target.domains.is_empty() || target.domains.contains(&d.domain);
        let area_ok = |d: &Device| match &area {
            Some(a) => d.area.as_deref() == Some(a.as_str()),
            None => true,
        };
        let floor_ok = |d: &Device| match &floor {
            Some(f) => {
                d.area
                    .as_ref()
                    .and_then(|a| self.areas.get(a))
                    .and_then(|a| a.floor.as_deref())
                    == Some(f.as_str())
            }
            None => true,
        };
        let name_ok = |d: &Device| match &target.name {
            Some(n) => {
                d.id == *n || {
                    let n = normalize(n);
                    normalize(&d.name) == n || d.aliases.iter().any(|a| normalize(a) == n)
                }
            }
            None => true,
        };
        let hits: Vec<&Device> = self
            .devices
            .values()
            .filter(|d| name_ok(d) && area_ok(d) && floor_ok(d) && domain_ok(d))
            .collect();
        if !hits.is_empty() {
            return Ok(hits);
        }
        let place = match (&target.area, &target.floor) {
            (Some(a), _) => format!(" in the {}", self.area_name(a)),
            (None, Some(f)) => format!(" on the {}", self.floor_name(f)),
            (None, None) => String::new(),
        };
        let what = match &target.name {
            Some(n) => format!(
                "device named {}",
                self.devices.get(n).map(|d| d.name.as_str()).unwrap_or(n)
            ),
            None => match target.domains.as_slice() {
                [d] => d.as_str().replace('_', " "),
                _ => "device".to_string(),
            },
        };
        Err(DevicesError::NoSuchDevice(format!(
            "there is no {what}{place}"
        )))
    }

    fn area_name(&self, area: &str) -> String {
        self.area_id(area)
            .and_then(|id| self.areas.get(&id))
            .map(|a| a.name.clone())
            .unwrap_or_else(|| area.to_string())
    }

    fn floor_name(&self, floor: &str) -> String {
        self.floor_id(floor)
            .and_then(|id| self.floors.get(&id))
            .map(|f| f.name.clone())
            .unwrap_or_else(|| floor.to_string())
    }

    /// The intent engine's `{name}`, `{area}` and `{floor}` lists.
    pub fn intent_lists(&self) -> IntentLists {
        let mut lists = IntentLists::default();
        for d in self.devices.values() {
            let mut context = vec![("domain".to_string(), d.domain.as_str().to_string())];
            if let Some(area) = &d.area {
                context.push(("area".to_string(), area.clone()));
            }
            for text in std::iter::once(&d.name).chain(&d.aliases) {
                lists.name.push(ListEntry {
                    text: text.clone(),
                    value: d.id.clone(),
                    context: context.clone(),
                });
            }
        }
        for a in self.areas.values() {
            let context: Vec<_> = a
                .floor
                .iter()
                .map(|f| ("floor".to_string(), f.clone()))
                .collect();
            for text in std::iter::once(&a.name).chain(&a.aliases) {
                lists.area.push(ListEntry {
                    text: text.clone(),
                    value: a.id.clone(),
                    context: context.clone(),
                });
            }
        }
        for f in self.floors.values() {
            for text in std::iter::once(&f.name).chain(&f.aliases) {
                lists.floor.push(ListEntry {
                    text: text.clone(),
                    value: f.id.clone(),
                    context: Vec::new(),
                });
            }
        }
        lists
    }

    /// Device events (added, changed, removed, state changed) for the devices `filter` covers.
    pub fn subscribe(&self, filter: EventFilter) -> EventStream {
        EventStream::new(self.events.subscribe(), filter)
    }

    /// Whether a device with `id` exists in the database file (not just in memory).
    pub fn persisted(&self, id: &str) -> Result<bool> {
        self.conn
            .query_row("SELECT 1 FROM devices WHERE id = ?1", params![id], |_| {
                Ok(())
            })
            .optional()
            .map(|r| r.is_some())
            .map_err(db_err(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home(reg: &mut Registry) {
        reg.upsert_floor(Floor {
            id: "ground".into(),
            name: "ground floor".into(),
            aliases: vec![],
            level: Some(0),
        })
        .unwrap();
        reg.upsert_area(Area {
            id: "kitchen".into(),
            name: "kitchen".into(),
            aliases: vec!["cookhouse".into()],
            floor: Some("ground".into()),
        })
        .unwrap();
        reg.upsert_area(Area {
            id: "bedroom".into(),
            name: "bedroom".into(),
            aliases: vec![],
            floor: None,
        })
        .unwrap();
        reg.upsert_device(
            Device::new("light.kitchen_lamp", "kitchen lamp", Domain::Light)
                .in_area("kitchen")
                .with_alias("ceiling light"),
        )
        .unwrap();
        reg.upsert_device(
            Device::new("switch.kettle", "kettle", Domain::Switch).in_area("kitchen"),
        )
        .unwrap();
        reg.upsert_device(Device::new("light.bed", "bed lamp", Domain::Light).in_area("bedroom"))
            .unwrap();
    }

    #[test]
    fn persists_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devices.sqlite");
        {
            let mut reg = Registry::open(&path).unwrap();
            home(&mut reg);
            reg.apply_states(&[StateUpdate {
                device: "light.bed".into(),
                state: Some("on".into()),
                attributes: Map::new(),
            }])
            .unwrap();
        }
        let reg = Registry::open(&path).unwrap();
        assert_eq!(reg.len(), 3);
        assert_eq!(
            reg.device("light.bed").unwrap().state.as_deref(),
            Some("on")
        );
        assert_eq!(
            reg.area("kitchen").unwrap().floor.as_deref(),
            Some("ground")
        );
        assert!(reg.persisted("switch.kettle").unwrap());
    }

    #[test]
    fn resolves_by_name_area_floor_and_domain() {
        let mut reg = Registry::in_memory().unwrap();
        home(&mut reg);
        let ids = |t: &Target| {
            reg.resolve(t)
                .map(|v| v.iter().map(|d| d.id.clone()).collect::<Vec<_>>())
        };
        assert_eq!(
            ids(&Target {
                name: Some("Ceiling  Light".into()),
                ..Default::default()
            })
            .unwrap(),
            ["light.kitchen_lamp"]
        );
        assert_eq!(
            ids(&Target {
                area: Some("cookhouse".into()),
                domains: vec![Domain::Light],
                ..Default::default()
            })
            .unwrap(),
            ["light.kitchen_lamp"]
        );
        assert_eq!(
            ids(&Target {
                floor: Some("ground floor".into()),
                ..Default::default()
            })
            .unwrap()
            .len(),
            2
        );
        let err = ids(&Target {
            name: Some("oven".into()),
            area: Some("kitchen".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "there is no device named oven in the kitchen"
        );
        let err = ids(&Target {
            area: Some("bedroom".into()),
            domains: vec![Domain::Switch],
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "there is no switch in the bedroom");
        let err = ids(&Target {
            area: Some("attic".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "there is no area named attic");
    }

    #[test]
    fn intent_lists_carry_context_and_track_changes() {
        let mut reg = Registry::in_memory().unwrap();
        home(&mut reg);
        let lists = reg.intent_lists();
        let lamp: Vec<_> = lists
            .name
            .iter()
            .filter(|e| e.value == "light.kitchen_lamp")
            .collect();
        assert_eq!(lamp.len(), 2, "name and alias");
        assert!(lamp[0].context.contains(&("domain".into(), "light".into())));
        assert!(
            lists
                .area
                .iter()
                .any(|e| e.text == "cookhouse" && e.value == "kitchen")
        );
        assert_eq!(lists.floor[0].value, "ground");
        let before = reg.generation();
        reg.remove_device("switch.kettle").unwrap();
        assert!(reg.generation() > before);
        assert!(
            !reg.intent_lists()
                .name
                .iter()
                .any(|e| e.value == "switch.kettle")
        );
    }

    #[test]
    fn bad_input_is_an_error_naming_the_field() {
        let mut reg = Registry::in_memory().unwrap();
        let err = reg
            .upsert_device(Device::new("light/x", "x", Domain::Light))
            .unwrap_err();
        assert!(err.to_string().contains("device id \"light/x\""), "{err}");
        let err = reg
            .upsert_device(Device::new("light.x", " ", Domain::Light))
            .unwrap_err();
        assert!(err.to_string().contains("field name"), "{err}");
        let err = reg
            .upsert_area(Area {
                id: "a".into(),
                name: "a".into(),
                aliases: vec![],
                floor: Some("nowhere".into()),
            })
            .unwrap_err();
        assert!(
            err.to_string().contains("no floor with id \"nowhere\""),
            "{err}"
        );
    }

    #[test]
    fn apply_states_reports_only_changes() {
        let mut reg = Registry::in_memory().unwrap();
        home(&mut reg);
        let up = |s: &str| StateUpdate {
            device: "light.bed".into(),
            state: Some(s.into()),
            attributes: Map::new(),
        };
        assert_eq!(reg.apply_states(&[up("on")]).unwrap().len(), 1);
        assert_eq!(reg.apply_states(&[up("on")]).unwrap().len(), 0);
        let unknown = StateUpdate {
            device: "light.nope".into(),
            state: Some("on".into()),
            attributes: Map::new(),
        };
        assert_eq!(reg.apply_states(&[unknown]).unwrap().len(), 0);
    }

    #[test]
    fn find_reports_ambiguity() {
        let mut reg = Registry::in_memory().unwrap();
        reg.upsert_device(Device::new("light.a", "lamp", Domain::Light))
            .unwrap();
        reg.upsert_device(Device::new("light.b", "lamp", Domain::Light))
            .unwrap();
        let err = reg.find("lamp").unwrap_err().to_string();
        assert!(err.contains("light.a, light.b"), "{err}");
        assert_eq!(reg.find("light.b").unwrap().id, "light.b");
    }
}
