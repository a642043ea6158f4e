//! Every compose file in `../shared/fixtures/compose/` is read and inspected without error,
//! and the main file of each stack gives the services, kinds and mounts its text defines
//! (expectations written from reading the files and their INDEX.md).

use std::path::{Path, PathBuf};

use lifeboat_core::stack::{MountType, ServiceKind};
use lifeboat_core::LoadOptions;

use crate::harness::{inspect_files, shared, skip};

fn fixtures_dir() -> Option<PathBuf> {
    let d = shared().join("fixtures/compose");
    d.is_dir().then_some(d)
}

fn compose_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            compose_files(&p, out);
        } else if std::fs::read_to_string(&p).is_ok_and(|t| t.lines().any(|l| l == "services:")) {
            out.push(p);
        }
    }
}

fn load_file(file: &Path) -> lifeboat_core::Project {
    let dir = file.parent().unwrap();
    lifeboat_core::stack::load(
        dir,
        &LoadOptions {
            files: vec![file.to_owned()],
            use_process_env: false,
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[test]
fn every_fixture_is_inspected_without_error() {
    let Some(root) = fixtures_dir() else {
        return skip("../shared/fixtures/compose is missing");
    };
    let mut files = Vec::new();
    compose_files(&root, &mut files);
    assert!(
        files.len() >= 25,
        "found only {} compose files",
        files.len()
    );
    for f in &files {
        let project = load_file(f);
        assert!(
            !project.services.is_empty(),
            "{} has no services",
            f.display()
        );
        let i = inspect_files(&project);
        assert_eq!(i.services.len(), project.services.len());
        for s in &i.services {
            for m in &s.mounts {
                assert!(
                    m.mount.target.starts_with('/'),
                    "{}: {} mounts at {:?}",
                    f.display(),
                    s.name,
                    m.mount.target
                );
            }
        }
    }
}

/// A service as seen: name, kind, (mount type, target) in order.
type Seen = (String, ServiceKind, Vec<(MountType, String)>);

type Expect = &'static [(
    &'static str,
    ServiceKind,
    &'static [(MountType, &'static str)],
)];

use MountType::{Bind as B, Volume as V};
use ServiceKind::*;

const EXPECTATIONS: &[(&str, Expect)] = &[
    (
        "evolution-api/docker-compose.yaml",
        &[
            ("api", Generic, &[(V, "/evolution/instances")]),
            ("frontend", Generic, &[]),
            ("redis", Redis, &[(V, "/data")]),
            (
                "evolution-postgres",
                Postgres,
                &[(V, "/var/lib/postgresql/data")],
            ),
        ],
    ),
    (
        "evolution-api-v1-mongodb/docker-compose.yaml.example.complete",
        &[
            (
                "api",
                Generic,
                &[(V, "/evolution/instances"), (V, "/evolution/store")],
            ),
            ("mongodb", Mongo, &[(V, "/data/db"), (V, "/data/configdb")]),
            ("mongo-express", Generic, &[]),
            ("redis", Redis, &[(V, "/data")]),
        ],
    ),
    (
        "n8n-self-hosted-ai-starter-kit/docker-compose.yml",
        &[
            ("postgres", Postgres, &[(V, "/var/lib/postgresql/data")]),
            ("n8n-import", N8n, &[(B, "/demo-data")]),
            (
                "n8n",
                N8n,
                &[
                    (V, "/home/node/.n8n"),
                    (B, "/demo-data"),
                    (B, "/data/shared"),
                ],
            ),
            ("qdrant", Qdrant, &[(V, "/qdrant/storage")]),
            ("ollama-cpu", Ollama, &[(V, "/root/.ollama")]),
            ("ollama-gpu", Ollama, &[(V, "/root/.ollama")]),
            ("ollama-gpu-amd", Ollama, &[(V, "/root/.ollama")]),
            ("ollama-pull-llama-cpu", Ollama, &[(V, "/root/.ollama")]),
            ("ollama-pull-llama-gpu", Ollama, &[(V, "/root/.ollama")]),
            ("ollama-pull-llama-gpu-amd", Ollama, &[(V, "/root/.ollama")]),
        ],
    ),
    (
        "whatslang/docker-compose.yml",
        &[("whatslang", Generic, &[(V, "/data")])],
    ),
    (
        "vaultwarden/examples/vaultwarden/docker-compose.yml",
        &[
            ("vaultwarden", Generic, &[(B, "/data"), (B, "/data/logs")]),
            (
                "vaultwarden-backup",
                Generic,
                &[
                    (B, "/data/"),
                    (B, "/myBackup"),
                    (B, "/etc/localtime"),
                    (B, "/etc/timezone"),
                ],
            ),
        ],
    ),
    (
        "home-assistant/examples/home-assistant/docker-compose.yml",
        &[("homeassistant", Generic, &[(B, "/config")])],
    ),
    (
        "jellyfin/examples/jellyfin/docker-compose.yml",
        &[(
            "jellyfin",
            Generic,
            &[(B, "/config"), (B, "/cache"), (B, "/media")],
        )],
    ),
    (
        "mastodon/docker-compose.yml",
        &[
            ("db", Postgres, &[(B, "/var/lib/postgresql/data")]),
            ("redis", Redis, &[(B, "/data")]),
            ("web", Generic, &[(B, "/mastodon/public/system")]),
            ("streaming", Generic, &[]),
            ("sidekiq", Generic, &[(B, "/mastodon/public/system")]),
        ],
    ),
    (
        "forgejo-umbrel/forgejo/docker-compose.yml",
        &[
            ("app_proxy", Generic, &[]),
            (
                "server",
                Generic,
                &[(B, "/var/lib/gitea"), (B, "/etc/gitea")],
            ),
            ("db", Postgres, &[(B, "/var/lib/postgresql/data")]),
        ],
    ),
    (
        "gitea-postgres/gitea-postgres/compose.yaml",
        &[
            ("gitea", Generic, &[(V, "/data")]),
            ("db", Postgres, &[(V, "/var/lib/postgresql/data")]),
        ],
    ),
    (
        "uptime-kuma/compose.yaml",
        &[("uptime-kuma", Generic, &[(B, "/app/data")])],
    ),
    (
        "mealie/docker/docker-compose.yml",
        &[("mealie", Generic, &[(V, "/app/data/")])],
    ),
    (
        "linkwarden/docker-compose.yml",
        &[
            ("postgres", Postgres, &[(B, "/var/lib/postgresql/data")]),
            ("linkwarden", Generic, &[(B, "/data/data")]),
            ("meilisearch", Meilisearch, &[(B, "/meili_data")]),
        ],
    ),
    (
        "n8n-postgres-queue-mode/docker-compose/withPostgresAndWorker/docker-compose.yml",
        &[
            (
                "postgres",
                Postgres,
                &[
                    (V, "/var/lib/postgresql/data"),
                    (B, "/docker-entrypoint-initdb.d/init-data.sh"),
                ],
            ),
            ("redis", Redis, &[(V, "/data")]),
            ("n8n", N8n, &[(V, "/home/node/.n8n")]),
            ("n8n-runner", Generic, &[]),
            ("n8n-worker", N8n, &[(V, "/home/node/.n8n")]),
            ("n8n-worker-runner", Generic, &[]),
        ],
    ),
];

