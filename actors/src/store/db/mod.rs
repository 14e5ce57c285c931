//! The store's connection: SQLite (the embedded single-node default) or PostgreSQL
//! (nodes sharing one store). The store's modules write one query text, in SQLite's
//! dialect with numbered parameters (`?1`), and read rows with SQLite's value types;
//! for PostgreSQL the text is translated once per statement (`dialect.rs`) and the
//! values cross over (`pg_values.rs`), so every query serves both backends.

mod dialect;
pub mod listen;
mod pg_values;
pub mod postgres_schema;

use std::cell::RefCell;
use std::collections::HashMap;

pub use rusqlite::params;
use rusqlite::types::{FromSql, ToSql, Value, ValueRef};

use crate::{Error, Result};

/// Statements a PostgreSQL connection keeps prepared; the cache is emptied when full.
const PG_STATEMENTS_KEPT: usize = 512;

/// One connection to the store's database.
pub struct Db {
    backend: Backend,
}

enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<Pg>>),
}

struct Pg {
    client: postgres::Client,
    url: String,
    /// The node writing through this connection (`pbx.node`, which the triggers
    /// name in what they announce).
    node: Option<String>,
    /// A transaction is open: a lost connection fails it rather than being
    /// replaced under it.
    in_tx: bool,
    /// Prepared statements by their SQLite text.
    statements: HashMap<String, postgres::Statement>,
}

impl Pg {
    fn connect(url: &str, node: Option<&str>) -> Result<postgres::Client> {
        let mut client = postgres::Client::connect(url, postgres::NoTls)
            .map_err(|e| Error::Postgres(format!("connecting to {}: {e}", redact(url))))?;
        name_node(&mut client, node)?;
        Ok(client)
    }

    /// Opens (`BEGIN`) or ends (`COMMIT`, `ROLLBACK`) the transaction.
    fn transaction_control(&mut self, sql: &str, open: bool) -> Result<()> {
        if open {
            self.reconnect_if_lost()?;
        }
        self.in_tx = open;
        self.client.batch_execute(sql).map_err(|e| pg_error(e, sql))
    }

    /// Connects again when the connection was lost (the server restarted, the
    /// network broke) and no transaction is open.
    fn reconnect_if_lost(&mut self) -> Result<()> {
        if self.client.is_closed() && !self.in_tx {
            tracing::warn!(store = %redact(&self.url), "store connection lost; connecting again");
            self.client = Self::connect(&self.url, self.node.as_deref())?;
            self.statements.clear();
        }
        Ok(())
    }

    /// Runs `f` with the statement for `sql`; once more on a new connection when
    /// the connection was found lost outside a transaction.
    fn run<T>(
        &mut self,
        sql: &str,
        f: impl Fn(&mut postgres::Client, &postgres::Statement) -> Result<T, postgres::Error>,
    ) -> Result<T> {
        let stmt = self.statement(sql)?;
        match f(&mut self.client, &stmt) {
            Err(e) if self.client.is_closed() && !self.in_tx => {
                tracing::debug!(error = %e, "store: query on a lost connection; trying again");
                let stmt = self.statement(sql)?;
                f(&mut self.client, &stmt).map_err(|e| pg_error(e, sql))
            }
            done => done.map_err(|e| pg_error(e, sql)),
        }
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        self.reconnect_if_lost()?;
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let translated = dialect::to_postgres(sql);
        let stmt = self
            .client
            .prepare(&translated)
            .map_err(|e| pg_error(e, &translated))?;
        if self.statements.len() >= PG_STATEMENTS_KEPT {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }
}

/// Says which node writes through `client` (`pbx.node`; empty for none).
fn name_node(client: &mut postgres::Client, node: Option<&str>) -> Result<()> {
    client
        .execute(
            "SELECT set_config('pbx.node', $1, false)",
            &[&node.unwrap_or("")],
        )
        .map_err(|e| pg_error(e, "set_config"))?;
    Ok(())
}

/// A PostgreSQL error with the statement it came from, for the log.
fn pg_error(e: postgres::Error, sql: &str) -> Error {
    let detail = e
        .as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| e.to_string());
    Error::Postgres(format!("{detail} (in: {})", sql.trim()))
}

impl Db {
    pub fn sqlite(conn: rusqlite::Connection) -> Db {
        Db {
            backend: Backend::Sqlite(conn),
        }
    }

    /// Connects to PostgreSQL at `url` (`postgres://user@host:port/db`).
    pub fn postgres(url: &str) -> Result<Db> {
        Ok(Db {
            backend: Backend::Postgres(Box::new(RefCell::new(Pg {
                client: Pg::connect(url, None)?,
                url: url.to_owned(),
                node: None,
                in_tx: false,
                statements: HashMap::new(),
            }))),
        })
    }

