//! What kind of software a service runs, which decides how it is captured consistently.
//! Detected from the image name; where the image says nothing (a locally built image, an
//! unknown name), from the data the service keeps (see `inspect`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The kinds Lifeboat knows how to treat specially. Everything else is `Generic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ServiceKind {
    /// PostgreSQL (and images built on it: PostGIS, TimescaleDB, pgvector).
    Postgres,
    /// MySQL or Percona Server.
    Mysql,
    /// MariaDB.
    Mariadb,
    /// MongoDB.
    Mongo,
    /// Redis and compatible servers (Valkey, KeyDB).
    Redis,
    /// An application whose database is a SQLite file in its data.
    Sqlite,
    /// Qdrant vector database.
    Qdrant,
    /// Elasticsearch or OpenSearch.
    Elasticsearch,
    /// Meilisearch.
    Meilisearch,
    /// ClickHouse.
    Clickhouse,
    /// n8n workflow automation.
    N8n,
    /// Ollama model server.
    Ollama,
    /// Anything else: its files are archived as they are.
    Generic,
}

impl ServiceKind {
    /// Whether this kind is a database whose files are unsafe to copy while it runs.
    pub fn is_database(self) -> bool {
        matches!(
            self,
            Self::Postgres
                | Self::Mysql
                | Self::Mariadb
                | Self::Mongo
                | Self::Redis
                | Self::Qdrant
                | Self::Elasticsearch
                | Self::Meilisearch
                | Self::Clickhouse
        )
    }

    /// Where the official image keeps its data inside the container, when that is known.
    pub fn data_dir(self) -> Option<&'static str> {
        Some(match self {
            Self::Postgres => "/var/lib/postgresql/data",
            Self::Mysql | Self::Mariadb => "/var/lib/mysql",
            Self::Mongo => "/data/db",
            Self::Redis => "/data",
            Self::Qdrant => "/qdrant/storage",
            Self::Elasticsearch => "/usr/share/elasticsearch/data",
            Self::Meilisearch => "/meili_data",
            Self::Clickhouse => "/var/lib/clickhouse",
            Self::N8n => "/home/node/.n8n",
            Self::Ollama => "/root/.ollama",
            Self::Sqlite | Self::Generic => return None,
        })
    }

    /// The lowercase name used in JSON and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
            Self::Mariadb => "mariadb",
            Self::Mongo => "mongo",
            Self::Redis => "redis",
            Self::Sqlite => "sqlite",
            Self::Qdrant => "qdrant",
            Self::Elasticsearch => "elasticsearch",
            Self::Meilisearch => "meilisearch",
            Self::Clickhouse => "clickhouse",
            Self::N8n => "n8n",
            Self::Ollama => "ollama",
            Self::Generic => "generic",
        }
    }
}

/// Words that mark an image as a tool *around* a database (an admin UI, an exporter, a backup
/// sidecar) rather than the database itself.
const NOT_THE_DATABASE: &[&str] = &[
    "exporter",
    "backup",
    "admin",
    "express",
    "commander",
    "insight",
    "operator",
    "proxy",
    "bouncer",
    "ui",
    "web",
    "gui",
    "dashboard",
    "browser",
    "client",
    "cli",
    "tools",
];

/// The repository part of an image reference, lowercased: no registry host, tag or digest.
fn repository(image: &str) -> String {
    let image = image
        .split('@')
        .next()
        .unwrap_or(image)
        .to_ascii_lowercase();
    let mut parts: Vec<&str> = image.split('/').collect();
    if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        parts.remove(0);
    }
    let mut repo = parts.join("/");
    if let Some(colon) = repo.rfind(':') {
        if !repo[colon..].contains('/') {
            repo.truncate(colon);
        }
    }
    repo
}

/// The kind an image name implies, with the reason, or `None` when the name says nothing.
pub fn kind_from_image(image: &str) -> Option<(ServiceKind, String)> {
    let repo = repository(image);
    if repo.is_empty() || repo.contains("${") {
        return None;
    }
    let name = repo.rsplit('/').next().unwrap_or(&repo);
    let words: Vec<&str> = name.split(['-', '_', '.']).collect();
    if words.iter().any(|w| NOT_THE_DATABASE.contains(w)) {
        return None;
    }
    let first = words.first().copied().unwrap_or(name);
    let kind = match first {
        "postgres" | "postgresql" | "postgis" | "timescaledb" | "pgvector" | "pgvecto" => {
            ServiceKind::Postgres
        }
        _ if name.contains("postgres") => ServiceKind::Postgres,
        "mariadb" => ServiceKind::Mariadb,
        "mysql" | "percona" => ServiceKind::Mysql,
        "mongo" | "mongodb" => ServiceKind::Mongo,
        "redis" | "valkey" | "keydb" => ServiceKind::Redis,
        "qdrant" => ServiceKind::Qdrant,
        "elasticsearch" | "opensearch" => ServiceKind::Elasticsearch,
        "meilisearch" => ServiceKind::Meilisearch,
        "clickhouse" => ServiceKind::Clickhouse,
        "n8n" => ServiceKind::N8n,
        "ollama" => ServiceKind::Ollama,
        _ => return None,
    };
    Some((kind, format!("image {repo}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_to_kinds() {
        let cases = [
            ("postgres:16-alpine", Some(ServiceKind::Postgres)),
            ("docker.io/library/postgres:15", Some(ServiceKind::Postgres)),
            ("pgvector/pgvector:pg16", Some(ServiceKind::Postgres)),
            ("timescale/timescaledb-ha:pg16", Some(ServiceKind::Postgres)),
            (
                "ghcr.io/immich-app/postgres:14-vectorchord0.3.0",
                Some(ServiceKind::Postgres),
            ),
            ("bitnami/postgresql", Some(ServiceKind::Postgres)),
            ("prodrigestivill/postgres-backup-local", None),
            ("dpage/pgadmin4", None),
            ("mariadb:11", Some(ServiceKind::Mariadb)),
            ("lscr.io/linuxserver/mariadb", Some(ServiceKind::Mariadb)),
            ("mysql:8.0", Some(ServiceKind::Mysql)),
            ("mongo:7", Some(ServiceKind::Mongo)),
            ("mongo-express", None),
            ("redis:7-alpine", Some(ServiceKind::Redis)),
            ("valkey/valkey:8", Some(ServiceKind::Redis)),
            ("rediscommander/redis-commander", None),
            ("qdrant/qdrant", Some(ServiceKind::Qdrant)),
            (
                "getmeili/meilisearch:v1.12.8",
                Some(ServiceKind::Meilisearch),
            ),
            (
                "docker.elastic.co/elasticsearch/elasticsearch:8.15.0",
                Some(ServiceKind::Elasticsearch),
            ),
            (
                "clickhouse/clickhouse-server",
                Some(ServiceKind::Clickhouse),
            ),
            ("n8nio/n8n:latest", Some(ServiceKind::N8n)),
            ("docker.n8n.io/n8nio/n8n", Some(ServiceKind::N8n)),
            ("ollama/ollama:latest", Some(ServiceKind::Ollama)),
            ("localhost:5000/postgres", Some(ServiceKind::Postgres)),
            ("vaultwarden/server:latest", None),
            ("nginx@sha256:abc", None),
        ];
        for (image, want) in cases {
            assert_eq!(kind_from_image(image).map(|k| k.0), want, "{image}");
        }
    }
}