#[test]
fn fixtures_give_the_services_kinds_and_mounts_their_files_define() {
    let Some(root) = fixtures_dir() else {
        return skip("../shared/fixtures/compose is missing");
    };
    for (file, services) in EXPECTATIONS {
        let project = load_file(&root.join(file));
        let i = inspect_files(&project);
        let got: Vec<Seen> = i
            .services
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.kind,
                    s.mounts
                        .iter()
                        .map(|m| (m.mount.kind, m.mount.target.clone()))
                        .collect(),
                )
            })
            .collect();
        let want: Vec<Seen> = services
            .iter()
            .map(|(n, k, ms)| {
                (
                    n.to_string(),
                    *k,
                    ms.iter().map(|(t, p)| (*t, p.to_string())).collect(),
                )
            })
            .collect();
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn fixture_details_profiles_env_files_and_names() {
    let Some(root) = fixtures_dir() else {
        return skip("../shared/fixtures/compose is missing");
    };
    let kit = load_file(&root.join("n8n-self-hosted-ai-starter-kit/docker-compose.yml"));
    assert_eq!(kit.service("ollama-cpu").unwrap().profiles, ["cpu"]);
    assert_eq!(kit.service("ollama-gpu").unwrap().profiles, ["gpu-nvidia"]);
    assert!(kit
        .service("n8n")
        .unwrap()
        .depends_on
        .contains(&"postgres".to_string()));
    // The x-n8n anchor carries the long form `env_file: [{path: .env, required: true}]`.
    let n8n = kit.service("n8n").unwrap();
    assert_eq!(n8n.env_files.len(), 1);
    assert!(n8n.env_files[0].required && n8n.env_files[0].path.ends_with(".env"));
    assert!(kit.service("postgres").unwrap().env_files.is_empty());
    assert!(kit
        .warnings
        .iter()
        .any(|w| w.code == lifeboat_core::WarningCode::EnvFileMissing));

    let gitea = load_file(&root.join("gitea-postgres/gitea-postgres/compose.yaml"));
    let db = gitea.service("db").unwrap();
    assert_eq!(
        db.mounts[0].volume_name.as_deref(),
        Some("gitea-postgres_db_data")
    );

    // `$$` in vaultwarden's backup command and absolute defaults via ${VAR:-/abs}.
    let vw = load_file(&root.join("vaultwarden/examples/vaultwarden/docker-compose.yml"));
    let data = &vw.service("vaultwarden").unwrap().mounts[0];
    assert!(
        data.host_path
            .as_ref()
            .unwrap()
            .starts_with("/mnt/docker-volumes"),
        "{:?}",
        data.host_path
    );

    let mastodon = load_file(&root.join("mastodon/docker-compose.yml"));
    let web = mastodon.service("web").unwrap();
    assert!(web.env_files[0].path.ends_with(".env.production"));
    assert!(mastodon
        .warnings
        .iter()
        .any(|w| w.code == lifeboat_core::WarningCode::EnvFileMissing));
}
