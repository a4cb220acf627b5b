//! One SQL interface over an embedded SQLite file and a PostgreSQL server.
//!
//! Statements are written once, with `$1`, `$2`, … placeholders (SQLite reads them as `?1`, `?2`, …), using
//! only SQL both understand (`ON CONFLICT … DO …`, `BIGINT`, `TEXT`, no NULLs in columns). Every change is
//! one [`Tx`]: on SQLite `BEGIN IMMEDIATE` on the one connection; on PostgreSQL `BEGIN` plus a transaction
//! advisory lock, so changes from several desk workers sharing the database happen one after another
//! (routing reads agents' loads and assigns in one step, and two workers never assign the same handoff).

use std::path::Path;

use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::types::{ToSql, Type};

use crate::error::{DeskError, Result};

/// The advisory lock every PostgreSQL transaction of the desk holds (an arbitrary constant: "emmadesk").
const PG_LOCK: i64 = 0x656d_6d61_6465_736b;

/// A value bound to a placeholder or read from a column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    /// An integer (`BIGINT`).
    I(i64),
    /// Text.
    T(String),
    /// SQL NULL (only read, from aggregates over no rows).
    Null,
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I(v)
    }
}
impl From<u64> for Val {
    fn from(v: u64) -> Val {
        Val::I(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<u32> for Val {
    fn from(v: u32) -> Val {
        Val::I(i64::from(v))
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::I(i64::from(v))
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::T(v.to_owned())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::T(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Val {
        Val::T(v.clone())
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub(crate) struct Row(Vec<Val>);

impl Row {
    /// Column `n` as an integer (0 for NULL or a missing column).
    pub(crate) fn i(&self, n: usize) -> i64 {
        match self.0.get(n) {
            Some(Val::I(v)) => *v,
            Some(Val::T(s)) => s.parse().unwrap_or(0),
            _ => 0,
        }
    }
    /// Column `n` as a non-negative integer.
    pub(crate) fn u(&self, n: usize) -> u64 {
        u64::try_from(self.i(n)).unwrap_or(0)
    }
    /// Column `n` as text ("" for NULL or a missing column).
    pub(crate) fn t(&self, n: usize) -> String {
        match self.0.get(n) {
            Some(Val::T(s)) => s.clone(),
            Some(Val::I(v)) => v.to_string(),
            _ => String::new(),
        }
    }
}

enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

struct Inner {
    backend: Backend,
    /// A transaction was begun and neither committed nor rolled back (its `Tx` was dropped on an error).
    open: bool,
}

/// A connection to the desk's database.
pub(crate) struct Db {
    inner: Mutex<Inner>,
    kind: &'static str,
    /// The PostgreSQL URL, to reconnect.
    url: Option<String>,
}

/// A transaction; dropped without [`Tx::commit`] it is rolled back.
pub(crate) struct Tx<'a> {
    inner: MutexGuard<'a, Inner>,
    kind: &'static str,
}

fn sqlite_err(e: rusqlite::Error) -> DeskError {
    DeskError::Store {
        backend: "sqlite",
        message: e.to_string(),
    }
}

fn pg_err(e: tokio_postgres::Error) -> DeskError {
    // The server's message (with its detail) says more than the error's Display alone.
    let message = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    };
    DeskError::Store {
        backend: "postgres",
        message,
    }
}

impl Db {
    /// Opens (creating) an SQLite database file.
    pub(crate) fn open_sqlite(path: &Path) -> Result<Db> {
        let conn = rusqlite::Connection::open(path).map_err(|e| DeskError::Database {
            url: path.display().to_string(),
            message: e.to_string(),
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sqlite_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite_err)?;
        Ok(Db {
            inner: Mutex::new(Inner {
                backend: Backend::Sqlite(conn),
                open: false,
            }),
            kind: "sqlite",
            url: None,
        })
    }

    /// Connects to a PostgreSQL server (`postgres://user@host:port/db`); TLS is not supported (use a local
    /// socket, a loopback address or a tunnel).
    pub(crate) async fn connect_postgres(url: &str) -> Result<Db> {
        Ok(Db {
            inner: Mutex::new(Inner {
                backend: connect_pg(url).await?,
                open: false,
            }),
            kind: "postgres",
            url: Some(url.to_owned()),
        })
    }

    /// `sqlite` or `postgres`.
    pub(crate) fn kind(&self) -> &'static str {
        self.kind
    }

    /// Begins a transaction that routes (reads loads, assigns): on PostgreSQL it waits for the other
    /// workers' routing transactions.
    pub(crate) async fn tx(&self) -> Result<Tx<'_>> {
        self.begin(true).await
    }

    /// Begins a transaction that does not route (reads, idempotent inserts, single-row updates): no
    /// advisory lock, so it runs beside other workers' transactions.
    pub(crate) async fn unlocked(&self) -> Result<Tx<'_>> {
        self.begin(false).await
    }

    async fn begin(&self, routing: bool) -> Result<Tx<'_>> {
        let mut inner = self.inner.lock().await;
        // A PostgreSQL server restart or a network cut closes the connection: open a new one.
        if let (Backend::Postgres(c), Some(url)) = (&inner.backend, &self.url)
            && c.is_closed()
        {
            tracing::warn!(database = %redact(url), "PostgreSQL connection closed; reconnecting");
            inner.backend = connect_pg(url).await?;
            inner.open = false;
        }
        if inner.open {
            rollback(&mut inner).await?;
        }
        // Marked open first: if BEGIN or the lock fails half-way, the next transaction rolls back.
        inner.open = true;
        match &mut inner.backend {
            Backend::Sqlite(c) => c
                .execute_batch(if routing { "BEGIN IMMEDIATE" } else { "BEGIN" })
                .map_err(sqlite_err)?,
            Backend::Postgres(c) => {
                c.batch_execute("BEGIN").await.map_err(pg_err)?;
                if routing {
                    c.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_LOCK])
                        .await
                        .map_err(pg_err)?;
                }
            }
        }
        Ok(Tx {
            inner,
            kind: self.kind,
        })
    }
}

