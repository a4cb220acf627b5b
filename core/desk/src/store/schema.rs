//! The tables, in SQL both SQLite and PostgreSQL accept (only the audit log's sequence differs).

/// The schema for `backend` (`sqlite` or `postgres`); every statement is idempotent.
pub(crate) fn ddl(backend: &str) -> String {
    let seq = if backend == "postgres" {
        "seq BIGSERIAL PRIMARY KEY"
    } else {
        "seq INTEGER PRIMARY KEY AUTOINCREMENT"
    };
    format!(
        "
CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    name TEXT NOT NULL,
    languages TEXT NOT NULL,
    skills TEXT NOT NULL,
    capacity BIGINT NOT NULL,
    available BIGINT NOT NULL,
    password TEXT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS agents_brand ON agents (brand);
CREATE TABLE IF NOT EXISTS handoffs (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    home TEXT NOT NULL,
    language TEXT NOT NULL,
    skill TEXT NOT NULL,
    body TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    status TEXT NOT NULL,
    agent TEXT NOT NULL,
    reply TEXT NOT NULL,
    answered_ms BIGINT NOT NULL,
    published BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS handoffs_status ON handoffs (status, received_ms);
CREATE INDEX IF NOT EXISTS handoffs_agent ON handoffs (agent, status);
CREATE INDEX IF NOT EXISTS handoffs_home ON handoffs (home, brand);
CREATE INDEX IF NOT EXISTS handoffs_brand ON handoffs (brand, status);
CREATE TABLE IF NOT EXISTS suggestions (
    brand TEXT NOT NULL,
    intent TEXT NOT NULL,
    text TEXT NOT NULL,
    chosen BIGINT NOT NULL,
    PRIMARY KEY (brand, intent, text)
);
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    home TEXT NOT NULL,
    period_start_ms BIGINT NOT NULL,
    period_end_ms BIGINT NOT NULL,
    received_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_brand ON reports (brand);
CREATE TABLE IF NOT EXISTS report_rows (
    report TEXT NOT NULL,
    n BIGINT NOT NULL,
    brand TEXT NOT NULL,
    period_start_ms BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (report, n)
);
CREATE INDEX IF NOT EXISTS report_rows_brand ON report_rows (brand, period_start_ms);
CREATE TABLE IF NOT EXISTS sessions (
    token TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    csrf TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    {seq},
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    handoff TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_actor ON audit (actor, action, at_ms);
"
    )
}
