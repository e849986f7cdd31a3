//! "Operations": `GET /health` of the cloud.

use anyhow::Result;

use crate::transport::request;
use crate::vector_test;
use crate::vectors::Vector;

vector_test!(
    health,
    Vector::new(
        "operations/health",
        &[],
        "GET /health: the server and its database answer."
    )
    .step(request("GET", "/health", None, None))
);
