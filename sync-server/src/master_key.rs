//! The cloud's master-data signing key (see `sentra_protocol::master`):
//! one per cloud, in `cloud_keys`, made by the first server to start.

use ed25519_dalek::SigningKey;
use sqlx::PgPool;

/// The key every server of this cloud signs pulled changes with; made and
/// stored if there is none yet. Servers starting at once agree on one key.
pub async fn load_or_create(pool: &PgPool) -> anyhow::Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let fresh = SigningKey::from_bytes(&seed);
    sqlx::query(
        "INSERT INTO cloud_keys (purpose, secret, public_key) VALUES ('master_data', $1, $2)
         ON CONFLICT (purpose) DO NOTHING",
    )
    .bind(&seed[..])
    .bind(&fresh.verifying_key().to_bytes()[..])
    .execute(pool)
    .await?;
    let secret: Vec<u8> =
        sqlx::query_scalar("SELECT secret FROM cloud_keys WHERE purpose = 'master_data'")
            .fetch_one(pool)
            .await?;
    let secret: [u8; 32] = secret
        .try_into()
        .map_err(|_| anyhow::anyhow!("cloud_keys holds a master-data key that is not 32 bytes"))?;
    Ok(SigningKey::from_bytes(&secret))
}