    /// Names the node writing through this connection (PostgreSQL's triggers say
    /// it in what they announce, so a node can tell its own writes).
    pub fn set_node(&self, node: Option<&str>) -> Result<()> {
        if let Backend::Postgres(pg) = &self.backend {
            let mut pg = pg.borrow_mut();
            pg.node = node.map(str::to_owned);
            name_node(&mut pg.client, node)?;
        }
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// The SQLite connection, for what only SQLite has (pragmas).
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.backend {
            Backend::Sqlite(c) => Some(c),
            Backend::Postgres(_) => None,
        }
    }

    /// The SQLite connection to migrate (tests migrate old versions in steps).
    #[cfg(test)]
    pub(crate) fn as_sqlite_mut(&mut self) -> Option<&mut rusqlite::Connection> {
        match &mut self.backend {
            Backend::Sqlite(c) => Some(c),
            Backend::Postgres(_) => None,
        }
    }

    pub fn prepare_cached(&self, sql: &str) -> Result<Stmt<'_>> {
        Ok(Stmt(match &self.backend {
            Backend::Sqlite(c) => StmtInner::Cached(c.prepare_cached(sql)?),
            Backend::Postgres(pg) => {
                // Prepared now, so that a statement PostgreSQL refuses fails here.
                pg.borrow_mut().statement(sql)?;
                StmtInner::Pg(pg, sql.to_owned())
            }
        }))
    }

    /// Like `prepare_cached`, for statements run seldom (SQLite does not keep them).
    pub fn prepare(&self, sql: &str) -> Result<Stmt<'_>> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(Stmt(StmtInner::Plain(c.prepare(sql)?))),
            Backend::Postgres(_) => self.prepare_cached(sql),
        }
    }

    pub fn execute(&self, sql: &str, params: &[&dyn ToSql]) -> Result<usize> {
        self.prepare(sql)?.execute(params)
    }

    pub fn query_row<T, F>(&self, sql: &str, params: &[&dyn ToSql], f: F) -> Result<T>
    where
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        self.prepare(sql)?.query_row(params, f)
    }

    /// Runs several statements without parameters (the schema).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Backend::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                pg.reconnect_if_lost()?;
                pg.client.batch_execute(sql).map_err(|e| pg_error(e, sql))
            }
        }
    }

    /// Runs `f` inside a transaction so that its failure leaves the transaction
    /// usable, as SQLite does by itself (PostgreSQL aborts a transaction at its first
    /// error, so there `f` runs in a savepoint).
    pub fn recoverable<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if !self.is_postgres() {
            return f();
        }
        self.execute_batch("SAVEPOINT recoverable")?;
        let done = f();
        self.execute_batch(if done.is_ok() {
            "RELEASE SAVEPOINT recoverable"
        } else {
            "ROLLBACK TO SAVEPOINT recoverable"
        })?;
        done
    }

    /// Starts a transaction: committed by `Tx::commit`, rolled back when dropped.
    pub fn transaction(&self) -> Result<Tx<'_>> {
        let sqlite = match &self.backend {
            Backend::Sqlite(c) => Some(c.unchecked_transaction()?),
            Backend::Postgres(pg) => {
                pg.borrow_mut().transaction_control("BEGIN", true)?;
                None
            }
        };
        Ok(Tx {
            db: self,
            sqlite,
            open: true,
        })
    }
}

/// Hides a password in a connection URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &url[scheme + 3..at];
            match user.split_once(':') {
                Some((name, _)) => format!("{}{name}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A transaction; it reads and writes like the connection it came from.
pub struct Tx<'a> {
    db: &'a Db,
    sqlite: Option<rusqlite::Transaction<'a>>,
    open: bool,
}

impl Tx<'_> {
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        match self.sqlite.take() {
            Some(tx) => Ok(tx.commit()?),
            None => self.end_postgres("COMMIT"),
        }
    }

    fn end_postgres(&self, sql: &str) -> Result<()> {
        match &self.db.backend {
            Backend::Postgres(pg) => pg.borrow_mut().transaction_control(sql, false),
            Backend::Sqlite(_) => Ok(()),
        }
    }
}

impl Drop for Tx<'_> {
    /// SQLite's transaction rolls back by itself when dropped.
    fn drop(&mut self) {
        if self.open {
            let _ = self.end_postgres("ROLLBACK");
        }
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

/// A prepared statement.
pub struct Stmt<'a>(StmtInner<'a>);