async fn rollback(inner: &mut Inner) -> Result<()> {
    match &mut inner.backend {
        Backend::Sqlite(c) => {
            if !c.is_autocommit() {
                c.execute_batch("ROLLBACK").map_err(sqlite_err)?;
            }
        }
        Backend::Postgres(c) => c.batch_execute("ROLLBACK").await.map_err(pg_err)?,
    }
    inner.open = false;
    Ok(())
}

fn pg_params(params: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| match p {
            Val::I(v) => v as &(dyn ToSql + Sync),
            Val::T(s) => s as &(dyn ToSql + Sync),
            Val::Null => &None::<String> as &(dyn ToSql + Sync),
        })
        .collect()
}

impl Tx<'_> {
    /// Runs a statement; returns the rows it changed.
    pub(crate) async fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        match &mut self.inner.backend {
            Backend::Sqlite(c) => {
                let mut stmt = c
                    .prepare_cached(&sql.replace('$', "?"))
                    .map_err(sqlite_err)?;
                let n = stmt
                    .execute(rusqlite::params_from_iter(params.iter().map(sqlite_val)))
                    .map_err(sqlite_err)?;
                Ok(n as u64)
            }
            Backend::Postgres(c) => c.execute(sql, &pg_params(params)).await.map_err(pg_err),
        }
    }

    /// Runs a query; returns its rows.
    pub(crate) async fn rows(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        match &mut self.inner.backend {
            Backend::Sqlite(c) => {
                let mut stmt = c
                    .prepare_cached(&sql.replace('$', "?"))
                    .map_err(sqlite_err)?;
                let columns = stmt.column_count();
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(params.iter().map(sqlite_val)))
                    .map_err(sqlite_err)?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(sqlite_err)? {
                    let mut vals = Vec::with_capacity(columns);
                    for i in 0..columns {
                        use rusqlite::types::ValueRef;
                        vals.push(match row.get_ref(i).map_err(sqlite_err)? {
                            ValueRef::Null => Val::Null,
                            ValueRef::Integer(v) => Val::I(v),
                            ValueRef::Real(v) => Val::I(v as i64),
                            ValueRef::Text(t) | ValueRef::Blob(t) => {
                                Val::T(String::from_utf8_lossy(t).into_owned())
                            }
                        });
                    }
                    out.push(Row(vals));
                }
                Ok(out)
            }
            Backend::Postgres(c) => {
                let rows = c.query(sql, &pg_params(params)).await.map_err(pg_err)?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut vals = Vec::with_capacity(row.len());
                    for (i, col) in row.columns().iter().enumerate() {
                        let t = col.type_();
                        let v = if *t == Type::INT8 {
                            row.try_get::<_, Option<i64>>(i).map(|v| v.map(Val::I))
                        } else if *t == Type::INT4 {
                            row.try_get::<_, Option<i32>>(i)
                                .map(|v| v.map(|v| Val::I(i64::from(v))))
                        } else {
                            row.try_get::<_, Option<String>>(i).map(|v| v.map(Val::T))
                        };
                        vals.push(v.map_err(pg_err)?.unwrap_or(Val::Null));
                    }
                    out.push(Row(vals));
                }
                Ok(out)
            }
        }
    }

    /// Runs several statements without parameters (the schema).
    pub(crate) async fn batch(&mut self, sql: &str) -> Result<()> {
        match &mut self.inner.backend {
            Backend::Sqlite(c) => c.execute_batch(sql).map_err(sqlite_err),
            Backend::Postgres(c) => c.batch_execute(sql).await.map_err(pg_err),
        }
    }

    /// `sqlite` or `postgres`.
    pub(crate) fn kind(&self) -> &'static str {
        self.kind
    }

    /// Commits.
    pub(crate) async fn commit(mut self) -> Result<()> {
        match &mut self.inner.backend {
            Backend::Sqlite(c) => c.execute_batch("COMMIT").map_err(sqlite_err)?,
            Backend::Postgres(c) => c.batch_execute("COMMIT").await.map_err(pg_err)?,
        }
        self.inner.open = false;
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        // SQLite rolls back at once; PostgreSQL (async) when the next transaction begins.
        if let Backend::Sqlite(c) = &self.inner.backend
            && self.inner.open
        {
            if !c.is_autocommit() {
                let _ = c.execute_batch("ROLLBACK");
            }
            self.inner.open = false;
        }
    }
}

async fn connect_pg(url: &str) -> Result<Backend> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| DeskError::Database {
            url: redact(url),
            message: pg_err(e).to_string(),
        })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = %e, "PostgreSQL connection closed");
        }
    });
    Ok(Backend::Postgres(client))
}

fn sqlite_val(v: &Val) -> rusqlite::types::Value {
    match v {
        Val::I(i) => rusqlite::types::Value::Integer(*i),
        Val::T(s) => rusqlite::types::Value::Text(s.clone()),
        Val::Null => rusqlite::types::Value::Null,
    }
}

/// The URL without its password, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://desk:s3cret@db:5432/desk"),
            "postgres://desk:***@db:5432/desk"
        );
        assert_eq!(redact("postgres://desk@db/desk"), "postgres://desk@db/desk");
        assert_eq!(redact("/var/lib/desk.db"), "/var/lib/desk.db");
    }
}
