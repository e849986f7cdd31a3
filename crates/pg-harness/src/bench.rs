//! Where a benchmark's database lives: a fresh database on `DATABASE_URL`'s
//! server, or a throwaway durable cluster of its own (which a benchmark may
//! then tune, and whose postmaster it may measure).

use crate::{Cluster, HarnessError, TestDatabase, database_for_test};

pub enum BenchDatabase {
    Own { cluster: Cluster, url: String },
    External(TestDatabase),
}

impl BenchDatabase {
    /// A fresh database named after `prefix`: on `DATABASE_URL`'s server when
    /// it is set, else in a cluster started for this benchmark.
    pub fn open(prefix: &str) -> Result<BenchDatabase, HarnessError> {
        match std::env::var("DATABASE_URL") {
            Ok(u) if !u.trim().is_empty() => {
                Ok(BenchDatabase::External(database_for_test(prefix)?))
            }
            _ => {
                let cluster = Cluster::start()?;
                let name = cluster.unique_database_name(prefix);
                let url = cluster.create_database(&name, None)?;
                Ok(BenchDatabase::Own { cluster, url })
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            BenchDatabase::Own { url, .. } => url,
            BenchDatabase::External(d) => &d.url,
        }
    }

    /// The cluster, when it is the benchmark's own.
    pub fn own_cluster(&self) -> Option<&Cluster> {
        match self {
            BenchDatabase::Own { cluster, .. } => Some(cluster),
            BenchDatabase::External(_) => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            BenchDatabase::Own { cluster, .. } => format!(
                "throwaway durable cluster on 127.0.0.1:{} in {}",
                cluster.port(),
                cluster.root_dir().display()
            ),
            BenchDatabase::External(d) => {
                format!("DATABASE_URL server, fresh database {}", d.name)
            }
        }
    }
}