enum StmtInner<'a> {
    Cached(rusqlite::CachedStatement<'a>),
    Plain(rusqlite::Statement<'a>),
    /// The connection and the statement's SQLite text.
    Pg(&'a RefCell<Pg>, String),
}

/// What a statement runs on.
enum On<'s, 'a> {
    Sqlite(&'s mut rusqlite::Statement<'a>),
    Pg(&'a RefCell<Pg>, &'s str),
}

impl<'a> Stmt<'a> {
    fn on(&mut self) -> On<'_, 'a> {
        match &mut self.0 {
            StmtInner::Cached(s) => On::Sqlite(s),
            StmtInner::Plain(s) => On::Sqlite(s),
            StmtInner::Pg(pg, sql) => On::Pg(pg, sql),
        }
    }

    /// Runs the statement; how many rows it changed.
    pub fn execute(&mut self, params: &[&dyn ToSql]) -> Result<usize> {
        match self.on() {
            On::Sqlite(s) => Ok(s.execute(params)?),
            On::Pg(pg, sql) => {
                Ok(pg_run(pg, sql, params, |c, stmt, p| c.execute(stmt, p))? as usize)
            }
        }
    }

    /// Every row, each read by `f`.
    pub fn query_map<T, F>(
        &mut self,
        params: &[&dyn ToSql],
        mut f: F,
    ) -> Result<std::vec::IntoIter<Result<T>>>
    where
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        let mut out = Vec::new();
        match self.on() {
            On::Sqlite(s) => {
                let mut rows = s.query(params)?;
                while let Some(r) = rows.next()? {
                    out.push(f(&Row(RowInner::Sqlite(r))));
                }
            }
            On::Pg(pg, sql) => {
                for r in pg_run(pg, sql, params, |c, stmt, p| c.query(stmt, p))? {
                    out.push(f(&Row(RowInner::Pg(&r))));
                }
            }
        }
        Ok(out.into_iter())
    }

    /// The first row read by `f`; `QueryReturnedNoRows` when there is none (see
    /// `OptionalExtension`).
    pub fn query_row<T, F>(&mut self, params: &[&dyn ToSql], f: F) -> Result<T>
    where
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        match self.on() {
            On::Sqlite(s) => match s.query(params)?.next()? {
                Some(r) => f(&Row(RowInner::Sqlite(r))),
                None => Err(rusqlite::Error::QueryReturnedNoRows.into()),
            },
            On::Pg(pg, sql) => {
                match pg_run(pg, sql, params, |c, stmt, p| c.query(stmt, p))?.first() {
                    Some(r) => f(&Row(RowInner::Pg(r))),
                    None => Err(rusqlite::Error::QueryReturnedNoRows.into()),
                }
            }
        }
    }
}

/// Runs `sql` on PostgreSQL with `params` carried across.
fn pg_run<T>(
    pg: &RefCell<Pg>,
    sql: &str,
    params: &[&dyn ToSql],
    f: impl Fn(
        &mut postgres::Client,
        &postgres::Statement,
        &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<T, postgres::Error>,
) -> Result<T> {
    let values = pg_values::params(params)?;
    let refs = pg_values::refs(&values);
    pg.borrow_mut()
        .run(sql, |client, stmt| f(client, stmt, &refs))
}

/// One row of a result.
pub struct Row<'r>(RowInner<'r>);

enum RowInner<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Pg(&'r postgres::Row),
}

/// A column by position or by name.
pub trait ColumnIndex: rusqlite::RowIndex + Copy {
    fn position(self, columns: &[postgres::Column]) -> Option<usize>;
}

impl ColumnIndex for usize {
    fn position(self, columns: &[postgres::Column]) -> Option<usize> {
        (self < columns.len()).then_some(self)
    }
}

impl ColumnIndex for &str {
    fn position(self, columns: &[postgres::Column]) -> Option<usize> {
        columns
            .iter()
            .position(|c| c.name().eq_ignore_ascii_case(self))
    }
}

impl Row<'_> {
    /// Column `at` (a position or a name) as `T`, read the way SQLite reads it.
    pub fn get<T: FromSql>(&self, at: impl ColumnIndex) -> Result<T> {
        match &self.0 {
            RowInner::Sqlite(r) => Ok(r.get(at)?),
            RowInner::Pg(r) => {
                let i = at
                    .position(r.columns())
                    .ok_or_else(|| Error::Stored("a column the query does not have".into()))?;
                let value: Value = pg_values::column(r, i)?;
                T::column_result(ValueRef::from(&value)).map_err(|e| {
                    Error::Stored(format!(
                        "column {} ({}): {e}",
                        r.columns()[i].name(),
                        r.columns()[i].type_()
                    ))
                })
            }
        }
    }
}

/// `optional()` on a single-row query: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::Db(rusqlite::Error::QueryReturnedNoRows)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            redact("postgres://pbx:secret@10.0.0.5:5432/pbx"),
            "postgres://pbx:***@10.0.0.5:5432/pbx"
        );
        assert_eq!(
            redact("postgres://pbx@127.0.0.1/pbx"),
            "postgres://pbx@127.0.0.1/pbx"
        );
    }
}
